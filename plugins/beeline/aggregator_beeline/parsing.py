"""Reading Beeline's JSON answers: pure functions from a decoded payload to contract models.

No I/O here, so every function is tested on saved payloads (``tests/payloads/``). A payload that
does not have the expected shape raises :class:`~aggregator.ParseError` carrying the payload,
redacted: the plugin never guesses a balance.

Every Beeline answer wraps its data with ``meta``::

    {"meta": {"status": "OK", "code": 20000, "message": null}, "balance": 123.45, ...}
    {"meta": {"status": "ERROR", "code": 20002, "message": "Неверный логин или пароль"}}

:func:`check_meta` turns an ``ERROR`` into the contract's error for its code.
"""

from __future__ import annotations

import datetime as dt
import re
from collections.abc import Iterable, Mapping
from decimal import Decimal
from typing import Annotated, Any, Literal, TypeVar

from pydantic import (
    AfterValidator,
    BaseModel,
    ConfigDict,
    Field,
    ValidationError,
    field_validator,
)

from aggregator import (
    AccountLocked,
    InvalidCredentials,
    OperationRejected,
    ParseError,
    RateLimited,
    SessionExpired,
)
from aggregator.core.models import (
    AccountState,
    Balance,
    ChatAuthor,
    ChatMessage,
    ChatTopic,
    Money,
    NewsItem,
    PackageRemainder,
    Payment,
    PaymentKind,
    PollResult,
    Profile,
    Service,
    Subaccount,
    Tariff,
    TariffCatalogue,
    UsageUnit,
)

__all__ = [
    "BeelineError",
    "CaptchaRequired",
    "Meta",
    "PasswordChangeRequired",
    "check_meta",
    "mask_phone",
    "parse_accumulators",
    "parse_auth",
    "parse_balance",
    "parse_chat_messages",
    "parse_chat_topics",
    "parse_offers",
    "parse_pass_reset",
    "parse_pay_type",
    "parse_payments",
    "parse_poll",
    "parse_price_plan",
    "parse_profile",
    "parse_request",
    "parse_services",
    "parse_status",
    "parse_subscribers",
    "parse_tariff_catalogue",
    "parse_trust_payment",
]

# meta.code values of the Beeline dialect (reference_provider/dialects/beeline.py).
CODE_OK = 20000
CODE_BAD_REQUEST = 20001
CODE_AUTH_ERROR = 20002
CODE_ACCOUNT_LOCKED = 20003
CODE_TOKEN_EXPIRED = 20004
CODE_PASSWORD_CHANGE_REQUIRED = 20005
CODE_CAPTCHA_REQUIRED = 20006
CODE_REJECTED = 20007
CODE_CTN_NOT_FOUND = 20008
CODE_TOO_MANY_REQUESTS = 20009
CODE_CODE_INVALID = 20010

_M = TypeVar("_M", bound=BaseModel)


class _Wire(BaseModel):
    """A reply's shape: unknown fields ignored (Beeline adds fields), known ones checked."""

    model_config = ConfigDict(extra="ignore", frozen=True)


class Meta(_Wire):
    status: str
    code: int | None = None
    message: str | None = None


class BeelineError(Exception):
    """Internal: an ERROR meta the caller may want to handle itself (see subclasses)."""


class PasswordChangeRequired(BeelineError):
    """The token belongs to a temporary password: only ``setting/changePassword`` works."""


class CaptchaRequired(BeelineError):
    """The login needs a captcha: ``captcha_id`` and the image path are in the reply."""

    def __init__(self, captcha_id: str, image_path: str, message: str) -> None:
        super().__init__(message)
        self.captcha_id = captcha_id
        self.image_path = image_path
        self.message = message


def _shape(model: type[_M], payload: Any, what: str, secrets: Iterable[str] = ()) -> _M:
    """Validate ``payload`` against ``model`` or raise a redacted ParseError."""
    try:
        return model.model_validate(payload)
    except ValidationError as exc:
        fields = ", ".join(".".join(str(p) for p in e["loc"]) or "<root>" for e in exc.errors())
        raise ParseError(
            f"beeline: unexpected {what} reply ({fields})", payload=payload, secrets=secrets
        ) from None


def check_meta(payload: Any, secrets: Iterable[str] = ()) -> Mapping[str, Any]:
    """Return the payload when ``meta.status`` is OK; raise the contract error otherwise."""
    if not isinstance(payload, Mapping) or not isinstance(payload.get("meta"), Mapping):
        raise ParseError("beeline: the reply has no meta block", payload=payload, secrets=secrets)
    meta = _shape(Meta, payload["meta"], "meta", secrets)
    if meta.status == "OK":
        return payload
    if meta.status != "ERROR":
        raise ParseError(
            f"beeline: unknown meta.status {meta.status[:20]!r}", payload=payload, secrets=secrets
        )
    message = meta.message or ""
    code = meta.code
    if code == CODE_AUTH_ERROR:
        raise InvalidCredentials(message or "wrong login or password")
    if code == CODE_ACCOUNT_LOCKED:
        raise AccountLocked(message or "the account is locked")
    if code == CODE_TOKEN_EXPIRED:
        raise SessionExpired(message or "the token expired")
    if code == CODE_PASSWORD_CHANGE_REQUIRED:
        raise PasswordChangeRequired(message)
    if code == CODE_CAPTCHA_REQUIRED:
        captcha = payload.get("captcha")
        if not isinstance(captcha, Mapping):
            raise ParseError(
                "beeline: captcha demanded without a captcha", payload=payload, secrets=secrets
            )
        shaped = _shape(_Captcha, captcha, "captcha", secrets)
        raise CaptchaRequired(shaped.id, shaped.url, message)
    if code == CODE_TOO_MANY_REQUESTS:
        raise RateLimited(message or "too many requests")
    if code in (CODE_REJECTED, CODE_BAD_REQUEST, CODE_CTN_NOT_FOUND, CODE_CODE_INVALID):
        raise OperationRejected(message or "rejected", code=str(code))
    raise ParseError(f"beeline: unknown error code {code}", payload=payload, secrets=secrets)


class _Captcha(_Wire):
    id: str = Field(min_length=1, max_length=200)
    url: str = Field(min_length=1, max_length=500)


# -- dates -------------------------------------------------------------------------------

_MSK = dt.timezone(dt.timedelta(hours=3))


def _parse_datetime(value: str) -> dt.datetime:
    """Beeline writes ``2024-05-01T00:00:00.000+0300``; accept ISO forms too. Aware result."""
    text = value.strip()
    match = re.fullmatch(r"(.*[T ]\d\d:\d\d(?::\d\d(?:\.\d+)?)?)([+-]\d\d)(\d\d)", text)
    if match:  # +0300 -> +03:00 (Python 3.11 wants the colon)
        text = f"{match.group(1)}{match.group(2)}:{match.group(3)}"
    if text.endswith("Z"):
        text = text[:-1] + "+00:00"
    parsed = dt.datetime.fromisoformat(text)
    if parsed.tzinfo is None:
        parsed = parsed.replace(tzinfo=_MSK)
    return parsed


class _When(_Wire):
    """Validates a Beeline date-time string into an aware datetime."""

    value: dt.datetime

    @field_validator("value", mode="before")
    @classmethod
    def _beeline(cls, value: Any) -> Any:
        if isinstance(value, str):
            try:
                return _parse_datetime(value)
            except ValueError:
                raise ValueError("not a date-time") from None
        return value


def _when(value: Any) -> dt.datetime:
    return _When(value=value).value


# -- login ------------------------------------------------------------------------------


class _Auth(_Wire):
    token: str = Field(min_length=8, max_length=4096)
    tempPassInd: bool = False


def parse_auth(payload: Any, secrets: Iterable[str] = ()) -> tuple[str, bool]:
    """``PUT 2.0/auth/auth`` -> (token, tempPassInd). Errors raised by :func:`check_meta`."""
    check_meta(payload, secrets)
    auth = _shape(_Auth, payload, "auth", secrets)
    return auth.token, auth.tempPassInd


class _PassReset(_Wire):
    ctnMask: str | None = Field(default=None, max_length=40)


def parse_pass_reset(payload: Any) -> str | None:
    """``1.0/passReset`` -> the masked number the temporary password went to, when given."""
    check_meta(payload)
    return _shape(_PassReset, payload, "passReset").ctnMask


def mask_phone(ctn: str) -> str:
    """``9031234567`` -> ``+7 903 ***-**-67`` (what Beeline shows where the SMS went)."""
    if len(ctn) == 10 and ctn.isdigit():
        return f"+7 {ctn[:3]} ***-**-{ctn[-2:]}"
    return "***" + ctn[-2:]


# -- numbers ----------------------------------------------------------------------------


class _Subscriber(_Wire):
    ctn: str = Field(pattern=r"^\d{10}$")
    name: str | None = None
    accountType: str | None = None


class _Subscribers(_Wire):
    subscribers: list[_Subscriber]


_KINDS: dict[str, Literal["mobile", "internet", "tv", "landline", "bundle", "other"]] = {
    "MOBILE": "mobile",
    "FTTB": "internet",
    "INTERNET": "internet",
    "TV": "tv",
    "LANDLINE": "landline",
    "FMC": "bundle",
}


def parse_subscribers(payload: Any) -> list[Subaccount]:
    """``1.0/sso/subscribers`` -> one subaccount per number (``ctn``)."""
    check_meta(payload)
    shaped = _shape(_Subscribers, payload, "subscribers")
    out: list[Subaccount] = []
    seen: set[str] = set()
    for sub in shaped.subscribers:
        if sub.ctn in seen:
            continue
        seen.add(sub.ctn)
        out.append(
            Subaccount(
                id=sub.ctn,
                number=f"+7 {sub.ctn[:3]} {sub.ctn[3:6]}-{sub.ctn[6:8]}-{sub.ctn[8:]}",
                label=(sub.name or "").strip()[:100],
                kind=_KINDS.get((sub.accountType or "MOBILE").upper(), "other"),
            )
        )
    return out


# -- balance ----------------------------------------------------------------------------


class _PayType(_Wire):
    payType: Literal["PREPAID", "POSTPAID"]


def parse_pay_type(payload: Any) -> Literal["PREPAID", "POSTPAID"]:
    check_meta(payload)
    return _shape(_PayType, payload, "payType").payType


def _finite_two_places(value: Decimal) -> Decimal:
    if not value.is_finite():
        raise ValueError("not a finite amount")
    if value != value.quantize(Decimal("0.01")):
        raise ValueError("more than two decimal places")
    if abs(value) > Decimal("100000000"):
        raise ValueError("implausible amount")
    return value


Amount = Annotated[Decimal, AfterValidator(_finite_two_places)]


class _PrepaidBalance(_Wire):
    balance: Amount
    currency: Literal["RUB", "RUR"]
    nextBillingDate: str | None = None


class _PostpaidBalance(_Wire):
    balance: Amount
    currency: Literal["RUB", "RUR"]
    creditLimit: Amount | None = None
    nextBillingDate: str | None = None
    nextBillingAmount: Amount | None = None


def _no_bool(payload: Any, *fields: str) -> None:
    """JSON ``true`` is an int to Python: a boolean where money should be is a changed API."""
    if isinstance(payload, Mapping):
        for name in fields:
            if isinstance(payload.get(name), bool | str):
                raise ParseError(f"beeline: {name} is not a number", payload=payload)


def parse_balance(
    payload: Any, pay_type: Literal["PREPAID", "POSTPAID"], as_of: dt.datetime
) -> Balance:
    """``1.0/info/prepaidBalance`` or ``postpaidBalance`` -> Balance (amounts in roubles)."""
    check_meta(payload)
    _no_bool(payload, "balance", "creditLimit", "nextBillingAmount")
    if pay_type == "PREPAID":
        pre = _shape(_PrepaidBalance, payload, "prepaidBalance")
        return Balance(
            amount=Money.rub(pre.balance),
            as_of=as_of,
            next_charge_date=_date_or_none(pre.nextBillingDate, payload),
        )
    post = _shape(_PostpaidBalance, payload, "postpaidBalance")
    return Balance(
        amount=Money.rub(post.balance),
        as_of=as_of,
        credit_limit=Money.rub(post.creditLimit) if post.creditLimit is not None else None,
        next_charge_date=_date_or_none(post.nextBillingDate, payload),
        next_charge_amount=(
            Money.rub(post.nextBillingAmount) if post.nextBillingAmount is not None else None
        ),
    )


def _date_or_none(value: str | None, payload: Any) -> dt.date | None:
    if value is None or value == "":
        return None
    try:
        return _when(value).date()
    except ValidationError:
        raise ParseError("beeline: a date is not a date", payload=payload) from None


# -- tariff, status ---------------------------------------------------------------------


class _PricePlanInfo(_Wire):
    entityName: str = Field(min_length=1, max_length=300)
    rcRate: Amount | None = None
    rcRatePeriod: str | None = None
    soc: str | None = None
    entityDesc: str | None = None


class _FuturePricePlan(_PricePlanInfo):
    effectiveDate: str


class _PricePlan(_Wire):
    pricePlanInfo: _PricePlanInfo
    futurePricePlan: _FuturePricePlan | None = None


_PERIODS: dict[str, Literal["day", "month", "year", "once"]] = {
    "day": "day",
    "daily": "day",
    "month": "month",
    "monthly": "month",
    "year": "year",
    "once": "once",
}


def _period(text: str | None) -> Literal["day", "month", "year", "once"] | None:
    """``rcRatePeriod`` ("month") or ``rcRatePeriodText`` ("в месяц", "в сутки") -> period."""
    if not text:
        return "month"
    low = text.strip().lower()
    if low in _PERIODS:
        return _PERIODS[low]
    if "сут" in low or "день" in low or "дн" in low:
        return "day"
    if "мес" in low:
        return "month"
    if "год" in low:
        return "year"
    if "раз" in low:
        return "once"
    return None


def _tariff(info: _PricePlanInfo) -> Tariff:
    return Tariff(
        id=info.soc or info.entityName,
        name=info.entityName.strip(),
        price=Money.rub(info.rcRate) if info.rcRate is not None else None,
        period=_period(info.rcRatePeriod),
        description=(info.entityDesc or "")[:1000],
    )


def parse_price_plan(payload: Any) -> tuple[Tariff, Tariff | None, dt.date | None]:
    """``1.0/info/pricePlan`` -> (current, pending, pending_from)."""
    check_meta(payload)
    shaped = _shape(_PricePlan, payload, "pricePlan")
    pending = pending_from = None
    if shaped.futurePricePlan is not None:
        pending = _tariff(shaped.futurePricePlan)
        pending_from = _date_or_none(shaped.futurePricePlan.effectiveDate, payload)
    return _tariff(shaped.pricePlanInfo), pending, pending_from


class _AvailablePlans(_Wire):
    pricePlans: list[_PricePlanInfo]


def parse_tariff_catalogue(price_plan: Any, available: Any) -> TariffCatalogue:
    """``pricePlan`` + ``availablePricePlans`` -> the catalogue with the current tariff."""
    current, pending, pending_from = parse_price_plan(price_plan)
    check_meta(available)
    plans = _shape(_AvailablePlans, available, "availablePricePlans")
    return TariffCatalogue(
        current=current,
        available=[_tariff(p) for p in plans.pricePlans],
        pending=pending,
        pending_from=pending_from,
    )


class _Status(_Wire):
    status: str = Field(min_length=1, max_length=3)
    statusDesc: str | None = None


_STATES = {
    "A": AccountState.ACTIVE,
    "S": AccountState.SUSPENDED,
    "B": AccountState.BLOCKED,
    "C": AccountState.CLOSED,
}


def parse_status(payload: Any) -> tuple[AccountState, str]:
    """``1.0/info/status`` -> (state, statusDesc). Unknown letters are UNKNOWN, not an error."""
    check_meta(payload)
    shaped = _shape(_Status, payload, "status")
    return _STATES.get(shaped.status.upper(), AccountState.UNKNOWN), shaped.statusDesc or ""


def parse_poll(balance: Balance, price_plan: Any | None, status: Any | None) -> PollResult:
    """One poll: the balance plus the tariff name and state when those answers came."""
    tariff_name = parse_price_plan(price_plan)[0].name if price_plan is not None else None
    state = parse_status(status)[0] if status is not None else AccountState.UNKNOWN
    return PollResult(balance=balance, tariff_name=tariff_name, state=state)


# -- services ---------------------------------------------------------------------------


class _Service(_Wire):
    soc: str | None = None
    entityName: str = Field(min_length=1, max_length=300)
    rcRate: Amount | None = None
    rcRatePeriodText: str | None = None
    entityDesc: str | None = None
    removeInd: str | None = None  # "N": cannot be switched off by the user


class _Services(_Wire):
    services: list[_Service]


def _service(item: _Service, enabled: bool) -> Service:
    return Service(
        id=item.soc or item.entityName,
        name=item.entityName.strip(),
        enabled=enabled,
        price=Money.rub(item.rcRate) if item.rcRate is not None else None,
        period=_period(item.rcRatePeriodText),
        description=(item.entityDesc or "")[:1000],
        can_toggle=(item.removeInd or "Y").upper() != "N",
    )


def parse_services(connected: Any, available: Any | None = None) -> list[Service]:
    """``1.0/info/serviceList`` (+ ``availableServiceList``) -> services, connected first."""
    check_meta(connected)
    on = _shape(_Services, connected, "serviceList")
    out = [_service(s, True) for s in on.services]
    if available is not None:
        check_meta(available)
        ids = {s.id for s in out}
        for item in _shape(_Services, available, "availableServiceList").services:
            service = _service(item, False)
            if service.id not in ids:
                out.append(service)
    return out


# -- usage ------------------------------------------------------------------------------


class _Accumulator(_Wire):
    unit: Literal["SECONDS", "SMS", "KBYTE"]
    rest: Decimal = Field(ge=0)
    size: Decimal | None = Field(default=None, ge=0)
    accName: str | None = None
    soc: str | None = None


class _Accumulators(_Wire):
    accumulators: list[_Accumulator]


_UNIT_NAMES = {"SECONDS": "Минуты", "SMS": "SMS", "KBYTE": "Интернет"}


def parse_accumulators(payload: Any) -> list[PackageRemainder]:
    """``1.0/info/accumulators`` -> remainders; KBYTE becomes bytes (x1024)."""
    check_meta(payload)
    shaped = _shape(_Accumulators, payload, "accumulators")
    out: list[PackageRemainder] = []
    for acc in shaped.accumulators:
        if not (acc.rest.is_finite() and (acc.size is None or acc.size.is_finite())):
            raise ParseError("beeline: a remainder is not finite", payload=payload)
        if acc.size is not None and acc.rest > acc.size:
            raise ParseError("beeline: a remainder exceeds its package", payload=payload)
        if acc.unit == "KBYTE":
            unit, factor = UsageUnit.BYTES, Decimal(1024)
        elif acc.unit == "SECONDS":
            unit, factor = UsageUnit.SECONDS, Decimal(1)
        else:
            unit, factor = UsageUnit.SMS, Decimal(1)
        out.append(
            PackageRemainder(
                name=(acc.accName or _UNIT_NAMES[acc.unit])[:200],
                unit=unit,
                rest=acc.rest * factor,
                size=acc.size * factor if acc.size is not None else None,
            )
        )
    return out


# -- payments ---------------------------------------------------------------------------


class _Payment(_Wire):
    paymentId: str | int
    date: str
    amount: Amount
    type: str | None = None
    paymentType: str | None = None


class _Payments(_Wire):
    payments: list[_Payment]


def parse_payments(payload: Any) -> list[Payment]:
    """``1.0/info/payments/history`` -> payments (money in), newest first."""
    check_meta(payload)
    shaped = _shape(_Payments, payload, "payments/history")
    out: list[Payment] = []
    for item in shaped.payments:
        try:
            at = _when(item.date)
        except ValidationError:
            raise ParseError("beeline: a payment date is not a date", payload=payload) from None
        charge = (item.type or "").upper() == "CHARGE" or item.amount < 0
        out.append(
            Payment(
                id=str(item.paymentId),
                at=at,
                amount=Money.rub(abs(item.amount)),
                kind=PaymentKind.CHARGE if charge else PaymentKind.PAYMENT,
                description=(item.paymentType or "")[:300],
            )
        )
    out.sort(key=lambda p: p.at, reverse=True)
    return out


class _TrustPayment(_Wire):
    available: bool
    maxSum: Decimal | None = None
    fee: Decimal | None = None
    days: int | None = None


def parse_trust_payment(payload: Any) -> tuple[bool, Decimal | None]:
    """``1.0/info/trustPayment`` -> (available, the largest amount)."""
    check_meta(payload)
    shaped = _shape(_TrustPayment, payload, "trustPayment")
    return shaped.available, shaped.maxSum


class _Request(_Wire):
    requestId: str | int | None = None
    effectiveDate: str | None = None
    message: str | None = None


def parse_request(payload: Any) -> tuple[str | None, dt.date | None, str]:
    """A ``1.0/request/*`` answer -> (request id, effective date, message)."""
    check_meta(payload)
    shaped = _shape(_Request, payload, "request")
    effective = _date_or_none(shaped.effectiveDate, payload)
    request_id = str(shaped.requestId) if shaped.requestId is not None else None
    return request_id, effective, (shaped.message or "")[:500]


# -- offers, profile --------------------------------------------------------------------


class _Offer(_Wire):
    id: str | int
    title: str = Field(min_length=1, max_length=300)
    description: str | None = None
    startDate: str | None = None


class _Offers(_Wire):
    offers: list[_Offer]


def parse_offers(payload: Any) -> list[NewsItem]:
    """``1.0/info/recommendedOffers`` -> offers."""
    check_meta(payload)
    shaped = _shape(_Offers, payload, "recommendedOffers")
    return [
        NewsItem(
            id=str(o.id),
            title=o.title.strip(),
            text=(o.description or "")[:2000],
            published=_date_or_none(o.startDate, payload),
            kind="offer",
        )
        for o in shaped.offers
    ]


class _Profile(_Wire):
    fullName: str | None = None
    email: str | None = None
    ctn: str | None = None
    address: str | None = None


def parse_profile(payload: Any) -> Profile:
    """``1.0/personal/profile`` -> Profile."""
    check_meta(payload)
    raw = payload.get("profile")
    shaped = _shape(_Profile, raw, "profile")
    phone = None
    if shaped.ctn and re.fullmatch(r"\d{10}", shaped.ctn):
        phone = "+7" + shaped.ctn
    return Profile(
        full_name=shaped.fullName,
        phone=phone,
        email=shaped.email,
        address=shaped.address,
    )


# -- chat -------------------------------------------------------------------------------


class _Topic(_Wire):
    id: str = Field(min_length=1, max_length=100)
    name: str = Field(min_length=1, max_length=200)


class _Topics(_Wire):
    topics: list[_Topic]


def parse_chat_topics(payload: Any) -> list[ChatTopic]:
    """``1.0/chat/topics`` -> the two topics ("Общая консультация", "Вопрос по услугам")."""
    check_meta(payload)
    return [ChatTopic(id=t.id, title=t.name) for t in _shape(_Topics, payload, "topics").topics]


class _ChatMessage(_Wire):
    id: str | int
    topicId: str | None = None
    author: Literal["USER", "BOT", "OPERATOR"]
    text: str = Field(max_length=10000)
    date: str
    operatorName: str | None = None


class _ChatMessages(_Wire):
    messages: list[_ChatMessage]


_AUTHORS = {"USER": ChatAuthor.USER, "BOT": ChatAuthor.BOT, "OPERATOR": ChatAuthor.AGENT}


def parse_chat_messages(payload: Any) -> list[ChatMessage]:
    """``1.0/chat/history``, ``chat/unseen`` or a ``chat/message`` answer -> messages, oldest
    first."""
    check_meta(payload)
    shaped = _shape(_ChatMessages, payload, "chat messages")
    out: list[ChatMessage] = []
    for m in shaped.messages:
        try:
            sent_at = _when(m.date)
        except ValidationError:
            raise ParseError("beeline: a chat date is not a date", payload=payload) from None
        out.append(
            ChatMessage(
                id=str(m.id),
                topic_id=m.topicId,
                author=_AUTHORS[m.author],
                text=m.text,
                sent_at=sent_at,
                author_name=m.operatorName,
            )
        )
    out.sort(key=lambda m: m.sent_at)
    return out
