"""HTTP face of the identity provider: ``/idp/<provider>/...`` (OpenID Connect, code flow).

- GET  /idp/<p>/authorize?client_id&redirect_uri&state[&scope&nonce]  login page
- POST /idp/<p>/login     (form: request_id, username, password)       consent page
- POST /idp/<p>/consent   (form: request_id, decision=allow|deny)      302 to redirect_uri
- POST /idp/<p>/token     (form: grant_type=authorization_code, code, client_id, redirect_uri)
- GET  /idp/<p>/userinfo  (Authorization: Bearer <access_token>)
- GET  /idp/<p>/.well-known/openid-configuration
"""

from __future__ import annotations

import html
from typing import Annotated, Any

from litestar import Request, Response, Router, get, post
from litestar.params import FromPath, FromQuery, QueryParameter
from litestar.response import Redirect

from .backend import Backend
from .domain.catalogue import SSO_TITLES
from .domain.errors import DomainError, InvalidCredentials

__all__ = ["idp_router"]

_STYLE = (
    "body{font-family:sans-serif;max-width:28rem;margin:3rem auto;padding:0 1rem}"
    "label{display:block;margin:.6rem 0}input{width:100%;padding:.4rem}"
    "button{margin-top:1rem;padding:.5rem 1.2rem}.error{color:#b00020}"
)


def _page(title: str, body: str, status: int = 200) -> Response[str]:
    doc = (
        f'<!doctype html><html lang="ru"><head><meta charset="utf-8"><title>{html.escape(title)}'
        f"</title><style>{_STYLE}</style></head><body><main><h1>{html.escape(title)}</h1>"
        f"{body}</main></body></html>"
    )
    return Response(doc, status_code=status, media_type="text/html; charset=utf-8")


def _login_form(provider: str, request_id: str, error: str = "") -> Response[str]:
    title = f"Вход через {SSO_TITLES.get(provider, provider)}"
    err = f'<p class="error" role="alert">{html.escape(error)}</p>' if error else ""
    body = (
        f'{err}<form method="post" action="/idp/{provider}/login">'
        f'<input type="hidden" name="request_id" value="{html.escape(request_id)}">'
        '<label for="username">Логин</label><input id="username" name="username" '
        'autocomplete="username" required>'
        '<label for="password">Пароль</label><input id="password" name="password" '
        'type="password" autocomplete="current-password" required>'
        '<button type="submit" id="login">Войти</button></form>'
    )
    return _page(title, body, 401 if error else 200)


def idp_router(backend: Backend) -> Router:
    @get("/{provider:str}/authorize", sync_to_thread=False)
    def authorize(
        provider: FromPath[str],
        client_id: FromQuery[str] = "",
        redirect_uri: FromQuery[str] = "",
        state_: Annotated[str, QueryParameter(name="state")] = "",
        scope_: Annotated[str, QueryParameter(name="scope")] = "openid",
        nonce: FromQuery[str | None] = None,
        response_type: FromQuery[str] = "code",
    ) -> Response[str]:
        """The login page of the identity provider."""
        if response_type != "code":
            return _page("Ошибка", "<p>Поддерживается только response_type=code</p>", 400)
        try:
            request = backend.idp_authorize(
                provider, client_id, redirect_uri, state_, scope_, nonce
            )
        except DomainError as exc:
            return _page("Ошибка входа", f"<p>{html.escape(exc.message)}</p>", exc.status)
        return _login_form(provider, request.id)

    @post("/{provider:str}/login", status_code=200)
    async def login(provider: FromPath[str], request: Request[Any, Any, Any]) -> Response[str]:
        form = await request.form()
        request_id = str(form.get("request_id", ""))
        try:
            req = backend.idp_login(
                request_id, str(form.get("username", "")), str(form.get("password", ""))
            )
        except InvalidCredentials:
            return _login_form(provider, request_id, "Неверный логин или пароль")
        except DomainError as exc:
            return _page("Ошибка входа", f"<p>{html.escape(exc.message)}</p>", exc.status)
        ident = backend.idp_subjects[(req.provider, req.subject or "")]
        body = (
            f"<p>Приложение <b>{html.escape(req.client_id)}</b> запрашивает доступ к вашим "
            f"данным: имя ({html.escape(ident.full_name)}), телефон и адрес почты.</p>"
            f'<form method="post" action="/idp/{provider}/consent">'
            f'<input type="hidden" name="request_id" value="{html.escape(req.id)}">'
            '<button type="submit" name="decision" value="allow" id="allow">Разрешить</button> '
            '<button type="submit" name="decision" value="deny" id="deny">Отказать</button>'
            "</form>"
        )
        return _page("Предоставление доступа", body)

    @post("/{provider:str}/consent", status_code=302)
    async def consent(provider: FromPath[str], request: Request[Any, Any, Any]) -> Response[Any]:
        form = await request.form()
        try:
            url = backend.idp_consent(
                str(form.get("request_id", "")), form.get("decision") == "allow"
            )
        except DomainError as exc:
            return _page("Ошибка входа", f"<p>{html.escape(exc.message)}</p>", exc.status)
        return Redirect(url, status_code=302)

    @post("/{provider:str}/token", status_code=200)
    async def token(provider: FromPath[str], request: Request[Any, Any, Any]) -> Response[Any]:
        form = await request.form()
        if form.get("grant_type") != "authorization_code":
            return Response({"error": "unsupported_grant_type"}, status_code=400)
        try:
            tokens = backend.idp_exchange_code(
                provider,
                str(form.get("code", "")),
                str(form.get("client_id", "")),
                str(form["redirect_uri"]) if form.get("redirect_uri") else None,
            )
        except DomainError:
            return Response({"error": "invalid_grant"}, status_code=400)
        return Response(
            {
                "access_token": tokens.access_token,
                "id_token": tokens.id_token,
                "token_type": "Bearer",
                "expires_in": tokens.expires_in,
            }
        )

    @get("/{provider:str}/userinfo", sync_to_thread=False)
    def userinfo(provider: FromPath[str], request: Request[Any, Any, Any]) -> Response[Any]:
        auth = request.headers.get("authorization", "")
        try:
            ident = backend.idp_userinfo(auth.removeprefix("Bearer ").strip())
        except DomainError:
            return Response({"error": "invalid_token"}, status_code=401)
        if ident.provider != provider:
            return Response({"error": "invalid_token"}, status_code=401)
        return Response(
            {
                "sub": ident.subject,
                "name": ident.full_name,
                "email": ident.email,
                "phone_number": f"+7{ident.phone}" if ident.phone else None,
            }
        )

    @get("/{provider:str}/.well-known/openid-configuration", sync_to_thread=False)
    def discovery(provider: FromPath[str], request: Request[Any, Any, Any]) -> dict[str, Any]:
        base = str(request.base_url).rstrip("/") + f"/idp/{provider}"
        return {
            "issuer": f"/idp/{provider}",
            "authorization_endpoint": f"{base}/authorize",
            "token_endpoint": f"{base}/token",
            "userinfo_endpoint": f"{base}/userinfo",
            "response_types_supported": ["code"],
            "subject_types_supported": ["public"],
            "id_token_signing_alg_values_supported": ["none"],
        }

    return Router(
        path="/idp",
        route_handlers=[authorize, login, consent, token, userinfo, discovery],
        include_in_schema=True,
    )
