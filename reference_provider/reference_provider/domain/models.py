"""Domain records: plain dataclasses held in memory, indexed by :class:`~.store.Domain`.

Money is in kopecks (``int``); times are aware datetimes in Moscow time on the billing clock;
billing days are ``datetime.date``.
"""

from __future__ import annotations

import datetime as dt
from dataclasses import dataclass, field
from typing import Any, Literal

__all__ = [
    "Account",
    "AccountKind",
    "AuthResult",
    "Autopay",
    "BulkAccount",
    "CallRecord",
    "Captcha",
    "ChatAuthor",
    "ChatMessage",
    "ChatTopic",
    "ConfirmationTicket",
    "FaqEntry",
    "IdpIdentity",
    "LedgerEntry",
    "NewsItem",
    "OutboxMessage",
    "PackageRest",
    "PaidSubscription",
    "Product",
    "Quote",
    "ReportFile",
    "ServiceChange",
    "ServiceDef",
    "Session",
    "Subscriber",
    "Suspension",
    "SuspensionRule",
    "TariffChange",
    "TariffDef",
    "Traffic",
    "Usage",
]

AccountKind = Literal["mobile", "internet", "tv", "landline", "bundle", "other"]
Period = Literal["day", "month", "once"]
ChatAuthor = Literal["user", "bot", "agent"]
Channel = Literal["sms", "email"]


@dataclass(frozen=True, slots=True)
class TariffDef:
    id: str
    name: str
    fee: int  # kopecks per month
    kind: AccountKind = "other"
    description: str = ""
    minutes: int = 0  # monthly package; 0 = none
    sms: int = 0
    mms: int = 0
    traffic_mb: int = 0
    speed_mbps: int = 0
    archived: bool = False  # still billed for those on it, not offered any more


@dataclass(frozen=True, slots=True)
class ServiceDef:
    id: str
    name: str
    fee: int  # kopecks per month (0 = free)
    description: str = ""
    can_toggle: bool = True
    kinds: tuple[str, ...] = ()  # account kinds it applies to; () = all


@dataclass(frozen=True, slots=True)
class SuspensionRule:
    """What a voluntary block costs at an operator: ``free_days`` free, then ``daily_fee``."""

    free_days: int | None = None  # None = free for the whole block
    daily_fee: int = 0  # kopecks per day after the free days
    max_days: int = 90
    min_days: int = 1
    approval_delay: dt.timedelta = dt.timedelta(0)  # request -> approved, on the billing clock
    description: str = ""


@dataclass(frozen=True, slots=True)
class FaqEntry:
    keywords: tuple[str, ...]  # lower-case stems; any one matching answers
    answer: str  # may use {balance}, {tariff}, {fee}, {number}


@dataclass(frozen=True, slots=True)
class ChatTopic:
    id: str
    title: str


@dataclass(frozen=True, slots=True)
class NewsItem:
    id: str
    title: str
    text: str
    published: dt.date
    kind: Literal["news", "offer", "maintenance"] = "news"


@dataclass(slots=True)
class Product:
    """A line inside an account (Rostelecom's services of an account): internet, TV, ..."""

    id: str
    type: str  # INTERNET, IPTV, PHONE, MOBILE
    name: str


@dataclass(slots=True)
class PaidSubscription:
    """A content provider's paid subscription on a mobile number (Beeline's «Подписки»: a
    horoscope, a game portal...), charged every day until the subscriber removes it."""

    id: str
    name: str
    provider: str  # the content provider, as the cabinet names it
    daily_fee: int  # kopecks per day
    since: dt.date
    type: str = "CONTENT"  # the operator's kind of subscription (removal names it)


@dataclass(slots=True)
class LedgerEntry:
    id: int
    at: dt.datetime
    amount: int  # kopecks; > 0 money in, < 0 a charge
    kind: Literal["payment", "charge", "adjustment", "autopay"]
    description: str
    day: dt.date | None = None  # for daily charges: the billing day


@dataclass(slots=True)
class Autopay:
    enabled: bool = False
    threshold: int = 0  # kopecks: top up when the balance falls below
    amount: int = 0
    card_mask: str | None = None


@dataclass(slots=True)
class Suspension:
    """A voluntary block: requested -> (approved) scheduled/active -> ended; or cancelled."""

    id: int
    start: dt.date
    end: dt.date
    requested_at: dt.datetime
    approve_at: dt.datetime  # when the operator approves it (requested_at + approval delay)
    cancelled_at: dt.datetime | None = None
    ended_on: dt.date | None = None  # the last suspended day when resumed early

    def status(
        self, now: dt.datetime
    ) -> Literal["requested", "scheduled", "active", "ended", "cancelled"]:
        if self.cancelled_at is not None:
            return "cancelled"
        if now < self.approve_at:
            return "requested"
        today = now.date()
        last = self.last_day
        if today > last:
            return "ended"
        if today < self.start:
            return "scheduled"
        return "active"

    @property
    def last_day(self) -> dt.date:
        return self.ended_on if self.ended_on is not None else self.end

    def covers(self, day: dt.date) -> bool:
        """Whether ``day`` is a suspended billing day (approved and within the dates)."""
        if self.cancelled_at is not None:
            return False
        return self.start <= day <= self.last_day and self.approve_at.date() <= day


@dataclass(frozen=True, slots=True)
class Quote:
    start: dt.date
    end: dt.date
    days: int
    free_days: int
    paid_days: int
    total: int  # kopecks
    daily_fee: int
    rule: SuspensionRule


@dataclass(slots=True)
class ChatMessage:
    id: int
    account_id: str
    topic_id: str
    author: ChatAuthor
    text: str
    sent_at: dt.datetime
    author_name: str | None = None
    seen: bool = True  # False for a bot/agent reply the user has not fetched yet


@dataclass(slots=True)
class Account:
    id: str
    operator: str
    number: str
    subscriber_id: str
    kind: AccountKind
    tariff_id: str
    opened: dt.date
    label: str = ""
    address: str = ""
    region: str | None = None
    pay_type: Literal["PREPAID", "POSTPAID"] = "PREPAID"
    credit_limit: int = 0  # kopecks; blocked below -credit_limit
    bonus: int | None = None  # bonus balance in kopecks (None = no bonus programme)
    pending_tariff_id: str | None = None
    pending_from: dt.date | None = None
    services: dict[str, dt.date] = field(default_factory=dict)  # enabled service id -> since
    subscriptions: list[PaidSubscription] = field(default_factory=list)  # paid, content
    products: list[Product] = field(default_factory=list)
    ledger: list[LedgerEntry] = field(default_factory=list)
    balance: int = 0  # kopecks: the sum of the ledger, kept in step
    accrued_through: dt.date | None = None  # last billing day already charged
    suspensions: list[Suspension] = field(default_factory=list)
    autopay: Autopay = field(default_factory=Autopay)
    closed: bool = False
    usage_factor: float = 0.6  # how heavily this account uses its packages (0..1.2)
    chat: list[ChatMessage] = field(default_factory=list)
    extra: dict[str, Any] = field(default_factory=dict)  # free room for dialects


@dataclass(slots=True)
class Subscriber:
    id: str
    operator: str
    login: str
    password_hash: bytes | None
    salt: bytes
    full_name: str
    phone: str | None = None  # 10 digits
    email: str | None = None
    region: str | None = None
    temp_password: bool = False  # the current password is temporary and must be changed
    failed_attempts: int = 0
    locked_until: dt.datetime | None = None
    captcha_policy: Literal["never", "failures", "new_device", "always"] = "failures"
    captcha_next: bool = False  # the next login must solve a captcha (set by faults, failures)
    known_devices: set[str] = field(default_factory=set)
    account_ids: list[str] = field(default_factory=list)
    idp_links: set[tuple[str, str]] = field(default_factory=set)  # (idp, subject)
    notifications: dict[str, bool] = field(
        default_factory=lambda: {"sms": True, "email": True, "push": False}
    )
    extra: dict[str, Any] = field(default_factory=dict)


@dataclass(slots=True)
class Session:
    token: str
    subscriber_id: str
    operator: str
    created_at: dt.datetime
    expires_at: dt.datetime
    ttl: dt.timedelta
    device: str | None = None
    restricted: bool = False  # logged in with a temporary password: must change it first
    current_account_id: str | None = None  # a dialect's "chosen number" (Beeline X-CTN)
    data: dict[str, Any] = field(default_factory=dict)  # free room for dialects (csrf, ...)


@dataclass(slots=True)
class AuthResult:
    session: Session
    subscriber: Subscriber
    must_change_password: bool


@dataclass(slots=True)
class Captcha:
    id: str
    operator: str
    answer: str
    png: bytes
    created_at: dt.datetime


@dataclass(slots=True)
class OutboxMessage:
    id: int
    operator: str
    channel: Channel
    destination: str  # phone (10 digits) or e-mail
    text: str
    code: str | None
    purpose: str
    sent_at: dt.datetime


@dataclass(slots=True)
class ConfirmationTicket:
    """A one-time code was sent; the ticket is answered with it (login or an operation)."""

    id: str
    operator: str
    subscriber_id: str
    purpose: str  # "login", "password_reset", or an operation: "change_tariff", "top_up", ...
    code: str
    channel: Channel
    destination: str
    masked_destination: str
    expires_at: dt.datetime
    account_id: str | None = None
    params: dict[str, Any] = field(default_factory=dict)
    attempts: int = 0
    used: bool = False
    sent_at: dt.datetime | None = None  # the last send (billing clock); a resend waits after it


@dataclass(slots=True)
class IdpIdentity:
    provider: str  # gosuslugi, tbank, vk, ok, mailru
    subject: str
    username: str
    password_hash: bytes
    salt: bytes
    full_name: str
    email: str | None = None
    phone: str | None = None


@dataclass(slots=True)
class BulkAccount:
    subscriber_id: str
    login: str
    password: str
    account_id: str
    number: str
    token: str


@dataclass(frozen=True, slots=True)
class TariffChange:
    tariff: TariffDef
    effective: dt.date


@dataclass(frozen=True, slots=True)
class ServiceChange:
    service: ServiceDef
    enabled: bool
    effective: dt.date


@dataclass(frozen=True, slots=True)
class PackageRest:
    name: str
    unit: Literal["seconds", "sms", "mms", "bytes"]
    rest: int
    size: int
    period_end: dt.date | None = None  # the last day of the package's month


@dataclass(frozen=True, slots=True)
class Traffic:
    start: dt.date
    end: dt.date
    downloaded: int  # bytes
    uploaded: int


@dataclass(frozen=True, slots=True)
class Usage:
    remainders: list[PackageRest]
    traffic: Traffic


@dataclass(frozen=True, slots=True)
class CallRecord:
    at: dt.datetime
    kind: Literal["call", "sms", "internet"]
    peer: str  # the other number, or "" for traffic
    seconds: int
    volume: int  # bytes for internet, 1 for an SMS
    cost: int  # kopecks


@dataclass(frozen=True, slots=True)
class ReportFile:
    filename: str
    media_type: str
    content: bytes
