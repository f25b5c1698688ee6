"""How to read NetByNet's JSON API: pure functions from decoded replies to contract models.

Every reply carries ``resultCode`` (8 = success) and ``resultText``. :func:`check_result`
turns the other codes into the contract's errors; every other function expects a successful
reply and raises :class:`~aggregator.ParseError` (payload redacted) when a field is missing or
has the wrong type, so a changed API never becomes a wrong balance. Money comes as JSON numbers
in roubles (``1234.5``) and is read exactly (through its decimal text, never float arithmetic).
"""

from __future__ import annotations

import datetime as dt
from collections.abc import Mapping
from dataclasses import dataclass
from decimal import Decimal, InvalidOperation
from typing import Any, Literal

from aggregator import (
    AccountLocked,
    InvalidCredentials,
    OperationRejected,
    ParseError,
    SessionExpired,
    Unavailable,
)
from aggregator.core.models import (
    AccountState,
    AutopaySettings,
    Balance,
    ChatAuthor,
    ChatMessage,
    ChatTopic,
    CostRule,
    Money,
    NewsItem,
    Payment,
    PaymentKind,
    Profile,
    Service,
    Suspension,
    SuspensionQuote,
    SuspensionState,
    Tariff,
    TariffCatalogue,
    TariffChangeResult,
    TopUpResult,
)

__all__ = [
    "RESULT",
    "InternetAccount",
    "LoginReply",
    "check_result",
    "parse_autopay",
    "parse_balance",
    "parse_block",
    "parse_block_quote",
    "parse_chat",
    "parse_internet_accounts",
    "parse_login",
    "parse_notifications",
    "parse_payments",
    "parse_profile",
    "parse_promotions",
    "parse_request_sent",
    "parse_services",
    "parse_tariff_change",
    "parse_tariffs",
    "parse_top_up",
    "parse_topics",
    "raise_login_failure",
]

#: The API's result codes (``resultCode``).
RESULT = {
    "SUCCESS": 8,
    "INVALID_CREDENTIALS": 10,
    "CAPTCHA_REQUIRED": 11,
    "CAPTCHA_WRONG": 12,
    "ACCOUNT_LOCKED": 13,
    "NOT_AUTHORIZED": 20,
    "PASSWORD_CHANGE_REQUIRED": 21,
    "VALIDATION_ERROR": 30,
    "OPERATION_REJECTED": 31,
    "NOT_FOUND": 32,
    "WRONG_CODE": 33,
    "INTERNAL_ERROR": 99,
}
SUCCESS = RESULT["SUCCESS"]
_REJECTING = {
    RESULT["VALIDATION_ERROR"]: "validation",
    RESULT["OPERATION_REJECTED"]: "rejected",
    RESULT["NOT_FOUND"]: "not_found",
    RESULT["WRONG_CODE"]: "wrong_code",
    RESULT["PASSWORD_CHANGE_REQUIRED"]: "password_change_required",
}
_MSK = dt.timezone(dt.timedelta(hours=3))


def _fail(message: str, payload: Any) -> ParseError:
    return ParseError(f"netbynet: {message}", payload=payload)


def _obj(value: Any, where: str, payload: Any) -> Mapping[str, Any]:
    if not isinstance(value, Mapping):
        raise _fail(f"{where} is not an object", payload)
    return value


def _list(value: Any, where: str, payload: Any) -> list[Any]:
    if not isinstance(value, list):
        raise _fail(f"{where} is not a list", payload)
    return value


def _str(data: Mapping[str, Any], key: str, payload: Any, *, optional: bool = False) -> str:
    value = data.get(key)
    if value is None and optional:
        return ""
    if isinstance(value, int) and not isinstance(value, bool):
        return str(value)
    if not isinstance(value, str):
        raise _fail(f"{key} is missing or not text", payload)
    return value


def _decimal(data: Mapping[str, Any], key: str, payload: Any) -> Decimal:
    value = data.get(key)
    if isinstance(value, bool) or value is None:
        raise _fail(f"{key} is missing or not a number", payload)
    if isinstance(value, int | float | Decimal):
        text = str(value)
    elif isinstance(value, str):
        text = value.strip()
    else:
        raise _fail(f"{key} is not a number", payload)
    try:
        amount = Decimal(text)
    except InvalidOperation:
        raise _fail(f"{key} is not a number", payload) from None
    if not amount.is_finite():
        raise _fail(f"{key} is not a finite number", payload)
    return amount


def _money(data: Mapping[str, Any], key: str, payload: Any) -> Money:
    return Money.rub(_decimal(data, key, payload))


def _int(data: Mapping[str, Any], key: str, payload: Any) -> int:
    value = data.get(key)
    if isinstance(value, bool) or not isinstance(value, int):
        raise _fail(f"{key} is missing or not an integer", payload)
    return value


def _bool(data: Mapping[str, Any], key: str, payload: Any) -> bool:
    value = data.get(key)
    if not isinstance(value, bool):
        raise _fail(f"{key} is missing or not true/false", payload)
    return value


def _date(value: Any, key: str, payload: Any) -> dt.date:
    if not isinstance(value, str):
        raise _fail(f"{key} is not a date", payload)
    try:
        return dt.date.fromisoformat(value[:10])
    except ValueError:
        raise _fail(f"{key} is not a date", payload) from None


def _datetime(value: Any, key: str, payload: Any) -> dt.datetime:
    if not isinstance(value, str):
        raise _fail(f"{key} is not a timestamp", payload)
    try:
        parsed = dt.datetime.fromisoformat(value)
    except ValueError:
        raise _fail(f"{key} is not a timestamp", payload) from None
    return parsed if parsed.tzinfo else parsed.replace(tzinfo=_MSK)


# -- the envelope ---------------------------------------------------------------------------
def check_result(payload: Any, *, login: bool = False) -> Mapping[str, Any]:
    """The reply as an object when ``resultCode`` is 8; the contract's error otherwise.

    ``login`` replies are checked by :func:`parse_login` instead (they carry the captcha flag).
    """
    data = _obj(payload, "the reply", payload)
    code = data.get("resultCode")
    if isinstance(code, bool) or not isinstance(code, int):
        raise _fail("the reply lacks its resultCode", payload)
    if code == SUCCESS:
        return data
    text = _str(data, "resultText", payload, optional=True)
    if code == RESULT["NOT_AUTHORIZED"]:
        raise SessionExpired(text or "not authorised")
    if code == RESULT["INTERNAL_ERROR"]:
        raise Unavailable("the operator reports an internal error")
    if code in _REJECTING:
        raise OperationRejected(text or "rejected", code=_REJECTING[code])
    if not login:
        if code in (RESULT["INVALID_CREDENTIALS"], RESULT["ACCOUNT_LOCKED"]):
            raise SessionExpired(text or "not authorised")
        raise _fail(f"unexpected resultCode {code}", payload)
    return data


@dataclass(frozen=True)
class LoginReply:
    """What ``v3/login`` said: logged in, or why not."""

    outcome: Literal["ok", "captcha", "invalid", "locked"]
    need_change_password: bool
    message: str


def parse_login(payload: Any) -> LoginReply:
    data = check_result(payload, login=True)
    code = data["resultCode"]
    text = _str(data, "resultText", payload, optional=True)
    if code == SUCCESS:
        if data.get("captcha") is True:
            raise _fail("a successful login that still asks for a captcha", payload)
        return LoginReply("ok", data.get("needChangePassword") is True, text)
    if code in (RESULT["CAPTCHA_REQUIRED"], RESULT["CAPTCHA_WRONG"]):
        if data.get("captcha") is not True:
            raise _fail("a captcha reply without the captcha flag", payload)
        return LoginReply("captcha", False, text)
    if code == RESULT["INVALID_CREDENTIALS"]:
        return LoginReply("invalid", False, text)
    if code == RESULT["ACCOUNT_LOCKED"]:
        return LoginReply("locked", False, text)
    raise _fail(f"unexpected login resultCode {code}", payload)


def raise_login_failure(reply: LoginReply) -> None:
    if reply.outcome == "invalid":
        raise InvalidCredentials(reply.message or "wrong contract number or password")
    if reply.outcome == "locked":
        raise AccountLocked(reply.message or "the account is locked")


# -- balance and accounts ---------------------------------------------------------------------
def parse_balance(
    balance_payload: Any, details_payload: Any, as_of: dt.datetime | None = None
) -> Balance:
    """``v1/get-balance`` + ``v1/get-balance-details``; ``bonusBalance`` -1 means none."""
    data = check_result(balance_payload)
    details = check_result(details_payload)
    amount = _money(data, "accountBalance", balance_payload)
    bonus_value = _decimal(details, "bonusBalance", details_payload)
    bonus = None if bonus_value == -1 else Money.rub(bonus_value)
    if bonus is not None and bonus.amount < 0:
        raise _fail("bonusBalance is negative", details_payload)
    next_amount = next_date = None
    if details.get("nextPayment") is not None:
        next_amount = _money(details, "nextPayment", details_payload)
    if details.get("nextPaymentDate") is not None:
        next_date = _date(details.get("nextPaymentDate"), "nextPaymentDate", details_payload)
    return Balance(
        amount=amount,
        as_of=as_of or dt.datetime.now(dt.UTC),
        bonus=bonus,
        next_charge_date=next_date,
        next_charge_amount=next_amount,
    )


@dataclass(frozen=True)
class InternetAccount:
    id: str
    login: str
    tariff: Tariff
    status_name: str
    state: AccountState
    block_end: dt.date | None


_STATUS_CODES = {
    "ACTIVE": AccountState.ACTIVE,
    "BLOCKED": AccountState.BLOCKED,
    "VOLUNTARY_BLOCK": AccountState.SUSPENDED,
    "CLOSED": AccountState.CLOSED,
}


def parse_internet_accounts(payload: Any) -> list[InternetAccount]:
    data = check_result(payload)
    accounts = []
    for raw in _list(data.get("internetAccounts"), "internetAccounts", payload):
        item = _obj(raw, "an internet account", payload)
        plan = _obj(item.get("tariffPlan"), "tariffPlan", payload)
        name = _str(plan, "name", payload)
        if not name.strip():
            raise _fail("tariffPlan.name is empty", payload)
        status_code = _str(item, "statusCode", payload, optional=True).upper()
        block_end = item.get("blockDateTo")
        accounts.append(
            InternetAccount(
                id=_str(item, "id", payload),
                login=_str(item, "login", payload, optional=True),
                tariff=Tariff(
                    id=_str(plan, "id", payload),
                    name=name,
                    price=_money(plan, "cost", payload) if "cost" in plan else None,
                ),
                status_name=_str(item, "statusName", payload),
                state=_STATUS_CODES.get(status_code, AccountState.UNKNOWN),
                block_end=_date(block_end, "blockDateTo", payload) if block_end else None,
            )
        )
    if not accounts:
        raise _fail("the contract has no internet account", payload)
    return accounts


def parse_profile(payload: Any) -> Profile:
    data = check_result(payload)
    contacts = _obj(data.get("contacts"), "contacts", payload)
    return Profile(
        full_name=_str(contacts, "fullName", payload),
        phone=_str(contacts, "phone", payload, optional=True) or None,
        email=_str(contacts, "email", payload, optional=True) or None,
        account_number=_str(data, "number", payload),
        address=_str(data, "address", payload, optional=True) or None,
    )


# -- tariffs and services -------------------------------------------------------------------
def _tariff(raw: Any, payload: Any) -> Tariff:
    item = _obj(raw, "a tariff", payload)
    return Tariff(
        id=_str(item, "id", payload),
        name=_str(item, "name", payload),
        price=_money(item, "cost", payload),
        period="month",
        description=_str(item, "description", payload, optional=True),
    )


def parse_tariffs(payload: Any) -> TariffCatalogue:
    data = check_result(payload)
    current = _tariff(data.get("currentTariff"), payload)
    available = [_tariff(t, payload) for t in _list(data.get("availableTariffs"), "list", payload)]
    pending = pending_from = None
    scheduled = data.get("scheduledTariff")
    if scheduled is not None:
        item = _obj(scheduled, "scheduledTariff", payload)
        pending = _tariff(item, payload)
        pending_from = _date(item.get("dateFrom"), "scheduledTariff.dateFrom", payload)
    return TariffCatalogue(
        current=current, available=available, pending=pending, pending_from=pending_from
    )


def parse_tariff_change(payload: Any) -> TariffChangeResult:
    data = check_result(payload)
    return TariffChangeResult(
        tariff=_tariff(data.get("tariffPlan"), payload),
        effective_date=_date(data.get("effectiveDate"), "effectiveDate", payload),
    )


def parse_services(payload: Any) -> list[Service]:
    data = check_result(payload)
    services = []
    for raw in _list(data.get("services"), "services", payload):
        item = _obj(raw, "a service", payload)
        services.append(
            Service(
                id=_str(item, "id", payload),
                name=_str(item, "name", payload),
                enabled=_bool(item, "enabled", payload),
                price=_money(item, "cost", payload),
                period="month",
                description=_str(item, "description", payload, optional=True),
                can_toggle=_bool(item, "canChange", payload),
            )
        )
    return services


# -- payments, autopay ----------------------------------------------------------------------
def parse_payments(payments_payload: Any, charges_payload: Any) -> list[Payment]:
    """Payments (money in) and charges (money out), newest first."""
    out: list[Payment] = []
    payments = check_result(payments_payload)
    for raw in _list(payments.get("payments"), "payments", payments_payload):
        item = _obj(raw, "a payment", payments_payload)
        amount = _decimal(item, "amount", payments_payload)
        out.append(
            Payment(
                id=f"p{_str(item, 'id', payments_payload)}",
                at=_datetime(item.get("date"), "date", payments_payload),
                amount=Money.rub(abs(amount)),
                kind=PaymentKind.PAYMENT if amount >= 0 else PaymentKind.CHARGE,
                description=_str(item, "description", payments_payload, optional=True),
            )
        )
    charges = check_result(charges_payload)
    for raw in _list(charges.get("charges"), "charges", charges_payload):
        item = _obj(raw, "a charge", charges_payload)
        amount = _decimal(item, "amount", charges_payload)
        out.append(
            Payment(
                id=f"c{_str(item, 'id', charges_payload)}",
                at=_datetime(item.get("date"), "date", charges_payload),
                amount=Money.rub(abs(amount)),
                kind=PaymentKind.CHARGE,
                description=_str(item, "description", charges_payload, optional=True),
            )
        )
    out.sort(key=lambda p: p.at, reverse=True)
    return out


def parse_top_up(payload: Any) -> TopUpResult:
    """``v1/pay``: the payment made and the balance after it."""
    data = check_result(payload)
    item = _obj(data.get("payment"), "payment", payload)
    amount = _decimal(item, "amount", payload)
    if amount <= 0:
        raise _fail("the payment is not money in", payload)
    return TopUpResult(
        payment=Payment(
            id=f"p{_str(item, 'id', payload)}",
            at=_datetime(item.get("date"), "date", payload),
            amount=Money.rub(amount),
            kind=PaymentKind.PAYMENT,
            description=_str(item, "description", payload, optional=True),
        ),
        balance=_money(data, "accountBalance", payload),
    )


def parse_autopay(payload: Any) -> AutopaySettings:
    data = check_result(payload)
    item = _obj(data.get("autopay"), "autopay", payload)
    enabled = _bool(item, "enabled", payload)
    return AutopaySettings(
        enabled=enabled,
        threshold=_money(item, "threshold", payload) if item.get("threshold") is not None else None,
        amount=_money(item, "amount", payload) if item.get("amount") is not None else None,
        card_mask=_str(item, "cardMask", payload, optional=True) or None,
    )


# -- voluntary block ------------------------------------------------------------------------
_BLOCK_STATES = {
    "NONE": SuspensionState.ACTIVE,
    "ENDED": SuspensionState.ACTIVE,
    "CANCELLED": SuspensionState.ACTIVE,
    "REQUESTED": SuspensionState.REQUESTED,
    "SCHEDULED": SuspensionState.SCHEDULED,
    "ACTIVE": SuspensionState.SUSPENDED,
}


def _cost_rule(raw: Any, payload: Any) -> CostRule:
    item = _obj(raw, "conditions", payload)
    free = item.get("freeDays")
    if free is not None and (isinstance(free, bool) or not isinstance(free, int)):
        raise _fail("conditions.freeDays is not an integer", payload)
    return CostRule(
        free_days=free,
        daily_fee=_money(item, "dailyFee", payload),
        description=_str(item, "description", payload, optional=True),
    )


def parse_block(payload: Any) -> Suspension:
    data = check_result(payload)
    block = _obj(data.get("block"), "block", payload)
    status = _str(block, "status", payload).upper()
    state = _BLOCK_STATES.get(status)
    if state is None:
        raise _fail(f"unknown block status {status!r}", payload)
    conditions = _obj(data.get("conditions"), "conditions", payload)
    start = end = None
    if state is not SuspensionState.ACTIVE:
        start = _date(block.get("dateFrom"), "block.dateFrom", payload)
        end = _date(block.get("dateTo"), "block.dateTo", payload)
    return Suspension(
        state=state,
        start=start,
        end=end,
        cost_rule=_cost_rule(conditions, payload),
        max_days=_int(conditions, "maxDays", payload),
    )


def parse_block_quote(payload: Any) -> SuspensionQuote:
    data = check_result(payload)
    quote = SuspensionQuote(
        start=_date(data.get("dateFrom"), "dateFrom", payload),
        end=_date(data.get("dateTo"), "dateTo", payload),
        days=_int(data, "days", payload),
        free_days=_int(data, "freeDays", payload),
        paid_days=_int(data, "paidDays", payload),
        total=_money(data, "totalCost", payload),
        cost_rule=_cost_rule(data.get("conditions"), payload),
    )
    if quote.free_days + quote.paid_days != quote.days or quote.total.amount < 0:
        raise _fail("the block quote does not add up", payload)
    return quote


# -- support requests, promotions -------------------------------------------------------------
_AUTHORS = {"CLIENT": ChatAuthor.USER, "BOT": ChatAuthor.BOT, "OPERATOR": ChatAuthor.AGENT}


def parse_topics(payload: Any) -> list[ChatTopic]:
    data = check_result(payload)
    topics = []
    for raw in _list(data.get("topics"), "topics", payload):
        item = _obj(raw, "a topic", payload)
        topics.append(ChatTopic(id=_str(item, "id", payload), title=_str(item, "name", payload)))
    return topics


def parse_chat(payload: Any, after: str | None = None) -> list[ChatMessage]:
    """Every message of every support request, oldest first (only those after ``after``)."""
    data = check_result(payload)
    messages = []
    for raw in _list(data.get("requests"), "requests", payload):
        request = _obj(raw, "a request", payload)
        topic = _str(request, "topic", payload)
        for raw_message in _list(request.get("messages"), "messages", payload):
            item = _obj(raw_message, "a message", payload)
            author = _AUTHORS.get(_str(item, "author", payload))
            if author is None:
                raise _fail("a message has an unknown author", payload)
            messages.append(
                ChatMessage(
                    id=_str(item, "id", payload),
                    topic_id=topic,
                    author=author,
                    text=_str(item, "text", payload),
                    sent_at=_datetime(item.get("date"), "date", payload),
                    author_name=_str(item, "authorName", payload, optional=True) or None,
                )
            )
    messages.sort(key=lambda m: (m.sent_at, _order(m.id)))
    if after is not None:
        messages = [m for m in messages if _order(m.id) > _order(after)]
    return messages


def _order(message_id: str) -> tuple[int, str]:
    """Message ids are increasing numbers; sort numerically, text after numbers."""
    return (int(message_id), "") if message_id.isdigit() else (1 << 62, message_id)


def parse_request_sent(payload: Any) -> list[ChatMessage]:
    """``POST v1/requests``: what came back after the message just sent (a bot answer)."""
    data = check_result(payload)
    sent = data.get("messageId")
    if isinstance(sent, bool) or not isinstance(sent, int | str):
        raise _fail("the reply lacks messageId", payload)
    return [m for m in parse_chat(payload, after=str(sent)) if m.author is not ChatAuthor.USER]


_NEWS_KINDS: dict[str, Literal["news", "offer", "maintenance"]] = {
    "NEWS": "news",
    "PROMO": "offer",
    "MAINTENANCE": "maintenance",
}


def parse_promotions(payload: Any) -> list[NewsItem]:
    data = check_result(payload)
    items = []
    for raw in _list(data.get("promotions"), "promotions", payload):
        item = _obj(raw, "a promotion", payload)
        kind = _NEWS_KINDS.get(_str(item, "type", payload, optional=True).upper(), "news")
        items.append(
            NewsItem(
                id=_str(item, "id", payload),
                title=_str(item, "title", payload),
                text=_str(item, "description", payload, optional=True),
                published=_date(item.get("dateFrom"), "dateFrom", payload)
                if item.get("dateFrom")
                else None,
                kind=kind,
            )
        )
    return items


def parse_notifications(payload: Any) -> list[NewsItem]:
    """Cabinet notices (a block request received, then approved) as news items."""
    data = check_result(payload)
    items = []
    for raw in _list(data.get("notifications"), "notifications", payload):
        item = _obj(raw, "a notification", payload)
        items.append(
            NewsItem(
                id=_str(item, "id", payload),
                title=_str(item, "title", payload),
                text=_str(item, "text", payload, optional=True),
                published=_datetime(item.get("date"), "date", payload).date(),
                kind="news",
            )
        )
    return items
