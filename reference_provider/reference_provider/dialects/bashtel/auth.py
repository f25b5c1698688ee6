"""Bashtel login: the form with its device cookie and captcha, the password login
with the last three digits of the account, the captcha picture, the stylesheet, the logout.
"""

from __future__ import annotations

import secrets
from typing import Any

from litestar import Request, Response, get, post
from litestar.datastructures import Cookie

from ...backend import Backend
from ...domain.errors import (
    AccountLocked,
    CaptchaRequired,
    DomainError,
    InvalidCredentials,
    InvalidInput,
    NotFound,
)
from ...domain.models import Captcha, Subscriber
from .wire import (
    CSRF_COOKIE,
    CSS,
    DEVICE_COOKIE,
    DEVICE_MAX_AGE,
    OPERATOR,
    SESSION_COOKIE,
    BackendDep,
    cookie,
    form,
    posted,
    redirect,
    render,
)

__all__ = ["HANDLERS"]


# -- the device, the captcha -----------------------------------------------------------------
def device_of(
    request: Request[Any, Any, Any], backend: Backend
) -> tuple[str | None, Subscriber | None]:
    """The device id from the cookie, and the subscriber it is remembered for."""
    raw = request.cookies.get(DEVICE_COOKIE) or ""
    device, _, sub_id = raw.partition(".")
    if not device:
        return None, None
    sub = backend.subscribers.get(sub_id) if sub_id else None
    if sub is not None and sub.operator != OPERATOR:
        sub = None
    return device, sub


def failures_gate(backend: Backend, login: str, device: str | None, fields: dict[str, str]) -> None:
    """After failed attempts the cabinet asks for a captcha even on a known device.

    The domain's ``new_device`` policy looks at the device only; this adds Bashtel's rule
    on top: from ``captcha_after`` failures on, the form must carry a solved captcha.
    """
    sub = backend.find_subscriber(OPERATOR, login, "login")
    if sub is None or backend.captcha_needed(sub, device):
        return  # the domain's own gate decides
    if sub.failed_attempts < backend.operator(OPERATOR).captcha_after:
        return
    captcha_id = fields.get("captcha_id")
    if not captcha_id:
        raise CaptchaRequired(backend.new_captcha(OPERATOR))
    if not backend.check_captcha(captcha_id, fields.get("captcha")):
        raise CaptchaRequired(backend.new_captcha(OPERATOR), wrong=True)
    fields.pop("captcha_id", None)  # spent: the domain must not check it again


def captcha_wanted(backend: Backend, sub: Subscriber, device: str) -> bool:
    if backend.captcha_needed(sub, device):
        return True
    return sub.failed_attempts >= backend.operator(OPERATOR).captcha_after


def login_form(
    request: Request[Any, Any, Any],
    backend: Backend,
    *,
    status: int = 200,
    error: DomainError | None = None,
    captcha: Captcha | None = None,
    notice: str | None = None,
    values: dict[str, str] | None = None,
) -> Response[str]:
    device, remembered = device_of(request, backend)
    cookies: list[Cookie] = []
    if device is None:
        device = secrets.token_urlsafe(16)
        cookies.append(cookie(DEVICE_COOKIE, device, DEVICE_MAX_AGE))
    csrf = request.cookies.get(CSRF_COOKIE) or secrets.token_urlsafe(24)
    cookies.append(cookie(CSRF_COOKIE, csrf))
    if captcha is None and (remembered is None or captcha_wanted(backend, remembered, device)):
        captcha = backend.new_captcha(OPERATOR)
    values = values or {}
    response = render(
        "login.html",
        status,
        page="login",
        title="Вход в личный кабинет",
        csrf=csrf,
        notice=notice,
        error=error.message if error else None,
        error_code=error.code if error else "",
        captcha={"id": captcha.id, "width": 160, "height": 60} if captcha else None,
        login_value=values.get("login", ""),
        ls3_value=values.get("ls3", ""),
    )
    response.cookies.extend(cookies)
    return response


# -- login ------------------------------------------------------------------------------
@get("/", sync_to_thread=False)
def root() -> Response[str]:
    return redirect("/cabinet")


@get("/login", sync_to_thread=False)
def login_page(request: Request[Any, Any, Any], backend: BackendDep) -> Response[str]:
    expired = request.query_params.get("expired")
    notice = "Сеанс работы истёк. Войдите заново." if expired else None
    return login_form(request, backend, notice=notice)


@post("/login")
async def login(request: Request[Any, Any, Any], backend: BackendDep) -> Response[str]:
    fields = await form(request)
    values = {"login": fields.get("login", "").strip(), "ls3": fields.get("ls3", "").strip()}
    cookie_csrf = request.cookies.get(CSRF_COOKIE) or ""
    if not cookie_csrf or not secrets.compare_digest(fields.get("csrf_token", ""), cookie_csrf):
        error = DomainError("Срок действия формы истёк. Повторите вход.")
        error.code = "csrf"
        return login_form(request, backend, status=403, error=error, values=values)
    if not values["login"] or not fields.get("password") or not values["ls3"]:
        return login_form(
            request,
            backend,
            status=400,
            error=InvalidInput("Заполните логин, пароль и три цифры лицевого счёта"),
            values=values,
        )
    if not (len(values["ls3"]) == 3 and values["ls3"].isdigit()):
        return login_form(
            request,
            backend,
            status=400,
            error=InvalidInput("Введите три последние цифры номера лицевого счёта"),
            values=values,
        )
    device, _ = device_of(request, backend)
    try:
        failures_gate(backend, values["login"], device, fields)
        result = backend.login_password(
            OPERATOR,
            values["login"],
            fields.get("password", ""),
            kind="login",
            device=device,
            captcha_id=fields.get("captcha_id") or None,
            captcha_answer=fields.get("captcha") if fields.get("captcha_id") else None,
            account_digits=values["ls3"],
        )
    except CaptchaRequired as exc:
        return login_form(
            request, backend, status=401, error=exc, captcha=exc.captcha, values=values
        )
    except (InvalidCredentials, AccountLocked) as exc:
        if isinstance(exc, InvalidCredentials):
            exc = InvalidCredentials(
                "Неверный логин, пароль или номер лицевого счёта"
            )  # fmt: skip
        return login_form(request, backend, status=401, error=exc, values=values)
    session = result.session
    digits = values["ls3"]
    chosen = next(
        (a for a in backend.accounts_of(result.subscriber.id) if a.number.endswith(digits)),
        None,
    )
    if chosen is None:  # pragma: no cover - login_password checked the digits
        raise NotFound("Лицевой счёт не найден")
    session.current_account_id = chosen.id
    session.data["csrf"] = secrets.token_urlsafe(24)
    cookies = [cookie(SESSION_COOKIE, session.token)]
    if device:
        cookies.append(cookie(DEVICE_COOKIE, f"{device}.{result.subscriber.id}", DEVICE_MAX_AGE))
    return redirect("/cabinet", cookies)


@get("/captcha/{name:str}", sync_to_thread=False)
def captcha_image(request: Request[Any, Any, Any], backend: BackendDep) -> Response[bytes]:
    captcha_id = str(request.path_params["name"]).removesuffix(".png")
    try:
        png = backend.captcha(captcha_id).png
    except NotFound:
        return Response(b"", status_code=404, media_type="image/png")
    return Response(png, media_type="image/png", headers={"Cache-Control": "no-store"})


@get("/static/cabinet.css", sync_to_thread=False)
def css() -> Response[bytes]:
    return Response(CSS, media_type="text/css", headers={"Cache-Control": "max-age=3600"})


@post("/logout")
async def logout(request: Request[Any, Any, Any], backend: BackendDep) -> Response[str]:
    cab, _ = await posted(request, backend)
    backend.logout(cab.session.token)
    return redirect("/login", [cookie(SESSION_COOKIE, "", 0)])


HANDLERS = [root, login_page, login, captcha_image, css, logout]
