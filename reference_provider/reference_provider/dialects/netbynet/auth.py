"""NetByNet login: the login page's first question, the password login with its captcha, the
password change and recovery, and the logout. Handlers get the backend injected.

Citations (repository, path, line) are in ``reference_provider/DIALECTS.md`` (NetByNet).
"""

from __future__ import annotations

from typing import Any

from litestar import Request, Response, get, post, route

from ...domain.catalogue import REGIONS_NETBYNET
from ...domain.clock import MSK
from ...domain.errors import (
    AccountLocked,
    CaptchaRequired,
    InvalidCredentials,
    InvalidInput,
    NotFound,
)
from ...domain.state import normalise_phone
from .wire import (
    CAPTCHA_COOKIE,
    DEVICE_COOKIE,
    OPERATOR,
    SESSION_COOKIE,
    BackendDep,
    body_of,
    cookie,
    device_of,
    fail,
    ok,
    session_token,
    text_field,
)

__all__ = ["HANDLERS"]


# -- login ------------------------------------------------------------------------------
@get("/api/v1/get-regions", sync_to_thread=False)
def regions() -> Response[Any]:
    return ok(regions=[{"id": k, "name": v} for k, v in REGIONS_NETBYNET.items()])


@post("/api/v3/login")
async def login(request: Request[Any, Any, Any], backend: BackendDep) -> Response[Any]:
    data = await body_of(request)
    contract = text_field(data, "login", "Номер договора")
    password = text_field(data, "password", "Пароль")
    code = text_field(data, "captchaCode", "Код с картинки", required=False)
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
        return fail(
            key,
            exc.message if exc.wrong else "Повторите с использованием проверочного кода.",
            captcha=True,
            cookies=[cookie(CAPTCHA_COOKIE, exc.captcha.id)],
        )
    except AccountLocked as exc:
        until = exc.until.astimezone(MSK).strftime("%H:%M")
        return fail("ACCOUNT_LOCKED", f"Вход заблокирован до {until} после неудачных попыток",
                     captcha=False)  # fmt: skip
    except InvalidCredentials:
        again = sub is not None and backend.captcha_needed(sub, device)
        return fail(
            "INVALID_CREDENTIALS",
            "Убедитесь, что вводите корректный номер Лицевого счета / Номер телефона или "
            "проверьте правильность ввода пароля.",
            captcha=again,
        )
    session = result.session
    acc = backend.accounts_of(result.subscriber.id)[0]
    session.current_account_id = acc.id
    cookies = [cookie(SESSION_COOKIE, f'"{session.token}"'), cookie(CAPTCHA_COOKIE, "", 0)]
    if device and not request.headers.get("x-device-id"):
        cookies.append(cookie(DEVICE_COOKIE, device, 180 * 24 * 3600))
    if result.must_change_password:
        return ok(cookies=cookies, needChangePassword=True)
    return ok(cookies=cookies)


@get("/api/v2/captcha-challenge", sync_to_thread=False)
def captcha_challenge(request: Request[Any, Any, Any], backend: BackendDep) -> Response[Any]:
    refresh = request.query_params.get("refresh") in ("1", "true")
    captcha = backend.captchas.get(request.cookies.get(CAPTCHA_COOKIE) or "")
    if captcha is None or refresh:
        captcha = backend.new_captcha(OPERATOR)
    return Response(
        captcha.png,
        media_type="image/png",
        cookies=[cookie(CAPTCHA_COOKIE, captcha.id)],
        headers={"Cache-Control": "no-store"},
    )


@post("/api/v1/change-password")
async def change_password(request: Request[Any, Any, Any], backend: BackendDep) -> Response[Any]:
    data = await body_of(request)
    session = backend.session(session_token(request), operator=OPERATOR, allow_restricted=True)
    backend.change_password(
        session,
        text_field(data, "oldPassword", "Текущий пароль"),
        text_field(data, "newPassword", "Новый пароль"),
    )
    return ok("Пароль изменён")


@post("/api/v1/password-recovery")
async def recovery(request: Request[Any, Any, Any], backend: BackendDep) -> Response[Any]:
    data = await body_of(request)
    region = text_field(data, "region", "Регион")
    phone = normalise_phone(text_field(data, "phone", "Телефон"))
    number = text_field(data, "accountNumber", "Номер лицевого счёта")
    channel = text_field(data, "channel", "Способ получения") or "sms"
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
    return ok(
        f"Инструкция по восстановлению пароля отправлена {where}: {ticket.masked_destination}",
        requestId=ticket.id,
        channel=channel,
        destination=ticket.masked_destination,
    )


@post("/api/v1/password-recovery/complete")
async def recovery_complete(request: Request[Any, Any, Any], backend: BackendDep) -> Response[Any]:
    data = await body_of(request)
    backend.finish_password_reset(
        text_field(data, "requestId", "Номер заявки"),
        text_field(data, "code", "Код"),
        text_field(data, "newPassword", "Новый пароль"),
    )
    return ok("Пароль изменён. Войдите с новым паролем")


@route(["/api/v1/logout", "/logout"], http_method=["GET", "POST"])
async def logout(request: Request[Any, Any, Any], backend: BackendDep) -> Response[Any]:
    token = session_token(request)
    if token:
        backend.logout(token)
    return ok("Сеанс завершён", cookies=[cookie(SESSION_COOKIE, "", 0)])


# -- balance and account ------------------------------------------------------------------
@get("/api/v1/get-way", sync_to_thread=False)
def get_way(request: Request[Any, Any, Any], backend: BackendDep) -> Response[Any]:
    """What the login page asks first (AnyBalance main.js line 94); the reply is assumed."""
    number = (request.query_params.get("accountNumber") or "").strip()
    if not number.isdigit():
        raise InvalidInput("Номер договора состоит из цифр")
    return ok(way="PASSWORD", captcha=False)


HANDLERS = [
    regions,
    login,
    captcha_challenge,
    change_password,
    recovery,
    recovery_complete,
    logout,
    get_way,
]
