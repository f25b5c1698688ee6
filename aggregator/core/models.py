"""What a provider returns: typed, validated pydantic v2 models.

Money is ``Decimal`` with a currency, never a float. Every model is immutable and JSON-safe,
so readings can be stored and served as they are.
"""

from __future__ import annotations

import datetime as dt
from collections.abc import Iterable
from decimal import Decimal
from enum import StrEnum
from typing import Annotated, Literal

from pydantic import BaseModel, ConfigDict, Field, field_validator

from .money import from_minor, quantize, to_minor

__all__ = [
    "AccountState",
    "AutopaySettings",
    "Balance",
    "BonusPoints",
    "ChatAuthor",
    "ChatMessage",
    "ChatTopic",
    "CostRule",
    "Model",
    "Money",
    "NewsItem",
    "Notice",
    "NoticeKind",
    "OperationResult",
    "PackageRemainder",
    "Payment",
    "PaymentKind",
    "PollResult",
    "Profile",
    "Report",
    "ReportFormat",
    "Service",
    "ServiceChangeResult",
    "Subaccount",
    "Suspension",
    "SuspensionQuote",
    "SuspensionState",
    "Tariff",
    "TariffCatalogue",
    "TariffChangeResult",
    "TopUpResult",
    "TrafficStats",
    "TrustedPayment",
    "TrustedPaymentOption",
    "TrustedPaymentResult",
    "Usage",
    "UsageUnit",
    "maintenance_notices",
]


class Model(BaseModel):
    """Base of every contract model: frozen, strict about unknown fields."""

    model_config = ConfigDict(frozen=True, extra="forbid")


class Money(Model):
    """An amount of money. ``amount`` is exact (Decimal, two places); ``currency`` ISO 4217."""

    amount: Decimal
    currency: str = "RUB"

    @field_validator("amount")
    @classmethod
    def _two_places(cls, value: Decimal) -> Decimal:
        return quantize(value)  # half up, see aggregator.core.money

    @classmethod
    def rub(cls, amount: Decimal | int | str) -> Money:
        """Roubles from a Decimal, int or decimal string (never a float)."""
        return cls(amount=Decimal(amount), currency="RUB")

    @classmethod
    def from_minor(cls, minor: int, currency: str = "RUB") -> Money:
        """Money from integer minor units (kopecks for RUB): ``123457`` -> 1 234,57 ₽."""
        return cls(amount=from_minor(minor, currency), currency=currency)

    @classmethod
    def from_kopecks(cls, kopecks: int) -> Money:
        """Roubles from an integer number of kopecks (Rostelecom answers in kopecks)."""
        return cls.from_minor(kopecks, "RUB")

    @property
    def minor(self) -> int:
        """The amount in integer minor units (kopecks), as storage keeps it."""
        return to_minor(self.amount, self.currency)


class AccountState(StrEnum):
    """The operator-side state of an account or number."""

    ACTIVE = "active"
    BLOCKED = "blocked"  # blocked for debt (balance below zero)
    SUSPENDED = "suspended"  # voluntary block
    CLOSED = "closed"
    UNKNOWN = "unknown"


class BonusPoints(Model):
    """A bonus balance counted in the operator's points (Rostelecom's «Бонус», NetByNet's
    bonus account): shown as points («1 250 баллов»), never as money."""

    points: Decimal

    @field_validator("points")
    @classmethod
    def _two_places(cls, value: Decimal) -> Decimal:
        return quantize(value)


class Balance(Model):
    """The balance of one account at ``as_of``.

    ``bonus``: the bonus balance, when the account has one: :class:`Money` only when the
    operator says it is money (roubles to spend), :class:`BonusPoints` when it counts points.
    """

    amount: Money
    as_of: dt.datetime
    credit_limit: Money | None = None
    bonus: Money | BonusPoints | None = None
    next_charge_date: dt.date | None = None
    next_charge_amount: Money | None = None


class Tariff(Model):
    id: str
    name: str
    price: Money | None = None
    period: Literal["day", "month", "year", "once"] | None = "month"
    description: str = ""


class TariffCatalogue(Model):
    current: Tariff
    available: list[Tariff] = []
    pending: Tariff | None = None  # a change already ordered for the next period
    pending_from: dt.date | None = None


class TariffChangeResult(Model):
    tariff: Tariff
    effective_date: dt.date


class Service(Model):
    id: str
    name: str
    enabled: bool
    price: Money | None = None
    period: Literal["day", "month", "year", "once"] | None = "month"
    description: str = ""
    can_toggle: bool = True


class ServiceChangeResult(Model):
    service: Service
    effective_date: dt.date | None = None


class SuspensionState(StrEnum):
    ACTIVE = "active"  # not suspended
    REQUESTED = "requested"  # asked, waiting for the operator's approval
    SUSPENDED = "suspended"
    SCHEDULED = "scheduled"  # approved, starts later


class CostRule(Model):
    """What a voluntary block costs: free for ``free_days``, then ``daily_fee`` per day."""

    free_days: int | None = None
    daily_fee: Money | None = None
    monthly_fee: Money | None = None
    description: str = ""


class Suspension(Model):
    state: SuspensionState
    start: dt.date | None = None
    end: dt.date | None = None
    cost_rule: CostRule | None = None
    max_days: int | None = None


class SuspensionQuote(Model):
    """What a block from ``start`` to ``end`` will cost, shown before the user confirms."""

    start: dt.date
    end: dt.date
    days: int
    free_days: int
    paid_days: int
    total: Money
    cost_rule: CostRule


class ChatTopic(Model):
    id: str
    title: str


class ChatAuthor(StrEnum):
    USER = "user"
    BOT = "bot"
    AGENT = "agent"


class ChatMessage(Model):
    id: str
    topic_id: str | None = None
    author: ChatAuthor
    text: str
    sent_at: dt.datetime
    author_name: str | None = None


class PaymentKind(StrEnum):
    PAYMENT = "payment"  # money in
    CHARGE = "charge"  # money out


class Payment(Model):
    id: str
    at: dt.datetime
    amount: Money
    kind: PaymentKind = PaymentKind.PAYMENT
    description: str = ""


class TopUpResult(Model):
    payment: Payment
    balance: Money | None = None


class TrustedPaymentOption(Model):
    """One amount the operator offers as a trusted payment, with what it costs."""

    amount: Money
    fee: Money | None = None


class TrustedPayment(Model):
    """The trusted (promised) payment: credit now, charged back on ``due_date``.

    Not a top-up: no money comes in from outside. The operator's offer (``available``, the
    amounts it allows, the fee and the term in ``days``) and what is owed now (``debt``, due
    on ``due_date``). ``options`` lists the amounts the operator offers, each with its fee;
    ``min_amount``..``max_amount`` (with ``fee``) allow any amount in between. ``reason`` says
    why it is not available.
    """

    available: bool
    options: list[TrustedPaymentOption] = []
    min_amount: Money | None = None
    max_amount: Money | None = None
    fee: Money | None = None
    days: int | None = None
    debt: Money | None = None
    due_date: dt.date | None = None
    reason: str = ""

    @property
    def owed(self) -> bool:
        """A credit is taken and not paid back yet."""
        return self.debt is not None and self.debt.amount > 0


class TrustedPaymentResult(Model):
    """A trusted payment taken: ``amount`` credited, ``debt`` (amount + fee) due on ``due_date``."""

    amount: Money
    debt: Money
    due_date: dt.date
    fee: Money | None = None
    balance: Money | None = None
    request_id: str | None = None


class AutopaySettings(Model):
    enabled: bool
    threshold: Money | None = None  # top up when the balance falls below
    amount: Money | None = None
    card_mask: str | None = None


class ReportFormat(StrEnum):
    PDF = "pdf"
    XLSX = "xlsx"


class Report(Model):
    period_start: dt.date
    period_end: dt.date
    format: ReportFormat
    filename: str
    content: bytes = Field(repr=False)

    @property
    def media_type(self) -> str:
        if self.format is ReportFormat.PDF:
            return "application/pdf"
        return "application/vnd.openxmlformats-officedocument.spreadsheetml.sheet"


class UsageUnit(StrEnum):
    SECONDS = "seconds"
    SMS = "sms"
    MMS = "mms"
    BYTES = "bytes"
    UNKNOWN = "unknown"  # a unit the plugin does not know: ``raw_unit`` keeps the operator's word


class PackageRemainder(Model):
    """What is left of one package (minutes, SMS, traffic) in the contract's unit.

    ``rest`` and ``size`` (the package's total) are in ``unit``: seconds, messages, bytes.
    ``unlimited``: the package has no limit (``rest`` then says nothing and is not alerted
    on). ``period_end``: the last day of the package's period (it renews or ends after it),
    when the operator says.
    """

    name: str
    unit: UsageUnit
    rest: Decimal
    size: Decimal | None = None
    raw_unit: str | None = None  # the operator's unit as sent (kept when ``unit`` is UNKNOWN)
    unlimited: bool = False
    period_end: dt.date | None = None


class TrafficStats(Model):
    period_start: dt.date
    period_end: dt.date
    downloaded_bytes: int
    uploaded_bytes: int


class Usage(Model):
    remainders: list[PackageRemainder] = []
    traffic: TrafficStats | None = None


class NewsItem(Model):
    id: str
    title: str
    text: str = ""
    published: dt.date | None = None
    kind: Literal["news", "offer", "maintenance"] = "news"


class NoticeKind(StrEnum):
    """What an operator tells a household about on its own; each reaches it once."""

    CHAT_REPLY = "chat_reply"  # a support reply that arrived while the user was away
    SUSPENSION_APPROVED = "suspension_approved"  # a requested block is approved
    MAINTENANCE = "maintenance"  # maintenance works or operator news


class Notice(Model):
    """One event the operator reported, found during a poll. ``id`` is stable across polls
    (the operator's id of the message, news item or request): the same notice is sent once."""

    id: Annotated[str, Field(min_length=1, max_length=200)]
    kind: NoticeKind
    title: Annotated[str, Field(max_length=300)] = ""
    text: Annotated[str, Field(max_length=2000)] = ""
    at: dt.datetime | None = None


def maintenance_notices(
    items: Iterable[NewsItem], today: dt.date, recent_days: int = 7
) -> list[Notice]:
    """The operator's maintenance news as notices a poll returns (``PollResult.notices``):
    works announced (or just past, ``recent_days``) at ``today``; an older item is history,
    not news. Each notice's id is the news item's, so it is mailed once."""
    oldest = today - dt.timedelta(days=recent_days)
    return [
        Notice(
            id=f"maintenance:{item.id}"[:200],
            kind=NoticeKind.MAINTENANCE,
            title=item.title[:300],
            text=item.text[:2000],
        )
        for item in items
        if item.kind == "maintenance" and (item.published is None or item.published >= oldest)
    ]


class Profile(Model):
    full_name: str | None = None
    phone: str | None = None
    email: str | None = None
    account_number: str | None = None  # the account (лицевой счёт)
    contract_number: str | None = None  # the contract, where the operator numbers it apart
    address: str | None = None


class Subaccount(Model):
    """One number or account reachable through a login; each becomes its own linked account."""

    id: str
    number: str  # as the operator shows it (phone, account or contract number)
    label: str = ""
    kind: Literal["mobile", "internet", "tv", "landline", "bundle", "other"] = "other"


class PollResult(Model):
    """What one scheduled poll stores: the balance plus whatever else is cheap to read."""

    balance: Balance
    tariff_name: str | None = None
    state: AccountState = AccountState.UNKNOWN
    suspension_end: dt.date | None = None
    # Package remainders read by this poll; None: not read (the operator has no packages or
    # the plugin reads them only on demand), [] : read, no package.
    remainders: list[PackageRemainder] | None = None
    # The trusted payment's state when the operator has one (what is owed and until when).
    trusted_payment: TrustedPayment | None = None
    # Numbers or accounts whose polls give the same key share one balance (one contract's
    # money seen from several numbers): the household total counts it once. None: its own.
    balance_key: Annotated[str, Field(max_length=200)] | None = None
    # Events the operator reported since the last poll (a support reply, a block approved,
    # maintenance); the same notice id is delivered once, however often a poll repeats it.
    notices: list[Notice] = []


class OperationResult(Model):
    """The result of an operation confirmed with a one-time code."""

    operation: str
    message: str = ""
    effective_date: dt.date | None = None
    details: dict[str, Annotated[str, Field(max_length=500)]] = {}
