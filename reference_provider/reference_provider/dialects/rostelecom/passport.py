"""The passport host (``b2c.passport.rt.ru``): Keycloak realm ``b2c``, client ``lk_b2c``.

Under the dialect's ``passport`` root (see DIALECTS.md for the provenance of each piece)::

    GET  auth/realms/b2c/protocol/openid-connect/auth   the anti-robot page first (JavaScript
         ?response_type=code&client_id=lk_b2c            sets a cookie and reloads), then the
         &redirect_uri&state[&kc_idp_hint]               first screen; with kc_idp_hint the IdP
    POST .../login-actions/authenticate?session_code=   standard_auth_btn -> the password form;
                                                         otp_get_code + address -> a code is
                                                         sent; tab_type, username, password,
                                                         rememberMe[, captcha_id, code] -> login
    POST .../login-actions/otp-verify?session_code=     code -> login
    GET  .../login-actions/captcha/<captchaId>          the captcha picture (captchaUrl/id)
    GET|POST .../login-actions/reset-credentials[/confirm]   password reset (8-20, Aa1)
    GET  .../broker/<idp>/login | endpoint              SSO through /idp/<idp>/

Every page carries its form as data: ``mergeConfig({...})`` (the action URL, ``captchaId``,
``captchaUrl``, the tabs) and ``window.__config__ = {message: {summary}}`` for errors; the page's
JavaScript builds the form from it. A login ends with ``302 redirect_uri?state=..&code=..``;
the cabinet's ``sso-auth`` page spends the code (see :mod:`.lk`).
"""

from __future__ import annotations

import datetime as dt
import json
import secrets
from typing import TYPE_CHECKING, Any, Literal
from urllib.parse import urlencode

from litestar import Request, Response, Router, get, post
from litestar.params import FromPath
from litestar.response import Redirect

from ...domain.catalogue import SSO_PROVIDERS, SSO_TITLES
from ...domain.clock import MSK
from ...domain.errors import (
    AccountLocked,
    CaptchaRequired,
    CodeInvalid,
    DomainError,
    InvalidCredentials,
    InvalidInput,
    NotFound,
    Rejected,
)
from .shared import (
    BOT_COOKIE,
    CLIENT_ID,
    CODE_TTL,
    DEVICE_COOKIE,
    LOGIN_TTL,
    OPERATOR,
    REALM,
    Grant,
    Login,
    State,
    cookie_path,
    html,
    message,
    origin,
    redirect_allowed,
    root_of,
    with_query,
)

if TYPE_CHECKING:
    from ...backend import Backend

__all__ = ["Passport"]

#: The identifier tabs of the password form: tab_type, the tab's data-tab, its label.
TABS = (
    ("PHONE", "phone", "Телефон"),
    ("EMAIL", "mail", "Почта"),
    ("LOGIN", "login", "Логин"),
    ("LS", "ls", "Лицевой счёт"),
)
TAB_KIND = {"PHONE": "phone", "EMAIL": "email", "LOGIN": "login", "LS": "account"}
TAB_LABEL = {
    "PHONE": "Мобильный телефон",
    "EMAIL": "Электронная почта",
    "LOGIN": "Логин",
    "LS": "Лицевой счёт",
}
BOT_TTL_S = 86_400
DEVICE_TTL_S = 180 * 86_400


def _script_json(value: Any) -> str:
    """JSON safe inside a ``<script>`` element."""
    return (
        json.dumps(value, ensure_ascii=False)
        .replace("<", "\\u003c")
        .replace(">", "\\u003e")
        .replace("&", "\\u0026")
    )


class Passport:
    """The passport's routes over one backend and the dialect's protocol state."""

    def __init__(self, backend: Backend, state: State) -> None:
        self.backend = backend
        self.state = state

    # -- helpers -----------------------------------------------------------------------------
    def realm_url(self, request: Request[Any, Any, Any], path: str) -> str:
        return f"{root_of(request, 'passport')}{REALM}{path}"

    @staticmethod
    def registered_uri(request: Request[Any, Any, Any]) -> str:
        return f"{root_of(request, 'lk')}/sso-auth/"

    def login_of(self, session_code: str) -> Login | None:
        login = self.state.logins.get(session_code)
        if login is None or self.backend.now() > login.expires_at:
            self.state.logins.pop(session_code, None)
            return None
        return login

    def expired_page(self, request: Request[Any, Any, Any]) -> Response[str]:
        return message(
            "Время входа истекло",
            "Страница входа устарела. Вернитесь в личный кабинет и начните заново.",
            400,
            link=f"{root_of(request, 'lk')}/",
            link_text="В личный кабинет",
        )

    def bot_check(self, request: Request[Any, Any, Any]) -> Response[str] | None:
        """The anti-robot page unless the browser ran its script (cookie) already."""
        now = self.backend.now()
        passed = self.state.bot_nonces.get(request.cookies.get(BOT_COOKIE, ""))
        if passed is not None and passed > now:
            return None
        self.state.prune(self.state.bot_nonces, now)
        nonce = secrets.token_hex(12)
        self.state.bot_nonces[nonce[::-1]] = now + self.backend.lifetime(
            dt.timedelta(seconds=BOT_TTL_S)
        )
        return html(
            "bot_check.html",
            nonce=nonce,
            cookie=BOT_COOKIE,
            path=cookie_path(request, "passport"),
            max_age=BOT_TTL_S,
        )

    def page(
        self,
        request: Request[Any, Any, Any],
        login: Login,
        *,
        error: str = "",
        error_code: str = "",
        info: str = "",
        captcha_id: str | None = None,
    ) -> Response[str]:
        """A passport screen: its form as ``mergeConfig`` data, built by the page's script."""
        q = urlencode({"session_code": login.code})
        login.captcha_id = captcha_id
        config: dict[str, Any] = {
            "step": login.step,
            "url": {
                "loginAction": self.realm_url(request, f"/login-actions/authenticate?{q}"),
                "otpAction": self.realm_url(request, f"/login-actions/otp-verify?{q}"),
                "startPage": self.realm_url(request, f"/login-actions/authenticate?{q}&step=start"),
                "passwordPage": self.realm_url(
                    request, f"/login-actions/authenticate?{q}&step=password"
                ),
                "resetCredentials": self.realm_url(
                    request, f"/login-actions/reset-credentials?{q}"
                ),
            },
            "captchaId": captcha_id,
            "captchaUrl": self.realm_url(request, "/login-actions/captcha") if captcha_id else None,
            "tabs": [{"type": t, "dataTab": d, "title": title} for t, d, title in TABS],
            "tab": login.tab,
            "labels": TAB_LABEL,
            "username": login.username,
            "social": [
                {
                    "id": p,
                    "title": SSO_TITLES[p],
                    "url": self.realm_url(request, f"/broker/{p}/login?{q}"),
                }
                for p in SSO_PROVIDERS
            ],
            "otp": {
                "channel": login.channel,
                "destination": login.destination,
                "codeLength": self.backend.operator(OPERATOR).code_length,
            },
        }
        msg = (
            {"summary": error, "type": "error", "code": error_code}
            if error
            else ({"summary": info, "type": "info"} if info else None)
        )
        return html(
            "login.html",
            config=_script_json(config),
            message=_script_json(msg),
        )

    def finish(
        self, request: Request[Any, Any, Any], login: Login, domain_token: str
    ) -> Response[Any]:
        """The login succeeded: a one-time authorization code back to the relying party."""
        self.state.logins.pop(login.code, None)
        now = self.backend.now()
        self.state.prune(self.state.codes, now)
        code = secrets.token_urlsafe(24)
        self.state.codes[code] = Grant(
            domain_token, login.redirect_uri, now + self.backend.lifetime(CODE_TTL)
        )
        response: Response[Any] = Redirect(
            with_query(
                login.redirect_uri,
                state=login.state,
                session_state=secrets.token_hex(8),
                code=code,
            ),
            status_code=302,
        )
        if login.device:
            response.set_cookie(
                DEVICE_COOKIE,
                login.device,
                path=cookie_path(request, "passport"),
                max_age=DEVICE_TTL_S,
                httponly=True,
            )
        return response

    def auth_error(
        self, request: Request[Any, Any, Any], login: Login, exc: DomainError
    ) -> Response[str]:
        if isinstance(exc, CaptchaRequired):
            return self.page(
                request,
                login,
                captcha_id=exc.captcha.id,
                error=exc.message if exc.wrong else "Введите символы с картинки",
                error_code="captcha_invalid" if exc.wrong else "captcha_required",
            )
        if isinstance(exc, AccountLocked):
            until = exc.until.astimezone(MSK).strftime("%H:%M")
            return self.page(
                request,
                login,
                error=f"{exc.message}. Попробуйте после {until}",
                error_code="account_locked",
            )
        if isinstance(exc, InvalidCredentials):
            return self.page(
                request,
                login,
                error=exc.message or "Неверный логин или пароль",
                error_code="invalid_credentials",
            )
        if isinstance(exc, CodeInvalid):
            return self.page(request, login, error=exc.message, error_code="code_invalid")
        if isinstance(exc, Rejected):
            return self.page(request, login, error=exc.message, error_code="rejected")
        return self.page(request, login, error=exc.message, error_code="invalid_input")

    @staticmethod
    async def form_of(request: Request[Any, Any, Any]) -> dict[str, str]:
        form = await request.form()
        return {k: str(v) for k, v in form.items() if isinstance(v, str)}

    @staticmethod
    def channel_of(form: dict[str, str]) -> Literal["sms", "email"]:
        channel = form.get("channel", "sms")
        if channel == "sms":
            return "sms"
        if channel == "email":
            return "email"
        raise InvalidInput("Способ доставки: sms или email")

    @staticmethod
    def username_of(form: dict[str, str], login: Login) -> tuple[str, str]:
        tab = form.get("tab_type", login.tab).upper()
        if tab not in TAB_KIND:
            raise InvalidInput("Неизвестный способ входа")
        username = form.get("username", "").strip()
        if not username:
            raise InvalidInput("Введите логин")
        login.tab, login.username = tab, username[:100]
        if tab == "LS" and not (len(username) == 12 and username.isdigit()):
            raise InvalidCredentials("Лицевой счёт: 12 цифр")
        return tab, username

    def captcha_of(self, form: dict[str, str], login: Login) -> tuple[str | None, str | None]:
        """The captcha id and answer the form posted (``captcha_id`` + ``code``)."""
        captcha_id = form.get("captcha_id") or None
        if captcha_id is None:
            return None, None
        return captcha_id, form.get("code", "")

    # -- the routes ----------------------------------------------------------------------------
    def router(self) -> Router:
        backend, state = self.backend, self.state

        @get(REALM + "/protocol/openid-connect/auth", sync_to_thread=False)
        def authorize(request: Request[Any, Any, Any]) -> Response[Any]:
            q = request.query_params
            if q.get("client_id", "") != CLIENT_ID:
                return message("Ошибка", "Неизвестное приложение (client_id)", 400)
            redirect_uri = q.get("redirect_uri", "")
            if not redirect_allowed(redirect_uri, self.registered_uri(request)):
                return message("Ошибка", "Недопустимый адрес возврата (redirect_uri)", 400)
            if q.get("response_type", "code") != "code":
                return message("Ошибка", "Поддерживается только response_type=code", 400)
            bot = self.bot_check(request)
            if bot is not None:
                return bot
            now = backend.now()
            state.prune(state.logins, now)
            login = Login(
                secrets.token_urlsafe(18),
                redirect_uri,
                q.get("state", ""),
                now + backend.lifetime(LOGIN_TTL),
            )
            login.device = request.cookies.get(DEVICE_COOKIE) or secrets.token_hex(16)
            state.logins[login.code] = login
            hint = q.get("kc_idp_hint")
            if hint:
                if hint not in SSO_PROVIDERS:
                    return message("Ошибка", "Неизвестный способ входа", 400)
                return self.broker_redirect(request, login, hint)
            return self.page(request, login)

        @get(REALM + "/login-actions/authenticate", sync_to_thread=False)
        def login_form(request: Request[Any, Any, Any]) -> Response[Any]:
            login = self.login_of(request.query_params.get("session_code", ""))
            if login is None:
                return self.expired_page(request)
            step = request.query_params.get("step")
            if step in ("start", "password"):
                login.step = step
            return self.page(request, login)

        @post(REALM + "/login-actions/authenticate", status_code=200)
        async def authenticate(request: Request[Any, Any, Any]) -> Response[Any]:
            login = self.login_of(request.query_params.get("session_code", ""))
            if login is None:
                return self.expired_page(request)
            form = await self.form_of(request)
            if "standard_auth_btn" in form:
                login.step = "password"
                return self.page(request, login)
            if "otp_get_code" in form or ("address" in form and "username" not in form):
                return self.send_code(request, login, form)
            if "username" not in form:
                return self.page(request, login)
            login.step = "password"
            captcha_id, answer = self.captcha_of(form, login)
            try:
                tab, username = self.username_of(form, login)
                result = backend.login_password(
                    OPERATOR,
                    username,
                    form.get("password", ""),
                    kind=TAB_KIND[tab],
                    device=login.device,
                    captcha_id=captcha_id,
                    captcha_answer=answer,
                )
            except DomainError as exc:
                return self.auth_error(request, login, exc)
            return self.finish(request, login, result.session.token)

        @post(REALM + "/login-actions/otp-verify", status_code=200)
        async def otp_verify(request: Request[Any, Any, Any]) -> Response[Any]:
            login = self.login_of(request.query_params.get("session_code", ""))
            if login is None or login.ticket_id is None:
                return self.expired_page(request)
            form = await self.form_of(request)
            ticket_id = login.ticket_id
            try:
                result = backend.login_code(ticket_id, form.get("code", ""), device=login.device)
            except CodeInvalid as exc:
                if ticket_id not in backend.tickets:  # no attempts left: start again
                    login.ticket_id, login.step = None, "start"
                return self.page(request, login, error=exc.message, error_code="code_invalid")
            except DomainError as exc:
                login.step = "start"
                return self.auth_error(request, login, exc)
            return self.finish(request, login, result.session.token)

        @get(REALM + "/login-actions/captcha/{name:str}", sync_to_thread=False)
        def captcha_image(name: FromPath[str]) -> Response[Any]:
            try:
                captcha = backend.captcha(name.removesuffix(".png"))
            except NotFound:
                return Response(b"", status_code=404, media_type="image/png")
            return Response(
                captcha.png, media_type="image/png", headers={"Cache-Control": "no-store"}
            )

        @get(REALM + "/login-actions/reset-credentials", sync_to_thread=False)
        def reset_form(request: Request[Any, Any, Any]) -> Response[Any]:
            login = self.login_of(request.query_params.get("session_code", ""))
            if login is None:
                return self.expired_page(request)
            return self.reset_page(request, login)

        @post(REALM + "/login-actions/reset-credentials", status_code=200)
        async def reset_send(request: Request[Any, Any, Any]) -> Response[Any]:
            login = self.login_of(request.query_params.get("session_code", ""))
            if login is None:
                return self.expired_page(request)
            form = await self.form_of(request)
            if not backend.check_captcha(form.get("captchaId"), form.get("captcha")):
                return self.reset_page(
                    request,
                    login,
                    error="Неверно введены символы с картинки",
                    error_code="captcha_invalid",
                )
            try:
                tab, username = self.username_of(form, login)
                ticket = backend.start_password_reset(
                    OPERATOR, username, self.channel_of(form), kind=TAB_KIND[tab]
                )
            except DomainError as exc:
                return self.reset_page(request, login, error=exc.message, error_code=exc.code)
            login.reset_ticket_id, login.channel = ticket.id, ticket.channel
            login.destination = ticket.masked_destination
            q = urlencode({"session_code": login.code})
            return html(
                "reset_confirm.html",
                action=self.realm_url(request, f"/login-actions/reset-credentials/confirm?{q}"),
                channel=login.channel,
                destination=login.destination,
            )

        @post(REALM + "/login-actions/reset-credentials/confirm", status_code=200)
        async def reset_confirm(request: Request[Any, Any, Any]) -> Response[Any]:
            login = self.login_of(request.query_params.get("session_code", ""))
            if login is None or login.reset_ticket_id is None:
                return self.expired_page(request)
            form = await self.form_of(request)
            q = urlencode({"session_code": login.code})
            action = self.realm_url(request, f"/login-actions/reset-credentials/confirm?{q}")
            new = form.get("password_new", "")

            def again(text: str, code: str) -> Response[str]:
                return html(
                    "reset_confirm.html",
                    action=action,
                    channel=login.channel,
                    destination=login.destination,
                    error=text,
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
                return self.reset_page(request, login, error=exc.message, error_code="code_invalid")
            except DomainError as exc:
                return again(exc.message, "password_policy")
            login.reset_ticket_id = None
            login.step = "password"
            return self.page(request, login, info="Пароль изменён. Войдите с новым паролем.")

        @get(REALM + "/broker/{idp:str}/login", sync_to_thread=False)
        def broker_login(idp: FromPath[str], request: Request[Any, Any, Any]) -> Response[Any]:
            login = self.login_of(request.query_params.get("session_code", ""))
            if login is None:
                return self.expired_page(request)
            if idp not in SSO_PROVIDERS:
                return message("Ошибка", "Неизвестный способ входа", 404)
            return self.broker_redirect(request, login, idp)

        @get(REALM + "/broker/{idp:str}/endpoint", sync_to_thread=False)
        def broker_endpoint(idp: FromPath[str], request: Request[Any, Any, Any]) -> Response[Any]:
            q = request.query_params
            entry = state.broker.pop(q.get("state", ""), None)
            login = self.login_of(entry[0]) if entry else None
            if entry is None or login is None or entry[1] != idp:
                return self.expired_page(request)
            if q.get("error"):
                state.logins.pop(login.code, None)
                return Redirect(
                    with_query(
                        login.redirect_uri,
                        error="access_denied",
                        error_description="Вход отменён",
                        state=login.state,
                    ),
                    status_code=302,
                )
            endpoint = self.realm_url(request, f"/broker/{idp}/endpoint")
            try:
                tokens = backend.idp_exchange_code(idp, q.get("code", ""), CLIENT_ID, endpoint)
                identity = backend.idp_userinfo(tokens.access_token)
                result = backend.login_idp(OPERATOR, idp, identity.subject)
            except DomainError as exc:
                state.logins.pop(login.code, None)
                return Redirect(
                    with_query(
                        login.redirect_uri,
                        error="access_denied",
                        error_description=exc.message,
                        state=login.state,
                    ),
                    status_code=302,
                )
            return self.finish(request, login, result.session.token)

        return Router(
            path="/passport",
            route_handlers=[
                authorize,
                login_form,
                authenticate,
                otp_verify,
                captcha_image,
                reset_form,
                reset_send,
                reset_confirm,
                broker_login,
                broker_endpoint,
            ],
        )

    # -- steps ---------------------------------------------------------------------------------
    def send_code(
        self, request: Request[Any, Any, Any], login: Login, form: dict[str, str]
    ) -> Response[str]:
        """The first screen: a one-time code to the phone or e-mail typed in ``address``."""
        address = form.get("address", "").strip()
        login.step = "start"
        login.username = address[:100]
        if not address:
            return self.page(
                request, login, error="Введите телефон или почту", error_code="invalid_input"
            )
        kind = "email" if "@" in address else "phone"
        login.tab = "EMAIL" if kind == "email" else "PHONE"
        captcha_id, answer = self.captcha_of(form, login)
        try:
            ticket = self.backend.send_login_code(
                OPERATOR,
                address,
                "email" if kind == "email" else "sms",
                kind=kind,
                captcha_id=captcha_id,
                captcha_answer=answer,
            )
        except DomainError as exc:
            return self.auth_error(request, login, exc)
        login.ticket_id, login.channel = ticket.id, ticket.channel
        login.destination = ticket.masked_destination
        login.step = "otp"
        return self.page(request, login)

    def reset_page(
        self,
        request: Request[Any, Any, Any],
        login: Login,
        *,
        error: str = "",
        error_code: str = "",
    ) -> Response[str]:
        q = urlencode({"session_code": login.code})
        captcha = self.backend.new_captcha(OPERATOR)
        return html(
            "reset.html",
            action=self.realm_url(request, f"/login-actions/reset-credentials?{q}"),
            back_url=self.realm_url(request, f"/login-actions/authenticate?{q}&step=password"),
            tab=login.tab if login.tab != "LS" else "PHONE",
            username=login.username,
            captcha=captcha,
            captcha_url=self.realm_url(request, f"/login-actions/captcha/{captcha.id}.png"),
            error=error,
            error_code=error_code,
        )

    def broker_redirect(
        self, request: Request[Any, Any, Any], login: Login, idp: str
    ) -> Response[Any]:
        state = secrets.token_urlsafe(18)
        self.state.prune(self.state.broker, self.backend.now())
        self.state.broker[state] = (login.code, idp)
        query = urlencode(
            {
                "client_id": CLIENT_ID,
                "redirect_uri": self.realm_url(request, f"/broker/{idp}/endpoint"),
                "state": state,
                "scope": "openid",
                "response_type": "code",
            }
        )
        return Redirect(f"{origin(request)}/idp/{idp}/authorize?{query}", status_code=302)
