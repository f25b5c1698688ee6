"""The NetByNet dialect: «Нетбайнет» (Wifire)'s cabinet JSON API under ``/netbynet/api/``.

Shaped like the real ``my.wifire.ru/api/`` as independent clients use it (every endpoint's
citation: ``reference_provider/DIALECTS.md``, NetByNet)::

    GET  v1/get-way?accountNumber=          before the login (AnyBalance main.js line 94)
    POST v3/login {login, password, captchaCode, save, accountNumber, deviceInfo{loginType}}
                                            success: ``{}`` (+ ``needChangePassword``), cookie
                                            AUTHORIZATION (a quoted value); failure:
                                            ``{captcha, resultCode, resultText}``: 5 wrong
                                            number or password, 8 repeat with a captcha code
    GET  v2/captcha-challenge?accountNumber=&time=   the captcha picture (PNG)
    GET  v1/get-balance                     accountBalance, statusCode (0 active, 1 not
                                            activated, 2/1002 financial block, 3/1003 blocked,
                                            4 deleted)
    GET  v1|v2/get-balance-details          bonusBalance (-1 = none), nextPayment,
                                            nextPaymentDate
    GET  v1|v2/get-internet-accounts-details internetAccounts[].tariffPlan.name, statusName
    GET  v1/get-profile-info                contacts.fullName, number;  v2: fullName, id
    GET  /logout                            (outside /api/)

Assumed or from the seed only (no independent client shows them): the password change and
recovery, tariffs, services, payments and charges, top-up, autopay, promotions, notices,
support requests and the voluntary block (``v1/...`` below).

A successful reply carries no ``resultCode`` (AnyBalance main.js line 81 throws on any
``resultCode`` but 8, and 8 means "repeat with a captcha"); an error names itself with
``resultCode`` and ``resultText``. Codes besides 5 and 8 are assumed: 13 locked, 20 not
authorised (HTTP 401), 21 password change required, 30 bad request, 31 rejected, 32 not
found, 33 wrong code, 99 internal error (HTTP 500). Money is in roubles as JSON numbers; dates
are ISO.

The voluntary block is a request the operator approves (2 hours later on the billing clock);
it is free for 60 days, then a daily fee. The cost is calculated before the user confirms.
"""

from __future__ import annotations

import datetime as dt
import json
from typing import Any, TypeAlias

from litestar import Request, Response, Router, get, post, route
from litestar.datastructures import Cookie
from litestar.di import NamedDependency, Provide
from litestar.exceptions import HTTPException, ValidationException

from ..backend import Backend
from ..domain.catalogue import REGIONS_NETBYNET
from ..domain.clock import MSK
from ..domain.errors import (
    AccountLocked,
    AuthFailure,
    CaptchaRequired,
    CodeInvalid,
    DomainError,
    Forbidden,
    InvalidCredentials,
    InvalidInput,
    NotFound,
    PasswordChangeRequired,
    Rejected,
)
from ..domain.models import Account, BulkAccount, Session, TariffDef
from ..domain.money import kop, rub
from ..domain.state import normalise_phone

__all__ = ["RESULT", "bulk_session", "error_response", "router"]

OPERATOR = "netbynet"
BASE = "/netbynet"
SESSION_COOKIE = "AUTHORIZATION"  # AnyBalance main.js lines 110-116: AUTHO*, value quoted
CAPTCHA_COOKIE = "NBN_CAPTCHA"
DEVICE_COOKIE = "nbn_device"

RESULT = {
    "INVALID_CREDENTIALS": 5,
    "CAPTCHA_REQUIRED": 8,
    "CAPTCHA_WRONG": 8,
    "ACCOUNT_LOCKED": 13,
    "NOT_AUTHORIZED": 20,
    "PASSWORD_CHANGE_REQUIRED": 21,
    "VALIDATION_ERROR": 30,
    "OPERATION_REJECTED": 31,
    "NOT_FOUND": 32,
    "WRONG_CODE": 33,
    "INTERNAL_ERROR": 99,
}
_STATUS = {
    "active": ("ACTIVE", "Активна"),
    "blocked": ("BLOCKED", "Заблокирована: недостаточно средств"),
    "suspended": ("VOLUNTARY_BLOCK", "Добровольная блокировка"),
    "closed": ("CLOSED", "Договор расторгнут"),
}
# get-balance statusCode (MobileBalance WiFire_API_inet1.js lines 93-117): 0 active, 1 not
# activated, 2 financial block (1002 entering it), 3 blocked by the operator or from the
# cabinet (1003 entering it), 4 deleted.
_STATUS_CODE = {"active": 0, "blocked": 2, "suspended": 3, "closed": 4}
_BLOCK = {
    "requested": "REQUESTED",
    "scheduled": "SCHEDULED",
    "active": "ACTIVE",
    "ended": "ENDED",
    "cancelled": "CANCELLED",
}
_NEWS = {"news": "NEWS", "offer": "PROMO", "maintenance": "MAINTENANCE"}
_AUTHORS = {"user": "CLIENT", "bot": "BOT", "agent": "OPERATOR"}
_PAYMENT_TYPES = {"payment": "PAYMENT", "autopay": "AUTOPAY", "adjustment": "CORRECTION"}
DEFAULT_CARD = "4276 **** **** 1234"


# -- replies ----------------------------------------------------------------------------------
def _ok(
    text: str = "Успешно", *, cookies: list[Cookie] | None = None, **data: Any
) -> Response[Any]:
    del text  # a success names nothing: no resultCode (the operator's words are for errors)
    return Response(
        data,
        status_code=200,
        cookies=cookies or [],
        headers={"Cache-Control": "no-store"},
    )


def _fail(
    code: str, text: str, status: int = 200, *, cookies: list[Cookie] | None = None, **data: Any
) -> Response[Any]:
    return Response(
        {"resultCode": RESULT[code], "resultText": text, **data},
        status_code=status,
        cookies=cookies or [],
        headers={"Cache-Control": "no-store"},
    )


def _money(kopecks: int) -> float:
    return float(rub(kopecks))


def _cookie(key: str, value: str, max_age: int | None = None) -> Cookie:
    return Cookie(key=key, value=value, path=BASE, httponly=True, samesite="lax", max_age=max_age)


def _session_token(request: Request[Any, Any, Any]) -> str | None:
    """The session cookie; its value comes quoted (AnyBalance main.js lines 110-116)."""
    value = request.cookies.get(SESSION_COOKIE)
    return value.strip('"') if value else None


def _date(value: Any, field: str) -> dt.date:
    try:
        return dt.date.fromisoformat(str(value or "").strip()[:10])
    except ValueError:
        raise InvalidInput(f"{field}: дата в формате ГГГГ-ММ-ДД") from None


def _tariff(t: TariffDef) -> dict[str, Any]:
    return {
        "id": t.id,
        "name": t.name,
        "cost": _money(t.fee),
        "description": t.description,
        "speed": t.speed_mbps,
    }


async def _body(request: Request[Any, Any, Any]) -> dict[str, Any]:
    raw = await request.body()
    if not raw:
        return {}
    try:
        data = json.loads(raw)
    except ValueError:
        raise InvalidInput("Тело запроса должно быть JSON") from None
    if not isinstance(data, dict):
        raise InvalidInput("Тело запроса должно быть объектом JSON")
    return data


def _text(data: dict[str, Any], key: str, label: str, *, required: bool = True) -> str:
    value = data.get(key)
    if value is None or value == "":
        if required:
            raise InvalidInput(f"Не заполнено поле «{label}»")
        return ""
    if isinstance(value, int | float) and not isinstance(value, bool):
        value = str(value)
    if not isinstance(value, str):
        raise InvalidInput(f"Поле «{label}» заполнено неверно")
    return value.strip()


def _amount(data: dict[str, Any], key: str, label: str) -> int:
    value = data.get(key)
    if isinstance(value, bool) or not isinstance(value, int | float | str):
        raise InvalidInput(f"Поле «{label}» должно быть числом")
    return kop(value)


#: The injected backend (a Litestar dependency of the router).
BackendDep: TypeAlias = NamedDependency[Backend]


def current(request: Request[Any, Any, Any], backend: Backend) -> tuple[Session, Account]:
    session = backend.session(_session_token(request), operator=OPERATOR)
    acc = backend.account_for(session, session.current_account_id or "")
    backend.touch(acc)
    return session, acc


def device_of(request: Request[Any, Any, Any]) -> str | None:
    return request.headers.get("x-device-id") or request.cookies.get(DEVICE_COOKIE) or None


# -- login ------------------------------------------------------------------------------
@get("/api/v1/get-regions", sync_to_thread=False)
def regions() -> Response[Any]:
    return _ok(regions=[{"id": k, "name": v} for k, v in REGIONS_NETBYNET.items()])


@post("/api/v3/login")
async def login(request: Request[Any, Any, Any], backend: BackendDep) -> Response[Any]:
    data = await _body(request)
    contract = _text(data, "login", "Номер договора")
    password = _text(data, "password", "Пароль")
    code = _text(data, "captchaCode", "Код с картинки", required=False)
    if not contract.isdigit():
        raise InvalidInput("Номер договора состоит из цифр")
    device = device_of(request)
    sub = backend.find_subscriber(OPERATOR, contract, "login")
    captcha_id = request.cookies.get(CAPTCHA_COOKIE) if code else None
    try:
        result = backend.login_password(
            OPERATOR,
            contract,
            password,
            kind="login",
            device=device,
            captcha_id=captcha_id,
            captcha_answer=code or None,
        )
    except CaptchaRequired as exc:
        key = "CAPTCHA_WRONG" if exc.wrong else "CAPTCHA_REQUIRED"
        return _fail(
            key,
            exc.message if exc.wrong else "Повторите с использованием проверочного кода.",
            captcha=True,
            cookies=[_cookie(CAPTCHA_COOKIE, exc.captcha.id)],
        )
    except AccountLocked as exc:
        until = exc.until.astimezone(MSK).strftime("%H:%M")
        return _fail("ACCOUNT_LOCKED", f"Вход заблокирован до {until} после неудачных попыток",
                     captcha=False)  # fmt: skip
    except InvalidCredentials:
        again = sub is not None and backend.captcha_needed(sub, device)
        return _fail(
            "INVALID_CREDENTIALS",
            "Убедитесь, что вводите корректный номер Лицевого счета / Номер телефона или "
            "проверьте правильность ввода пароля.",
            captcha=again,
        )
    session = result.session
    acc = backend.accounts_of(result.subscriber.id)[0]
    session.current_account_id = acc.id
    cookies = [_cookie(SESSION_COOKIE, f'"{session.token}"'), _cookie(CAPTCHA_COOKIE, "", 0)]
    if device and not request.headers.get("x-device-id"):
        cookies.append(_cookie(DEVICE_COOKIE, device, 180 * 24 * 3600))
    if result.must_change_password:
        return _ok(cookies=cookies, needChangePassword=True)
    return _ok(cookies=cookies)


@get("/api/v2/captcha-challenge", sync_to_thread=False)
def captcha_challenge(request: Request[Any, Any, Any], backend: BackendDep) -> Response[Any]:
    refresh = request.query_params.get("refresh") in ("1", "true")
    captcha = backend.captchas.get(request.cookies.get(CAPTCHA_COOKIE) or "")
    if captcha is None or refresh:
        captcha = backend.new_captcha(OPERATOR)
    return Response(
        captcha.png,
        media_type="image/png",
        cookies=[_cookie(CAPTCHA_COOKIE, captcha.id)],
        headers={"Cache-Control": "no-store"},
    )


@post("/api/v1/change-password")
async def change_password(request: Request[Any, Any, Any], backend: BackendDep) -> Response[Any]:
    data = await _body(request)
    session = backend.session(_session_token(request), operator=OPERATOR, allow_restricted=True)
    backend.change_password(
        session,
        _text(data, "oldPassword", "Текущий пароль"),
        _text(data, "newPassword", "Новый пароль"),
    )
    return _ok("Пароль изменён")


@post("/api/v1/password-recovery")
async def recovery(request: Request[Any, Any, Any], backend: BackendDep) -> Response[Any]:
    data = await _body(request)
    region = _text(data, "region", "Регион")
    phone = normalise_phone(_text(data, "phone", "Телефон"))
    number = _text(data, "accountNumber", "Номер лицевого счёта")
    channel = _text(data, "channel", "Способ получения") or "sms"
    if region not in REGIONS_NETBYNET:
        raise InvalidInput("Выберите регион из списка")
    if phone is None:
        raise InvalidInput("Телефон: 10 цифр, например 9031234567")
    if channel not in ("sms", "email"):
        raise InvalidInput("Способ получения: sms или email")
    try:
        acc = backend.account_by_number(OPERATOR, number)
    except NotFound:
        acc = None
    sub = backend.subscriber(acc.subscriber_id) if acc else None
    if sub is None or sub.region != region or sub.phone != phone:
        raise NotFound("Абонент с такими данными не найден. Проверьте регион, телефон "
                       "и номер лицевого счёта")  # fmt: skip
    ticket = backend.start_password_reset(
        OPERATOR, sub.login, "email" if channel == "email" else "sms", kind="login"
    )
    where = "на электронную почту" if channel == "email" else "в SMS"
    return _ok(
        f"Инструкция по восстановлению пароля отправлена {where}: {ticket.masked_destination}",
        requestId=ticket.id,
        channel=channel,
        destination=ticket.masked_destination,
    )


@post("/api/v1/password-recovery/complete")
async def recovery_complete(request: Request[Any, Any, Any], backend: BackendDep) -> Response[Any]:
    data = await _body(request)
    backend.finish_password_reset(
        _text(data, "requestId", "Номер заявки"),
        _text(data, "code", "Код"),
        _text(data, "newPassword", "Новый пароль"),
    )
    return _ok("Пароль изменён. Войдите с новым паролем")


@route(["/api/v1/logout", "/logout"], http_method=["GET", "POST"])
async def logout(request: Request[Any, Any, Any], backend: BackendDep) -> Response[Any]:
    token = _session_token(request)
    if token:
        backend.logout(token)
    return _ok("Сеанс завершён", cookies=[_cookie(SESSION_COOKIE, "", 0)])


# -- balance and account ------------------------------------------------------------------
@get("/api/v1/get-way", sync_to_thread=False)
def get_way(request: Request[Any, Any, Any], backend: BackendDep) -> Response[Any]:
    """What the login page asks first (AnyBalance main.js line 94); the reply is assumed."""
    number = (request.query_params.get("accountNumber") or "").strip()
    if not number.isdigit():
        raise InvalidInput("Номер договора состоит из цифр")
    return _ok(way="PASSWORD", captcha=False)


@get("/api/v1/get-balance", sync_to_thread=False)
def balance(request: Request[Any, Any, Any], backend: BackendDep) -> Response[Any]:
    _, acc = current(request, backend)
    return _ok(
        accountBalance=_money(backend.balance(acc)),
        statusCode=_STATUS_CODE[backend.status(acc)],
    )


@get(["/api/v1/get-balance-details", "/api/v2/get-balance-details"], sync_to_thread=False)
def balance_details(request: Request[Any, Any, Any], backend: BackendDep) -> Response[Any]:
    _, acc = current(request, backend)
    due, amount = backend.next_payment(acc)
    return _ok(
        accountBalance=_money(backend.balance(acc)),
        bonusBalance=_money(acc.bonus) if acc.bonus is not None else -1,
        nextPayment=_money(amount),
        nextPaymentDate=due.isoformat(),
        monthlyFee=_money(backend.monthly_fee(acc)),
    )


@get(
    ["/api/v1/get-internet-accounts-details", "/api/v2/get-internet-accounts-details"],
    sync_to_thread=False,
)
def internet_accounts(request: Request[Any, Any, Any], backend: BackendDep) -> Response[Any]:
    session, acc = current(request, backend)
    sub = backend.subscriber(session.subscriber_id)
    code, name = _STATUS[backend.status(acc)]
    block = backend.current_suspension(acc)
    return _ok(
        internetAccounts=[
            {
                "id": acc.number,
                "login": sub.login,
                "tariffPlan": _tariff(backend.tariff_of(acc)),
                "statusCode": code,
                "statusName": name,
                "blockDateTo": block.last_day.isoformat() if block else None,
                "address": acc.address,
            }
        ]
    )


@get("/api/v1/get-profile-info", sync_to_thread=False)
def profile(request: Request[Any, Any, Any], backend: BackendDep) -> Response[Any]:
    session, acc = current(request, backend)
    sub = backend.subscriber(session.subscriber_id)
    info = backend.profile(sub, acc)
    return _ok(
        id=acc.number,
        number=sub.login,
        contacts={
            "fullName": info["full_name"],
            "phone": f"+7{info['phone']}" if info["phone"] else None,
            "email": info["email"],
        },
        address=info["address"],
        region=sub.region,
        regionName=REGIONS_NETBYNET.get(sub.region or "", ""),
    )


@get("/api/v2/get-profile-info", sync_to_thread=False)
def profile_v2(request: Request[Any, Any, Any], backend: BackendDep) -> Response[Any]:
    """v2: ``fullName``, ``id`` (MobileBalance WiFire_API_inet1.js lines 136-147)."""
    session, acc = current(request, backend)
    sub = backend.subscriber(session.subscriber_id)
    info = backend.profile(sub, acc)
    return _ok(
        id=int(sub.login) if sub.login.isdigit() else sub.login,
        fullName=info["full_name"],
        phone=f"+7{info['phone']}" if info["phone"] else None,
        email=info["email"],
        address=info["address"],
        accountNumber=acc.number,
    )


# -- tariffs and services -----------------------------------------------------------------
@get("/api/v1/get-tariffs", sync_to_thread=False)
def tariffs(request: Request[Any, Any, Any], backend: BackendDep) -> Response[Any]:
    _, acc = current(request, backend)
    pending = backend.pending_tariff(acc)
    return _ok(
        currentTariff=_tariff(backend.tariff_of(acc)),
        availableTariffs=[_tariff(t) for t in backend.available_tariffs(acc)],
        scheduledTariff=(
            {**_tariff(pending[0]), "dateFrom": pending[1].isoformat()} if pending else None
        ),
    )


@post("/api/v1/change-tariff")
async def change_tariff(request: Request[Any, Any, Any], backend: BackendDep) -> Response[Any]:
    data = await _body(request)
    _, acc = current(request, backend)
    change = backend.change_tariff(acc, _text(data, "tariffId", "Тариф"))
    return _ok(
        f"Тариф «{change.tariff.name}» будет подключён с {change.effective:%d.%m.%Y}",
        tariffPlan=_tariff(change.tariff),
        effectiveDate=change.effective.isoformat(),
    )


def services_of(backend: Backend, acc: Account) -> list[dict[str, Any]]:
    return [
        {
            "id": s.id,
            "name": s.name,
            "cost": _money(s.fee),
            "description": s.description,
            "enabled": enabled,
            "canChange": s.can_toggle,
        }
        for s, enabled in backend.services(acc)
    ]


@get("/api/v1/get-services", sync_to_thread=False)
def services(request: Request[Any, Any, Any], backend: BackendDep) -> Response[Any]:
    _, acc = current(request, backend)
    return _ok(services=services_of(backend, acc))


@post("/api/v1/change-service")
async def change_service(request: Request[Any, Any, Any], backend: BackendDep) -> Response[Any]:
    data = await _body(request)
    _, acc = current(request, backend)
    enabled = data.get("enabled")
    if not isinstance(enabled, bool):
        raise InvalidInput("Поле «enabled»: true или false")
    change = backend.set_service(acc, _text(data, "serviceId", "Услуга"), enabled)
    verb = "подключена" if enabled else "отключена"
    return _ok(f"Услуга «{change.service.name}» {verb}", services=services_of(backend, acc))


# -- payments and autopay -----------------------------------------------------------------
def period(request: Request[Any, Any, Any], backend: Backend) -> tuple[dt.date, dt.date]:
    today = backend.clock.today()
    until = _date(request.query_params.get("dateTo") or today, "dateTo")
    since = _date(
        request.query_params.get("dateFrom") or (until - dt.timedelta(days=90)), "dateFrom"
    )
    if until < since:
        raise InvalidInput("Дата окончания раньше даты начала")
    if (until - since).days > 366:
        raise InvalidInput("Период не может быть длиннее года")
    return since, until


@get("/api/v1/get-payments", sync_to_thread=False)
def payments(request: Request[Any, Any, Any], backend: BackendDep) -> Response[Any]:
    _, acc = current(request, backend)
    since, until = period(request, backend)
    return _ok(
        payments=[
            {
                "id": e.id,
                "date": e.at.isoformat(timespec="seconds"),
                "amount": _money(e.amount),
                "type": _PAYMENT_TYPES.get(e.kind, "PAYMENT"),
                "description": e.description,
            }
            for e in reversed(backend.payments(acc, since, until))
        ]
    )


@get("/api/v1/get-charges", sync_to_thread=False)
def charges(request: Request[Any, Any, Any], backend: BackendDep) -> Response[Any]:
    _, acc = current(request, backend)
    since, until = period(request, backend)
    return _ok(
        charges=[
            {
                "id": e.id,
                "date": e.at.isoformat(timespec="seconds"),
                "amount": _money(-e.amount),
                "description": e.description,
            }
            for e in reversed(backend.ledger(acc, since, until))
            if e.amount < 0
        ]
    )


@post("/api/v1/pay")
async def pay(request: Request[Any, Any, Any], backend: BackendDep) -> Response[Any]:
    data = await _body(request)
    _, acc = current(request, backend)
    entry = backend.top_up(acc, _amount(data, "amount", "Сумма"), "Банковская карта")
    return _ok(
        "Платёж зачислен",
        payment={
            "id": entry.id,
            "date": entry.at.isoformat(timespec="seconds"),
            "amount": _money(entry.amount),
            "type": "PAYMENT",
            "description": entry.description,
        },
        accountBalance=_money(backend.balance(acc)),
    )


def autopay_view(acc: Account) -> dict[str, Any]:
    ap = acc.autopay
    return {
        "enabled": ap.enabled,
        "threshold": _money(ap.threshold) if ap.enabled else None,
        "amount": _money(ap.amount) if ap.enabled else None,
        "cardMask": ap.card_mask,
    }


@get("/api/v1/autopay", sync_to_thread=False)
def autopay(request: Request[Any, Any, Any], backend: BackendDep) -> Response[Any]:
    _, acc = current(request, backend)
    return _ok(autopay=autopay_view(acc))


@post("/api/v1/autopay")
async def set_autopay(request: Request[Any, Any, Any], backend: BackendDep) -> Response[Any]:
    data = await _body(request)
    _, acc = current(request, backend)
    enabled = data.get("enabled")
    if not isinstance(enabled, bool):
        raise InvalidInput("Поле «enabled»: true или false")
    threshold = _amount(data, "threshold", "Порог") if enabled else 0
    amount = _amount(data, "amount", "Сумма") if enabled else 0
    card = _text(data, "cardMask", "Карта", required=False) or acc.autopay.card_mask
    backend.set_autopay(acc, enabled, threshold, amount, card or DEFAULT_CARD)
    text = "Автоплатёж подключён" if enabled else "Автоплатёж отключён"
    return _ok(text, autopay=autopay_view(acc))


# -- promotions and support -----------------------------------------------------------------
@get("/api/v1/get-promotions", sync_to_thread=False)
def promotions(request: Request[Any, Any, Any], backend: BackendDep) -> Response[Any]:
    current(request, backend)
    return _ok(
        promotions=[
            {
                "id": n.id,
                "title": n.title,
                "description": n.text,
                "dateFrom": n.published.isoformat(),
                "type": _NEWS.get(n.kind, "NEWS"),
            }
            for n in backend.news(OPERATOR)
        ]
    )


@get("/api/v1/notifications", sync_to_thread=False)
def notifications(request: Request[Any, Any, Any], backend: BackendDep) -> Response[Any]:
    """Cabinet notices: a block request received, then approved (the article's «оповещение
    о подключении услуги приходит в персональный кабинет»), newest first."""
    _, acc = current(request, backend)
    now = backend.now()
    items = []
    for block in acc.suspensions:
        period = f"с {block.start:%d.%m.%Y} по {block.end:%d.%m.%Y}"
        items.append(
            {
                "id": f"block-{block.id}-requested",
                "date": block.requested_at.isoformat(timespec="seconds"),
                "title": f"Заявка №{block.id} на добровольную блокировку принята",
                "text": f"Блокировка {period} будет установлена после рассмотрения заявки.",
            }
        )
        if block.approve_at <= now and block.cancelled_at is None:
            items.append(
                {
                    "id": f"block-{block.id}-approved",
                    "date": block.approve_at.isoformat(timespec="seconds"),
                    "title": f"Заявка №{block.id} одобрена",
                    "text": f"Добровольная блокировка {period} подключена.",
                }
            )
    items.sort(key=lambda item: item["date"], reverse=True)
    return _ok(notifications=items)


@get("/api/v1/request-topics", sync_to_thread=False)
def topics(request: Request[Any, Any, Any], backend: BackendDep) -> Response[Any]:
    current(request, backend)
    return _ok(topics=[{"id": t.id, "name": t.title} for t in backend.chat_topics(OPERATOR)])


def requests_of(backend: Backend, acc: Account) -> list[dict[str, Any]]:
    titles = {t.id: t.title for t in backend.chat_topics(OPERATOR)}
    by_topic: dict[str, list[Any]] = {}
    for m in backend.chat_history(acc):
        by_topic.setdefault(m.topic_id, []).append(m)
    out = []
    for topic, messages in by_topic.items():
        answered = messages[-1].author != "user"
        out.append(
            {
                "id": f"{acc.number}-{topic}",
                "topic": topic,
                "subject": titles.get(topic, topic),
                "status": "ANSWERED" if answered else "IN_PROGRESS",
                "createdAt": messages[0].sent_at.isoformat(timespec="seconds"),
                "messages": [
                    {
                        "id": m.id,
                        "author": _AUTHORS[m.author],
                        "authorName": m.author_name,
                        "text": m.text,
                        "date": m.sent_at.isoformat(timespec="seconds"),
                    }
                    for m in messages
                ],
            }
        )
    return out


@get("/api/v1/requests", sync_to_thread=False)
def support_requests(request: Request[Any, Any, Any], backend: BackendDep) -> Response[Any]:
    _, acc = current(request, backend)
    return _ok(requests=requests_of(backend, acc))


@post("/api/v1/requests")
async def new_request(request: Request[Any, Any, Any], backend: BackendDep) -> Response[Any]:
    data = await _body(request)
    _, acc = current(request, backend)
    sent = backend.send_chat(acc, _text(data, "topic", "Тема"), _text(data, "text", "Текст"))
    return _ok(
        "Обращение зарегистрировано", messageId=sent[0].id, requests=requests_of(backend, acc)
    )


# -- voluntary block ------------------------------------------------------------------------
def conditions(backend: Backend) -> dict[str, Any]:
    rule = backend.operator(OPERATOR).suspension
    return {
        "freeDays": rule.free_days,
        "dailyFee": _money(rule.daily_fee),
        "maxDays": rule.max_days,
        "minDays": rule.min_days,
        "description": rule.description,
    }


def block_view(backend: Backend, acc: Account) -> dict[str, Any]:
    block = backend.current_suspension(acc)
    if block is None:
        return {"status": "NONE", "dateFrom": None, "dateTo": None, "requestId": None}
    return {
        "status": _BLOCK[block.status(backend.now())],
        "dateFrom": block.start.isoformat(),
        "dateTo": block.last_day.isoformat(),
        "requestId": block.id,
        "requestedAt": block.requested_at.isoformat(timespec="seconds"),
    }


@get("/api/v1/voluntary-block", sync_to_thread=False)
def voluntary_block(request: Request[Any, Any, Any], backend: BackendDep) -> Response[Any]:
    _, acc = current(request, backend)
    return _ok(block=block_view(backend, acc), conditions=conditions(backend))


@post("/api/v1/voluntary-block/calculate")
async def block_calculate(request: Request[Any, Any, Any], backend: BackendDep) -> Response[Any]:
    data = await _body(request)
    _, acc = current(request, backend)
    quote = backend.quote_suspension(
        acc, _date(data.get("dateFrom"), "dateFrom"), _date(data.get("dateTo"), "dateTo")
    )
    return _ok(
        dateFrom=quote.start.isoformat(),
        dateTo=quote.end.isoformat(),
        days=quote.days,
        freeDays=quote.free_days,
        paidDays=quote.paid_days,
        dailyFee=_money(quote.daily_fee),
        totalCost=_money(quote.total),
        conditions=conditions(backend),
    )


@post("/api/v1/voluntary-block")
async def block_request(request: Request[Any, Any, Any], backend: BackendDep) -> Response[Any]:
    data = await _body(request)
    _, acc = current(request, backend)
    if data.get("confirm") is not True:
        raise InvalidInput("Подтвердите стоимость блокировки (confirm: true)")
    block = backend.request_suspension(
        acc, _date(data.get("dateFrom"), "dateFrom"), _date(data.get("dateTo"), "dateTo")
    )
    return _ok(
        f"Заявка на добровольную блокировку №{block.id} принята. Блокировка будет "
        "установлена после рассмотрения заявки, оповещение придёт в личный кабинет",
        block=block_view(backend, acc),
        conditions=conditions(backend),
    )


@post("/api/v1/voluntary-block/cancel")
async def block_cancel(request: Request[Any, Any, Any], backend: BackendDep) -> Response[Any]:
    _, acc = current(request, backend)
    backend.resume(acc)
    return _ok("Добровольная блокировка отменена", block=block_view(backend, acc),
               conditions=conditions(backend))  # fmt: skip


HANDLERS = [
    regions,
    login,
    captcha_challenge,
    change_password,
    recovery,
    recovery_complete,
    logout,
    get_way,
    balance,
    balance_details,
    internet_accounts,
    profile,
    profile_v2,
    tariffs,
    change_tariff,
    services,
    change_service,
    payments,
    charges,
    pay,
    autopay,
    set_autopay,
    promotions,
    notifications,
    topics,
    support_requests,
    new_request,
    voluntary_block,
    block_calculate,
    block_request,
    block_cancel,
]


def router(backend: Backend) -> Router:
    """The dialect's routes; the backend is injected into every handler (a dependency)."""
    return Router(
        path="/",
        route_handlers=HANDLERS,
        dependencies={"backend": Provide(lambda: backend, use_cache=True, sync_to_thread=False)},
        exception_handlers={Exception: error_response},
    )


def error_response(request: Request[Any, Any, Any], exc: Exception) -> Response[Any]:
    """Every error in NetByNet's format (resultCode / resultText), never a traceback."""
    if isinstance(exc, PasswordChangeRequired):
        return _fail("PASSWORD_CHANGE_REQUIRED", exc.message, 403)
    if isinstance(exc, CodeInvalid):
        return _fail("WRONG_CODE", exc.message, 400)
    if isinstance(exc, AuthFailure):
        return _fail("NOT_AUTHORIZED", "Требуется авторизация", 401)
    if isinstance(exc, InvalidInput):
        return _fail("VALIDATION_ERROR", exc.message, 400)
    if isinstance(exc, NotFound):
        return _fail("NOT_FOUND", exc.message, 404)
    if isinstance(exc, Rejected | Forbidden):
        return _fail("OPERATION_REJECTED", exc.message, 409)
    if isinstance(exc, DomainError):
        return _fail("OPERATION_REJECTED", exc.message, 409)
    if isinstance(exc, ValidationException):
        return _fail("VALIDATION_ERROR", "Некорректные параметры запроса", 400)
    if isinstance(exc, HTTPException):
        if exc.status_code == 404:
            return _fail("NOT_FOUND", "Метод не найден", 404)
        if exc.status_code == 405:
            return _fail("VALIDATION_ERROR", "Метод не поддерживается", 405)
        return _fail("VALIDATION_ERROR", "Некорректный запрос", exc.status_code)
    return _fail("INTERNAL_ERROR", "Внутренняя ошибка, попробуйте позже", 500)


def bulk_session(backend: Backend, account: BulkAccount) -> dict[str, Any]:
    """What the netbynet plugin keeps in Session.data for a bulk-created account."""
    backend.sessions[account.token].current_account_id = account.account_id
    return {"cookies": {SESSION_COOKIE: account.token}}
