"""How to read NetByNet's (Wifire's) JSON API through the parsing kit: pure functions from
decoded replies to contract models.

A successful reply carries no ``resultCode``; an error names itself with ``resultCode`` and
``resultText`` (``dukei/any-balance-providers`` ``providers/ab-internet-netbynet/main.js``
line 81). The login's own conventions changed over time (``reference_provider/DIALECTS.md``,
NetByNet, says which version each comes from): ``{}`` on success (``Unlicensed-ZZZ/
MobileBalance`` ``providers/WiFire_API_inet1.js`` line 59), ``resultCode`` 5 for a wrong number
or password and 8 for "repeat with a captcha code" (lines 60-62; main.js before 2022),
``captcha: true`` asking for the picture (main.js line 98, since 2022), ``needChangePassword``
(line 105). Codes besides 5 and 8 are assumed.

Tolerant like a scraper that must live for years: unknown fields are ignored, optional ones
may be missing or null, numbers may come as text, money is rounded to kopecks, an unknown
status or kind degrades to "unknown". Only a reply lacking what the reading needs is a
:class:`~aggregator.ParseError`.
"""

from __future__ import annotations

import datetime as dt
from collections.abc import Mapping
from dataclasses import dataclass
from typing import Any, Literal

from pydantic import Field

from aggregator import (
    AccountLocked,
    Date,
    DateTime,
    Flag,
    Int,
    InvalidCredentials,
    Number,
    OperationRejected,
    ParseError,
    Roubles,
    SessionExpired,
    Text,
    Unavailable,
    Wire,
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
    "parse_state",
    "parse_tariff_change",
    "parse_tariffs",
    "parse_top_up",
    "parse_topics",
    "raise_login_failure",
]

#: ``resultCode`` values. 5 and 8 are proven (WiFire_API_inet1.js lines 60-62); the rest assumed.
RESULT = {
    "INVALID_CREDENTIALS": 5,
    "CAPTCHA_REQUIRED": 8,
    "ACCOUNT_LOCKED": 13,
    "NOT_AUTHORIZED": 20,
    "PASSWORD_CHANGE_REQUIRED": 21,
    "VALIDATION_ERROR": 30,
    "OPERATION_REJECTED": 31,
    "NOT_FOUND": 32,
    "WRONG_CODE": 33,
    "INTERNAL_ERROR": 99,
}
_REJECTING = {
    RESULT["VALIDATION_ERROR"]: "validation",
    RESULT["OPERATION_REJECTED"]: "rejected",
    RESULT["NOT_FOUND"]: "not_found",
    RESULT["WRONG_CODE"]: "wrong_code",
    RESULT["PASSWORD_CHANGE_REQUIRED"]: "password_change_required",
}


class _Envelope(Wire):
    resultCode: Int = 0
    resultText: Text = ""
    captcha: Flag = False
    needChangePassword: Flag = False


def _envelope(payload: Any) -> _Envelope:
    if not isinstance(payload, Mapping):
        raise ParseError("netbynet: the reply is not an object", payload=payload)
    return parse_reply(_Envelope, payload, what="netbynet")


def check_result(payload: Any) -> Mapping[str, Any]:
    """The reply when it names no error; the contract's error otherwise."""
    env = _envelope(payload)
    code, text = env.resultCode, env.resultText
    if code == 0:
        assert isinstance(payload, Mapping)
        return payload
    if code in (RESULT["NOT_AUTHORIZED"], RESULT["INVALID_CREDENTIALS"]):
        raise SessionExpired(text or "netbynet: not authorised")
    if code in (RESULT["CAPTCHA_REQUIRED"], RESULT["ACCOUNT_LOCKED"]):
        raise SessionExpired(text or "netbynet: the cabinet asks to log in again")
    if code == RESULT["INTERNAL_ERROR"]:
        raise Unavailable("netbynet: the operator reports an internal error")
    raise OperationRejected(text or "Нетбайнет отказал", code=_REJECTING.get(code, str(code)))


@dataclass(frozen=True)
class LoginReply:
    """What ``v3/login`` said: logged in, or why not."""

    outcome: Literal["ok", "captcha", "invalid", "locked"]
    need_change_password: bool
    message: str


def parse_login(payload: Any) -> LoginReply:
    """``v3/login``: ``{}`` (logged in), ``resultCode`` 5 / 8, or ``captcha: true``."""
    env = _envelope(payload)
    code, text = env.resultCode, env.resultText
    if code == RESULT["INVALID_CREDENTIALS"]:
        return LoginReply("invalid", False, text)
    if code == RESULT["CAPTCHA_REQUIRED"] or (code == 0 and env.captcha):
        return LoginReply("captcha", False, text)
    if code == RESULT["ACCOUNT_LOCKED"]:
        return LoginReply("locked", False, text)
    if code == 0:
        return LoginReply("ok", env.needChangePassword, text)
    check_result(payload)  # raises the contract's error for any other code
    raise ParseError(f"netbynet: unexpected login resultCode {code}", payload=payload)


def raise_login_failure(reply: LoginReply) -> None:
    if reply.outcome == "invalid":
        raise InvalidCredentials(reply.message or "wrong contract number or password")
    if reply.outcome == "locked":
        raise AccountLocked(reply.message or "the account is locked")


# -- balance and accounts ---------------------------------------------------------------------
class _Balance(Wire):
    accountBalance: Roubles
    statusCode: Int | None = None


class _BalanceDetails(Wire):
    bonusBalance: Number | None = None
    nextPayment: Roubles | None = None
    nextPaymentDate: Date | None = None


# get-balance statusCode (WiFire_API_inet1.js lines 93-117).
_STATUS_CODES = {
    0: AccountState.ACTIVE,
    2: AccountState.BLOCKED,
    1002: AccountState.BLOCKED,
    3: AccountState.SUSPENDED,
    1003: AccountState.SUSPENDED,
    4: AccountState.CLOSED,
}


def parse_state(balance_payload: Any) -> AccountState | None:
    """``v1/get-balance`` ``statusCode`` as a state (None when the reply has none)."""
    reply = parse_reply(_Balance, check_result(balance_payload), what="netbynet get-balance")
    if reply.statusCode is None:
        return None
    return _STATUS_CODES.get(reply.statusCode, AccountState.UNKNOWN)


def parse_balance(
    balance_payload: Any, details_payload: Any, as_of: dt.datetime | None = None
) -> Balance:
    """``v1/get-balance`` + ``get-balance-details``; ``bonusBalance`` -1 means none
    (AnyBalance main.js line 140)."""
    balance = parse_reply(_Balance, check_result(balance_payload), what="netbynet get-balance")
    details = parse_reply(
        _BalanceDetails, check_result(details_payload), what="netbynet get-balance-details"
    )
    bonus = None
    if details.bonusBalance is not None and details.bonusBalance >= 0:
        # the points of NetByNet's bonus account (its regional pages: «Баланс: … балл»)
        bonus = BonusPoints(points=details.bonusBalance)
    return Balance(
        amount=balance.accountBalance,
        as_of=as_of or dt.datetime.now(dt.UTC),
        bonus=bonus,
        next_charge_date=details.nextPaymentDate,
        next_charge_amount=details.nextPayment,
    )


@dataclass(frozen=True)
class InternetAccount:
    id: str
    login: str
    tariff: Tariff
    status_name: str
    state: AccountState
    block_end: dt.date | None


class _Plan(Wire):
    name: Text = Field(min_length=1)
    id: Text = ""
    cost: Roubles | None = None
    description: Text = ""


class _InternetAccount(Wire):
    tariffPlan: _Plan
    id: Text = ""
    login: Text = ""
    statusName: Text = ""
    statusCode: Text = ""
    blockDateTo: Date | None = None


class _InternetAccounts(Wire):
    internetAccounts: list[_InternetAccount] = []


_STATUS_NAMES = {
    "ACTIVE": AccountState.ACTIVE,
    "BLOCKED": AccountState.BLOCKED,
    "VOLUNTARY_BLOCK": AccountState.SUSPENDED,
    "CLOSED": AccountState.CLOSED,
}


def parse_internet_accounts(payload: Any) -> list[InternetAccount]:
    """``get-internet-accounts-details`` -> the contract's internet accounts (main.js 125-129)."""
    reply = parse_reply(
        _InternetAccounts, check_result(payload), what="netbynet get-internet-accounts-details"
    )
    if not reply.internetAccounts:
        raise ParseError("netbynet: the contract has no internet account", payload=payload)
    return [
        InternetAccount(
            id=item.id,
            login=item.login,
            tariff=Tariff(
                id=item.tariffPlan.id or item.tariffPlan.name,
                name=item.tariffPlan.name,
                price=item.tariffPlan.cost,
            ),
            status_name=item.statusName,
            state=_STATUS_NAMES.get(item.statusCode.upper(), AccountState.UNKNOWN),
            block_end=item.blockDateTo,
        )
        for item in reply.internetAccounts
    ]


class _Contacts(Wire):
    fullName: Text = ""
    phone: Text = ""
    email: Text = ""


class _Profile(Wire):
    fullName: Text = ""  # v2 (WiFire_API_inet1.js line 145)
    id: Text = ""  # v2: the contract (line 147); v1: the account (лицевой счёт)
    number: Text = ""  # v1: the contract (main.js line 135)
    accountNumber: Text = ""  # v2: the account (лицевой счёт), assumed
    contacts: _Contacts | None = None  # v1: contacts.fullName (main.js line 134)
    phone: Text = ""
    email: Text = ""
    address: Text = ""


def parse_profile(payload: Any) -> Profile:
    """``v2/get-profile-info`` (``fullName``, ``id`` = the contract, ``accountNumber``) or v1
    (``contacts.fullName``, ``number`` = the contract, ``id`` = the account) -> Profile with
    the contract number and the account number (лицевой счёт) apart: password recovery asks
    for the account number, the login for the contract's."""
    reply = parse_reply(_Profile, check_result(payload), what="netbynet get-profile-info")
    contacts = reply.contacts or _Contacts()
    if reply.number:  # v1
        contract, account = reply.number, reply.id or reply.accountNumber
    else:  # v2
        contract, account = reply.id, reply.accountNumber
    if not contract:
        raise ParseError("netbynet: the profile lacks the contract number", payload=payload)
    return Profile(
        full_name=reply.fullName or contacts.fullName or None,
        phone=reply.phone or contacts.phone or None,
        email=reply.email or contacts.email or None,
        account_number=account or None,
        contract_number=contract,
        address=reply.address or None,
    )


# -- tariffs and services (assumed wire) ------------------------------------------------------
class _Tariff(Wire):
    id: Text
    name: Text
    cost: Roubles
    description: Text = ""


def _tariff(item: _Tariff) -> Tariff:
    return Tariff(
        id=item.id, name=item.name, price=item.cost, period="month", description=item.description
    )


class _Scheduled(_Tariff):
    dateFrom: Date


class _Tariffs(Wire):
    currentTariff: _Tariff
    availableTariffs: list[_Tariff] = []
    scheduledTariff: _Scheduled | None = None


def parse_tariffs(payload: Any) -> TariffCatalogue:
    reply = parse_reply(_Tariffs, check_result(payload), what="netbynet get-tariffs")
    scheduled = reply.scheduledTariff
    return TariffCatalogue(
        current=_tariff(reply.currentTariff),
        available=[_tariff(t) for t in reply.availableTariffs],
        pending=_tariff(scheduled) if scheduled else None,
        pending_from=scheduled.dateFrom if scheduled else None,
    )


class _TariffChange(Wire):
    tariffPlan: _Tariff
    effectiveDate: Date


def parse_tariff_change(payload: Any) -> TariffChangeResult:
    reply = parse_reply(_TariffChange, check_result(payload), what="netbynet change-tariff")
    return TariffChangeResult(tariff=_tariff(reply.tariffPlan), effective_date=reply.effectiveDate)


class _Service(Wire):
    id: Text
    name: Text
    enabled: Flag
    cost: Roubles | None = None
    description: Text = ""
    canChange: Flag = True


class _Services(Wire):
    services: list[_Service] = []


def parse_services(payload: Any) -> list[Service]:
    reply = parse_reply(_Services, check_result(payload), what="netbynet get-services")
    return [
        Service(
            id=s.id,
            name=s.name,
            enabled=s.enabled,
            price=s.cost,
            period="month",
            description=s.description,
            can_toggle=s.canChange,
        )
        for s in reply.services
    ]


# -- payments, autopay (assumed wire) ------------------------------------------------------------
class _Entry(Wire):
    id: Text
    date: DateTime
    amount: Roubles  # signed: a payment in, a charge out
    description: Text = ""


class _Payments(Wire):
    payments: list[_Entry] = []


class _Charges(Wire):
    charges: list[_Entry] = []


def _entry(prefix: str, item: _Entry, kind: PaymentKind | None) -> Payment:
    amount = item.amount.amount
    return Payment(
        id=f"{prefix}{item.id}",
        at=item.date,
        amount=Money.rub(abs(amount)),
        kind=kind or (PaymentKind.PAYMENT if amount >= 0 else PaymentKind.CHARGE),
        description=item.description,
    )


def parse_payments(payments_payload: Any, charges_payload: Any) -> list[Payment]:
    """Payments (money in) and charges (money out), newest first."""
    payments = parse_reply(_Payments, check_result(payments_payload), what="netbynet payments")
    charges = parse_reply(_Charges, check_result(charges_payload), what="netbynet charges")
    out = [_entry("p", p, None) for p in payments.payments]
    out += [_entry("c", c, PaymentKind.CHARGE) for c in charges.charges]
    out.sort(key=lambda p: p.at, reverse=True)
    return out


class _TopUp(Wire):
    payment: _Entry
    accountBalance: Roubles


def parse_top_up(payload: Any) -> TopUpResult:
    """``v1/pay``: the payment made and the balance after it."""
    reply = parse_reply(_TopUp, check_result(payload), what="netbynet pay")
    if reply.payment.amount.amount <= 0:
        raise ParseError("netbynet: the payment is not money in", payload=payload)
    return TopUpResult(
        payment=_entry("p", reply.payment, PaymentKind.PAYMENT), balance=reply.accountBalance
    )


class _Autopay(Wire):
    enabled: Flag
    threshold: Roubles | None = None
    amount: Roubles | None = None
    cardMask: Text = ""


class _AutopayReply(Wire):
    autopay: _Autopay


def parse_autopay(payload: Any) -> AutopaySettings:
    item = parse_reply(_AutopayReply, check_result(payload), what="netbynet autopay").autopay
    return AutopaySettings(
        enabled=item.enabled,
        threshold=item.threshold,
        amount=item.amount,
        card_mask=item.cardMask or None,
    )


# -- voluntary block (assumed wire, the seed's rules) ----------------------------------------------
_BLOCK_STATES = {
    "NONE": SuspensionState.ACTIVE,
    "ENDED": SuspensionState.ACTIVE,
    "CANCELLED": SuspensionState.ACTIVE,
    "REQUESTED": SuspensionState.REQUESTED,
    "SCHEDULED": SuspensionState.SCHEDULED,
    "ACTIVE": SuspensionState.SUSPENDED,
}


class _Conditions(Wire):
    dailyFee: Roubles
    freeDays: Int | None = None
    maxDays: Int | None = None
    description: Text = ""


class _Block(Wire):
    status: Text
    dateFrom: Date | None = None
    dateTo: Date | None = None


class _BlockReply(Wire):
    block: _Block
    conditions: _Conditions


def _cost_rule(item: _Conditions) -> CostRule:
    return CostRule(free_days=item.freeDays, daily_fee=item.dailyFee, description=item.description)


def parse_block(payload: Any) -> Suspension:
    reply = parse_reply(_BlockReply, check_result(payload), what="netbynet voluntary-block")
    state = _BLOCK_STATES.get(reply.block.status.upper())
    if state is None:
        raise ParseError(f"netbynet: unknown block status {reply.block.status[:20]!r}", payload)
    start = end = None
    if state is not SuspensionState.ACTIVE:
        if reply.block.dateFrom is None or reply.block.dateTo is None:
            raise ParseError("netbynet: a block without its dates", payload=payload)
        start, end = reply.block.dateFrom, reply.block.dateTo
    if reply.conditions.maxDays is None:
        raise ParseError("netbynet: the block conditions lack maxDays", payload=payload)
    return Suspension(
        state=state,
        start=start,
        end=end,
        cost_rule=_cost_rule(reply.conditions),
        max_days=reply.conditions.maxDays,
    )


class _Quote(Wire):
    dateFrom: Date
    dateTo: Date
    days: Int
    freeDays: Int
    paidDays: Int
    totalCost: Roubles
    conditions: _Conditions


def parse_block_quote(payload: Any) -> SuspensionQuote:
    reply = parse_reply(_Quote, check_result(payload), what="netbynet block quote")
    if reply.freeDays + reply.paidDays != reply.days or reply.totalCost.amount < 0:
        raise ParseError("netbynet: the block quote does not add up", payload=payload)
    return SuspensionQuote(
        start=reply.dateFrom,
        end=reply.dateTo,
        days=reply.days,
        free_days=reply.freeDays,
        paid_days=reply.paidDays,
        total=reply.totalCost,
        cost_rule=_cost_rule(reply.conditions),
    )


# -- support requests, promotions (assumed wire) ---------------------------------------------------
_AUTHORS = {"CLIENT": ChatAuthor.USER, "BOT": ChatAuthor.BOT, "OPERATOR": ChatAuthor.AGENT}


class _Topic(Wire):
    id: Text
    name: Text


class _Topics(Wire):
    topics: list[_Topic] = []


def parse_topics(payload: Any) -> list[ChatTopic]:
    reply = parse_reply(_Topics, check_result(payload), what="netbynet request-topics")
    return [ChatTopic(id=t.id, title=t.name) for t in reply.topics]


class _Message(Wire):
    id: Text
    author: Text
    text: Text = ""
    date: DateTime
    authorName: Text = ""


class _Request(Wire):
    topic: Text
    messages: list[_Message] = []


class _Requests(Wire):
    requests: list[_Request] = []
    messageId: Text = ""


def _order(message_id: str) -> tuple[int, str]:
    """Message ids are increasing numbers; sort numerically, text after numbers."""
    return (int(message_id), "") if message_id.isdigit() else (1 << 62, message_id)


def parse_chat(payload: Any, after: str | None = None) -> list[ChatMessage]:
    """Every message of every support request, oldest first (only those after ``after``). An
    author the plugin does not know is the operator's side."""
    reply = parse_reply(_Requests, check_result(payload), what="netbynet requests")
    messages = [
        ChatMessage(
            id=m.id,
            topic_id=request.topic,
            author=_AUTHORS.get(m.author.upper(), ChatAuthor.AGENT),
            text=m.text,
            sent_at=m.date,
            author_name=m.authorName or None,
        )
        for request in reply.requests
        for m in request.messages
    ]
    messages.sort(key=lambda m: (m.sent_at, _order(m.id)))
    if after is not None:
        messages = [m for m in messages if _order(m.id) > _order(after)]
    return messages


def parse_request_sent(payload: Any) -> list[ChatMessage]:
    """``POST v1/requests``: what came back after the message just sent (a bot answer)."""
    reply = parse_reply(_Requests, check_result(payload), what="netbynet requests")
    if not reply.messageId:
        raise ParseError("netbynet: the reply lacks messageId", payload=payload)
    return [
        m for m in parse_chat(payload, after=reply.messageId) if m.author is not ChatAuthor.USER
    ]


_NEWS_KINDS: dict[str, Literal["news", "offer", "maintenance"]] = {
    "NEWS": "news",
    "PROMO": "offer",
    "MAINTENANCE": "maintenance",
}


class _Promotion(Wire):
    id: Text
    title: Text
    description: Text = ""
    dateFrom: Date | None = None
    type: Text = "NEWS"


class _Promotions(Wire):
    promotions: list[_Promotion] = []


def parse_promotions(payload: Any) -> list[NewsItem]:
    reply = parse_reply(_Promotions, check_result(payload), what="netbynet promotions")
    return [
        NewsItem(
            id=p.id,
            title=p.title,
            text=p.description,
            published=p.dateFrom,
            kind=_NEWS_KINDS.get(p.type.upper(), "news"),
        )
        for p in reply.promotions
    ]


class _Notice(Wire):
    id: Text
    title: Text
    text: Text = ""
    date: DateTime


class _Notices(Wire):
    notifications: list[_Notice] = []


def parse_notifications(payload: Any) -> list[NewsItem]:
    """Cabinet notices (a block request received, then approved) as news items."""
    reply = parse_reply(_Notices, check_result(payload), what="netbynet notifications")
    return [
        NewsItem(id=n.id, title=n.title, text=n.text, published=n.date.date(), kind="news")
        for n in reply.notifications
    ]
