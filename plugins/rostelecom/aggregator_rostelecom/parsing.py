"""Reading Rostelecom's answers: the passport's HTML pages and the client-api JSON. Pure.

Two kinds of payload:

* the passport (an OpenID Connect server, realm ``b2c``) answers with HTML pages: the login
  page (tabs LOGIN / PHONE / EMAIL / LS, a password form, a one-time code request, a captcha on
  demand, SSO buttons) and the page asking for the one-time code. :func:`parse_login_page`
  reads them with a real HTML parser; a page that lost its forms is a :class:`ParseError`.
* ``client-api/<method>`` answers JSON. Errors come as ``isError`` / ``errorMsg`` (and
  ``errorCode``); a lost session as ``isSessionLost``. **Money is in kopecks** and must be an
  integer: a float or a string where kopecks are expected is a changed API, never a balance.
"""

from __future__ import annotations

import datetime as dt
import re
from collections.abc import Iterable, Mapping
from dataclasses import dataclass, field
from typing import Annotated, Any, Literal, TypeVar
from urllib.parse import urljoin

from pydantic import BaseModel, ConfigDict, Field, StrictBool, StrictInt, ValidationError
from selectolax.lexbor import LexborHTMLParser as HTMLParser
from selectolax.lexbor import LexborNode as Node

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
    AutopaySettings,
    Balance,
    CostRule,
    Money,
    NewsItem,
    Payment,
    PaymentKind,
    PollResult,
    Profile,
    Service,
    Subaccount,
    Suspension,
    SuspensionQuote,
    SuspensionState,
    Tariff,
    TariffCatalogue,
)

__all__ = [
    "ConfirmRequest",
    "LoginPage",
    "OtpPage",
    "check_api",
    "parse_accounts",
    "parse_autopay",
    "parse_balance",
    "parse_block",
    "parse_block_quote",
    "parse_bonus",
    "parse_confirm_request",
    "parse_confirm_result",
    "parse_login_page",
    "parse_notifications",
    "parse_operation",
    "parse_options",
    "parse_otp_page",
    "parse_payments",
    "parse_poll",
    "parse_profile",
    "parse_promotions",
    "parse_report_order",
    "parse_service_info",
    "parse_tariffs",
    "parse_token",
]

_M = TypeVar("_M", bound=BaseModel)
_MSK = dt.timezone(dt.timedelta(hours=3))
Kopecks = Annotated[StrictInt, Field(ge=-10_000_000_000, le=10_000_000_000)]


class _Wire(BaseModel):
    model_config = ConfigDict(extra="ignore", frozen=True)


def _shape(model: type[_M], payload: Any, what: str, secrets: Iterable[str] = ()) -> _M:
    try:
        return model.model_validate(payload)
    except ValidationError as exc:
        fields = ", ".join(".".join(str(p) for p in e["loc"]) or "<root>" for e in exc.errors())
        raise ParseError(
            f"rostelecom: unexpected {what} reply ({fields})", payload=payload, secrets=secrets
        ) from None


def _kopecks(value: int) -> Money:
    return Money.from_kopecks(value)


def _date(value: str | None, payload: Any) -> dt.date | None:
    if value is None or value == "":
        return None
    try:
        return dt.date.fromisoformat(value[:10])
    except ValueError:
        raise ParseError("rostelecom: a date is not a date", payload=payload) from None


def _datetime(value: str, payload: Any) -> dt.datetime:
    try:
        parsed = dt.datetime.fromisoformat(value.replace("Z", "+00:00"))
    except ValueError:
        raise ParseError("rostelecom: a time is not a time", payload=payload) from None
    return parsed if parsed.tzinfo else parsed.replace(tzinfo=_MSK)


# -- client-api errors ---------------------------------------------------------------------

_SESSION_CODES = {"SESSION_LOST", "SESSION_EXPIRED", "UNAUTHORIZED"}
_REJECT_CODES = {
    "BAD_REQUEST",
    "NOT_FOUND",
    "ACCESS_DENIED",
    "REJECTED",
    "INSUFFICIENT_FUNDS",
    "INVALID_CODE",
    "CODE_EXPIRED",
    "VALIDATION_ERROR",
}


class _ApiError(_Wire):
    isError: StrictBool = False
    isSessionLost: StrictBool = False
    errorCode: str | None = None
    errorMsg: str | None = None


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
    message = (head.errorMsg or "")[:500]
    if code == "TOO_MANY_REQUESTS":
        raise RateLimited(message or "too many requests")
    if code in _REJECT_CODES or code == "":
        raise OperationRejected(message or "rejected", code=code or None)
    raise ParseError(
        f"rostelecom: unknown errorCode {code[:40]!r}", payload=payload, secrets=secrets
    )


# -- token ---------------------------------------------------------------------------------


class _Token(_Wire):
    access_token: str = Field(min_length=8, max_length=8192)
    refresh_token: str | None = Field(default=None, max_length=8192)
    expires_in: StrictInt = Field(gt=0, le=10 * 365 * 86400)
    refresh_expires_in: StrictInt | None = None
    token_type: str


def parse_token(payload: Any, secrets: Iterable[str] = ()) -> dict[str, Any]:
    """The token endpoint's answer -> session data (``access_token``, ``refresh_token``,
    ``expires_at`` as a POSIX time). An OAuth ``error`` reply raises InvalidCredentials."""
    if isinstance(payload, Mapping) and "error" in payload and "access_token" not in payload:
        error = str(payload.get("error"))[:60]
        if error == "invalid_grant":
            raise SessionExpired(f"rostelecom: the passport refused the grant ({error})")
        raise InvalidCredentials(f"rostelecom: the passport refused the token ({error})")
    token = _shape(_Token, payload, "token", secrets)
    if token.token_type.lower() != "bearer":
        raise ParseError(
            "rostelecom: the token is not a bearer token", payload=payload, secrets=secrets
        )
    now = dt.datetime.now(dt.UTC).timestamp()
    data: dict[str, Any] = {
        "access_token": token.access_token,
        "expires_at": int(now + token.expires_in),
    }
    if token.refresh_token:
        data["refresh_token"] = token.refresh_token
    return data


# -- passport pages ------------------------------------------------------------------------


@dataclass
class LoginPage:
    """What the passport's login page offers."""

    password_action: str
    otp_action: str | None
    hidden: dict[str, str] = field(default_factory=dict)
    otp_hidden: dict[str, str] = field(default_factory=dict)
    tabs: list[str] = field(default_factory=list)
    captcha_id: str | None = None
    captcha_image: str | None = None
    error_code: str | None = None
    error_text: str = ""
    sso: dict[str, str] = field(default_factory=dict)  # provider -> absolute URL


@dataclass
class OtpPage:
    """The page asking for the one-time code."""

    action: str
    hidden: dict[str, str] = field(default_factory=dict)
    destination: str = ""
    channel: str = "sms"
    code_length: int | None = None
    error_code: str | None = None
    error_text: str = ""


def _hidden(form: Node) -> dict[str, str]:
    out: dict[str, str] = {}
    for node in form.css("input[type=hidden]"):
        name = node.attributes.get("name")
        if name:
            out[name] = node.attributes.get("value") or ""
    return out


def _feedback(tree: HTMLParser) -> tuple[str | None, str]:
    node = tree.css_first("#kc-feedback")
    if node is None:
        return None, ""
    code = node.attributes.get("data-error") or None
    return code, " ".join(node.text(separator=" ").split())[:300]


def _abs(page_url: str, href: str | None) -> str | None:
    return urljoin(page_url, href) if href else None


def parse_login_page(html: str, page_url: str) -> LoginPage:
    """The passport's login page: forms, tabs, captcha, error, SSO buttons."""
    tree = HTMLParser(html)
    form = tree.css_first("form#kc-form-login")
    if form is None or not form.attributes.get("action"):
        raise ParseError("rostelecom: the login page has no login form", payload=html[:2000])
    for name in ("username", "password", "tab_type"):
        if form.css_first(f"[name={name}]") is None:
            raise ParseError(
                f"rostelecom: the login form lost its {name} field", payload=html[:2000]
            )
    otp = tree.css_first("form#kc-form-otp-request")
    page = LoginPage(
        password_action=urljoin(page_url, form.attributes["action"] or ""),
        otp_action=_abs(page_url, otp.attributes.get("action")) if otp is not None else None,
        hidden={k: v for k, v in _hidden(form).items() if k != "tab_type"},
        otp_hidden={k: v for k, v in _hidden(otp).items() if k != "tab_type"} if otp else {},
        tabs=[
            t.attributes.get("data-tab") or ""
            for t in tree.css("[data-tab]")
            if t.attributes.get("data-tab")
        ],
    )
    captcha = tree.css_first("#captcha-block")
    if captcha is not None:
        image = captcha.css_first("img#captcha-image")
        captcha_id = captcha.css_first("input[name=captchaId]")
        if image is None or captcha_id is None or not image.attributes.get("src"):
            raise ParseError("rostelecom: a captcha block without its image", payload=html[:2000])
        page.captcha_image = urljoin(page_url, image.attributes["src"] or "")
        page.captcha_id = captcha_id.attributes.get("value") or ""
    page.error_code, page.error_text = _feedback(tree)
    for link in tree.css("a.social-link"):
        provider = link.attributes.get("data-provider")
        href = link.attributes.get("href")
        if provider and href:
            page.sso[provider] = urljoin(page_url, href)
    return page


def parse_otp_page(html: str, page_url: str) -> OtpPage:
    """The page where the one-time code is typed."""
    tree = HTMLParser(html)
    form = tree.css_first("form#kc-form-otp")
    if form is None or not form.attributes.get("action") or form.css_first("[name=code]") is None:
        raise ParseError("rostelecom: the code page has no code form", payload=html[:2000])
    dest = tree.css_first("#otp-destination")
    code_input = form.css_first("[name=code]")
    length = code_input.attributes.get("maxlength") if code_input is not None else None
    page = OtpPage(
        action=urljoin(page_url, form.attributes["action"] or ""),
        hidden=_hidden(form),
        destination=" ".join(dest.text().split())[:60] if dest is not None else "",
        channel=(dest.attributes.get("data-channel") or "sms") if dest is not None else "sms",
        code_length=int(length) if length and length.isdigit() else None,
    )
    page.error_code, page.error_text = _feedback(tree)
    return page


def is_login_page(html: str) -> bool:
    return HTMLParser(html).css_first("form#kc-form-login") is not None


def is_otp_page(html: str) -> bool:
    return HTMLParser(html).css_first("form#kc-form-otp") is not None


def is_message_page(html: str) -> bool:
    """The passport's message page (for example "the login page expired, start again")."""
    return HTMLParser(html).css_first("#message-text") is not None


def login_error(code: str | None, text: str) -> Exception:
    """The contract error for the passport's feedback on a failed login."""
    if code == "account_locked":
        return AccountLocked(text or "the account is locked")
    if code in ("invalid_credentials", "user_not_found", "code_invalid", None):
        return InvalidCredentials(text or "wrong login or password")
    if code == "rate_limited":
        return RateLimited(text or "too many attempts")
    return InvalidCredentials(text or code)


# -- accounts, balance -----------------------------------------------------------------------

_SERVICE_KIND: dict[str, Literal["mobile", "internet", "tv", "landline", "bundle", "other"]] = {
    "INTERNET": "internet",
    "IPTV": "tv",
    "TV": "tv",
    "PHONE": "landline",
    "MOBILE": "mobile",
}


class _AccountService(_Wire):
    serviceId: str | int
    type: str = Field(min_length=1, max_length=40)
    name: str | None = None


class _Account(_Wire):
    accountId: str | int
    number: str = Field(pattern=r"^\d{12}$")
    name: str | None = None
    address: str | None = None
    services: list[_AccountService] = []


class _Accounts(_Wire):
    accounts: list[_Account]


def parse_accounts(payload: Any) -> list[Subaccount]:
    """``getAccounts`` -> one subaccount per personal account (лицевой счёт)."""
    check_api(payload)
    shaped = _shape(_Accounts, payload, "getAccounts")
    out: list[Subaccount] = []
    for acc in shaped.accounts:
        kinds = {_SERVICE_KIND.get(s.type.upper(), "other") for s in acc.services}
        kind: Literal["mobile", "internet", "tv", "landline", "bundle", "other"]
        kind = kinds.pop() if len(kinds) == 1 else ("bundle" if kinds else "other")
        names = ", ".join(s.name or s.type for s in acc.services)
        label = (acc.name or names or acc.address or "").strip()[:100]
        n = acc.number
        out.append(
            Subaccount(
                id=str(acc.accountId),
                number=f"{n[:3]} {n[3:6]} {n[6:9]} {n[9:]}",
                label=label,
                kind=kind,
            )
        )
    return out


class _Balance(_Wire):
    balance: Kopecks
    currency: Literal["RUB"] = "RUB"
    creditLimit: Kopecks | None = None
    nextChargeDate: str | None = None
    nextChargeAmount: Kopecks | None = None


def parse_balance(payload: Any, as_of: dt.datetime, bonus: Money | None = None) -> Balance:
    """``getAccountBalanceV2`` -> Balance. ``balance`` is **kopecks**, an integer or an error."""
    check_api(payload)
    shaped = _shape(_Balance, payload, "getAccountBalanceV2")
    return Balance(
        amount=_kopecks(shaped.balance),
        as_of=as_of,
        credit_limit=_kopecks(shaped.creditLimit) if shaped.creditLimit else None,
        bonus=bonus,
        next_charge_date=_date(shaped.nextChargeDate, payload),
        next_charge_amount=(
            _kopecks(shaped.nextChargeAmount) if shaped.nextChargeAmount is not None else None
        ),
    )


class _Bonus(_Wire):
    bonusBalance: Kopecks | None = None


def parse_bonus(payload: Any) -> Money | None:
    """``getBonusBalance`` -> the bonus balance (kopecks), None without the programme."""
    check_api(payload)
    value = _shape(_Bonus, payload, "getBonusBalance").bonusBalance
    return _kopecks(value) if value is not None else None


# -- service info, tariffs -------------------------------------------------------------------

_STATUS = {
    "CONNECTED": AccountState.ACTIVE,
    "ACTIVE": AccountState.ACTIVE,
    "BLOCKED": AccountState.BLOCKED,
    "FINANCIAL_BLOCK": AccountState.BLOCKED,
    "VOLUNTARY_BLOCKED": AccountState.SUSPENDED,
    "DISCONNECTED": AccountState.CLOSED,
    "CLOSED": AccountState.CLOSED,
}


class _ServiceInfo(_Wire):
    serviceId: str | int | None = None
    status: str = Field(min_length=1, max_length=40)
    voluntaryBlockEndDate: str | None = None
    tariffName: str | None = Field(default=None, max_length=300)


def parse_service_info(payload: Any) -> tuple[AccountState, dt.date | None, str | None]:
    """``getServiceInfo`` -> (state, the voluntary block's end date, tariff name)."""
    check_api(payload)
    shaped = _shape(_ServiceInfo, payload, "getServiceInfo")
    state = _STATUS.get(shaped.status.upper(), AccountState.UNKNOWN)
    end = _date(shaped.voluntaryBlockEndDate, payload)
    if state is AccountState.SUSPENDED and end is None:
        raise ParseError("rostelecom: a voluntary block without its end date", payload=payload)
    return state, end, shaped.tariffName


def parse_poll(balance: Balance, service_info: Any) -> PollResult:
    state, end, tariff = parse_service_info(service_info)
    return PollResult(balance=balance, tariff_name=tariff, state=state, suspension_end=end)


class _Tariff(_Wire):
    tariffId: str | int
    name: str = Field(min_length=1, max_length=300)
    cost: Kopecks | None = None
    period: Literal["month", "day", "year", "once"] | None = "month"
    description: str | None = None


class _Pending(_Tariff):
    effectiveDate: str


class _CurrentTariff(_Wire):
    tariffName: str = Field(min_length=1, max_length=300)
    tariffId: str | int | None = None
    cost: Kopecks | None = None
    description: str | None = None
    pendingTariff: _Pending | None = None


class _Tariffs(_Wire):
    tariffs: list[_Tariff]


def _tariff(t: _Tariff) -> Tariff:
    return Tariff(
        id=str(t.tariffId),
        name=t.name.strip(),
        price=_kopecks(t.cost) if t.cost is not None else None,
        period=t.period,
        description=(t.description or "")[:1000],
    )


def parse_tariffs(current: Any, available: Any) -> TariffCatalogue:
    """``getServiceTariffName`` + ``getAvailableTariffs`` -> the catalogue."""
    check_api(current)
    cur = _shape(_CurrentTariff, current, "getServiceTariffName")
    check_api(available)
    offered = [_tariff(t) for t in _shape(_Tariffs, available, "getAvailableTariffs").tariffs]
    current_tariff = Tariff(
        id=str(cur.tariffId) if cur.tariffId is not None else cur.tariffName,
        name=cur.tariffName.strip(),
        price=_kopecks(cur.cost) if cur.cost is not None else None,
        description=(cur.description or "")[:1000],
    )
    pending = _tariff(cur.pendingTariff) if cur.pendingTariff is not None else None
    pending_from = (
        _date(cur.pendingTariff.effectiveDate, current) if cur.pendingTariff is not None else None
    )
    return TariffCatalogue(
        current=current_tariff, available=offered, pending=pending, pending_from=pending_from
    )


# -- options (services) ------------------------------------------------------------------------


class _Option(_Wire):
    optionId: str | int
    name: str = Field(min_length=1, max_length=300)
    cost: Kopecks | None = None
    period: Literal["month", "day", "year", "once"] | None = "month"
    isActive: StrictBool
    canChange: StrictBool = True
    description: str | None = None


class _Options(_Wire):
    options: list[_Option]


def _option(o: _Option) -> Service:
    return Service(
        id=str(o.optionId),
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
    return [_option(o) for o in _shape(_Options, payload, "getServiceOptions").options]


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


class _Confirm(_Wire):
    needConfirm: StrictBool = False
    confirmId: str | None = Field(default=None, max_length=200)
    maskedPhone: str | None = Field(default=None, max_length=60)
    codeLength: StrictInt | None = None


def parse_confirm_request(payload: Any) -> ConfirmRequest | None:
    """A financial operation's answer: the confirmation request, or None when it is done."""
    check_api(payload)
    shaped = _shape(_Confirm, payload, "confirmation")
    if not shaped.needConfirm:
        return None
    if not shaped.confirmId:
        raise ParseError("rostelecom: a confirmation without its id", payload=payload)
    return ConfirmRequest(shaped.confirmId, shaped.maskedPhone or "", shaped.codeLength)


class _Operation(_Wire):
    operation: str | None = None
    message: str | None = None
    effectiveDate: str | None = None
    attemptsLeft: StrictInt | None = None


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


class _Rule(_Wire):
    freeDays: StrictInt | None = None
    dailyFee: Kopecks = 0
    maxDays: StrictInt | None = None
    description: str | None = None


class _Block(_Wire):
    state: Literal["NONE", "REQUESTED", "SCHEDULED", "ACTIVE"]
    startDate: str | None = None
    endDate: str | None = None


class _BlockInfo(_Wire):
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


class _Quote(_Wire):
    startDate: str
    endDate: str
    days: StrictInt = Field(ge=0)
    freeDays: StrictInt = Field(ge=0)
    paidDays: StrictInt = Field(ge=0)
    total: Kopecks
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


class _Payment(_Wire):
    paymentId: str | int
    date: str
    amount: Kopecks
    type: Literal["PAYMENT", "CHARGE", "AUTOPAY", "ADJUSTMENT"]
    description: str | None = None


class _Payments(_Wire):
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


class _Autopay(_Wire):
    enabled: StrictBool
    threshold: Kopecks | None = None
    amount: Kopecks | None = None
    cardMask: str | None = Field(default=None, max_length=40)


class _AutopayReply(_Wire):
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


class _ReportOrder(_Wire):
    reportId: str | int


def parse_report_order(payload: Any) -> str:
    check_api(payload)
    return str(_shape(_ReportOrder, payload, "orderDetail").reportId)


class _Profile(_Wire):
    fullName: str | None = None
    phone: str | None = None
    email: str | None = None
    login: str | None = None


def parse_profile(payload: Any, account_number: str | None = None) -> Profile:
    check_api(payload)
    p = _shape(_Profile, payload.get("profile"), "getProfile")
    phone = "+7" + p.phone if p.phone and re.fullmatch(r"\d{10}", p.phone) else p.phone
    return Profile(full_name=p.fullName, phone=phone, email=p.email, account_number=account_number)


class _Promotion(_Wire):
    id: str | int
    title: str = Field(min_length=1, max_length=300)
    text: str | None = None
    date: str | None = None
    kind: Literal["news", "offer", "maintenance"] = "news"


class _Promotions(_Wire):
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


class _Notifications(_Wire):
    channels: dict[Literal["SMS", "PUSH", "EMAIL"], StrictBool]


def parse_notifications(payload: Any) -> dict[str, bool]:
    """``getNotificationSettings`` -> {"sms": bool, "push": bool, "email": bool}."""
    check_api(payload)
    channels = _shape(_Notifications, payload, "getNotificationSettings").channels
    return {k.lower(): v for k, v in channels.items()}
