"""The Rostelecom dialect: the passport (OpenID Connect, realm ``b2c``) and the client-api JSON.

Under ``/rostelecom``::

    passport/auth/realms/b2c/protocol/openid-connect/auth    GET: the login page (HTML), or with
        ?client_id=lk_b2c&redirect_uri&state[&kc_idp_hint]   kc_idp_hint straight to an IdP
    .../login-actions/authenticate?session_code=              GET page, POST tab_type (LOGIN,
                                                              PHONE, EMAIL, LS), username,
                                                              password[, captchaId, captcha]
    .../login-actions/otp-request | otp-verify                a one-time code by SMS or e-mail
    .../login-actions/reset-credentials[/confirm]             password reset (8-20, Aa1)
    .../login-actions/captcha/<id>.png                        the captcha picture
    .../broker/<idp>/login | endpoint                         SSO through /idp/<idp>/ (Госуслуги,
                                                              Т-Банк, VK, Одноклассники, Mail.ru)
    .../protocol/openid-connect/token | logout                codes and refresh tokens
    lk/sso-auth                                               the registered redirect page
    client-api/<method>                                       POST JSON, Authorization: Bearer

A successful login redirects to ``redirect_uri?code=..&state=..``; the token endpoint turns the
code into an access token (short-lived, :data:`ACCESS_TTL` on the billing clock) and a refresh
token, both bound to one domain session: a session the operator drops kills both. The
registered redirect URIs are the ``lk/sso-auth`` page and any http(s) URL on a loopback host
(the aggregator's own callback).

client-api answers JSON; money is **in kopecks** (int). Errors: ``{"isError": true,
"errorCode": ..., "errorMsg": ...}`` with HTTP 200; a lost session answers HTTP 401 with
``isSessionLost: true``. Financial operations (tariff change, a paid service, a payment) answer
``needConfirm`` with a ``confirmId``; ``confirmOperation {confirmId, code}`` runs them.
"""

from __future__ import annotations

import datetime as dt
import secrets
import weakref
from dataclasses import dataclass, field
from pathlib import Path
from typing import TYPE_CHECKING, Any, Literal
from urllib.parse import urlencode, urlsplit

from jinja2 import Environment, FileSystemLoader, select_autoescape
from litestar import Request, Response, Router, get, post, route
from litestar.exceptions import HTTPException
from litestar.params import FromPath
from litestar.response import Redirect

from ..domain.catalogue import SSO_PROVIDERS, SSO_TITLES
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
    Rejected,
    SessionExpired,
)
from ..domain.models import (
    Account,
    Autopay,
    BulkAccount,
    Captcha,
    LedgerEntry,
    ReportFile,
    ServiceChange,
    Session,
    Suspension,
    TariffChange,
    TariffDef,
)

if TYPE_CHECKING:
    from ..backend import Backend

__all__ = ["ACCESS_TTL", "CLIENT_ID", "bulk_session", "error_response", "router"]

OPERATOR = "rostelecom"
CLIENT_ID = "lk_b2c"
REALM = "/passport/auth/realms/b2c"
ACCESS_TTL = dt.timedelta(minutes=10)
CODE_TTL = dt.timedelta(minutes=2)
LOGIN_TTL = dt.timedelta(minutes=30)
DEFAULT_CARD = "220220******4242"
_MAX_PENDING = 20_000

TABS = (("PHONE", "Телефон"), ("EMAIL", "Почта"), ("LOGIN", "Логин"), ("LS", "Лицевой счёт"))
TAB_KIND = {"PHONE": "phone", "EMAIL": "email", "LOGIN": "login", "LS": "account"}
TAB_LABEL = {
    "PHONE": "Номер телефона",
    "EMAIL": "Электронная почта",
    "LOGIN": "Логин",
    "LS": "Номер лицевого счёта (12 цифр)",
}
_STATUS = {
    "active": "CONNECTED",
    "suspended": "VOLUNTARY_BLOCKED",
    "blocked": "BLOCKED",
    "closed": "DISCONNECTED",
}
_BLOCK_STATE = {"requested": "REQUESTED", "scheduled": "SCHEDULED", "active": "ACTIVE"}
_LEDGER_TYPE = {
    "payment": "PAYMENT",
    "charge": "CHARGE",
    "autopay": "AUTOPAY",
    "adjustment": "ADJUSTMENT",
}
_ACCOUNT_METHODS = frozenset(
    {
        "getAccountBalanceV2",
        "getBonusBalance",
        "getAvailableTariffs",
        "changeTariff",
        "getServiceOptions",
        "changeOption",
        "getVoluntaryBlock",
        "getVoluntaryBlockCost",
        "blockServices",
        "unblockServices",
        "getPaymentsHistory",
        "createPayment",
        "getAutopay",
        "setAutopay",
        "orderDetail",
    }
)
_LOOPBACK = {"127.0.0.1", "localhost", "::1", "[::1]"}

_templates = Environment(
    loader=FileSystemLoader(Path(__file__).parent / "templates" / "rostelecom"),
    autoescape=select_autoescape(["html"]),
    auto_reload=False,
)


def _html(name: str, status: int = 200, **context: Any) -> Response[str]:
    return Response(
        _templates.get_template(name).render(**context),
        status_code=status,
        media_type="text/html; charset=utf-8",
        headers={"Cache-Control": "no-store"},
    )


def _message(
    title: str, text: str, status: int = 200, link: str = "", link_text: str = ""
) -> Response[str]:
    return _html("message.html", status, title=title, text=text, link=link, link_text=link_text)


# -- protocol state (codes and tokens; business state stays in the domain) ------------------


@dataclass
class _Login:
    """One login attempt at the passport (Keycloak's "authentication session")."""

    code: str
    redirect_uri: str
    state: str
    nonce: str | None
    expires_at: dt.datetime
    tab: str = "PHONE"
    mode: str = "password"
    username: str = ""
    ticket_id: str | None = None  # a one-time code sent for this login
    channel: str = "sms"
    destination: str = ""
    reset_ticket_id: str | None = None


@dataclass
class _Grant:
    domain_token: str
    redirect_uri: str
    expires_at: dt.datetime


@dataclass
class _Passport:
    logins: dict[str, _Login] = field(default_factory=dict)
    codes: dict[str, _Grant] = field(default_factory=dict)
    access: dict[str, tuple[str, dt.datetime]] = field(default_factory=dict)
    refresh: dict[str, str] = field(default_factory=dict)  # refresh token -> domain token
    broker: dict[str, tuple[str, str]] = field(default_factory=dict)  # state -> (login, idp)
    reports: dict[str, tuple[str, ReportFile]] = field(default_factory=dict)

    @staticmethod
    def _prune(table: dict[str, Any], now: dt.datetime) -> None:
        if len(table) < _MAX_PENDING:
            return
        expired = [k for k, v in table.items() if _expiry(v) <= now]
        for key in expired or list(table)[: len(table) // 2]:
            table.pop(key, None)


#: The protocol state of each backend's passport (one per app), for :func:`bulk_session`.
_PASSPORTS: weakref.WeakKeyDictionary[Backend, _Passport] = weakref.WeakKeyDictionary()


def _expiry(value: Any) -> dt.datetime:
    if isinstance(value, tuple):
        return (
            value[1] if isinstance(value[1], dt.datetime) else dt.datetime.max.replace(tzinfo=MSK)
        )
    when = getattr(value, "expires_at", None)
    return when if isinstance(when, dt.datetime) else dt.datetime.max.replace(tzinfo=MSK)


def _redirect_allowed(uri: str, registered: str) -> bool:
    parts = urlsplit(uri)
    if parts.scheme not in ("http", "https") or not parts.netloc:
        return False
    if uri.split("?")[0].rstrip("/") == registered.rstrip("/"):
        return True
    return (parts.hostname or "") in _LOOPBACK


def _with_query(uri: str, **params: str) -> str:
    sep = "&" if "?" in uri else "?"
    return f"{uri}{sep}{urlencode(params)}"


def _origin(request: Request[Any, Any, Any]) -> str:
    return f"{request.url.scheme}://{request.url.netloc}"


# -- client-api replies ----------------------------------------------------------------------


def _api_ok(**data: Any) -> Response[Any]:
    return Response({"isError": False, **data})


def _api_error(code: str, message: str, status: int = 200, **extra: Any) -> Response[Any]:
    return Response(
        {"isError": True, "errorCode": code, "errorMsg": message, **extra}, status_code=status
    )


def _session_lost(message: str = "Сессия истекла, войдите заново") -> Response[Any]:
    return _api_error("SESSION_LOST", message, 401, isSessionLost=True)


def _render_api_error(exc: DomainError) -> Response[Any]:
    if isinstance(exc, CodeInvalid):
        return _api_error("INVALID_CODE", exc.message)
    if isinstance(exc, AuthFailure):
        return _session_lost(exc.message)
    if isinstance(exc, Forbidden):
        return _api_error("ACCESS_DENIED", exc.message)
    if isinstance(exc, NotFound):
        return _api_error("NOT_FOUND", exc.message)
    if isinstance(exc, Rejected):
        return _api_error("REJECTED", exc.message)
    return _api_error("BAD_REQUEST", exc.message)


def error_response(request: Request[Any, Any, Any], exc: Exception) -> Response[Any]:
    """Errors raised outside a handler (unknown path, wrong method), in Rostelecom's format."""
    status = exc.status_code if isinstance(exc, HTTPException) else 500
    if "/client-api/" in request.url.path:
        if isinstance(exc, DomainError):
            return _render_api_error(exc)
        if status >= 500:
            return _api_error("INTERNAL_ERROR", "Сервис временно недоступен", 500)
        return _api_error(
            "NOT_FOUND" if status in (404, 405) else "BAD_REQUEST",
            "Метод не найден" if status in (404, 405) else "Некорректный запрос",
            status,
        )
    if isinstance(exc, DomainError):
        return _message("Ошибка", exc.message, exc.status)
    if status >= 500:
        return _message("Ошибка", "Сервис временно недоступен, попробуйте позже", 500)
    return _message("Страница не найдена", "Проверьте адрес страницы", status)


def _when(value: dt.datetime) -> str:
    return value.astimezone(MSK).isoformat(timespec="seconds")


# -- the router -----------------------------------------------------------------------------


def _issue_tokens(
    backend: Backend, passport: _Passport, domain_token: str, refresh: str | None = None
) -> dict[str, Any]:
    """An access token (short-lived) and a refresh token, both bound to a domain session."""
    now = backend.now()
    passport._prune(passport.access, now)
    access = secrets.token_urlsafe(32)
    passport.access[access] = (domain_token, now + backend.lifetime(ACCESS_TTL))
    if refresh is None:
        refresh = secrets.token_urlsafe(32)
        passport.refresh[refresh] = domain_token
    session = backend.sessions.get(domain_token)
    refresh_in = backend.real_seconds(session.expires_at - now) if session else 0
    return {
        "access_token": access,
        "refresh_token": refresh,
        "token_type": "Bearer",
        "expires_in": int(ACCESS_TTL.total_seconds()),
        "refresh_expires_in": max(refresh_in, 0),
        "scope": "openid",
    }


def bulk_session(backend: Backend, account: BulkAccount) -> dict[str, Any]:
    """``Session.data`` of the Rostelecom plugin for a bulk-created account (benchmarks)."""
    passport = _PASSPORTS.get(backend)
    if passport is None:
        passport = _PASSPORTS[backend] = _Passport()
    tokens = _issue_tokens(backend, passport, account.token)
    wall = dt.datetime.now(dt.UTC).timestamp()
    return {
        "access_token": tokens["access_token"],
        "refresh_token": tokens["refresh_token"],
        "expires_at": int(wall + tokens["expires_in"]),
    }


def router(backend: Backend) -> Router:
    passport = _PASSPORTS.get(backend)
    if passport is None:
        passport = _PASSPORTS[backend] = _Passport()

    # -- passport helpers ------------------------------------------------------------------
    def realm_url(request: Request[Any, Any, Any], path: str) -> str:
        return f"{_origin(request)}/{OPERATOR}{REALM}{path}"

    def registered_uri(request: Request[Any, Any, Any]) -> str:
        return f"{_origin(request)}/{OPERATOR}/lk/sso-auth"

    def login_of(session_code: str) -> _Login | None:
        login = passport.logins.get(session_code)
        if login is None or backend.now() > login.expires_at:
            passport.logins.pop(session_code, None)
            return None
        return login

    def expired_page(request: Request[Any, Any, Any]) -> Response[str]:
        return _message(
            "Время входа истекло",
            "Страница входа устарела. Вернитесь в личный кабинет и начните заново.",
            400,
            link=registered_uri(request),
            link_text="В личный кабинет",
        )

    def login_page(
        request: Request[Any, Any, Any],
        login: _Login,
        *,
        error: str = "",
        error_code: str = "",
        info: str = "",
        captcha: Captcha | None = None,
        status: int = 200,
    ) -> Response[str]:
        q = urlencode({"session_code": login.code})
        return _html(
            "login.html",
            status,
            page_url=realm_url(request, f"/login-actions/authenticate?{q}"),
            password_action=realm_url(request, f"/login-actions/authenticate?{q}"),
            otp_action=realm_url(request, f"/login-actions/otp-request?{q}"),
            reset_url=realm_url(request, f"/login-actions/reset-credentials?{q}"),
            broker_url=realm_url(request, "/broker"),
            session_code=login.code,
            tabs=TABS,
            tab=login.tab,
            mode=login.mode,
            label=TAB_LABEL[login.tab],
            username=login.username,
            sso=[(p, SSO_TITLES[p]) for p in SSO_PROVIDERS],
            captcha=captcha,
            captcha_url=realm_url(request, f"/login-actions/captcha/{captcha.id}.png")
            if captcha
            else "",
            error=error,
            error_code=error_code,
            info=info,
        )

    def otp_page(
        request: Request[Any, Any, Any], login: _Login, *, error: str = "", status: int = 200
    ) -> Response[str]:
        q = urlencode({"session_code": login.code})
        return _html(
            "otp.html",
            status,
            action=realm_url(request, f"/login-actions/otp-verify?{q}"),
            back_url=realm_url(request, f"/login-actions/authenticate?{q}"),
            destination=login.destination,
            channel=login.channel,
            code_length=backend.operator(OPERATOR).code_length,
            error=error,
            error_code="code_invalid" if error else "",
        )

    def finish(login: _Login, domain_token: str) -> Response[Any]:
        """The login succeeded: a one-time authorization code back to the relying party."""
        passport.logins.pop(login.code, None)
        now = backend.now()
        passport._prune(passport.codes, now)
        code = secrets.token_urlsafe(24)
        passport.codes[code] = _Grant(
            domain_token, login.redirect_uri, now + backend.lifetime(CODE_TTL)
        )
        return Redirect(
            _with_query(
                login.redirect_uri, code=code, state=login.state, session_state=secrets.token_hex(8)
            ),
            status_code=302,
        )

    def auth_error_page(
        request: Request[Any, Any, Any], login: _Login, exc: DomainError
    ) -> Response[str]:
        if isinstance(exc, CaptchaRequired):
            return login_page(
                request,
                login,
                captcha=exc.captcha,
                status=200,
                error=exc.message if exc.wrong else "",
                error_code="captcha_invalid" if exc.wrong else "",
            )
        if isinstance(exc, AccountLocked):
            until = exc.until.astimezone(MSK).strftime("%H:%M")
            return login_page(
                request,
                login,
                error=f"{exc.message}. Попробуйте после {until}",
                error_code="account_locked",
                status=200,
            )
        if isinstance(exc, InvalidCredentials):
            return login_page(
                request,
                login,
                error=exc.message or "Неверный логин или пароль",
                error_code="invalid_credentials",
                status=200,
            )
        if isinstance(exc, Rejected):
            return login_page(request, login, error=exc.message, error_code="rejected")
        return login_page(request, login, error=exc.message, error_code="invalid_input")

    async def form_of(request: Request[Any, Any, Any]) -> dict[str, str]:
        form = await request.form()
        return {k: str(v) for k, v in form.items() if isinstance(v, str)}

    def channel_of(form: dict[str, str]) -> Literal["sms", "email"]:
        channel = form.get("channel", "sms")
        if channel == "sms":
            return "sms"
        if channel == "email":
            return "email"
        raise InvalidInput("Способ доставки: sms или email")

    def username_of(form: dict[str, str], login: _Login) -> tuple[str, str]:
        tab = form.get("tab_type", login.tab).upper()
        if tab not in TAB_KIND:
            raise InvalidInput("Неизвестный способ входа")
        username = form.get("username", "").strip()
        if not username:
            raise InvalidInput("Введите логин")
        if tab == "LS" and not (len(username) == 12 and username.isdigit()):
            raise InvalidCredentials("Лицевой счёт: 12 цифр")
        login.tab, login.username = tab, username[:100]
        return tab, username

    # -- passport: pages -----------------------------------------------------------------------
    @get(REALM + "/protocol/openid-connect/auth", sync_to_thread=False)
    def authorize(request: Request[Any, Any, Any]) -> Response[Any]:
        q = request.query_params
        client_id, redirect_uri = q.get("client_id", ""), q.get("redirect_uri", "")
        if client_id != CLIENT_ID:
            return _message("Ошибка", "Неизвестное приложение (client_id)", 400)
        if not _redirect_allowed(redirect_uri, registered_uri(request)):
            return _message("Ошибка", "Недопустимый адрес возврата (redirect_uri)", 400)
        if q.get("response_type", "code") != "code":
            return _message("Ошибка", "Поддерживается только response_type=code", 400)
        now = backend.now()
        passport._prune(passport.logins, now)
        login = _Login(
            secrets.token_urlsafe(18),
            redirect_uri,
            q.get("state", ""),
            q.get("nonce"),
            now + backend.lifetime(LOGIN_TTL),
        )
        tab = (q.get("tab") or "PHONE").upper()
        login.tab = tab if tab in TAB_KIND else "PHONE"
        passport.logins[login.code] = login
        hint = q.get("kc_idp_hint")
        if hint:
            if hint not in SSO_PROVIDERS:
                return _message("Ошибка", "Неизвестный способ входа", 400)
            return broker_redirect(request, login, hint)
        return login_page(request, login)

    @get(REALM + "/login-actions/authenticate", sync_to_thread=False)
    def login_form(request: Request[Any, Any, Any]) -> Response[Any]:
        login = login_of(request.query_params.get("session_code", ""))
        if login is None:
            return expired_page(request)
        tab = (request.query_params.get("tab") or login.tab).upper()
        login.tab = tab if tab in TAB_KIND else login.tab
        mode = request.query_params.get("mode")
        login.mode = mode if mode in ("password", "otp") else login.mode
        return login_page(request, login)

    @post(REALM + "/login-actions/authenticate", status_code=200)
    async def authenticate(request: Request[Any, Any, Any]) -> Response[Any]:
        login = login_of(request.query_params.get("session_code", ""))
        if login is None:
            return expired_page(request)
        form = await form_of(request)
        login.mode = "password"
        try:
            tab, username = username_of(form, login)
            result = backend.login_password(
                OPERATOR,
                username,
                form.get("password", ""),
                kind=TAB_KIND[tab],
                captcha_id=form.get("captchaId") or None,
                captcha_answer=form.get("captcha") if form.get("captchaId") else None,
            )
        except DomainError as exc:
            return auth_error_page(request, login, exc)
        return finish(login, result.session.token)

    @post(REALM + "/login-actions/otp-request", status_code=200)
    async def otp_request(request: Request[Any, Any, Any]) -> Response[Any]:
        login = login_of(request.query_params.get("session_code", ""))
        if login is None:
            return expired_page(request)
        form = await form_of(request)
        login.mode = "otp"
        try:
            tab, username = username_of(form, login)
            ticket = backend.send_login_code(
                OPERATOR,
                username,
                channel_of(form),
                kind=TAB_KIND[tab],
                captcha_id=form.get("captchaId") or None,
                captcha_answer=form.get("captcha") if form.get("captchaId") else None,
            )
        except DomainError as exc:
            return auth_error_page(request, login, exc)
        login.ticket_id, login.channel = ticket.id, ticket.channel
        login.destination = ticket.masked_destination
        return otp_page(request, login)

    @post(REALM + "/login-actions/otp-verify", status_code=200)
    async def otp_verify(request: Request[Any, Any, Any]) -> Response[Any]:
        login = login_of(request.query_params.get("session_code", ""))
        if login is None or login.ticket_id is None:
            return expired_page(request)
        form = await form_of(request)
        ticket_id = login.ticket_id
        try:
            result = backend.login_code(ticket_id, form.get("code", ""))
        except CodeInvalid as exc:
            if ticket_id in backend.tickets:  # attempts left: ask again
                return otp_page(request, login, error=exc.message)
            login.ticket_id = None
            return login_page(request, login, error=exc.message, error_code="code_invalid")
        except DomainError as exc:
            return auth_error_page(request, login, exc)
        return finish(login, result.session.token)

    @get(REALM + "/login-actions/captcha/{name:str}", sync_to_thread=False)
    def captcha_image(name: FromPath[str]) -> Response[Any]:
        try:
            captcha = backend.captcha(name.removesuffix(".png"))
        except NotFound:
            return Response(b"", status_code=404, media_type="image/png")
        return Response(captcha.png, media_type="image/png", headers={"Cache-Control": "no-store"})

    # -- passport: password reset ---------------------------------------------------------------
    def reset_page(
        request: Request[Any, Any, Any], login: _Login, *, error: str = "", error_code: str = ""
    ) -> Response[str]:
        q = urlencode({"session_code": login.code})
        captcha = backend.new_captcha(OPERATOR)
        return _html(
            "reset.html",
            action=realm_url(request, f"/login-actions/reset-credentials?{q}"),
            back_url=realm_url(request, f"/login-actions/authenticate?{q}"),
            tab=login.tab if login.tab != "LS" else "PHONE",
            username=login.username,
            captcha=captcha,
            captcha_url=realm_url(request, f"/login-actions/captcha/{captcha.id}.png"),
            error=error,
            error_code=error_code,
        )

    @get(REALM + "/login-actions/reset-credentials", sync_to_thread=False)
    def reset_form(request: Request[Any, Any, Any]) -> Response[Any]:
        login = login_of(request.query_params.get("session_code", ""))
        if login is None:
            return expired_page(request)
        return reset_page(request, login)

    @post(REALM + "/login-actions/reset-credentials", status_code=200)
    async def reset_send(request: Request[Any, Any, Any]) -> Response[Any]:
        login = login_of(request.query_params.get("session_code", ""))
        if login is None:
            return expired_page(request)
        form = await form_of(request)
        if not backend.check_captcha(form.get("captchaId"), form.get("captcha")):
            return reset_page(
                request,
                login,
                error="Неверно введены символы с картинки",
                error_code="captcha_invalid",
            )
        try:
            tab, username = username_of(form, login)
            ticket = backend.start_password_reset(
                OPERATOR, username, channel_of(form), kind=TAB_KIND[tab]
            )
        except DomainError as exc:
            return reset_page(request, login, error=exc.message, error_code=exc.code)
        login.reset_ticket_id, login.channel = ticket.id, ticket.channel
        login.destination = ticket.masked_destination
        q = urlencode({"session_code": login.code})
        return _html(
            "reset_confirm.html",
            action=realm_url(request, f"/login-actions/reset-credentials/confirm?{q}"),
            channel=login.channel,
            destination=login.destination,
        )

    @post(REALM + "/login-actions/reset-credentials/confirm", status_code=200)
    async def reset_confirm(request: Request[Any, Any, Any]) -> Response[Any]:
        login = login_of(request.query_params.get("session_code", ""))
        if login is None or login.reset_ticket_id is None:
            return expired_page(request)
        form = await form_of(request)
        q = urlencode({"session_code": login.code})
        action = realm_url(request, f"/login-actions/reset-credentials/confirm?{q}")
        new = form.get("password_new", "")

        def again(message: str, code: str) -> Response[str]:
            return _html(
                "reset_confirm.html",
                action=action,
                channel=login.channel,
                destination=login.destination,
                error=message,
                error_code=code,
            )

        if new != form.get("password_confirm", ""):
            return again("Пароли не совпадают", "password_mismatch")
        try:
            backend.finish_password_reset(login.reset_ticket_id, form.get("code", ""), new)
        except CodeInvalid as exc:
            if login.reset_ticket_id in backend.tickets:
                return again(exc.message, "code_invalid")
            login.reset_ticket_id = None
            return reset_page(request, login, error=exc.message, error_code="code_invalid")
        except DomainError as exc:
            return again(exc.message, "password_policy")
        login.reset_ticket_id = None
        login.mode = "password"
        return login_page(request, login, info="Пароль изменён. Войдите с новым паролем.")

    # -- passport: SSO broker -------------------------------------------------------------------
    def broker_redirect(request: Request[Any, Any, Any], login: _Login, idp: str) -> Response[Any]:
        state = secrets.token_urlsafe(18)
        passport._prune(passport.broker, backend.now())
        passport.broker[state] = (login.code, idp)
        query = urlencode(
            {
                "client_id": CLIENT_ID,
                "redirect_uri": realm_url(request, f"/broker/{idp}/endpoint"),
                "state": state,
                "scope": "openid",
                "response_type": "code",
            }
        )
        return Redirect(f"{_origin(request)}/idp/{idp}/authorize?{query}", status_code=302)

    @get(REALM + "/broker/{idp:str}/login", sync_to_thread=False)
    def broker_login(idp: FromPath[str], request: Request[Any, Any, Any]) -> Response[Any]:
        login = login_of(request.query_params.get("session_code", ""))
        if login is None:
            return expired_page(request)
        if idp not in SSO_PROVIDERS:
            return _message("Ошибка", "Неизвестный способ входа", 404)
        return broker_redirect(request, login, idp)

    @get(REALM + "/broker/{idp:str}/endpoint", sync_to_thread=False)
    def broker_endpoint(idp: FromPath[str], request: Request[Any, Any, Any]) -> Response[Any]:
        q = request.query_params
        entry = passport.broker.pop(q.get("state", ""), None)
        login = login_of(entry[0]) if entry else None
        if entry is None or login is None or entry[1] != idp:
            return expired_page(request)
        if q.get("error"):
            passport.logins.pop(login.code, None)
            return Redirect(
                _with_query(
                    login.redirect_uri,
                    error="access_denied",
                    error_description="Вход отменён",
                    state=login.state,
                ),
                status_code=302,
            )
        try:
            tokens = backend.idp_exchange_code(
                idp, q.get("code", ""), CLIENT_ID, realm_url(request, f"/broker/{idp}/endpoint")
            )
            identity = backend.idp_userinfo(tokens.access_token)
            result = backend.login_idp(OPERATOR, idp, identity.subject)
        except DomainError as exc:
            passport.logins.pop(login.code, None)
            return Redirect(
                _with_query(
                    login.redirect_uri,
                    error="access_denied",
                    error_description=exc.message,
                    state=login.state,
                ),
                status_code=302,
            )
        return finish(login, result.session.token)

    # -- passport: tokens -------------------------------------------------------------------------
    def issue_tokens(domain_token: str, refresh: str | None = None) -> dict[str, Any]:
        return _issue_tokens(backend, passport, domain_token, refresh)

    def oauth_error(error: str, description: str = "", status: int = 400) -> Response[Any]:
        return Response(
            {"error": error, "error_description": description},
            status_code=status,
            headers={"Cache-Control": "no-store"},
        )

    @post(REALM + "/protocol/openid-connect/token", status_code=200)
    async def token(request: Request[Any, Any, Any]) -> Response[Any]:
        form = await form_of(request)
        if form.get("client_id") != CLIENT_ID:
            return oauth_error("invalid_client", "Неизвестное приложение", 401)
        grant = form.get("grant_type")
        if grant == "authorization_code":
            entry = passport.codes.pop(form.get("code", ""), None)
            if (
                entry is None
                or backend.now() > entry.expires_at
                or form.get("redirect_uri", entry.redirect_uri) != entry.redirect_uri
            ):
                return oauth_error("invalid_grant", "Код недействителен")
            return Response(issue_tokens(entry.domain_token), headers={"Cache-Control": "no-store"})
        if grant == "refresh_token":
            refresh = form.get("refresh_token", "")
            domain_token = passport.refresh.get(refresh)
            try:
                backend.session(domain_token, operator=OPERATOR)
            except DomainError:
                passport.refresh.pop(refresh, None)
                return oauth_error("invalid_grant", "Сессия завершена")
            assert domain_token is not None
            return Response(
                issue_tokens(domain_token, refresh), headers={"Cache-Control": "no-store"}
            )
        return oauth_error("unsupported_grant_type")

    @post(REALM + "/protocol/openid-connect/logout", status_code=204)
    async def logout(request: Request[Any, Any, Any]) -> None:
        form = await form_of(request)
        domain_token = passport.refresh.pop(form.get("refresh_token", ""), None)
        if domain_token:
            backend.logout(domain_token)

    @get("/lk/sso-auth", sync_to_thread=False)
    def lk_callback(request: Request[Any, Any, Any]) -> Response[Any]:
        """The registered redirect page. It never spends the code: the application does."""
        if request.query_params.get("error"):
            return _message("Вход не выполнен", "Вход отменён или не удался.", 400)
        if not request.query_params.get("code"):
            return _message("Личный кабинет", "Войдите через Ростелеком ID.")
        return _message(
            "Вход выполнен", "Вход подтверждён. Вернитесь в приложение, чтобы продолжить."
        )

    # -- client-api -------------------------------------------------------------------------------
    def api_session(request: Request[Any, Any, Any]) -> Session:
        auth = request.headers.get("authorization", "")
        token = auth[7:].strip() if auth[:7].lower() == "bearer " else ""
        entry = passport.access.get(token)
        if entry is None:
            raise SessionExpired()
        domain_token, expires_at = entry
        if backend.now() >= expires_at:
            passport.access.pop(token, None)
            raise SessionExpired("Срок действия токена истёк")
        return backend.session(domain_token, operator=OPERATOR)

    def account_of(session: Session, body: dict[str, Any]) -> Account:
        ref = body.get("accountId")
        if isinstance(ref, bool) or not isinstance(ref, int | str) or ref == "":
            raise InvalidInput("Не указан лицевой счёт (accountId)")
        text = str(ref)
        acc_id = text if text.startswith("acc-") else f"acc-{text}"
        return backend.touch(backend.account_for(session, acc_id))

    def account_by_service(session: Session, body: dict[str, Any]) -> Account:
        if body.get("accountId") not in (None, ""):
            return account_of(session, body)
        service_id = str(body.get("serviceId") or "")
        acc_id = service_id.rsplit("-", 1)[0] if service_id.count("-") >= 2 else ""
        if not acc_id:
            raise InvalidInput("Не указана услуга (serviceId)")
        acc = backend.account_for(session, acc_id)
        if not any(p.id == service_id for p in acc.products):
            raise NotFound("Услуга не найдена")
        return backend.touch(acc)

    def account_id(acc: Account) -> int:
        return int(acc.id.removeprefix("acc-"))

    def date_of(body: dict[str, Any], name: str) -> dt.date:
        value = body.get(name)
        try:
            return dt.date.fromisoformat(str(value)[:10])
        except ValueError:
            raise InvalidInput(f"{name}: дата в формате ГГГГ-ММ-ДД") from None

    def kopecks_of(body: dict[str, Any], name: str, default: int | None = None) -> int:
        value = body.get(name, default)
        if isinstance(value, bool) or not isinstance(value, int):
            raise InvalidInput(f"{name}: сумма в копейках, целое число")
        return value

    def tariff_block(t: TariffDef) -> dict[str, Any]:
        return {
            "tariffId": t.id,
            "name": t.name,
            "cost": t.fee,
            "period": "month",
            "description": t.description,
        }

    def option_block(acc: Account, service_id: str) -> dict[str, Any]:
        for svc, on in backend.services(acc):
            if svc.id == service_id:
                return {
                    "optionId": svc.id,
                    "name": svc.name,
                    "cost": svc.fee,
                    "period": "month",
                    "isActive": on,
                    "canChange": svc.can_toggle,
                    "isPaid": svc.fee > 0,
                    "description": svc.description,
                }
        raise NotFound("Услуга не найдена")

    def autopay_block(acc: Account) -> dict[str, Any]:
        ap = acc.autopay
        return {
            "enabled": ap.enabled,
            "threshold": ap.threshold if ap.enabled else None,
            "amount": ap.amount if ap.enabled else None,
            "cardMask": ap.card_mask,
        }

    def block_info(acc: Account) -> dict[str, Any]:
        rule = backend.operator(OPERATOR).suspension
        block = backend.current_suspension(acc)
        data: dict[str, Any] = {
            "block": None,
            "rule": {
                "freeDays": rule.free_days,
                "dailyFee": rule.daily_fee,
                "maxDays": rule.max_days,
                "minDays": rule.min_days,
                "description": rule.description,
            },
        }
        if block is not None:
            data["block"] = {
                "state": _BLOCK_STATE[block.status(backend.now())],
                "startDate": block.start.isoformat(),
                "endDate": block.last_day.isoformat(),
            }
        return data

    def confirm_reply(ticket_id: str, masked: str) -> Response[Any]:
        return _api_ok(
            needConfirm=True,
            confirmId=ticket_id,
            maskedPhone=masked,
            codeLength=backend.operator(OPERATOR).code_length,
        )

    def operation_reply(result: Any, operation: str, acc: Account) -> dict[str, Any]:
        if isinstance(result, TariffChange):
            return {
                "operation": operation,
                "message": f"Тариф «{result.tariff.name}» будет "
                f"подключён с {result.effective:%d.%m.%Y}",
                "effectiveDate": result.effective.isoformat(),
            }
        if isinstance(result, ServiceChange):
            return {
                "operation": operation,
                "message": f"Услуга «{result.service.name}» "
                + ("подключена" if result.enabled else "отключена"),
                "effectiveDate": result.effective.isoformat(),
                "option": option_block(acc, result.service.id),
            }
        if isinstance(result, LedgerEntry):
            return {
                "operation": operation,
                "message": "Платёж зачислен",
                "effectiveDate": result.at.date().isoformat(),
                "paymentId": str(result.id),
                "balance": backend.balance(acc),
            }
        if isinstance(result, Suspension):
            return {
                "operation": operation,
                "message": "Блокировка оформлена",
                "effectiveDate": result.start.isoformat(),
            }
        if isinstance(result, Autopay):
            return {"operation": operation, "message": "Автоплатёж настроен"}
        return {"operation": operation, "message": "Операция выполнена"}

    def start_or_run(
        session: Session, acc: Account, operation: str, params: dict[str, Any]
    ) -> Response[Any]:
        if backend.needs_confirmation(acc, operation, params):
            ticket = backend.start_operation(session, acc, operation, params)
            return confirm_reply(ticket.id, ticket.masked_destination)
        result = backend.run_operation(acc, operation, params)
        return _api_ok(**operation_reply(result, operation, acc))

    async def body_of(request: Request[Any, Any, Any]) -> dict[str, Any]:
        raw = await request.body()
        if not raw.strip():
            return {}
        try:
            data = await request.json()
        except Exception:
            raise InvalidInput("Тело запроса не JSON") from None
        if not isinstance(data, dict):
            raise InvalidInput("Тело запроса должно быть объектом")
        return data

    def api(session: Session, method: str, body: dict[str, Any]) -> Response[Any]:
        """One client-api method; the dispatch table of the dialect."""
        if method == "checkSession":
            return _api_ok(isSessionLost=False)
        if method == "getAccounts":
            return _api_ok(
                accounts=[
                    {
                        "accountId": account_id(acc),
                        "number": acc.number,
                        "name": acc.label,
                        "address": acc.address,
                        "services": [
                            {"serviceId": p.id, "type": p.type, "name": p.name}
                            for p in acc.products
                        ],
                    }
                    for acc in backend.accounts_of(session.subscriber_id)
                    if not acc.closed
                ]
            )
        if method == "getProfile":
            sub = backend.subscriber(session.subscriber_id)
            return _api_ok(
                profile={
                    "fullName": sub.full_name,
                    "phone": sub.phone,
                    "email": sub.email,
                    "login": sub.login,
                }
            )
        if method == "getPromotions":
            return _api_ok(
                promotions=[
                    {
                        "id": n.id,
                        "title": n.title,
                        "text": n.text,
                        "date": n.published.isoformat(),
                        "kind": n.kind,
                    }
                    for n in backend.news(OPERATOR)
                ]
            )
        if method in ("getNotificationSettings", "setNotificationSettings"):
            sub = backend.subscriber(session.subscriber_id)
            if method == "setNotificationSettings":
                channels = body.get("channels")
                if not isinstance(channels, dict) or not all(
                    k in ("SMS", "PUSH", "EMAIL") and isinstance(v, bool)
                    for k, v in channels.items()
                ):
                    raise InvalidInput("channels: {SMS, PUSH, EMAIL: true|false}")
                for k, v in channels.items():
                    sub.notifications[k.lower()] = v
            return _api_ok(channels={k.upper(): v for k, v in sub.notifications.items()})
        if method == "confirmOperation":
            confirm_id = str(body.get("confirmId") or "")
            ticket = backend.tickets.get(confirm_id)
            if ticket is None or ticket.subscriber_id != session.subscriber_id:
                raise NotFound("Операция не найдена или устарела")
            try:
                result = backend.confirm_operation(session, confirm_id, str(body.get("code", "")))
            except CodeInvalid as exc:
                left = 0
                if confirm_id in backend.tickets:
                    left = backend.operator(OPERATOR).code_attempts - ticket.attempts
                return _api_error("INVALID_CODE", exc.message, attemptsLeft=left)
            acc = backend.account(ticket.account_id or "")
            return _api_ok(**operation_reply(result, ticket.purpose, acc))
        if method in ("getServiceInfo", "getServiceTariffName"):
            acc = account_by_service(session, body)
            if method == "getServiceInfo":
                status = backend.status(acc)
                block = backend.current_suspension(acc) if status == "suspended" else None
                service = str(body.get("serviceId") or (acc.products[0].id if acc.products else ""))
                return _api_ok(
                    serviceId=service,
                    status=_STATUS[status],
                    voluntaryBlockEndDate=block.last_day.isoformat() if block else None,
                    tariffName=backend.tariff_of(acc).name,
                )
            tariff = backend.tariff_of(acc)
            reply: dict[str, Any] = {
                "tariffName": tariff.name,
                "tariffId": tariff.id,
                "cost": tariff.fee,
                "description": tariff.description,
            }
            pending = backend.pending_tariff(acc)
            if pending is not None:
                reply["pendingTariff"] = {
                    **tariff_block(pending[0]),
                    "effectiveDate": pending[1].isoformat(),
                }
            return _api_ok(**reply)

        if method not in _ACCOUNT_METHODS:
            raise NotFound(f"Метод {method[:60]} не найден")
        acc = account_of(session, body)
        if method == "getAccountBalanceV2":
            due, amount = backend.next_payment(acc)
            return _api_ok(
                balance=backend.balance(acc),
                currency="RUB",
                creditLimit=acc.credit_limit,
                nextChargeDate=due.isoformat(),
                nextChargeAmount=amount,
            )
        if method == "getBonusBalance":
            return _api_ok(bonusBalance=acc.bonus)
        if method == "getAvailableTariffs":
            return _api_ok(tariffs=[tariff_block(t) for t in backend.available_tariffs(acc)])
        if method == "changeTariff":
            return start_or_run(
                session, acc, "change_tariff", {"tariff_id": str(body.get("tariffId") or "")}
            )
        if method == "getServiceOptions":
            return _api_ok(options=[option_block(acc, s.id) for s, _ in backend.services(acc)])
        if method == "changeOption":
            enabled = body.get("enabled")
            if not isinstance(enabled, bool):
                raise InvalidInput("enabled: true или false")
            return start_or_run(
                session,
                acc,
                "set_service",
                {"service_id": str(body.get("optionId") or ""), "enabled": enabled},
            )
        if method == "getVoluntaryBlock":
            return _api_ok(**block_info(acc))
        if method == "getVoluntaryBlockCost":
            q = backend.quote_suspension(acc, date_of(body, "startDate"), date_of(body, "endDate"))
            info = block_info(acc)
            return _api_ok(
                startDate=q.start.isoformat(),
                endDate=q.end.isoformat(),
                days=q.days,
                freeDays=q.free_days,
                paidDays=q.paid_days,
                total=q.total,
                rule=info["rule"],
            )
        if method == "blockServices":
            backend.request_suspension(acc, date_of(body, "startDate"), date_of(body, "endDate"))
            return _api_ok(**block_info(acc))
        if method == "unblockServices":
            backend.resume(acc)
            return _api_ok(**block_info(acc))
        if method == "getPaymentsHistory":
            since, until = date_of(body, "dateFrom"), date_of(body, "dateTo")
            if until < since:
                raise InvalidInput("Дата окончания раньше даты начала")
            return _api_ok(
                payments=[
                    {
                        "paymentId": e.id,
                        "date": _when(e.at),
                        "amount": e.amount,
                        "type": _LEDGER_TYPE[e.kind],
                        "description": e.description,
                    }
                    for e in reversed(backend.ledger(acc, since, until))
                ]
            )
        if method == "createPayment":
            return start_or_run(session, acc, "top_up", {"amount": kopecks_of(body, "amount")})
        if method == "getAutopay":
            return _api_ok(autopay=autopay_block(acc))
        if method == "setAutopay":
            enabled = body.get("enabled")
            if not isinstance(enabled, bool):
                raise InvalidInput("enabled: true или false")
            card = body.get("cardMask") or acc.autopay.card_mask or DEFAULT_CARD
            backend.set_autopay(
                acc,
                enabled,
                kopecks_of(body, "threshold", 0),
                kopecks_of(body, "amount", 0),
                str(card),
            )
            return _api_ok(autopay=autopay_block(acc))
        if method == "orderDetail":
            fmt = str(body.get("format", "")).upper()
            if fmt not in ("PDF", "XLS", "XLSX"):
                raise InvalidInput("format: PDF или XLS")
            report = backend.report(
                acc,
                date_of(body, "dateFrom"),
                date_of(body, "dateTo"),
                "pdf" if fmt == "PDF" else "xlsx",
            )
            if len(passport.reports) > 1000:
                passport.reports.pop(next(iter(passport.reports)))
            report_id = secrets.token_urlsafe(12)
            passport.reports[report_id] = (session.subscriber_id, report)
            return _api_ok(reportId=report_id, fileName=report.filename)
        raise NotFound(f"Метод {method[:60]} не найден")

    @post("/client-api/{method:str}", status_code=200)
    async def client_api(method: FromPath[str], request: Request[Any, Any, Any]) -> Response[Any]:
        try:
            session = api_session(request)
        except DomainError as exc:
            if method == "checkSession":
                return _api_ok(isSessionLost=True)
            return _render_api_error(exc)
        try:
            return api(session, method, await body_of(request))
        except DomainError as exc:
            return _render_api_error(exc)

    @route("/client-api/downloadDetail", http_method=["GET"], sync_to_thread=False)
    def download_detail(request: Request[Any, Any, Any]) -> Response[Any]:
        try:
            session = api_session(request)
        except DomainError as exc:
            return _render_api_error(exc)
        entry = passport.reports.get(request.query_params.get("reportId", ""))
        if entry is None or entry[0] != session.subscriber_id:
            return _api_error("NOT_FOUND", "Отчёт не найден или устарел", 404)
        report = entry[1]
        return Response(
            report.content,
            media_type=report.media_type,
            headers={"Content-Disposition": f'attachment; filename="{report.filename}"'},
        )

    return Router(
        path="/",
        route_handlers=[
            authorize,
            login_form,
            authenticate,
            otp_request,
            otp_verify,
            captcha_image,
            reset_form,
            reset_send,
            reset_confirm,
            broker_login,
            broker_endpoint,
            token,
            logout,
            lk_callback,
            client_api,
            download_detail,
        ],
        exception_handlers={HTTPException: error_response, Exception: error_response},
        tags=["rostelecom"],
    )
