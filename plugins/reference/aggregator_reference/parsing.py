"""Pure parsing: the native dialect's JSON -> contract models. No I/O; tested on saved payloads.

Every reply is described as a :class:`~aggregator.Wire` model and read with the aggregator's
parsing kit (docs/plugins.md, "The parsing kit"): unknown fields are ignored, optional fields
may be missing or null, numbers and money may come as numbers or text. A reply that lacks what
the reading needs raises :class:`~aggregator.ParseError` with the payload redacted: a changed
API must never crash the poller nor store a wrong balance.
"""

from __future__ import annotations

from typing import Any, Literal

from aggregator import (
    MOSCOW_TZ,
    Date,
    DateTime,
    Flag,
    Int,
    Number,
    Roubles,
    Text,
    Wire,
    parse_reply,
)
from aggregator.core.models import (
    AccountState,
    AutopaySettings,
    Balance,
    ChatAuthor,
    ChatMessage,
    ChatTopic,
    CostRule,
    NewsItem,
    OperationResult,
    PackageRemainder,
    Payment,
    PaymentKind,
    PollResult,
    Profile,
    Service,
    ServiceChangeResult,
    Subaccount,
    Suspension,
    SuspensionQuote,
    SuspensionState,
    Tariff,
    TariffCatalogue,
    TariffChangeResult,
    TopUpResult,
    TrafficStats,
    Usage,
    UsageUnit,
    maintenance_notices,
)

__all__ = [
    "autopay",
    "balance",
    "chat_messages",
    "chat_topics",
    "news",
    "operation_result",
    "payments",
    "poll",
    "profile",
    "quote",
    "service_change",
    "services",
    "subaccounts",
    "suspension",
    "tariff_catalogue",
    "tariff_change",
    "top_up",
    "traffic",
    "usage",
]

Period = Literal["day", "month", "year", "once"]


# -- the dialect's shapes ---------------------------------------------------------------------
class _Balance(Wire):
    amount: Roubles
    as_of: DateTime
    credit_limit: Roubles | None = None
    bonus: Roubles | None = None
    next_charge_date: Date | None = None
    next_charge_amount: Roubles | None = None

    def model(self) -> Balance:
        return Balance(
            amount=self.amount,
            as_of=self.as_of,
            credit_limit=self.credit_limit,
            bonus=self.bonus,
            next_charge_date=self.next_charge_date,
            next_charge_amount=self.next_charge_amount,
        )


class _TariffName(Wire):
    name: Text


class _News(Wire):
    id: Text
    title: Text
    text: Text = ""
    published: Date | None = None
    kind: Text = "news"

    def model(self) -> NewsItem:
        return NewsItem(
            id=self.id,
            title=self.title,
            text=self.text,
            published=self.published,
            kind=_NEWS_KINDS.get(self.kind, "news"),
        )


class _Account(Wire):
    balance: _Balance
    tariff: _TariffName
    state: Text = ""
    suspension_end: Date | None = None
    notices: list[_News] = []  # the operator's maintenance notices


class _Subaccount(Wire):
    id: Text
    number: Text
    label: Text = ""
    kind: Text = "other"


class _Subaccounts(Wire):
    accounts: list[_Subaccount]


class _Tariff(Wire):
    id: Text
    name: Text
    price: Roubles | None = None
    period: Period | None = None
    description: Text = ""

    def model(self) -> Tariff:
        return Tariff(
            id=self.id,
            name=self.name,
            price=self.price,
            period=self.period,
            description=self.description,
        )


class _Tariffs(Wire):
    current: _Tariff
    available: list[_Tariff] = []
    pending: _Tariff | None = None
    pending_from: Date | None = None


class _TariffChange(Wire):
    tariff: _Tariff
    effective_date: Date


class _Service(Wire):
    id: Text
    name: Text
    enabled: Flag
    price: Roubles | None = None
    period: Period | None = None
    description: Text = ""
    can_toggle: Flag = False

    def model(self) -> Service:
        return Service(
            id=self.id,
            name=self.name,
            enabled=self.enabled,
            price=self.price,
            period=self.period,
            description=self.description,
            can_toggle=self.can_toggle,
        )


class _Services(Wire):
    services: list[_Service]


class _ServiceChange(Wire):
    service: _Service
    effective_date: Date | None = None


class _Rule(Wire):
    free_days: Int | None = None
    daily_fee: Roubles | None = None
    description: Text = ""

    def model(self) -> CostRule:
        return CostRule(
            free_days=self.free_days, daily_fee=self.daily_fee, description=self.description
        )


class _Suspension(Wire):
    state: SuspensionState
    start: Date | None = None
    end: Date | None = None
    cost_rule: _Rule
    max_days: Int | None = None


class _Quote(Wire):
    start: Date
    end: Date
    days: Int
    free_days: Int
    paid_days: Int
    total: Roubles
    cost_rule: _Rule


class _Topic(Wire):
    id: Text
    title: Text


class _Topics(Wire):
    topics: list[_Topic]


class _Message(Wire):
    id: Text
    topic_id: Text | None = None
    author: ChatAuthor
    text: Text = ""
    sent_at: DateTime
    author_name: Text | None = None


class _Messages(Wire):
    messages: list[_Message]


class _Payment(Wire):
    id: Text
    at: DateTime
    amount: Roubles
    kind: PaymentKind = PaymentKind.PAYMENT
    description: Text = ""

    def model(self) -> Payment:
        return Payment(
            id=self.id,
            at=self.at,
            amount=self.amount,
            kind=self.kind,
            description=self.description,
        )


class _Payments(Wire):
    payments: list[_Payment]


class _TopUp(Wire):
    payment: _Payment
    balance: Roubles | None = None


class _Autopay(Wire):
    enabled: Flag
    threshold: Roubles | None = None
    amount: Roubles | None = None
    card_mask: Text | None = None


class _Remainder(Wire):
    name: Text
    unit: Text
    rest: Number
    size: Number | None = None
    unlimited: bool = False
    period_end: Date | None = None


class _Traffic(Wire):
    start: Date
    end: Date
    downloaded_bytes: Int
    uploaded_bytes: Int


class _Usage(Wire):
    remainders: list[_Remainder] = []
    traffic: _Traffic


class _NewsList(Wire):
    news: list[_News]


class _Profile(Wire):
    full_name: Text | None = None
    phone: Text | None = None
    email: Text | None = None
    account_number: Text | None = None
    address: Text | None = None


class _Confirmed(Wire):
    operation: Text
    message: Text = ""
    effective_date: Date | None = None
    balance: Roubles | None = None


# -- readings ---------------------------------------------------------------------------------
def balance(payload: Any) -> Balance:
    return parse_reply(_Balance, payload, what="balance").model()


_STATES = {
    "active": AccountState.ACTIVE,
    "blocked": AccountState.BLOCKED,
    "suspended": AccountState.SUSPENDED,
    "closed": AccountState.CLOSED,
}


def poll(payload: Any, usage_payload: Any = None) -> PollResult:
    """The account, and the package remainders when its usage was read too."""
    account = parse_reply(_Account, payload, what="account")
    balance = account.balance.model()
    return PollResult(
        balance=balance,
        tariff_name=account.tariff.name,
        state=_STATES.get(account.state.lower(), AccountState.UNKNOWN),
        suspension_end=account.suspension_end,
        remainders=usage(usage_payload).remainders if usage_payload is not None else None,
        notices=maintenance_notices(
            (n.model() for n in account.notices), balance.as_of.astimezone(MOSCOW_TZ).date()
        ),
    )


_KINDS: dict[str, Literal["mobile", "internet", "tv", "landline", "bundle"]] = {
    "mobile": "mobile",
    "internet": "internet",
    "tv": "tv",
    "landline": "landline",
    "bundle": "bundle",
}


def subaccounts(payload: Any) -> list[Subaccount]:
    return [
        Subaccount(id=a.id, number=a.number, label=a.label, kind=_KINDS.get(a.kind, "other"))
        for a in parse_reply(_Subaccounts, payload, what="accounts").accounts
    ]


def tariff_catalogue(payload: Any) -> TariffCatalogue:
    shaped = parse_reply(_Tariffs, payload, what="tariffs")
    return TariffCatalogue(
        current=shaped.current.model(),
        available=[t.model() for t in shaped.available],
        pending=shaped.pending.model() if shaped.pending else None,
        pending_from=shaped.pending_from,
    )


def tariff_change(payload: Any) -> TariffChangeResult:
    shaped = parse_reply(_TariffChange, payload, what="tariff change")
    return TariffChangeResult(tariff=shaped.tariff.model(), effective_date=shaped.effective_date)


def services(payload: Any) -> list[Service]:
    return [s.model() for s in parse_reply(_Services, payload, what="services").services]


def service_change(payload: Any) -> ServiceChangeResult:
    shaped = parse_reply(_ServiceChange, payload, what="service change")
    return ServiceChangeResult(service=shaped.service.model(), effective_date=shaped.effective_date)


def suspension(payload: Any) -> Suspension:
    shaped = parse_reply(_Suspension, payload, what="suspension")
    return Suspension(
        state=shaped.state,
        start=shaped.start,
        end=shaped.end,
        cost_rule=shaped.cost_rule.model(),
        max_days=shaped.max_days,
    )


def quote(payload: Any) -> SuspensionQuote:
    shaped = parse_reply(_Quote, payload, what="suspension quote")
    return SuspensionQuote(
        start=shaped.start,
        end=shaped.end,
        days=shaped.days,
        free_days=shaped.free_days,
        paid_days=shaped.paid_days,
        total=shaped.total,
        cost_rule=shaped.cost_rule.model(),
    )


def chat_topics(payload: Any) -> list[ChatTopic]:
    topics = parse_reply(_Topics, payload, what="chat topics").topics
    return [ChatTopic(id=t.id, title=t.title) for t in topics]


def chat_messages(payload: Any) -> list[ChatMessage]:
    return [
        ChatMessage(
            id=m.id,
            topic_id=m.topic_id,
            author=m.author,
            text=m.text,
            sent_at=m.sent_at,
            author_name=m.author_name,
        )
        for m in parse_reply(_Messages, payload, what="chat").messages
    ]


def payments(payload: Any) -> list[Payment]:
    return [p.model() for p in parse_reply(_Payments, payload, what="payments").payments]


def top_up(payload: Any) -> TopUpResult:
    shaped = parse_reply(_TopUp, payload, what="top-up")
    return TopUpResult(payment=shaped.payment.model(), balance=shaped.balance)


def autopay(payload: Any) -> AutopaySettings:
    shaped = parse_reply(_Autopay, payload, what="autopay")
    return AutopaySettings(
        enabled=shaped.enabled,
        threshold=shaped.threshold,
        amount=shaped.amount,
        card_mask=shaped.card_mask,
    )


_UNITS = {unit.value: unit for unit in UsageUnit}


def usage(payload: Any) -> Usage:
    """Package remainders in a unit the contract does not know are left out, not a failure."""
    shaped = parse_reply(_Usage, payload, what="usage")
    return Usage(
        remainders=[
            PackageRemainder(
                name=r.name,
                unit=_UNITS[r.unit],
                rest=r.rest,
                size=r.size,
                unlimited=r.unlimited,
                period_end=r.period_end,
            )
            for r in shaped.remainders
            if r.unit in _UNITS
        ],
        traffic=TrafficStats(
            period_start=shaped.traffic.start,
            period_end=shaped.traffic.end,
            downloaded_bytes=shaped.traffic.downloaded_bytes,
            uploaded_bytes=shaped.traffic.uploaded_bytes,
        ),
    )


def traffic(payload: Any) -> TrafficStats:
    """``GET accounts/{id}/traffic?since=&until=``: the bytes of a chosen period."""
    shaped = parse_reply(_Traffic, payload, what="traffic")
    return TrafficStats(
        period_start=shaped.start,
        period_end=shaped.end,
        downloaded_bytes=shaped.downloaded_bytes,
        uploaded_bytes=shaped.uploaded_bytes,
    )


_NEWS_KINDS: dict[str, Literal["news", "offer", "maintenance"]] = {
    "news": "news",
    "offer": "offer",
    "maintenance": "maintenance",
}


def news(payload: Any) -> list[NewsItem]:
    return [n.model() for n in parse_reply(_NewsList, payload, what="news").news]


def profile(payload: Any) -> Profile:
    shaped = parse_reply(_Profile, payload, what="profile")
    return Profile(
        full_name=shaped.full_name,
        phone=shaped.phone,
        email=shaped.email,
        account_number=shaped.account_number,
        address=shaped.address,
    )


def operation_result(payload: Any) -> OperationResult:
    """The answer of a confirmed operation (``POST /confirmations/{id}``)."""
    shaped = parse_reply(_Confirmed, payload, what="confirmation")
    details = {} if shaped.balance is None else {"balance": str(shaped.balance.amount)}
    return OperationResult(
        operation=shaped.operation,
        message=shaped.message,
        effective_date=shaped.effective_date,
        details=details,
    )
