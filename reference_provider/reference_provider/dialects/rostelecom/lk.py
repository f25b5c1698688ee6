"""The cabinet host (``lk.rt.ru``): the ``sso-auth`` page, the cookie session, ``client-api``.

Under the dialect's ``lk`` root::

    GET  sso-auth/?redirect=<lk>&state=..&code=..   spends the passport's code: sets the session
                                                    cookie and the CSRF-TOKEN cookie, 302 to
                                                    ``redirect`` (the cabinet's start page)
    GET  /                                          the cabinet's start page (HTML)
    POST client-api/<method>                        JSON in and out, on the cookie session; the
                                                    body carries client_uuid, current_page
                                                    (and page_uuid); operations that change
                                                    something need the CSRF-TOKEN header
    GET  client-api/downloadDetail?reportId=        an ordered spending detail (PDF/XLSX)

``checkSession`` answers ``{"isSessionLost": true|false}`` with HTTP 200; any other method on a
lost session answers HTTP 401 ``{"isError": true, "isSessionLost": true, ...}``.
"""

from __future__ import annotations

import html as html_lib
from typing import TYPE_CHECKING, Any
from urllib.parse import urlsplit

from litestar import Request, Response, Router, get, post, route
from litestar.params import FromPath
from litestar.response import Redirect

from ...domain.errors import DomainError, InvalidInput, SessionExpired
from ...domain.models import Session
from .client_api import ClientApi
from .shared import (
    CSRF_COOKIE,
    CSRF_HEADER,
    OPERATOR,
    SESSION_COOKIE,
    LkSession,
    State,
    api_error,
    api_ok,
    cookie_path,
    message,
    render_api_error,
    root_of,
)

if TYPE_CHECKING:
    from ...backend import Backend

__all__ = ["Cabinet"]


class Cabinet:
    """The cabinet's routes: one backend, the dialect's protocol state, the API dispatch."""

    def __init__(self, backend: Backend, state: State) -> None:
        self.backend = backend
        self.state = state
        self.api = ClientApi(backend, state)

    def lk_session(self, request: Request[Any, Any, Any]) -> tuple[LkSession, Session]:
        """The cookie session and its live domain session; SessionExpired otherwise."""
        entry = self.state.lk.get(request.cookies.get(SESSION_COOKIE, ""))
        if entry is None:
            raise SessionExpired()
        try:
            return entry, self.backend.session(entry.domain_token, operator=OPERATOR)
        except DomainError:
            self.state.lk.pop(request.cookies.get(SESSION_COOKIE, ""), None)
            raise

    def open_session(self, domain_token: str) -> tuple[str, LkSession]:
        return self.state.new_lk_session(domain_token)

    @staticmethod
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

    def router(self) -> Router:
        backend, state = self.backend, self.state

        @get(["/sso-auth", "/sso-auth/"], sync_to_thread=False)
        def sso_auth(request: Request[Any, Any, Any]) -> Response[Any]:
            """The registered redirect page: spends the code, opens the cookie session."""
            q = request.query_params
            if q.get("error"):
                return message(
                    "Вход не выполнен",
                    q.get("error_description") or "Вход отменён или не удался.",
                    400,
                )
            grant = state.codes.pop(q.get("code", ""), None)
            if grant is None or backend.now() > grant.expires_at:
                return message(
                    "Вход не выполнен",
                    "Ссылка для входа устарела. Войдите заново.",
                    400,
                    link=f"{root_of(request, 'lk')}/",
                    link_text="В личный кабинет",
                )
            sid, lk = self.open_session(grant.domain_token)
            home = f"{root_of(request, 'lk')}/"
            target = q.get("redirect") or home
            if urlsplit(target).netloc not in ("", request.url.netloc):
                target = home
            response: Response[Any] = Redirect(target, status_code=302)
            path = cookie_path(request, "lk")
            response.set_cookie(SESSION_COOKIE, sid, path=path, httponly=True, samesite="lax")
            response.set_cookie(CSRF_COOKIE, lk.csrf, path=path, samesite="lax")
            return response

        @get("/", sync_to_thread=False)
        def home(request: Request[Any, Any, Any]) -> Response[Any]:
            try:
                _, session = self.lk_session(request)
            except DomainError:
                return message(
                    "Личный кабинет",
                    "Войдите через Ростелеком ID.",
                    link=f"{root_of(request, 'passport')}/auth/realms/b2c/protocol/"
                    "openid-connect/auth?response_type=code&scope=openid&client_id=lk_b2c"
                    f"&redirect_uri={root_of(request, 'lk')}/sso-auth/",
                    link_text="Войти",
                )
            sub = backend.subscriber(session.subscriber_id)
            return Response(
                "<!doctype html><html lang=ru><head><meta charset=utf-8>"
                "<title>Личный кабинет — Ростелеком</title></head><body>"
                f'<main id="lk-app" data-user="{html_lib.escape(sub.full_name)}">'
                "<h1>Личный кабинет</h1></main></body></html>",
                media_type="text/html; charset=utf-8",
                headers={"Cache-Control": "no-store"},
            )

        @post("/client-api/{method:str}", status_code=200)
        async def client_api(
            method: FromPath[str], request: Request[Any, Any, Any]
        ) -> Response[Any]:
            try:
                lk, session = self.lk_session(request)
            except DomainError as exc:
                if method == "checkSession":
                    return api_ok(isSessionLost=True)
                return render_api_error(exc)
            if method in ClientApi.NEEDS_CSRF and request.headers.get(CSRF_HEADER) != lk.csrf:
                return api_error(
                    "CSRF_TOKEN_INVALID", "Обновите страницу и повторите действие", 403
                )
            try:
                return self.api.call(session, method, await self.body_of(request))
            except DomainError as exc:
                return render_api_error(exc)

        @route("/client-api/downloadDetail", http_method=["GET"], sync_to_thread=False)
        def download_detail(request: Request[Any, Any, Any]) -> Response[Any]:
            try:
                _, session = self.lk_session(request)
            except DomainError as exc:
                return render_api_error(exc)
            entry = state.reports.get(request.query_params.get("reportId", ""))
            if entry is None or entry[0] != session.subscriber_id:
                return api_error("NOT_FOUND", "Отчёт не найден или устарел", 404)
            report = entry[1]
            return Response(
                report.content,
                media_type=report.media_type,
                headers={"Content-Disposition": f'attachment; filename="{report.filename}"'},
            )

        return Router(path="/lk", route_handlers=[sso_auth, home, client_api, download_detail])
