"""Reading Rostelecom's answers: the passport's pages and the cabinet's client-api JSON. Pure.

* The passport builds its forms with JavaScript from data on the page: ``mergeConfig({...})``
  (the action URL, ``captchaId``, ``captchaUrl``, the step) and ``window.__config__ =
  {message: {summary}}`` for the feedback (AnyBalance's login.rt.js reads the same two).
  :func:`parse_merge_config` and :func:`parse_page_message` read them from the page's HTML.
* ``lk.rt.ru/client-api/<method>`` answers JSON. Errors come as ``isError`` with ``errorMsg``
  (or ``errorMessage``) and maybe ``errorCode``; a lost session as ``isSessionLost``. **Money is
  in kopecks.** Replies are read tolerantly, as a scraper that must live for years: unknown
  fields are ignored, nulls are accepted where the reading can do without, numbers come as int
  or text; a :class:`ParseError` is for a reply that truly lacks what the reading needs.
"""

from __future__ import annotations

import datetime as dt
import json
import re
from collections.abc import Iterable, Mapping
from dataclasses import dataclass
from decimal import Decimal
from typing import Any, Literal, TypeVar

from pydantic import Field

from aggregator import (
    AccountLocked,
    Flag,
    Int,
    InvalidCredentials,
    Number,
    OperationRejected,
    ParseError,
    RateLimited,
    SessionExpired,
    Text,
    Wire,
    parse_date,
    parse_datetime,
    parse_reply,
)
from aggregator.core.models import (
    AccountState,
    AutopaySettings,
    Balance,
    BonusPoints,
    ChatAuthor,
    ChatMessage,
    ChatTopic,
    CostRule,
    Money,
    NewsItem,
    PackageRemainder,
    Payment,
    PaymentKind,
    Profile,
    Service,
    Subaccount,
    Suspension,
    SuspensionQuote,
    SuspensionState,
    Tariff,
    TariffCatalogue,
    Usage,
    UsageUnit,
)

_W = TypeVar("_W", bound=Wire)

__all__ = [
    "AccountInfo",
    "BonusStatus",
    "ConfirmRequest",
    "PageMessage",
    "ServiceLine",
    "check_api",
    "login_error",
    "parse_accounts",
    "parse_autopay",
    "parse_balance",
    "parse_block",
    "parse_block_quote",
    "parse_chat",
    "parse_chat_topics",
    "parse_confirm_request",
    "parse_confirm_result",
    "parse_fpl_status",
    "parse_merge_config",
    "parse_notifications",
    "parse_operation",
    "parse_options",
    "parse_page_message",
    "parse_payments",
    "parse_profile",
    "parse_promotions",
    "parse_report_order",
    "parse_service_info",
    "parse_service_tariff",
    "parse_tariff_names",
    "parse_tariffs",
]


def _kopecks(value: int) -> Money:
    return Money.from_minor(value)


def _date(value: str | None, payload: Any) -> dt.date | None:
    """A date (ISO or ``dd.mm.yyyy``); None for none."""
    return parse_date(value, payload=payload) if value else None


def _datetime(value: str, payload: Any) -> dt.datetime:
    """A timestamp; without an offset it is Moscow time."""
    return parse_datetime(value, payload=payload)


def _shape(model: type[_W], payload: Any, what: str, secrets: Iterable[str] = ()) -> _W:
    return parse_reply(model, payload, what=f"rostelecom {what}", secrets=secrets)


# -- client-api errors ---------------------------------------------------------------------

_SESSION_CODES = {"SESSION_LOST", "SESSION_EXPIRED", "UNAUTHORIZED", "NOT_AUTHORIZED"}
_REJECT_CODES = {
    "BAD_REQUEST",
    "NOT_FOUND",
    "ACCESS_DENIED",
    "REJECTED",
    "INSUFFICIENT_FUNDS",
    "INVALID_CODE",
    "CODE_EXPIRED",
    "VALIDATION_ERROR",
    "CSRF_TOKEN_INVALID",
}


class _ApiError(Wire):
    isError: bool | None = False
    isSessionLost: bool | None = False
    errorCode: Text | None = None
    errorMsg: str | None = None
    errorMessage: str | None = None


def check_api(payload: Any, secrets: Iterable[str] = ()) -> Mapping[str, Any]:
    """Return the payload when it is not an error; raise the contract error otherwise."""
    if not isinstance(payload, Mapping):
        raise ParseError("rostelecom: the reply is not an object", payload=payload, secrets=secrets)
    head = _shape(_ApiError, payload, "error block", secrets)
    code = (head.errorCode or "").upper()
    if head.isSessionLost or code in _SESSION_CODES:
        raise SessionExpired("rostelecom: the session is lost")
    if not head.isError:
        return payload
    message = re.sub(r"<[^>]+>", "", head.errorMsg or head.errorMessage or "")[:500]
    if code == "TOO_MANY_REQUESTS":
        raise RateLimited(message or "too many requests")
    if code in _REJECT_CODES or code == "":
        # the cabinet's own words ("Программа «Бонус» временно недоступна", ...)
        raise OperationRejected(message or "rejected", code=code or None)
    raise ParseError(
        f"rostelecom: unknown errorCode {code[:40]!r}", payload=payload, secrets=secrets
    )


# -- passport pages ------------------------------------------------------------------------


@dataclass(frozen=True)
class PageMessage:
    """The passport's feedback (``window.__config__.message``)."""

    summary: str
    code: str | None = None
    kind: str = "error"


def _json_after(html: str, pattern: str) -> Any:
    """The JSON value that starts right after ``pattern`` in ``html`` (None when absent)."""
    match = re.search(pattern, html)
    if match is None:
        return None
    try:
        value, _ = json.JSONDecoder().raw_decode(html[match.end() :])
    except ValueError:
        return None
    return value


def parse_merge_config(html: str) -> dict[str, Any] | None:
    """The passport screen's ``mergeConfig({...})`` data, None when the page has none."""
    value = _json_after(html, r"<script[^>]*>\s*mergeConfig\(")
    return dict(value) if isinstance(value, Mapping) else None


def parse_page_message(html: str) -> PageMessage | None:
    """The passport's feedback on the page, None when there is none."""
    value = _json_after(html, r"window\.__config__\s*=\s*\{[\s\S]*?message:\s*")
    if not isinstance(value, Mapping) or not value.get("summary"):
        return None
    code = value.get("code")
    return PageMessage(
        summary=re.sub(r"<[^>]+>", "", str(value["summary"]))[:500],
        code=str(code) if code else None,
        kind=str(value.get("type") or "error"),
    )


def login_error(message: PageMessage | None) -> Exception:
    """The contract error for the passport's feedback on a failed login."""
    text = message.summary if message else ""
    code = message.code if message else None
    if code == "account_locked" or re.search(r"заблокирован", text, re.I):
        return AccountLocked(text or "the account is locked")
    if code == "rate_limited":
        return RateLimited(text or "too many attempts")
    if code in ("invalid_credentials", "user_not_found", "code_invalid", None) or re.search(
        r"логин|парол", text, re.I
    ):
        return InvalidCredentials(text or "wrong login or password")
    return InvalidCredentials(text or code or "the passport refused the login")


# -- accounts and their services ------------------------------------------------------------

#: The cabinet's service types (AnyBalance main.js SERVICE_TYPE): integers, older text names.
SERVICE_KINDS: dict[str, Literal["mobile", "internet", "tv", "landline", "bundle", "other"]] = {
    "1": "internet",
    "INTERNET": "internet",
    "2": "landline",
    "TELEPHONY": "landline",
    "PHONE": "landline",
    "4": "internet",
    "WIFI": "internet",
    "8": "tv",
    "IPTV": "tv",
    "14": "tv",
    "DTV": "tv",
    "15": "landline",
    "OTT": "landline",
    "16": "mobile",
    "MVNO": "mobile",
    "MOBILE": "mobile",
    "19": "tv",
}
#: Service types that are no service of their own (equipment rent).
_SKIPPED_TYPES = {"6", "EQUIPMENT"}


class _Service(Wire):
    serviceId: Text
    type: Text | None = None
    number: Text | None = None
    displayNumber: Text | None = None


class _Account(Wire):
    accountId: Text
    number: Text
    address: str | None = None
    services: list[_Service] | None = None


class _Accounts(Wire):
    accounts: list[_Account] | None  # required; null = no account yet


@dataclass(frozen=True)
class ServiceLine:
    service_id: str
    kind: str
    type: str


@dataclass(frozen=True)
class AccountInfo:
    subaccount: Subaccount
    services: tuple[ServiceLine, ...]


def parse_accounts(payload: Any) -> list[AccountInfo]:
    """``getAccounts`` -> every personal account (лицевой счёт) with its services."""
    check_api(payload)
    shaped = _shape(_Accounts, payload, "getAccounts")
    out: list[AccountInfo] = []
    for acc in shaped.accounts or []:
        lines = tuple(
            ServiceLine(
                s.serviceId, SERVICE_KINDS.get((s.type or "").upper(), "other"), s.type or ""
            )
            for s in acc.services or []
            if (s.type or "").upper() not in _SKIPPED_TYPES
        )
        kinds = {line.kind for line in lines}
        kind: Literal["mobile", "internet", "tv", "landline", "bundle", "other"]
        kind = kinds.pop() if len(kinds) == 1 else ("bundle" if kinds else "other")  # type: ignore[assignment]
        n = re.sub(r"\D", "", acc.number) or acc.number
        shown = f"{n[:3]} {n[3:6]} {n[6:9]} {n[9:]}" if len(n) == 12 else n
        out.append(
            AccountInfo(
                Subaccount(
                    id=acc.accountId,
                    number=shown,
                    label=(acc.address or "").strip()[:100],
                    kind=kind,
                ),
                lines,
            )
        )
    return out


class _SubBalance(Wire):
    balance: Int | None = None


class _Balance(Wire):
    balance: Int | None = None
    subAccounts: list[_SubBalance] | None = None
    creditLimit: Int | None = None
    nextChargeDate: str | None = None
    nextChargeAmount: Int | None = None


def parse_balance(payload: Any, as_of: dt.datetime, bonus: BonusPoints | None = None) -> Balance:
    """``getAccountBalanceV2`` -> Balance. ``balance`` is **kopecks**; when it is null the money
    is split over ``subAccounts`` and the balance is their sum (as AnyBalance's getAccBalance
    reads it, without its rounding to roubles)."""
    check_api(payload)
    shaped = _shape(_Balance, payload, "getAccountBalanceV2")
    amount = shaped.balance
    if amount is None:
        parts = [s.balance for s in shaped.subAccounts or [] if s.balance is not None]
        if not parts:
            raise ParseError("rostelecom: a balance with no money in it", payload=payload)
        amount = sum(parts)
    return Balance(
        amount=_kopecks(amount),
        as_of=as_of,
        credit_limit=_kopecks(shaped.creditLimit) if shaped.creditLimit else None,
        bonus=bonus,
        next_charge_date=_date(shaped.nextChargeDate, payload),
        next_charge_amount=(
            _kopecks(shaped.nextChargeAmount) if shaped.nextChargeAmount is not None else None
        ),
    )


class _TariffNames(Wire):
    tariffNames: dict[str, str | None] | None  # required; null = no names


def parse_tariff_names(payload: Any) -> dict[str, str]:
    """``getServiceTariffName`` -> tariff name per serviceId; placeholders ("((...))") and
    empty names are left out."""
    check_api(payload)
    names = _shape(_TariffNames, payload, "getServiceTariffName").tariffNames or {}
    return {
        str(k): v.strip()
        for k, v in names.items()
        if isinstance(v, str) and v.strip() and "((" not in v
    }


#: getServiceInfo ``status`` (AnyBalance main.js g_ServiceStatus) -> the account state.
SERVICE_STATUS: dict[str, AccountState] = {
    "CONNECTED": AccountState.ACTIVE,
    "ACTIVE": AccountState.ACTIVE,
    "INACTIVE": AccountState.ACTIVE,
    "BLOCKED": AccountState.BLOCKED,
    "OPERATOR_BLOCK": AccountState.BLOCKED,
    "FRAUD": AccountState.BLOCKED,
    "LOSS_BLOCK": AccountState.BLOCKED,
    "VOLUNTARY_BLOCKED": AccountState.SUSPENDED,
    "NOT_CONNECTED": AccountState.CLOSED,
    "DISCONNECTED": AccountState.CLOSED,
    "UNKNOWN_STATUS": AccountState.UNKNOWN,
}
#: The words the cabinet shows for each status (AnyBalance main.js g_ServiceStatus).
STATUS_TEXT = {
    "NOT_CONNECTED": "Не подключена",
    "CONNECTED": "Услуга активна",
    "BLOCKED": "Отключена за неуплату",
    "VOLUNTARY_BLOCKED": "Включена добровольная блокировка",
    "LOSS_BLOCK": "Заблокирована по утере/краже",
    "ACTIVE": "Услуга активна и используется",
    "INACTIVE": "Услуга не активна",
    "OPERATOR_BLOCK": "Услуга заблокирована по инициативе оператора связи",
    "FRAUD": "Блокировка за мошенничество",
    "UNKNOWN_STATUS": "Статус не определен",
}
#: When several services disagree, the account shows the gravest state.
_GRAVITY = [
    AccountState.BLOCKED,
    AccountState.SUSPENDED,
    AccountState.ACTIVE,
    AccountState.CLOSED,
    AccountState.UNKNOWN,
]


class _ServiceInfo(Wire):
    status: Text
    voluntaryBlockEndDate: str | None = None


@dataclass(frozen=True)
class ServiceInfo:
    state: AccountState
    status: str
    block_end: dt.date | None


def parse_service_info(payload: Any) -> ServiceInfo:
    """``getServiceInfo`` -> the service's state (operator blocks included), block end."""
    check_api(payload)
    shaped = _shape(_ServiceInfo, payload, "getServiceInfo")
    status = shaped.status.upper() or "UNKNOWN_STATUS"
    return ServiceInfo(
        SERVICE_STATUS.get(status, AccountState.UNKNOWN),
        status,
        _date(shaped.voluntaryBlockEndDate, payload),
    )


def account_state(infos: Iterable[ServiceInfo]) -> tuple[AccountState, dt.date | None]:
    """The account's state from its services': the gravest one, and a block's end."""
    infos = list(infos)
    if not infos:
        return AccountState.UNKNOWN, None
    state = min((i.state for i in infos), key=_GRAVITY.index)
    ends = [i.block_end for i in infos if i.state is AccountState.SUSPENDED and i.block_end]
    return state, (max(ends) if ends else None)


class _Limit(Wire):
    unit: str | None = None
    remain: Number | None = None
    total: Number | None = None
    endDate: str | None = None


class _Package(Wire):
    name: str | None = None
    limits: list[_Limit] | None = None


class _ServiceTariff(Wire):
    fee: Int | None = None
    options: list[_Package] | None = None


def _unit(text: str) -> tuple[UsageUnit, Decimal] | None:
    """The usage unit of a package limit and the factor to it (AnyBalance's unit regexes)."""
    if re.search(r"SMS|СМС", text, re.I):
        return UsageUnit.SMS, Decimal(1)
    if re.search(r"MMS|ММС", text, re.I):
        return None
    if re.search(r"мин|MIN", text, re.I):
        return UsageUnit.SECONDS, Decimal(60)
    factors = {"к": 1 << 10, "k": 1 << 10, "м": 1 << 20, "m": 1 << 20, "г": 1 << 30, "g": 1 << 30}
    match = re.search(r"([мmkкгg])[бb]|байт|byte", text, re.I)
    if match:
        prefix = (match.group(1) or "").lower()
        return UsageUnit.BYTES, Decimal(factors.get(prefix, 1))
    return None


def parse_service_tariff(payload: Any) -> list[PackageRemainder]:
    """``getServiceTariff`` -> package remainders (minutes, SMS, traffic) of a mobile service."""
    check_api(payload)
    shaped = _shape(_ServiceTariff, payload, "getServiceTariff")
    out: list[PackageRemainder] = []
    for package in shaped.options or []:
        for limit in (package.limits or [])[:1]:
            unit = _unit(limit.unit or "")
            if unit is None or limit.remain is None:
                continue
            kind, factor = unit
            out.append(
                PackageRemainder(
                    name=(package.name or limit.unit or "").strip()[:100],
                    unit=kind,
                    rest=(limit.remain * factor).quantize(Decimal(1)),
                    size=(limit.total * factor).quantize(Decimal(1))
                    if limit.total is not None
                    else None,
                    period_end=_date(limit.endDate, payload),
                )
            )
    return out


def usage(remainders: list[PackageRemainder]) -> Usage:
    return Usage(remainders=remainders)


# -- the «Бонус» programme, the profile --------------------------------------------------------


class _Level(Wire):
    level: str | None = None
    name: str | None = None
    expireDate: str | None = None


class _Fpl(Wire):
    status: str | None = None
    balance: Number | None = None
    levelInfo: _Level | None = None


@dataclass(frozen=True)
class BonusStatus:
    points: Decimal | None
    level: str | None


def parse_fpl_status(payload: Any) -> BonusStatus:
    """``getFplStatus`` -> the «Бонус» points (None outside the programme) and the level.

    "Not in the programme" (``status: MISSING``) and "temporarily unavailable" (an error) are
    no points, not a failed poll."""
    if isinstance(payload, Mapping) and payload.get("isError") and not payload.get("isSessionLost"):
        return BonusStatus(None, None)
    check_api(payload)
    shaped = _shape(_Fpl, payload, "getFplStatus")
    if shaped.status is None and shaped.balance is None:
        raise ParseError(
            "rostelecom: a getFplStatus reply without status or balance", payload=payload
        )
    if (shaped.status or "").upper() == "MISSING" or shaped.balance is None:
        return BonusStatus(None, None)
    level = shaped.levelInfo.name or shaped.levelInfo.level if shaped.levelInfo else None
    return BonusStatus(shaped.balance, level)


class _Profile(Wire):
    lastName: str | None = None
    name: str | None = None
    middleName: str | None = None
    login: Text | None = None
    email: str | None = None
    phone: Text | None = None


def parse_profile(payload: Any, account_number: str | None = None) -> Profile:
    """``getProfile`` -> the ID's owner: last name, name, middle name (as the clients join
    them), phone and e-mail."""
    check_api(payload)
    shaped = _shape(_Profile, payload, "getProfile")
    full = " ".join(p.strip() for p in (shaped.lastName, shaped.name, shaped.middleName) if p)
    return Profile(
        full_name=full or None,
        phone=shaped.phone or None,
        email=shaped.email or None,
        account_number=account_number,
    )


# -- the online chat (assumed shapes: the seed only) --------------------------------------------


class _Topic(Wire):
    topicId: Text
    name: str


class _Topics(Wire):
    topics: list[_Topic] | None = None


def parse_chat_topics(payload: Any) -> list[ChatTopic]:
    check_api(payload)
    return [
        ChatTopic(id=t.topicId, title=t.name.strip()[:200])
        for t in _shape(_Topics, payload, "getChatTopics").topics or []
    ]


class _Message(Wire):
    messageId: Text
    topicId: Text | None = None
    author: str | None = None
    authorName: str | None = None
    text: str = ""
    date: str


class _Messages(Wire):
    messages: list[_Message] | None = None


_AUTHORS = {"CLIENT": ChatAuthor.USER, "USER": ChatAuthor.USER, "BOT": ChatAuthor.BOT}


def parse_chat(payload: Any) -> list[ChatMessage]:
    check_api(payload)
    return [
        ChatMessage(
            id=m.messageId,
            topic_id=m.topicId,
            author=_AUTHORS.get((m.author or "").upper(), ChatAuthor.AGENT),
            author_name=m.authorName,
            text=m.text[:4000],
            sent_at=_datetime(m.date, payload),
        )
        for m in _shape(_Messages, payload, "chat").messages or []
    ]


# -- tariffs, options (assumed shapes) ---------------------------------------------------------


class _Tariff(Wire):
    tariffId: Text
    name: str = Field(min_length=1, max_length=300)
    cost: Int | None = None
    period: Literal["month", "day", "year", "once"] | None = "month"
    description: str | None = None


class _Pending(_Tariff):
    effectiveDate: str


class _Tariffs(Wire):
    current: _Tariff
    tariffs: list[_Tariff] | None = None
    pendingTariff: _Pending | None = None


def _tariff(t: _Tariff) -> Tariff:
    return Tariff(
        id=t.tariffId,
        name=t.name.strip(),
        price=_kopecks(t.cost) if t.cost is not None else None,
        period=t.period,
        description=(t.description or "")[:1000],
    )


def parse_tariffs(payload: Any) -> TariffCatalogue:
    """``getAvailableTariffs`` -> the catalogue (current, offered, pending change)."""
    check_api(payload)
    shaped = _shape(_Tariffs, payload, "getAvailableTariffs")
    pending = shaped.pendingTariff
    return TariffCatalogue(
        current=_tariff(shaped.current),
        available=[_tariff(t) for t in shaped.tariffs or []],
        pending=_tariff(pending) if pending is not None else None,
        pending_from=_date(pending.effectiveDate, payload) if pending is not None else None,
    )


class _Option(Wire):
    optionId: Text
    name: str = Field(min_length=1, max_length=300)
    cost: Int | None = None
    period: Literal["month", "day", "year", "once"] | None = "month"
    isActive: Flag
    canChange: Flag = True
    description: str | None = None


class _Options(Wire):
    options: list[_Option] | None = None


def _option(o: _Option) -> Service:
    return Service(
        id=o.optionId,
        name=o.name.strip(),
        enabled=o.isActive,
        price=_kopecks(o.cost) if o.cost is not None else None,
        period=o.period,
        description=(o.description or "")[:1000],
        can_toggle=o.canChange,
    )


def parse_options(payload: Any) -> list[Service]:
    """``getServiceOptions`` -> services with their state and price (kopecks)."""
    check_api(payload)
    return [_option(o) for o in _shape(_Options, payload, "getServiceOptions").options or []]


def parse_option(payload: Any) -> Service:
    """The ``option`` block of a ``changeOption`` answer."""
    return _option(_shape(_Option, payload, "option"))


# -- confirmations -----------------------------------------------------------------------------


@dataclass
class ConfirmRequest:
    """An operation answered "confirm it with the code we sent"."""

    confirm_id: str
    masked_destination: str
    code_length: int | None


class _Confirm(Wire):
    needConfirm: Flag = False
    confirmId: str | None = Field(default=None, max_length=200)
    maskedPhone: str | None = Field(default=None, max_length=60)
    codeLength: Int | None = None


def parse_confirm_request(payload: Any) -> ConfirmRequest | None:
    """A financial operation's answer: the confirmation request, or None when it is done."""
    check_api(payload)
    shaped = _shape(_Confirm, payload, "confirmation")
    if not shaped.needConfirm:
        return None
    if not shaped.confirmId:
        raise ParseError("rostelecom: a confirmation without its id", payload=payload)
    return ConfirmRequest(shaped.confirmId, shaped.maskedPhone or "", shaped.codeLength)


class _Operation(Wire):
    operation: str | None = None
    message: str | None = None
    effectiveDate: str | None = None
    attemptsLeft: Int | None = None


def parse_operation(payload: Any) -> tuple[str, dt.date | None]:
    """A done operation -> (message, effective date)."""
    check_api(payload)
    shaped = _shape(_Operation, payload, "operation")
    return (shaped.message or "")[:500], _date(shaped.effectiveDate, payload)


def parse_confirm_result(payload: Any) -> tuple[bool, str, dt.date | None, int | None]:
    """``confirmOperation`` -> (done, message, effective date, attempts left).

    A wrong code is ``done=False`` with the attempts left (the user may try again); other
    errors raise.
    """
    if isinstance(payload, Mapping) and str(payload.get("errorCode", "")).upper() == "INVALID_CODE":
        shaped = _shape(_Operation, payload, "confirmOperation")
        left = shaped.attemptsLeft
        if left is not None and left > 0:
            return False, str(payload.get("errorMsg") or "")[:300], None, left
    message, effective = parse_operation(payload)
    return True, message, effective, None


# -- suspension ----------------------------------------------------------------------------------


class _Rule(Wire):
    freeDays: Int | None = None
    dailyFee: Int = 0
    maxDays: Int | None = None
    description: str | None = None


class _Block(Wire):
    state: Literal["NONE", "REQUESTED", "SCHEDULED", "ACTIVE"]
    startDate: str | None = None
    endDate: str | None = None


class _BlockInfo(Wire):
    block: _Block | None = None
    rule: _Rule


_BLOCK_STATE = {
    "NONE": SuspensionState.ACTIVE,
    "REQUESTED": SuspensionState.REQUESTED,
    "SCHEDULED": SuspensionState.SCHEDULED,
    "ACTIVE": SuspensionState.SUSPENDED,
}


def _rule(rule: _Rule) -> CostRule:
    return CostRule(
        free_days=rule.freeDays,
        daily_fee=_kopecks(rule.dailyFee) if rule.dailyFee else None,
        description=(rule.description or "")[:300],
    )


def parse_block(payload: Any) -> Suspension:
    """``getVoluntaryBlock`` / ``blockServices`` -> the voluntary block of the account."""
    check_api(payload)
    shaped = _shape(_BlockInfo, payload, "voluntary block")
    block = shaped.block
    if block is None or block.state == "NONE":
        return Suspension(
            state=SuspensionState.ACTIVE, cost_rule=_rule(shaped.rule), max_days=shaped.rule.maxDays
        )
    start, end = _date(block.startDate, payload), _date(block.endDate, payload)
    if start is None or end is None or end < start:
        raise ParseError("rostelecom: a block without its dates", payload=payload)
    return Suspension(
        state=_BLOCK_STATE[block.state],
        start=start,
        end=end,
        cost_rule=_rule(shaped.rule),
        max_days=shaped.rule.maxDays,
    )


class _Quote(Wire):
    startDate: str
    endDate: str
    days: Int = Field(ge=0)
    freeDays: Int = Field(ge=0)
    paidDays: Int = Field(ge=0)
    total: Int
    rule: _Rule


def parse_block_quote(payload: Any) -> SuspensionQuote:
    """``getVoluntaryBlockCost`` -> what the block will cost (kopecks)."""
    check_api(payload)
    shaped = _shape(_Quote, payload, "getVoluntaryBlockCost")
    start, end = _date(shaped.startDate, payload), _date(shaped.endDate, payload)
    if start is None or end is None or shaped.freeDays + shaped.paidDays != shaped.days:
        raise ParseError("rostelecom: an inconsistent block quote", payload=payload)
    return SuspensionQuote(
        start=start,
        end=end,
        days=shaped.days,
        free_days=shaped.freeDays,
        paid_days=shaped.paidDays,
        total=_kopecks(shaped.total),
        cost_rule=_rule(shaped.rule),
    )


# -- payments, autopay ----------------------------------------------------------------------------


class _Payment(Wire):
    paymentId: str | int
    date: str
    amount: Int
    type: Literal["PAYMENT", "CHARGE", "AUTOPAY", "ADJUSTMENT"]
    description: str | None = None


class _Payments(Wire):
    payments: list[_Payment]


def parse_payments(payload: Any) -> list[Payment]:
    """``getPaymentsHistory`` -> payments and charges (kopecks), newest first."""
    check_api(payload)
    out: list[Payment] = []
    for p in _shape(_Payments, payload, "getPaymentsHistory").payments:
        charge = p.type == "CHARGE" or p.amount < 0
        out.append(
            Payment(
                id=str(p.paymentId),
                at=_datetime(p.date, payload),
                amount=_kopecks(abs(p.amount)),
                kind=PaymentKind.CHARGE if charge else PaymentKind.PAYMENT,
                description=(p.description or "")[:300],
            )
        )
    out.sort(key=lambda p: p.at, reverse=True)
    return out


class _Autopay(Wire):
    enabled: Flag
    threshold: Int | None = None
    amount: Int | None = None
    cardMask: str | None = Field(default=None, max_length=40)


class _AutopayReply(Wire):
    autopay: _Autopay


def parse_autopay(payload: Any) -> AutopaySettings:
    """``getAutopay`` / ``setAutopay`` -> the settings (kopecks)."""
    check_api(payload)
    a = _shape(_AutopayReply, payload, "autopay").autopay
    return AutopaySettings(
        enabled=a.enabled,
        threshold=_kopecks(a.threshold) if a.threshold is not None else None,
        amount=_kopecks(a.amount) if a.amount is not None else None,
        card_mask=a.cardMask,
    )


# -- reports, profile, news, notifications ------------------------------------------------------


class _ReportOrder(Wire):
    reportId: str | int


def parse_report_order(payload: Any) -> str:
    check_api(payload)
    return str(_shape(_ReportOrder, payload, "orderDetail").reportId)


class _Promotion(Wire):
    id: str | int
    title: str = Field(min_length=1, max_length=300)
    text: str | None = None
    date: str | None = None
    kind: Literal["news", "offer", "maintenance"] = "news"


class _Promotions(Wire):
    promotions: list[_Promotion]


def parse_promotions(payload: Any) -> list[NewsItem]:
    check_api(payload)
    return [
        NewsItem(
            id=str(p.id),
            title=p.title.strip(),
            text=(p.text or "")[:2000],
            published=_date(p.date, payload),
            kind=p.kind,
        )
        for p in _shape(_Promotions, payload, "getPromotions").promotions
    ]


class _Notifications(Wire):
    channels: dict[Literal["SMS", "PUSH", "EMAIL"], Flag]


def parse_notifications(payload: Any) -> dict[str, bool]:
    """``getNotificationSettings`` -> {"sms": bool, "push": bool, "email": bool}."""
    check_api(payload)
    channels = _shape(_Notifications, payload, "getNotificationSettings").channels
    return {k.lower(): v for k, v in channels.items()}
