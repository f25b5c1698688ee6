"""The JSON API under ``/api/v1``: what the pages show, for scripts and other front ends.

Signed in by the dashboard's session cookie; every state change carries the session's CSRF
token in ``X-CSRF-Token``. Every object belongs to the signed-in household: another
household's ids answer 404. Operations the operator protects with a one-time code answer
``{"status": "confirm", "challenge": {...}}``; ``POST /api/v1/flows/{token}`` finishes them.
Errors: ``{"error": {"key", "message", "action"}}`` (409: the account needs a person to log in
again, or the operator refused (``error.key`` says which); 422: invalid input; 502: the plugin
could not read the operator's answer;
503: the operator is unavailable, try later).
"""

from __future__ import annotations

import datetime as dt
import inspect
import re
from decimal import Decimal
from typing import Annotated, Any, Literal, cast

import msgspec
from litestar import Request, Response, Router, delete, get, patch, post, put
from litestar.exceptions import NotFoundException, ValidationException
from litestar.params import FromQuery, JSONBody, Parameter

from ...core.errors import FlowExpired
from ...core.models import (
    Money,
    NewsItem,
    Payment,
    Profile,
    ReportFormat,
    Service,
    Suspension,
    SuspensionQuote,
    TariffCatalogue,
    TrafficStats,
    Usage,
)
from ...i18n import format_bonus
from ...services import accounts as accounts_service
from ...services import alert_rules
from ...services import outbox as outbox_service
from ...services.dashboard import AccountSummary, account_readings, get_account, household_dashboard
from ...services.operations import AccountOperations, ChatView, Done, NeedsCode
from ...services.provenance import needs_second_confirmation
from ...services.spending import account_spending
from ...storage.models import (
    LinkedAccount,
    from_minor,
    to_minor,
)
from .. import confirmations
from ..context import CurrentUser
from ..flows import PendingFlow
from ..i18n import zone
from ..rendering import request_lang
from .common import DB, Server, require_user
from .pages_common import capabilities_of, provider_names, report_response

__all__ = ["TAGS", "router"]

TAGS = [
    "me",
    "accounts",
    "readings",
    "tariffs",
    "services",
    "suspension",
    "chat",
    "reports",
    "usage",
    "payments",
    "news",
    "alerts",
    "outbox",
    "flows",
]

#: Ids are PostgreSQL ``integer`` columns: the schema says so, and nothing larger reaches a query.
MAX_ID = 2**31 - 1
AccountId = Annotated[int, Parameter(ge=1, le=MAX_ID, description="A linked account's id")]
#: A query datetime must be written as one (ISO 8601), not as a number of seconds.
_ISO_DATETIME = re.compile(
    r"^\d{4}-\d{2}-\d{2}([T ]\d{2}:\d{2}(:\d{2}(\.\d+)?)?)?(Z|[+-]\d{2}:?\d{2})?$"
)


# -- shapes --------------------------------------------------------------------------------


class MoneyOut(msgspec.Struct):
    amount: str  # a decimal string, "1234.56"
    currency: str


def _money(minor: int | None, currency: str = "RUB") -> MoneyOut | None:
    return None if minor is None else MoneyOut(str(from_minor(minor)), currency)


class BonusOut(msgspec.Struct):
    """A bonus balance: ``unit`` "points" (the operator's points, not money) or the currency
    of a money bonus ("RUB"); ``amount`` a decimal string; ``text`` as the page shows it."""

    amount: str
    unit: str
    text: str


def _bonus(summary: AccountSummary, lang: str) -> BonusOut | None:
    if summary.bonus_minor is None:
        return None
    unit = summary.bonus_unit or summary.currency
    amount = (
        Decimal(summary.bonus_minor) / 100
        if unit == "points"
        else from_minor(summary.bonus_minor, unit)
    )
    text = format_bonus(summary.bonus_minor, unit, summary.currency, lang)
    return BonusOut(str(amount.quantize(Decimal("0.01"))), unit, text)


class HistoryPoint(msgspec.Struct):
    day: dt.date
    amount_minor: int


class RemainderOut(msgspec.Struct):
    """One package: ``rest`` and ``total`` in ``unit`` (seconds, sms, mms, bytes, or the
    operator's ``raw_unit`` when ``unit`` is unknown)."""

    name: str
    unit: str
    rest: int | float
    total: int | float | None
    unlimited: bool
    period_end: dt.date | None
    raw_unit: str | None


class AccountOut(msgspec.Struct):
    id: int
    provider_id: str
    provider_name: str
    label: str
    number_masked: str
    kind: str
    status: str
    error_key: str | None
    balance: MoneyOut | None
    balance_at: dt.datetime | None
    credit_limit: MoneyOut | None
    bonus: BonusOut | None
    next_charge_date: dt.date | None
    next_charge: MoneyOut | None
    tariff_name: str | None
    operator_state: str | None
    suspension_end: dt.date | None
    last_success_at: dt.datetime | None
    days_left: int | None
    threshold: MoneyOut | None
    badge: str
    severity: Literal["danger", "warning", "info", "ok"]
    history: list[HistoryPoint]
    # The latest reading's package remainders; null when that poll did not read them.
    remainders: list[RemainderOut] | None = None
    # The last good poll when the balance shown is old (failing polls, or none for a day).
    stale_since: dt.datetime | None = None
    # A voluntary block we asked for: "requested", "scheduled" or "suspended", and its dates.
    suspension_state: str | None = None
    suspension_start: dt.date | None = None
    suspension_planned_end: dt.date | None = None
    # What a trusted payment left owing and when it is taken back (None: nothing owed).
    trusted_debt: MoneyOut | None = None
    trusted_due: dt.date | None = None
    # Another account shows the same shared balance; the totals count it there, once.
    shares_balance_with: int | None = None


class AccountsOut(msgspec.Struct):
    accounts: list[AccountOut]
    totals: list[MoneyOut]


class AccountDetail(msgspec.Struct):
    account: AccountOut
    capabilities: list[str]
    login_scheme: str
    polling_interval_s: int | None
    last_polled_at: dt.datetime | None
    created_at: dt.datetime


class AccountPatch(msgspec.Struct, forbid_unknown_fields=True):
    label: Annotated[str, msgspec.Meta(max_length=200)]


class ReadingOut(msgspec.Struct):
    at: dt.datetime
    amount: MoneyOut


class MeOut(msgspec.Struct):
    email: str
    display_name: str
    role: str
    lang: str
    household_id: int
    household_name: str
    timezone: str


class ChallengeOut(msgspec.Struct):
    flow: str  # POST /api/v1/flows/{flow} with the code
    kind: str
    channel: str | None
    masked_destination: str | None
    code_length: int | None
    message: str
    expires_at: dt.datetime


class OperationOut(msgspec.Struct):
    status: Literal["done", "confirm"]
    operation: str
    effective_date: dt.date | None = None
    message: str = ""
    result: dict[str, Any] | None = None
    challenge: ChallengeOut | None = None
    # A rejected or missing code: the same flow goes on ({"key", "message", "reason"}).
    error: dict[str, str] | None = None


class TariffIn(msgspec.Struct, forbid_unknown_fields=True):
    tariff_id: Annotated[str, msgspec.Meta(min_length=1, max_length=128)]
    # An operation that moves money on an assumed wire format needs this (409 otherwise).
    confirm_assumed: bool = False


class ServiceIn(msgspec.Struct, forbid_unknown_fields=True):
    enabled: bool
    # An operation that moves money on an assumed wire format needs this (409 otherwise).
    confirm_assumed: bool = False


class PeriodIn(msgspec.Struct, forbid_unknown_fields=True):
    start: dt.date
    end: dt.date
    # An operation that moves money on an assumed wire format needs this (409 otherwise).
    confirm_assumed: bool = False


class TopUpIn(msgspec.Struct, forbid_unknown_fields=True):
    amount: Decimal  # roubles, 0 to 1 000 000
    confirm_assumed: bool = False


class TrustedOptionOut(msgspec.Struct):
    amount: MoneyOut
    fee: MoneyOut | None


class TrustedPaymentOut(msgspec.Struct):
    """The trusted payment: the operator's offer and what is owed (debt, due date)."""

    available: bool
    options: list[TrustedOptionOut]
    min_amount: MoneyOut | None
    max_amount: MoneyOut | None
    fee: MoneyOut | None
    days: int | None
    debt: MoneyOut | None
    due_date: dt.date | None
    reason: str


class CodeIn(msgspec.Struct, forbid_unknown_fields=True):
    code: Annotated[str, msgspec.Meta(min_length=1, max_length=64)]


class ChatIn(msgspec.Struct, forbid_unknown_fields=True):
    topic_id: Annotated[str, msgspec.Meta(max_length=128)]
    text: Annotated[str, msgspec.Meta(min_length=1, max_length=2000)]


class ChatMessageOut(msgspec.Struct):
    id: str
    topic_id: str | None
    author: str
    author_name: str | None
    text: str
    sent_at: dt.datetime


class ChatOut(msgspec.Struct):
    topics: list[dict[str, str]]
    messages: list[ChatMessageOut]


Threshold = Decimal  # roubles, 0 to 10 000 000 (checked by _check_amounts)
Days = Annotated[int, msgspec.Meta(ge=1, le=60)]
# No "\s" in the pattern: Python's and the JSON Schema's (ECMA) "\s" differ (\x1c-\x1f), so
# the characters an address may not hold are spelled out: controls, spaces, "@".
_ADDRESS = r"[^@\x00-\x20\x7f-\xa0\u1680\u2000-\u200a\u2028\u2029\u202f\u205f\u3000\ufeff]+"
Email = Annotated[
    str, msgspec.Meta(pattern=rf"^{_ADDRESS}@{_ADDRESS}\.{_ADDRESS}$", max_length=320)
]


class AlertSettings(msgspec.Struct, forbid_unknown_fields=True):
    low_balance_enabled: bool = True
    threshold: Threshold | None = None  # roubles
    margin: Threshold | None = None
    runs_out_enabled: bool = True
    days: Days | None = None
    needs_login_enabled: bool = True
    suspension_ends_enabled: bool = True
    suspension_days: Days | None = None
    reminder_hours: Annotated[int, msgspec.Meta(ge=1, le=720)] | None = None
    recipients: Annotated[list[Email], msgspec.Meta(max_length=20)] = []
    lang: Literal["ru", "en"] = "ru"
    trusted_payment_due_enabled: bool = True
    trusted_days: Days | None = None  # warn this many days before a trusted payment's due date
    # The operator's notices by e-mail, each kind on or off (each notice is sent once).
    chat_reply_enabled: bool = True
    suspension_approved_enabled: bool = True
    maintenance_enabled: bool = True


class AccountAlerts(msgspec.Struct, forbid_unknown_fields=True):
    threshold: Threshold | None = None
    days: Days | None = None
    # Remainder alerts: less than this many bytes of package traffic / seconds of minutes.
    data_bytes: Annotated[int, msgspec.Meta(ge=1)] | None = None
    minutes_seconds: Annotated[int, msgspec.Meta(ge=1)] | None = None


class OutboxOut(msgspec.Struct):
    id: int
    kind: str
    subject: str
    recipients: list[str]
    status: str
    attempts: int
    created_at: dt.datetime
    sent_at: dt.datetime | None
    lang: str
    link: str | None
    body_text: str


# -- helpers ---------------------------------------------------------------------------------


def _account_out(summary: AccountSummary, names: dict[str, str], lang: str) -> AccountOut:
    return AccountOut(
        id=summary.id,
        provider_id=summary.provider_id,
        provider_name=names.get(summary.provider_id, summary.provider_id),
        label=summary.label,
        number_masked=summary.number_masked,
        kind=summary.kind,
        status=summary.status,
        error_key=summary.last_error_key,
        balance=_money(summary.balance_minor, summary.currency),
        balance_at=summary.balance_at,
        credit_limit=_money(summary.credit_limit_minor, summary.currency),
        bonus=_bonus(summary, lang),
        next_charge_date=summary.next_charge_date,
        next_charge=_money(summary.next_charge_minor, summary.currency),
        tariff_name=summary.tariff_name,
        operator_state=summary.operator_state,
        suspension_end=summary.suspension_end,
        last_success_at=summary.last_success_at,
        days_left=summary.days_left,
        threshold=_money(summary.threshold_minor, summary.currency),
        badge=summary.badge,
        severity=summary.severity,  # type: ignore[arg-type]
        history=[HistoryPoint(d, v) for d, v in summary.history],
        remainders=None
        if summary.remainders is None
        else [
            RemainderOut(
                name=r.name,
                unit=r.unit.value,
                rest=_number(r.rest),
                total=_number(r.size) if r.size is not None else None,
                unlimited=r.unlimited,
                period_end=r.period_end,
                raw_unit=r.raw_unit,
            )
            for r in summary.remainders
        ],
        stale_since=summary.stale_since,
        suspension_state=summary.suspension_state,
        suspension_start=summary.suspension_start,
        suspension_planned_end=summary.suspension_planned_end,
        trusted_debt=MoneyOut(str(summary.trusted_debt), summary.currency)
        if summary.trusted_debt is not None
        else None,
        trusted_due=summary.trusted_due,
        shares_balance_with=summary.shares_balance_with,
    )


def _number(value: Decimal) -> int | float:
    return int(value) if value == value.to_integral_value() else float(value)


def _ops(server: Server) -> AccountOperations:
    return server.require_operations()


async def _account(request: Request[Any, Any, Any], db: DB, account_id: int) -> LinkedAccount:
    return await get_account(db, require_user(request).household_id, account_id)


def _second_confirmation(
    server: Server,
    account: LinkedAccount,
    operation: str,
    confirmed: bool,
    *,
    enabling: bool = True,
) -> None:
    """422 naming ``confirm_assumed`` when the operation moves money on an assumed wire format
    and was not confirmed once more (``"confirm_assumed": true``); see
    :mod:`aggregator.services.provenance`."""
    provider = (
        server.runtime.registry.providers.get(account.provider_id) if server.runtime else None
    )
    if not confirmed and needs_second_confirmation(provider, operation, enabling=enabling):
        raise ValidationException(
            f"{operation}: confirm it once more",
            extra={
                "confirm_assumed": (
                    f"{operation} on {account.provider_id} moves money and rests on an assumed "
                    "wire format (no independent client shows it): send it again with "
                    '"confirm_assumed": true'
                )
            },
        )


def _operation_out(
    request: Request[Any, Any, Any],
    server: Server,
    account: LinkedAccount,
    outcome: Done[Any] | NeedsCode,
    flow: PendingFlow | None = None,
) -> OperationOut:
    """``done`` with the operator's answer, or ``confirm`` with the code step to answer
    (the same flow again, with ``error``, when the last code was rejected or missing)."""
    if isinstance(outcome, NeedsCode):
        user = require_user(request)
        kept = confirmations.keep(server, user, account, outcome, flow)
        challenge = outcome.challenge
        error = None
        if outcome.error is not None:
            translator = server.translator
            error = {
                "key": outcome.error,
                "message": translator.translate(request_lang(request), outcome.error),
                "reason": outcome.reason or "",
            }
        return OperationOut(
            status="confirm",
            operation=outcome.pending.operation,
            challenge=ChallengeOut(
                flow=kept.token,
                kind=challenge.kind.value,
                channel=challenge.channel,
                masked_destination=challenge.masked_destination,
                code_length=challenge.code_length,
                message=challenge.message,
                expires_at=challenge.expires_at,
            ),
            error=error,
        )
    if flow is not None:
        server.flows.drop(flow.token)
    result = outcome.result
    return OperationOut(
        status="done",
        operation=outcome.operation,
        effective_date=getattr(result, "effective_date", None),
        message=str(getattr(result, "message", "") or ""),
        result=result.model_dump(mode="json"),
    )


def _today(user: CurrentUser) -> dt.date:
    return dt.datetime.now(zone(user.timezone)).date()


# -- handlers --------------------------------------------------------------------------------


@get("/me", tags=["me"], summary="The signed-in user and household")
async def me(request: Request[Any, Any, Any]) -> MeOut:
    user = require_user(request)
    return MeOut(
        email=user.email,
        display_name=user.display_name,
        role=user.role,
        lang=user.lang,
        household_id=user.household_id,
        household_name=user.household_name,
        timezone=user.timezone,
    )


@get("/accounts", tags=["accounts"], summary="Every account with its balance and history")
async def list_accounts(request: Request[Any, Any, Any], db: DB, server: Server) -> AccountsOut:
    user = require_user(request)
    board = await household_dashboard(db, user.household_id)
    lang = request_lang(request)
    names = provider_names(server, lang)
    return AccountsOut(
        accounts=[_account_out(s, names, lang) for s in board.accounts],
        totals=[MoneyOut(str(from_minor(v)), c) for c, v in sorted(board.totals.items())],
    )


@get("/accounts/{account_id:int}", tags=["accounts"], summary="One account")
async def account_detail(
    request: Request[Any, Any, Any], db: DB, server: Server, account_id: AccountId
) -> AccountDetail:
    user = require_user(request)
    account = await get_account(db, user.household_id, account_id)
    board = await household_dashboard(db, user.household_id, account_id=account_id)
    lang = request_lang(request)
    names = provider_names(server, lang)
    return AccountDetail(
        account=_account_out(board.accounts[0], names, lang),
        capabilities=sorted(capabilities_of(server, account.provider_id)),
        login_scheme=account.login_scheme,
        polling_interval_s=account.poll_interval_s,
        last_polled_at=account.last_polled_at,
        created_at=account.created_at,
    )


@patch("/accounts/{account_id:int}", tags=["accounts"], summary="Rename an account")
async def rename_account(
    request: Request[Any, Any, Any],
    db: DB,
    server: Server,
    account_id: AccountId,
    data: JSONBody[AccountPatch],
) -> AccountDetail:
    user = require_user(request)
    await accounts_service.set_label(
        db, user.household_id, account_id, data.label, user_id=user.user_id
    )
    detail: AccountDetail = await account_detail.fn(
        request=request, db=db, server=server, account_id=account_id
    )
    return detail


@delete(
    "/accounts/{account_id:int}", tags=["accounts"], summary="Unlink an account", status_code=204
)
async def remove_account(request: Request[Any, Any, Any], db: DB, account_id: AccountId) -> None:
    user = require_user(request)
    await accounts_service.remove_account(db, user.household_id, account_id, user_id=user.user_id)


@get("/accounts/{account_id:int}/readings", tags=["readings"], summary="Balance readings")
async def readings(
    request: Request[Any, Any, Any],
    db: DB,
    account_id: AccountId,
    since: FromQuery[dt.datetime | None] = None,
    until: FromQuery[dt.datetime | None] = None,
    limit: Annotated[int, Parameter(ge=1, le=100_000)] = 10_000,
) -> list[ReadingOut]:
    for name in ("since", "until"):
        raw = request.query_params.get(name)
        if raw and not _ISO_DATETIME.match(raw):
            raise ValidationException(
                f"{name}: a date and time, ISO 8601",
                extra=[{"message": "Expected an ISO 8601 date-time", "key": name}],
            )
    account = await _account(request, db, account_id)
    start = since or (dt.datetime.now(dt.UTC) - dt.timedelta(days=365))
    if start.tzinfo is None:
        start = start.replace(tzinfo=dt.UTC)
    if until is not None and until.tzinfo is None:
        until = until.replace(tzinfo=dt.UTC)
    rows = await account_readings(db, account.id, start, until)
    return [ReadingOut(at, MoneyOut(str(from_minor(v)), "RUB")) for at, v in rows[-limit:]]


@get(
    "/accounts/{account_id:int}/tariffs", tags=["tariffs"], summary="Current and available tariffs"
)
async def tariffs(
    request: Request[Any, Any, Any], db: DB, server: Server, account_id: AccountId
) -> TariffCatalogue:
    account = await _account(request, db, account_id)
    return await _ops(server).tariffs(db, account)


@post(
    "/accounts/{account_id:int}/tariff",
    tags=["tariffs"],
    summary="Change the tariff",
    status_code=200,
)
async def change_tariff(
    request: Request[Any, Any, Any],
    db: DB,
    server: Server,
    account_id: AccountId,
    data: JSONBody[TariffIn],
) -> OperationOut:
    user = require_user(request)
    account = await get_account(db, user.household_id, account_id)
    _second_confirmation(server, account, "change_tariff", data.confirm_assumed)
    outcome = await _ops(server).change_tariff(db, account, data.tariff_id, user_id=user.user_id)
    return _operation_out(request, server, account, outcome)


@get("/accounts/{account_id:int}/services", tags=["services"], summary="Services and their prices")
async def services(
    request: Request[Any, Any, Any], db: DB, server: Server, account_id: AccountId
) -> list[Service]:
    account = await _account(request, db, account_id)
    return await _ops(server).services(db, account)


@put(
    "/accounts/{account_id:int}/services/{service_id:str}",
    tags=["services"],
    summary="Switch a service on or off",
)
async def set_service(
    request: Request[Any, Any, Any],
    db: DB,
    server: Server,
    account_id: AccountId,
    service_id: Annotated[str, Parameter(max_length=128)],
    data: JSONBody[ServiceIn],
) -> OperationOut:
    user = require_user(request)
    account = await get_account(db, user.household_id, account_id)
    _second_confirmation(
        server, account, "set_service", data.confirm_assumed, enabling=data.enabled
    )
    outcome = await _ops(server).set_service(
        db, account, service_id, data.enabled, user_id=user.user_id
    )
    return _operation_out(request, server, account, outcome)


@get("/accounts/{account_id:int}/suspension", tags=["suspension"], summary="The voluntary block")
async def suspension(
    request: Request[Any, Any, Any], db: DB, server: Server, account_id: AccountId
) -> Suspension:
    account = await _account(request, db, account_id)
    return await _ops(server).suspension(db, account)


@get(
    "/accounts/{account_id:int}/suspension/quote",
    tags=["suspension"],
    summary="What a block would cost",
)
async def suspension_quote(
    request: Request[Any, Any, Any],
    db: DB,
    server: Server,
    account_id: AccountId,
    start: FromQuery[dt.date],
    end: FromQuery[dt.date],
) -> SuspensionQuote:
    account = await _account(request, db, account_id)
    return await _ops(server).quote_suspension(db, account, start, end)


@post(
    "/accounts/{account_id:int}/suspension",
    tags=["suspension"],
    summary="Request a block",
    status_code=200,
)
async def suspend(
    request: Request[Any, Any, Any],
    db: DB,
    server: Server,
    account_id: AccountId,
    data: JSONBody[PeriodIn],
) -> OperationOut:
    user = require_user(request)
    account = await get_account(db, user.household_id, account_id)
    _second_confirmation(server, account, "suspend", data.confirm_assumed)
    outcome = await _ops(server).suspend(db, account, data.start, data.end, user_id=user.user_id)
    return _operation_out(request, server, account, outcome)


@delete(
    "/accounts/{account_id:int}/suspension",
    tags=["suspension"],
    summary="End the block",
    status_code=200,
)
async def resume(
    request: Request[Any, Any, Any], db: DB, server: Server, account_id: AccountId
) -> OperationOut:
    user = require_user(request)
    account = await get_account(db, user.household_id, account_id)
    outcome = await _ops(server).resume(db, account, user_id=user.user_id)
    return _operation_out(request, server, account, outcome)


@post(
    "/accounts/{account_id:int}/top-up",
    tags=["payments"],
    summary="Top up the balance",
    status_code=200,
)
async def top_up(
    request: Request[Any, Any, Any],
    db: DB,
    server: Server,
    account_id: AccountId,
    data: JSONBody[TopUpIn],
) -> OperationOut:
    user = require_user(request)
    account = await get_account(db, user.household_id, account_id)
    _second_confirmation(server, account, "top_up", data.confirm_assumed)
    outcome = await _ops(server).top_up(db, account, data.amount, user_id=user.user_id)
    return _operation_out(request, server, account, outcome)


def _m(value: Money | None) -> MoneyOut | None:
    return MoneyOut(str(value.amount), value.currency) if value is not None else None


@get(
    "/accounts/{account_id:int}/trusted-payment",
    tags=["payments"],
    summary="The trusted payment: the offer, the debt and its due date",
)
async def trusted_payment(
    request: Request[Any, Any, Any], db: DB, server: Server, account_id: AccountId
) -> TrustedPaymentOut:
    account = await _account(request, db, account_id)
    state = await _ops(server).trusted_payment(db, account)
    return TrustedPaymentOut(
        available=state.available,
        options=[
            TrustedOptionOut(MoneyOut(str(o.amount.amount), o.amount.currency), _m(o.fee))
            for o in state.options
        ],
        min_amount=_m(state.min_amount),
        max_amount=_m(state.max_amount),
        fee=_m(state.fee),
        days=state.days,
        debt=_m(state.debt),
        due_date=state.due_date,
        reason=state.reason,
    )


@post(
    "/accounts/{account_id:int}/trusted-payment",
    tags=["payments"],
    summary="Take a trusted payment (credit now, paid back by its due date)",
    status_code=200,
)
async def take_trusted_payment(
    request: Request[Any, Any, Any],
    db: DB,
    server: Server,
    account_id: AccountId,
    data: JSONBody[TopUpIn],
) -> OperationOut:
    user = require_user(request)
    account = await get_account(db, user.household_id, account_id)
    _second_confirmation(server, account, "take_trusted_payment", data.confirm_assumed)
    outcome = await _ops(server).take_trusted_payment(
        db, account, data.amount, user_id=user.user_id
    )
    return _operation_out(request, server, account, outcome)


def _chat_out(chat: ChatView) -> ChatOut:
    return ChatOut(
        topics=[{"id": t.id, "title": t.title} for t in chat.topics],
        messages=[
            ChatMessageOut(m.remote_id, m.topic_id, m.author, m.author_name, m.text, m.sent_at)
            for m in chat.messages
        ],
    )


@get("/accounts/{account_id:int}/chat", tags=["chat"], summary="Chat topics and the whole history")
async def chat(
    request: Request[Any, Any, Any], db: DB, server: Server, account_id: AccountId
) -> ChatOut:
    account = await _account(request, db, account_id)
    return _chat_out(await _ops(server).chat(db, account))


@post("/accounts/{account_id:int}/chat", tags=["chat"], summary="Send a message", status_code=200)
async def chat_send(
    request: Request[Any, Any, Any],
    db: DB,
    server: Server,
    account_id: AccountId,
    data: JSONBody[ChatIn],
) -> ChatOut:
    account = await _account(request, db, account_id)
    return _chat_out(await _ops(server).send_chat(db, account, data.topic_id, data.text))


@get(
    "/accounts/{account_id:int}/reports",
    tags=["reports"],
    summary="A spending-detail report (PDF or XLSX)",
    media_type="application/octet-stream",
    response_description="The report file",
)
async def report(
    request: Request[Any, Any, Any],
    db: DB,
    server: Server,
    account_id: AccountId,
    start: FromQuery[dt.date],
    end: FromQuery[dt.date],
    format: FromQuery[ReportFormat] = ReportFormat.PDF,
) -> Response[bytes]:
    account = await _account(request, db, account_id)
    return report_response(await _ops(server).report(db, account, start, end, format), format)


@get("/accounts/{account_id:int}/usage", tags=["usage"], summary="Package remainders and traffic")
async def usage(
    request: Request[Any, Any, Any], db: DB, server: Server, account_id: AccountId
) -> Usage:
    account = await _account(request, db, account_id)
    return await _ops(server).usage(db, account)


@get("/accounts/{account_id:int}/traffic", tags=["usage"], summary="Traffic over a period")
async def traffic(
    request: Request[Any, Any, Any],
    db: DB,
    server: Server,
    account_id: AccountId,
    since: Annotated[dt.date | None, Parameter(description="default: this month's 1st")] = None,
    until: Annotated[dt.date | None, Parameter(description="default: today")] = None,
) -> TrafficStats:
    """Downloaded and uploaded bytes from ``since`` to ``until`` (at most a year), for an
    operator that shows traffic over a chosen period."""
    user = require_user(request)
    account = await get_account(db, user.household_id, account_id)
    end = until or _today(user)
    return await _ops(server).traffic(db, account, since or end.replace(day=1), end)


@get("/accounts/{account_id:int}/payments", tags=["payments"], summary="Payments and charges")
async def payments(
    request: Request[Any, Any, Any],
    db: DB,
    server: Server,
    account_id: AccountId,
    days: Annotated[int, Parameter(ge=1, le=366)] = 90,
    since: Annotated[
        dt.date | None, Parameter(description="the first day (instead of days)")
    ] = None,
    until: Annotated[dt.date | None, Parameter(description="the last day (default today)")] = None,
) -> list[Payment]:
    """The operator's history for ``since``..``until`` (at most a year), or the last ``days``."""
    user = require_user(request)
    account = await get_account(db, user.household_id, account_id)
    end = until or _today(user)
    start = since or end - dt.timedelta(days=days)
    return await _ops(server).payments(db, account, start, end)


class MonthOut(msgspec.Struct):
    month: str  # YYYY-MM
    spent: MoneyOut | None
    paid_in: MoneyOut
    end_balance: MoneyOut | None
    source: str | None  # charges | balances | drops


class SpendingOut(msgspec.Struct):
    start: dt.date
    end: dt.date
    months: list[MonthOut]
    total_spent: MoneyOut
    total_paid_in: MoneyOut


@get(
    "/accounts/{account_id:int}/spending",
    tags=["payments"],
    summary="Spending by month (from the payment history and the readings)",
)
async def spending(
    request: Request[Any, Any, Any],
    db: DB,
    server: Server,
    account_id: AccountId,
    since: Annotated[dt.date | None, Parameter(description="default: 5 months back")] = None,
    until: Annotated[dt.date | None, Parameter(description="default: today")] = None,
) -> SpendingOut:
    user = require_user(request)
    account = await get_account(db, user.household_id, account_id)
    end = until or _today(user)
    start = since or (end.replace(day=1) - dt.timedelta(days=150)).replace(day=1)
    found = await account_spending(db, _ops(server), account, start, end, zone(user.timezone))
    cur = found.currency

    def money(minor: int) -> MoneyOut:
        out = _money(minor, cur)
        assert out is not None
        return out

    return SpendingOut(
        start=found.start,
        end=found.end,
        months=[
            MonthOut(
                month=m.month.isoformat()[:7],
                spent=_money(m.spent_minor, cur),
                paid_in=money(m.paid_in_minor),
                end_balance=_money(m.end_balance_minor, cur),
                source=m.source,
            )
            for m in found.months
        ],
        total_spent=money(found.total_spent_minor),
        total_paid_in=money(found.total_paid_in_minor),
    )


@get("/accounts/{account_id:int}/news", tags=["news"], summary="News and offers")
async def news(
    request: Request[Any, Any, Any], db: DB, server: Server, account_id: AccountId
) -> list[NewsItem]:
    account = await _account(request, db, account_id)
    return await _ops(server).news(db, account)


@get("/accounts/{account_id:int}/profile", tags=["accounts"], summary="The operator's profile")
async def profile(
    request: Request[Any, Any, Any], db: DB, server: Server, account_id: AccountId
) -> Profile:
    account = await _account(request, db, account_id)
    return await _ops(server).profile(db, account)


@post(
    "/flows/{token:str}",
    tags=["flows"],
    summary="Confirm an operation with its code",
    status_code=200,
)
async def confirm(
    request: Request[Any, Any, Any],
    db: DB,
    server: Server,
    token: Annotated[str, Parameter(max_length=64)],
    data: JSONBody[CodeIn],
) -> OperationOut:
    user = require_user(request)
    try:
        flow, pending = confirmations.pending(server, user, token)
    except FlowExpired:
        raise NotFoundException("no such confirmation") from None
    account = await get_account(db, user.household_id, pending.account_id)
    outcome = await _ops(server).confirm(db, account, pending, data.code, user_id=user.user_id)
    return _operation_out(request, server, account, outcome, flow)


def _roubles(minor: int | None) -> Decimal | None:
    return None if minor is None else from_minor(minor)


def _minor(value: Decimal | None) -> int | None:
    return None if value is None else to_minor(value)


def _check_amounts(**values: Decimal | None) -> None:
    for name, value in values.items():
        if value is not None and (not value.is_finite() or not 0 <= value <= 10_000_000):
            raise ValidationException(f"{name}: a sum in roubles from 0 to 10 000 000")


def _alert_settings(alerts: alert_rules.HouseholdAlerts) -> AlertSettings:
    reminder = alerts.reminder_interval_s
    return AlertSettings(
        low_balance_enabled=alerts.low_balance_enabled,
        threshold=_roubles(alerts.threshold_minor),
        margin=_roubles(alerts.margin_minor),
        runs_out_enabled=alerts.runs_out_enabled,
        days=alerts.days,
        needs_login_enabled=alerts.needs_login_enabled,
        suspension_ends_enabled=alerts.suspension_ends_enabled,
        suspension_days=alerts.suspension_days,
        reminder_hours=reminder // 3600 if reminder else None,
        trusted_payment_due_enabled=alerts.trusted_payment_due_enabled,
        trusted_days=alerts.trusted_days,
        chat_reply_enabled=alerts.notices.get("chat_reply", True),
        suspension_approved_enabled=alerts.notices.get("suspension_approved", True),
        maintenance_enabled=alerts.notices.get("maintenance", True),
        recipients=list(alerts.recipients),
        lang="en" if alerts.lang == "en" else "ru",
    )


@get("/alerts", tags=["alerts"], summary="The household's alert settings")
async def get_alerts(request: Request[Any, Any, Any], db: DB) -> AlertSettings:
    user = require_user(request)
    return _alert_settings(await alert_rules.household_alerts(db, user.household_id, user.lang))


@put("/alerts", tags=["alerts"], summary="Change the household's alert settings")
async def put_alerts(
    request: Request[Any, Any, Any], db: DB, data: JSONBody[AlertSettings]
) -> AlertSettings:
    user = require_user(request)
    _check_amounts(threshold=data.threshold, margin=data.margin)
    alerts = alert_rules.HouseholdAlerts(
        low_balance_enabled=data.low_balance_enabled,
        threshold_minor=_minor(data.threshold),
        margin_minor=_minor(data.margin),
        runs_out_enabled=data.runs_out_enabled,
        days=data.days,
        needs_login_enabled=data.needs_login_enabled,
        suspension_ends_enabled=data.suspension_ends_enabled,
        suspension_days=data.suspension_days,
        trusted_payment_due_enabled=data.trusted_payment_due_enabled,
        trusted_days=data.trusted_days,
        reminder_interval_s=data.reminder_hours * 3600 if data.reminder_hours else None,
        notices={
            "chat_reply": data.chat_reply_enabled,
            "suspension_approved": data.suspension_approved_enabled,
            "maintenance": data.maintenance_enabled,
        },
        remainders=None,  # not in the API's body: the remainder defaults stay as they are
        recipients=tuple(data.recipients),
        lang=data.lang,
    )
    await alert_rules.save_household_alerts(db, user.household_id, user.user_id, alerts)
    return _alert_settings(await alert_rules.household_alerts(db, user.household_id, user.lang))


@get(
    "/accounts/{account_id:int}/alerts",
    tags=["alerts"],
    summary="An account's own alert thresholds",
)
async def get_account_alerts(
    request: Request[Any, Any, Any], db: DB, account_id: AccountId
) -> AccountAlerts:
    user = require_user(request)
    account = await get_account(db, user.household_id, account_id)
    own = await alert_rules.account_thresholds(db, user.household_id, account.id)
    return AccountAlerts(
        threshold=_roubles(own.threshold_minor),
        days=own.days,
        data_bytes=own.data_bytes,
        minutes_seconds=own.minutes_seconds,
    )


@put(
    "/accounts/{account_id:int}/alerts", tags=["alerts"], summary="Set an account's own thresholds"
)
async def put_account_alerts(
    request: Request[Any, Any, Any], db: DB, account_id: AccountId, data: JSONBody[AccountAlerts]
) -> AccountAlerts:
    user = require_user(request)
    account = await get_account(db, user.household_id, account_id)
    _check_amounts(threshold=data.threshold)
    thresholds = alert_rules.AccountThresholds(
        threshold_minor=_minor(data.threshold),
        days=data.days,
        data_bytes=data.data_bytes,
        minutes_seconds=data.minutes_seconds,
    )
    await alert_rules.save_account_thresholds(db, user.household_id, account.id, thresholds)
    return data


@get("/outbox", tags=["outbox"], summary="Alert e-mails: queued, sent, failed")
async def outbox(
    request: Request[Any, Any, Any],
    db: DB,
    limit: Annotated[int, Parameter(ge=1, le=500)] = 100,
) -> list[OutboxOut]:
    user = require_user(request)
    rows = await outbox_service.recent_messages(db, user.household_id, limit)
    return [
        OutboxOut(
            id=m.id,
            kind=m.kind,
            subject=m.subject,
            recipients=list(m.recipients or []),
            status=m.status,
            attempts=m.attempts,
            created_at=m.created_at,
            sent_at=m.sent_at,
            lang=m.lang,
            link=m.link,
            body_text=m.body_text,
        )
        for m in rows
    ]


HANDLERS = [
    me,
    list_accounts,
    account_detail,
    rename_account,
    remove_account,
    readings,
    tariffs,
    change_tariff,
    services,
    set_service,
    suspension,
    suspension_quote,
    suspend,
    resume,
    top_up,
    trusted_payment,
    take_trusted_payment,
    chat,
    chat_send,
    report,
    usage,
    traffic,
    payments,
    spending,
    news,
    profile,
    confirm,
    get_alerts,
    put_alerts,
    get_account_alerts,
    put_account_alerts,
    outbox,
]


async def _before(request: Request[Any, Any, Any]) -> Response[None] | None:
    """The app's own hook first (a router's hook replaces the app's in Litestar), then:
    OPTIONS lists every method of the path; a JSON body is read strictly."""
    outer = request.app.before_request
    if outer is not None:
        answered = outer(request)
        if inspect.isawaitable(answered):
            answered = await answered
        if answered is not None:
            return cast("Response[None]", answered)
    if request.method == "OPTIONS":
        return _options(request)
    await _strict_body(request)
    return None


_UNTYPED = re.compile(r":[a-z]+}")


def _options(request: Request[Any, Any, Any]) -> Response[None]:
    """``Allow`` with every method of the path. Litestar builds the OPTIONS answer with the
    first handler registered for a path, so a path with GET, PATCH and DELETE said only GET."""
    template = _UNTYPED.sub("}", request.scope.get("path_template", request.url.path))
    methods = {"OPTIONS"}
    for route in request.app.routes:
        if _UNTYPED.sub("}", route.path) == template:
            methods |= set(getattr(route, "methods", ()))
    return Response(None, status_code=204, headers={"Allow": ", ".join(sorted(methods))})


def _integral(value: Any) -> Any:
    """JSON Schema counts ``15.0`` as an integer: so does the API."""
    if isinstance(value, float) and value.is_integer():
        return int(value)
    if isinstance(value, list):
        return [_integral(v) for v in value]
    if isinstance(value, dict):
        return {k: _integral(v) for k, v in value.items()}
    return value


async def _strict_body(request: Request[Any, Any, Any]) -> None:
    """Read a JSON body as the schema says, strictly: Litestar converts request data leniently
    (``0`` for ``false``, a number for a string), which the document does not promise."""
    field = request.route_handler.parsed_fn_signature.parameters.get("data")
    kind = getattr(field, "annotation", None)
    if not (isinstance(kind, type) and issubclass(kind, msgspec.Struct)):
        return
    body = await request.body()
    if not body:
        return
    try:
        msgspec.convert(_integral(msgspec.json.decode(body)), kind, strict=True)
    except msgspec.ValidationError as exc:
        raise ValidationException(
            "the request body does not match the schema",
            extra=[{"message": str(exc), "key": "data", "source": "body"}],
        ) from None
    except msgspec.DecodeError:
        return  # not JSON: Litestar answers that itself


def router() -> Router:
    return Router("/api/v1", route_handlers=HANDLERS, opt={"api": True}, before_request=_before)
