"""Reading Beeline's JSON answers through the parsing kit: pure functions, no I/O.

Every answer wraps its data with ``meta`` (``AzamatLT/ScriptsLoadRunner``
``api_b2c_multi/checkResult.c`` line 3)::

    {"meta": {"status": "OK", "code": 20000, "message": null}, "balance": 123.45, ...}
    {"meta": {"status": "ERROR", "code": 49999, "message": "AUTH_ERROR"}}

An error keeps HTTP 200 and *names* itself in ``meta.message``; :func:`check_meta` maps the
names real clients know onto the contract's errors (see ``reference_provider/DIALECTS.md``,
Beeline, for each citation). The reading is tolerant, as a scraper that must live for years:
unknown fields are ignored, optional ones may be missing or null, numbers may come as text,
money with more than two decimals is rounded, an unknown unit is kept as "unknown". Only a
reply that lacks what the reading needs is a :class:`~aggregator.ParseError`.
"""

from __future__ import annotations

import datetime as dt
import re
from collections.abc import Iterable, Mapping
from decimal import Decimal
from typing import Any, Literal

from pydantic import Field

from aggregator import (
    AccountLocked,
    Date,
    DateTime,
    Flag,
    InvalidCredentials,
    Number,
    OperationRejected,
    ParseError,
    RateLimited,
    Roubles,
    SessionExpired,
    Text,
    Unavailable,
    Wire,
    parse_reply,
)
from aggregator.core.models import (
    AccountState,
    Balance,
    ChatAuthor,
    ChatMessage,
    ChatTopic,
    CostRule,
    Money,
    NewsItem,
    Notice,
    NoticeKind,
    PackageRemainder,
    Payment,
    PaymentKind,
    PollResult,
    Profile,
    Service,
    Subaccount,
    Suspension,
    SuspensionState,
    Tariff,
    TariffCatalogue,
    TrustedPayment,
    TrustedPaymentOption,
    TrustedPaymentResult,
    UsageUnit,
)

__all__ = [
    "CaptchaRequired",
    "OfferToAccept",
    "PasswordChangeRequired",
    "check_meta",
    "mask_phone",
    "parse_accumulators",
    "parse_auth",
    "parse_balance",
    "parse_block",
    "parse_chat_messages",
    "parse_chat_topics",
    "parse_contact_data",
    "parse_offer",
    "parse_offers",
    "parse_pass_reset",
    "parse_pay_type",
    "parse_payments",
    "parse_poll",
    "parse_price_plan",
    "parse_request_id",
    "parse_rests",
    "parse_services",
    "parse_shared_balance",
    "parse_status",
    "parse_subscribers",
    "parse_subscriptions",
    "parse_tariff_catalogue",
    "parse_trust_payment",
    "parse_trust_taken",
]

#: A prepaid balance of exactly 777 is a placeholder the API sends when it cannot read the
#: real one (lkapi.js lines 480-505 re-login and keep the last good balance instead).
BOGUS_BALANCE = Decimal(777)

# Named errors (meta.message) and what they mean. Compared case-insensitively; a message
# that *contains* a name counts (BeeOptions reads LOGIN_TRY_NUMBER_EXCEED with ``contains``).
_INVALID = ("AUTH_ERROR", "for.existent.users.only", "WRONG_PASSWORD", "USER_NOT_FOUND")
_LOCKED = ("LOGIN_TRY_NUMBER_EXCEED", "ACCOUNT_LOCKED", "USER_BLOCKED")
_EXPIRED = ("TOKEN_NOT_FOUND", "TOKEN_EXPIRED", "INVALID_TOKEN", "SESSION_EXPIRED")
_RATE = ("TOO_MANY_REQUESTS", "Too Many Requests")
_PASSWORD_CHANGE = ("PASSWORD_CHANGE_REQUIRED", "TEMP_PASSWORD")
_CAPTCHA = ("CAPTCHA_REQUIRED", "CAPTCHA")


class PasswordChangeRequired(Exception):
    """The token belongs to a temporary password: only ``setting/changePassword`` works."""


class CaptchaRequired(Exception):
    """The login needs a captcha: ``captcha_id`` and the image path are in the reply."""

    def __init__(self, captcha_id: str, image_path: str, message: str) -> None:
        super().__init__(message)
        self.captcha_id = captcha_id
        self.image_path = image_path
        self.message = message


class OfferToAccept(Exception):
    """The API wants the app's terms accepted first: GET ``url`` with ``X-Offer-Token``."""

    def __init__(self, url: str, token: str) -> None:
        super().__init__("the terms must be accepted first")
        self.url = url
        self.token = token


class _Meta(Wire):
    status: Text
    code: Text = ""
    message: Text = ""


class _Captcha(Wire):
    id: Text = Field(min_length=1, max_length=200)
    url: Text = Field(min_length=1, max_length=500)


def _named(message: str, names: Iterable[str]) -> bool:
    low = message.lower()
    return any(name.lower() in low for name in names)


def check_meta(payload: Any, secrets: Iterable[str] = ()) -> Mapping[str, Any]:
    """The payload when ``meta.status`` is OK; the contract's error for a named error."""
    if not isinstance(payload, Mapping):
        raise ParseError("beeline: the reply is not an object", payload=payload, secrets=secrets)
    if payload.get("offerUrl") and payload.get("token"):
        raise OfferToAccept(str(payload["offerUrl"]), str(payload["token"]))
    if not isinstance(payload.get("meta"), Mapping):
        raise ParseError("beeline: the reply has no meta block", payload=payload, secrets=secrets)
    meta = parse_reply(_Meta, payload["meta"], what="beeline meta", secrets=secrets)
    if meta.status.upper() == "OK":
        return payload
    if meta.status.upper() != "ERROR":
        raise ParseError(
            f"beeline: unknown meta.status {meta.status[:20]!r}", payload=payload, secrets=secrets
        )
    message = meta.message
    if _named(message, _CAPTCHA) or isinstance(payload.get("captcha"), Mapping):
        captcha = parse_reply(_Captcha, payload.get("captcha"), what="captcha", secrets=secrets)
        raise CaptchaRequired(captcha.id, captcha.url, str(payload.get("text") or ""))
    if _named(message, _EXPIRED):
        raise SessionExpired(f"beeline: {message[:100]}")
    if _named(message, _LOCKED):
        raise AccountLocked(message[:300])
    if _named(message, _INVALID) or re.search(r"парол|логин", message, re.I):
        raise InvalidCredentials(message[:300])
    if _named(message, _RATE):
        raise RateLimited(message[:300])
    if _named(message, _PASSWORD_CHANGE):
        raise PasswordChangeRequired(message)
    raise OperationRejected(message[:300] or "Билайн отказал", code=meta.code or "beeline")


# -- login ------------------------------------------------------------------------------
class _Auth(Wire):
    token: str = Field(min_length=8, max_length=4096)
    tempPassInd: Flag = False


def parse_auth(payload: Any, secrets: Iterable[str] = ()) -> tuple[str, bool]:
    """``PUT 2.0/auth/auth`` -> (token, tempPassInd); raises :class:`OfferToAccept` when the
    terms must be accepted first."""
    check_meta(payload, secrets)
    auth = parse_reply(_Auth, payload, what="beeline auth", secrets=secrets)
    return auth.token, auth.tempPassInd


def parse_offer(payload: Any) -> OfferToAccept | None:
    """An ``offerUrl`` + ``token`` reply (lkapi.js lines 97-104), or None."""
    try:
        check_meta(payload)
    except OfferToAccept as offer:
        return offer
    except Exception:
        return None
    return None


class _PassReset(Wire):
    channel: Text = ""
    ctnMask: Text = ""


def parse_pass_reset(payload: Any) -> tuple[str, str]:
    """``1.0/passReset`` -> (channel the password went by, masked number when given)."""
    check_meta(payload)
    reply = parse_reply(_PassReset, payload, what="beeline passReset")
    return reply.channel, reply.ctnMask[:40]


def mask_phone(ctn: str) -> str:
    """``9031234567`` -> ``+7 903 ***-**-67`` (what Beeline shows where the SMS went)."""
    if len(ctn) == 10 and ctn.isdigit():
        return f"+7 {ctn[:3]} ***-**-{ctn[-2:]}"
    return "***" + ctn[-2:]


# -- numbers ----------------------------------------------------------------------------
class _Subscriber(Wire):
    ctn: Text
    ctnDefault: Flag = False
    name: Text = ""
    accountType: Text = "MOBILE"


class _Subscribers(Wire):
    subscribers: list[_Subscriber] = []


_KINDS: dict[str, Literal["mobile", "internet", "tv", "landline", "bundle", "other"]] = {
    "MOBILE": "mobile",
    "FTTB": "internet",
    "INTERNET": "internet",
    "TV": "tv",
    "LANDLINE": "landline",
    "FMC": "bundle",
}


def parse_subscribers(payload: Any) -> list[Subaccount]:
    """``1.0/sso/subscribers`` -> one subaccount per number (``ctn``), the default first."""
    check_meta(payload)
    reply = parse_reply(_Subscribers, payload, what="beeline subscribers")
    out: list[Subaccount] = []
    seen: set[str] = set()
    ordered = sorted(reply.subscribers, key=lambda s: not s.ctnDefault)
    for sub in ordered:
        ctn = re.sub(r"\D", "", sub.ctn)[-10:]
        if len(ctn) != 10 or ctn in seen:
            continue
        seen.add(ctn)
        out.append(
            Subaccount(
                id=ctn,
                number=f"+7 {ctn[:3]} {ctn[3:6]}-{ctn[6:8]}-{ctn[8:]}",
                label=sub.name[:100],
                kind=_KINDS.get(sub.accountType.upper(), "other"),
            )
        )
    return out


class _ContactData(Wire):
    firstName: Text = ""
    lastName: Text = ""
    invoiceAddr: Text = ""
    ban: Text = ""
    email: Text = ""


def parse_contact_data(payload: Any, login: str) -> Profile:
    """``1.0/sso/contactData`` -> Profile (lkapi.js lines 439-452: a first name equal to the
    login is no name)."""
    check_meta(payload)
    reply = parse_reply(_ContactData, payload, what="beeline contactData")
    first = "" if reply.firstName == login else reply.firstName
    name = " ".join(p for p in (reply.lastName, first) if p)
    return Profile(
        full_name=name or None,
        phone=f"+7{login}" if re.fullmatch(r"\d{10}", login) else None,
        email=reply.email or None,
        address=reply.invoiceAddr or None,
        account_number=reply.ban or None,
    )


# -- balance ----------------------------------------------------------------------------
class _PayType(Wire):
    payType: Text


def parse_pay_type(payload: Any) -> Literal["PREPAID", "POSTPAID"]:
    check_meta(payload)
    value = parse_reply(_PayType, payload, what="beeline payType").payType.upper()
    if value not in ("PREPAID", "POSTPAID"):
        raise ParseError(f"beeline: unknown payType {value[:20]!r}", payload=payload)
    return "PREPAID" if value == "PREPAID" else "POSTPAID"


class _SmartParams(Wire):
    nextBillingDate: DateTime | None = None


class _PrepaidBalance(Wire):
    balance: Roubles
    currency: Text = "RUB"
    nextBillingDate: DateTime | None = None
    smartPricePlanParams: _SmartParams | None = None


class _PostpaidBalance(_PrepaidBalance):
    creditLimit: Roubles | None = None
    nextBillingAmount: Roubles | None = None


class _Shared(Wire):
    sharedBalance: Flag = False
    ban: Text = ""


def parse_shared_balance(payload: Any) -> str | None:
    """A balance reply's ``sharedBalance`` + ``ban`` (assumed fields) -> the key numbers
    sharing one contract's balance have in common, else None (the number's own)."""
    reply = parse_reply(_Shared, payload, what="beeline balance")
    return f"ban:{reply.ban}" if reply.sharedBalance and reply.ban else None


def _day(moment: dt.datetime | None) -> dt.date | None:
    return moment.date() if moment is not None else None


def _rub(payload: Any, currency: str) -> None:
    if currency.upper() not in ("RUB", "RUR"):
        raise ParseError(f"beeline: a balance in {currency[:10]!r}", payload=payload)


def parse_balance(
    payload: Any, pay_type: Literal["PREPAID", "POSTPAID"], as_of: dt.datetime
) -> Balance:
    """``1.0/info/prepaidBalance`` or ``postpaidBalance`` -> Balance (amounts in roubles)."""
    check_meta(payload)
    if pay_type == "PREPAID":
        pre = parse_reply(_PrepaidBalance, payload, what="beeline prepaidBalance")
        _rub(payload, pre.currency)
        if pre.balance.amount == BOGUS_BALANCE:
            raise Unavailable("beeline: the placeholder balance 777 instead of the real one")
        smart = pre.smartPricePlanParams.nextBillingDate if pre.smartPricePlanParams else None
        due = pre.nextBillingDate or smart
        return Balance(amount=pre.balance, as_of=as_of, next_charge_date=_day(due))
    post = parse_reply(_PostpaidBalance, payload, what="beeline postpaidBalance")
    _rub(payload, post.currency)
    return Balance(
        amount=post.balance,
        as_of=as_of,
        credit_limit=post.creditLimit,
        next_charge_date=_day(post.nextBillingDate),
        next_charge_amount=post.nextBillingAmount,
    )


# -- tariff, status ---------------------------------------------------------------------
class _Plan(Wire):
    entityName: Text
    name: Text = ""
    soc: Text = ""
    rcRate: Roubles | None = None
    rcRatePeriod: Text = ""
    rcRatePeriodText: Text = ""
    entityDesc: Text = ""


class _FuturePlan(_Plan):
    effectiveDate: DateTime | None = None


class _PricePlan(Wire):
    pricePlanInfo: _Plan
    futurePricePlan: _FuturePlan | None = None


def _period(*texts: str) -> Literal["day", "month", "year", "once"] | None:
    """``rcRatePeriod`` ("kb.period.monthly", "...dayly") or ``rcRatePeriodText`` ("в месяц",
    "в сутки") -> period; nothing known -> monthly, unreadable -> None."""
    text = " ".join(t for t in texts if t).strip().lower()
    if not text:
        return "month"
    if re.search(r"da[iy]ly|сут|день|дн", text):
        return "day"
    if re.search(r"month|мес", text):
        return "month"
    if re.search(r"year|год", text):
        return "year"
    if re.search(r"once|раз", text):
        return "once"
    return None


def _tariff(plan: _Plan) -> Tariff:
    return Tariff(
        id=plan.name or plan.soc or plan.entityName,
        name=plan.entityName,
        price=plan.rcRate,
        period=_period(plan.rcRatePeriod, plan.rcRatePeriodText),
        description=plan.entityDesc[:1000],
    )


def parse_price_plan(payload: Any) -> tuple[Tariff, Tariff | None, dt.date | None]:
    """``1.0/info/pricePlan`` -> (current, pending, pending_from)."""
    check_meta(payload)
    reply = parse_reply(_PricePlan, payload, what="beeline pricePlan")
    pending = pending_from = None
    if reply.futurePricePlan is not None:
        pending = _tariff(reply.futurePricePlan)
        pending_from = _day(reply.futurePricePlan.effectiveDate)
    return _tariff(reply.pricePlanInfo), pending, pending_from


class _AvailablePlans(Wire):
    pricePlans: list[_Plan] = []


def parse_tariff_catalogue(price_plan: Any, available: Any) -> TariffCatalogue:
    """``pricePlan`` + ``pricePlanAvailableList`` -> the catalogue with the current tariff."""
    current, pending, pending_from = parse_price_plan(price_plan)
    check_meta(available)
    plans = parse_reply(_AvailablePlans, available, what="beeline pricePlanAvailableList")
    return TariffCatalogue(
        current=current,
        available=[_tariff(p) for p in plans.pricePlans],
        pending=pending,
        pending_from=pending_from,
    )


class _Status(Wire):
    status: Text
    statusDesc: Text = ""


_STATES = {
    "A": AccountState.ACTIVE,
    "S": AccountState.SUSPENDED,
    "B": AccountState.BLOCKED,
    "C": AccountState.CLOSED,
}


class _Block(Wire):
    status: Text = ""
    blockState: Text = ""
    blockStartDate: Date | None = None
    blockEndDate: Date | None = None


_BLOCK_STATES = {
    "REQUESTED": SuspensionState.REQUESTED,
    "SCHEDULED": SuspensionState.SCHEDULED,
    "ACTIVE": SuspensionState.SUSPENDED,
}


def parse_block(
    payload: Any, cost_rule: CostRule | None = None, max_days: int | None = None
) -> Suspension:
    """``1.0/info/status`` -> the voluntary block: ``status`` S is a block in force (proven);
    ``blockState`` and its dates are assumed fields (no client reads them)."""
    check_meta(payload)
    reply = parse_reply(_Block, payload, what="beeline status")
    state = _BLOCK_STATES.get(reply.blockState.upper())
    if state is None:
        state = SuspensionState.SUSPENDED if reply.status.upper() == "S" else SuspensionState.ACTIVE
    dated = state is not SuspensionState.ACTIVE
    return Suspension(
        state=state,
        start=reply.blockStartDate if dated else None,
        end=reply.blockEndDate if dated else None,
        cost_rule=cost_rule,
        max_days=max_days,
    )


def parse_status(payload: Any) -> tuple[AccountState, str]:
    """``1.0/info/status`` -> (state, statusDesc). Unknown letters are UNKNOWN."""
    check_meta(payload)
    reply = parse_reply(_Status, payload, what="beeline status")
    return _STATES.get(reply.status.upper(), AccountState.UNKNOWN), reply.statusDesc


def parse_poll(
    balance: Balance,
    price_plan: Any | None,
    status: Any | None,
    remainders: list[PackageRemainder] | None = None,
    trusted: TrustedPayment | None = None,
    replies: Iterable[ChatMessage] = (),
    balance_key: str | None = None,
) -> PollResult:
    """One poll: the balance plus the tariff name, state and remainders when those came, the
    trusted payment's state, and the support replies that came while the user was away (each a
    notice, sent once by its message id)."""
    tariff_name = parse_price_plan(price_plan)[0].name if price_plan is not None else None
    state = parse_status(status)[0] if status is not None else AccountState.UNKNOWN
    notices = {
        m.id: Notice(
            id=m.id[:200],
            kind=NoticeKind.CHAT_REPLY,
            title=(m.author_name or "")[:300],
            text=m.text[:2000],
            at=m.sent_at,
        )
        for m in replies
        if m.author is not ChatAuthor.USER
    }
    block = parse_block(status) if status is not None else None
    suspension_end = (
        block.end if block is not None and block.state is SuspensionState.SUSPENDED else None
    )
    return PollResult(
        balance=balance,
        tariff_name=tariff_name,
        state=state,
        suspension_end=suspension_end,
        remainders=remainders,
        trusted_payment=trusted,
        notices=list(notices.values()),
        balance_key=balance_key,
    )


# -- services ---------------------------------------------------------------------------
class _Service(Wire):
    entityName: Text
    name: Text = ""
    soc: Text = ""
    rcRate: Roubles | None = None
    rcRatePeriod: Text = ""
    rcRatePeriodText: Text = ""
    entityDesc: Text = ""
    entityDesk: Text = ""  # sic: lkapi.js line 850 reads this spelling
    removeInd: Text = "Y"  # "N": cannot be switched off by the user
    viewInd: Text = "Y"  # "N": a technical service hidden from the user (lkapi.js line 845)


class _Services(Wire):
    services: list[_Service] = []


def _service(item: _Service, enabled: bool) -> Service:
    return Service(
        id=item.name or item.soc or item.entityName,
        name=item.entityName,
        enabled=enabled,
        price=item.rcRate,
        period=_period(item.rcRatePeriod, item.rcRatePeriodText),
        description=(item.entityDesc or item.entityDesk)[:1000],
        can_toggle=item.removeInd.upper() != "N",
    )


def parse_services(connected: Any, available: Any | None = None) -> list[Service]:
    """``1.0/info/serviceList`` (+ ``serviceAvailableList``) -> services, connected first;
    hidden ones (``viewInd`` N) left out."""
    check_meta(connected)
    on = parse_reply(_Services, connected, what="beeline serviceList")
    out = [_service(s, True) for s in on.services if s.viewInd.upper() != "N"]
    if available is not None:
        check_meta(available)
        ids = {s.id for s in out}
        for item in parse_reply(_Services, available, what="beeline serviceAvailableList").services:
            service = _service(item, False)
            if service.id not in ids and item.viewInd.upper() != "N":
                out.append(service)
    return out


#: A paid subscription among the services: its id is this prefix and the operator's id.
SUBSCRIPTION_PREFIX = "subscription:"


class _Subscription(Wire):
    id: Text = ""
    subscriptionId: Text = ""
    name: Text = ""
    title: Text = ""  # the web cabinet's name for it (mbplugin plugin/beeline.py line 175)
    entityName: Text = ""
    type: Text = ""
    partnerName: Text = ""
    rcRate: Roubles | None = None
    rcRatePeriod: Text = ""
    rcRatePeriodText: Text = ""


class _Subscriptions(Wire):
    subscriptions: list[_Subscription] = []


def parse_subscriptions(payload: Any) -> list[tuple[Service, str]]:
    """``1.0/info/subscriptions`` -> (service, the operator's ``type``) per paid subscription.

    Real clients read only the list's length (lkapi.js lines 877-881, MobileBalance
    BeeLine_API1.js line 102), so every field is read tolerantly: an entry without an id
    cannot be removed and is shown as not switchable; without a name it is "Подписка"."""
    check_meta(payload)
    reply = parse_reply(_Subscriptions, payload, what="beeline subscriptions")
    out: list[tuple[Service, str]] = []
    for item in reply.subscriptions:
        raw_id = item.id or item.subscriptionId
        name = item.name or item.title or item.entityName or "Подписка"
        service = Service(
            id=f"{SUBSCRIPTION_PREFIX}{raw_id or name}"[:200],
            name=name[:200],
            enabled=True,
            price=item.rcRate,
            period=_period(item.rcRatePeriod, item.rcRatePeriodText),
            description=": ".join(filter(None, ("Платная подписка", item.partnerName)))[:1000],
            can_toggle=bool(raw_id),
        )
        out.append((service, item.type))
    return out


class _Request(Wire):
    requestId: Text = ""
    effectiveDate: DateTime | None = None


def parse_request_id(payload: Any) -> tuple[str, dt.date | None]:
    """A ``request/*`` answer -> (requestId, effective date when given)."""
    check_meta(payload)
    reply = parse_reply(_Request, payload, what="beeline request")
    return reply.requestId, _day(reply.effectiveDate)


# -- remainders -------------------------------------------------------------------------
_Units = dict[str, tuple[UsageUnit, Decimal, str]]


# Beeline names its unlimited options «Безлимит…» (AnyBalance lkapi.js at ab06a1094 line 917
# reads «Безлимит в 4G» by that name); no independent client shows a flag for it. The
# full-speed tethering package of an unlimited tariff is a limited package of its own (lkapi.js
# lines 583 and 802: soc TETHERING / UNLTETPOS or «для раздачи»): it keeps its rest.
_UNLIMITED_NAME = re.compile(r"безлимит", re.I)
_TETHERING = re.compile(r"TETHERING|UNLTETPOS", re.I)
_TETHERING_NAME = re.compile(r"для раздачи", re.I)


def is_unlimited(name: str, soc: str = "") -> bool:
    """An unlimited package by Beeline's naming (see ``_UNLIMITED_NAME``), tethering aside."""
    if _TETHERING.search(soc) or _TETHERING_NAME.search(name):
        return False
    return bool(_UNLIMITED_NAME.search(name))


def _remainders(
    entries: Iterable[tuple[str, Decimal, Decimal | None, str, str]], units: _Units
) -> list[PackageRemainder]:
    """(unit as sent, rest, size, name, soc) -> remainders in contract units. An unknown unit
    stays, as UNKNOWN with the operator's unit (lkapi.js lines 592, 813 only trace it); a
    negative rest is an overdraft marker, not a package; a size below the rest is dropped; an
    unlimited package (:func:`is_unlimited`) keeps no size (its rest says nothing)."""
    out: list[PackageRemainder] = []
    for raw_unit, rest, size, name, soc in entries:
        raw = raw_unit.upper()
        unit, factor, default = units.get(raw, (UsageUnit.UNKNOWN, Decimal(1), raw_unit))
        if rest < 0:
            continue
        unlimited = is_unlimited(name, soc)
        total = size * factor if size is not None and size >= rest and not unlimited else None
        out.append(
            PackageRemainder(
                name=(name or default)[:200],
                unit=unit,
                rest=rest * factor,
                size=total,
                raw_unit=raw,
                unlimited=unlimited,
            )
        )
    return out


class _Accumulator(Wire):
    unit: Text
    rest: Number
    size: Number | None = None
    soc: Text = ""
    accName: Text = ""
    restName: Text = ""


class _Accumulators(Wire):
    accumulators: list[_Accumulator] = []


# accumulators (prepaid): unit -> (contract unit, factor, default name); lkapi.js 561-594.
_ACC_UNITS: _Units = {
    "SECONDS": (UsageUnit.SECONDS, Decimal(1), "Минуты"),
    "SMS": (UsageUnit.SMS, Decimal(1), "SMS"),
    "MMS": (UsageUnit.MMS, Decimal(1), "MMS"),
    "KBYTE": (UsageUnit.BYTES, Decimal(1024), "Интернет"),
}


def parse_accumulators(payload: Any) -> list[PackageRemainder]:
    """``1.0/info/accumulators`` (prepaid) -> remainders; KBYTE becomes bytes."""
    check_meta(payload)
    reply = parse_reply(_Accumulators, payload, what="beeline accumulators")
    return _remainders(
        ((a.unit, a.rest, a.size, a.restName or a.accName, a.soc) for a in reply.accumulators),
        _ACC_UNITS,
    )


class _Rest(Wire):
    unitType: Text
    currValue: Number
    initialSize: Number | None = None
    soc: Text = ""
    restName: Text = ""
    accName: Text = ""


class _Rests(Wire):
    rests: list[_Rest] = []


# rests (postpaid): VOICE in minutes, INTERNET in MB (lkapi.js lines 790-806; artyl/mbplugin
# plugin/beeline.py lines 272-278).
_REST_UNITS: _Units = {
    "VOICE": (UsageUnit.SECONDS, Decimal(60), "Минуты"),
    "SMS_MMS": (UsageUnit.SMS, Decimal(1), "SMS"),
    "SMS": (UsageUnit.SMS, Decimal(1), "SMS"),
    "MMS": (UsageUnit.MMS, Decimal(1), "MMS"),
    "INTERNET": (UsageUnit.BYTES, Decimal(1024 * 1024), "Интернет"),
}


def parse_rests(payload: Any) -> list[PackageRemainder]:
    """``1.0/info/rests`` (postpaid) -> remainders in contract units."""
    check_meta(payload)
    reply = parse_reply(_Rests, payload, what="beeline rests")
    return _remainders(
        (
            (r.unitType, r.currValue, r.initialSize, r.restName or r.accName, r.soc)
            for r in reply.rests
        ),
        _REST_UNITS,
    )


# -- payments ---------------------------------------------------------------------------
class _Payment(Wire):
    dateStart: DateTime
    value: Roubles
    paymentType: Text = ""
    paymentStatus: Text = ""
    payTypeName: Text = ""
    payPoint: Text = ""


class _Payments(Wire):
    paymentsHistory: list[_Payment] = []


_NOT_A_PLACE = re.compile(r"Проверить баланс в приложении|Настройте автоплат[её]ж", re.I)


def parse_payments(payload: Any) -> list[Payment]:
    """``1.0/info/payments/history`` -> payments (money in), newest first."""
    check_meta(payload)
    reply = parse_reply(_Payments, payload, what="beeline payments/history")
    out: list[Payment] = []
    for i, item in enumerate(reply.paymentsHistory):
        if item.paymentStatus.upper() in ("FAILED", "ERROR", "DECLINED", "CANCELLED"):
            continue
        place = item.payPoint if item.payPoint and not _NOT_A_PLACE.search(item.payPoint) else ""
        description = " — ".join(p for p in (item.payTypeName, place) if p)
        amount = item.value.amount
        stamp = item.dateStart.strftime("%Y%m%d%H%M%S")
        out.append(
            Payment(
                id=f"{stamp}-{abs(amount)}-{i}",
                at=item.dateStart,
                amount=Money.rub(abs(amount)),
                kind=PaymentKind.CHARGE if amount < 0 else PaymentKind.PAYMENT,
                description=description[:300],
            )
        )
    out.sort(key=lambda p: p.at, reverse=True)
    return out


class _TrustSum(Wire):
    sum: Roubles
    fee: Roubles | None = None


class _TrustPayment(Wire):
    available: Flag = False
    reason: Text = ""
    minSum: Roubles | None = None
    maxSum: Roubles | None = None
    fee: Roubles | None = None
    sums: list[_TrustSum] = []
    days: Number | None = None
    debt: Roubles | None = None
    dueDate: Date | None = None


class _TrustTaken(Wire):
    requestId: Text = ""
    sum: Roubles | None = None
    fee: Roubles | None = None
    debt: Roubles | None = None
    dueDate: Date | None = None


def parse_trust_payment(payload: Any) -> TrustedPayment:
    """``1.0/info/trustPayment`` -> the offer and what is owed (seed; shape assumed)."""
    check_meta(payload)
    reply = parse_reply(_TrustPayment, payload, what="beeline trustPayment")
    options = [
        TrustedPaymentOption(amount=s.sum, fee=s.fee)
        for s in reply.sums
        if s.sum.amount > 0 and (reply.maxSum is None or s.sum.amount <= reply.maxSum.amount)
    ]
    debt = reply.debt if reply.debt is not None and reply.debt.amount > 0 else None
    days = int(reply.days) if reply.days is not None and reply.days > 0 else None
    return TrustedPayment(
        available=reply.available and (bool(options) or reply.maxSum is not None),
        options=options,
        min_amount=reply.minSum,
        max_amount=reply.maxSum,
        fee=reply.fee,
        days=days,
        debt=debt,
        due_date=reply.dueDate if debt is not None else None,
        reason=reply.reason[:300],
    )


def parse_trust_taken(payload: Any, asked: Decimal, state: TrustedPayment) -> TrustedPaymentResult:
    """A ``1.0/request/trustPayment`` answer (read with the state after it) -> what was taken:
    the debt and its due date from the answer, else from the state."""
    check_meta(payload)
    reply = parse_reply(_TrustTaken, payload, what="beeline trustPayment request")
    debt = reply.debt or state.debt
    due = reply.dueDate or state.due_date
    if debt is None or due is None:
        raise ParseError("beeline: the trusted payment names no debt or due date", payload=payload)
    return TrustedPaymentResult(
        amount=reply.sum or Money.rub(asked),
        debt=debt,
        due_date=due,
        fee=reply.fee,
        request_id=reply.requestId or None,
    )


# -- offers -----------------------------------------------------------------------------
class _Offer(Wire):
    id: Text
    title: Text
    description: Text = ""
    startDate: DateTime | None = None


class _Offers(Wire):
    offers: list[_Offer] = []


def parse_offers(payload: Any) -> list[NewsItem]:
    """``1.0/info/targetedOffers`` -> offers."""
    check_meta(payload)
    reply = parse_reply(_Offers, payload, what="beeline targetedOffers")
    return [
        NewsItem(
            id=o.id,
            title=o.title[:300],
            text=o.description[:2000],
            published=_day(o.startDate),
            kind="offer",
        )
        for o in reply.offers
    ]


# -- chat -------------------------------------------------------------------------------
class _Topic(Wire):
    id: Text = Field(min_length=1, max_length=100)
    name: Text = Field(min_length=1, max_length=200)


class _Topics(Wire):
    topics: list[_Topic] = []


def parse_chat_topics(payload: Any) -> list[ChatTopic]:
    """``1.0/chat/topics`` -> the topics ("Общая консультация", "Вопрос по услугам")."""
    check_meta(payload)
    reply = parse_reply(_Topics, payload, what="beeline chat topics")
    return [ChatTopic(id=t.id, title=t.name) for t in reply.topics]


class _ChatMessage(Wire):
    id: Text
    author: Text
    text: Text = ""
    date: DateTime
    topicId: Text = ""
    operatorName: Text = ""


class _ChatMessages(Wire):
    messages: list[_ChatMessage] = []


_AUTHORS = {"USER": ChatAuthor.USER, "BOT": ChatAuthor.BOT, "OPERATOR": ChatAuthor.AGENT}


def parse_chat_messages(payload: Any) -> list[ChatMessage]:
    """``1.0/chat/history``, ``chat/unseen`` or a ``chat/message`` answer -> messages, oldest
    first. An author the plugin does not know is the operator's side (an agent)."""
    check_meta(payload)
    reply = parse_reply(_ChatMessages, payload, what="beeline chat")
    out = [
        ChatMessage(
            id=m.id,
            topic_id=m.topicId or None,
            author=_AUTHORS.get(m.author.upper(), ChatAuthor.AGENT),
            text=m.text[:10000],
            sent_at=m.date,
            author_name=m.operatorName or None,
        )
        for m in reply.messages
    ]
    out.sort(key=lambda m: m.sent_at)
    return out
