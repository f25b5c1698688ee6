"""An OpenID Connect identity provider (authorization-code flow) for Gosuslugi, T-Bank, VK,
Odnoklassniki and Mail.ru. The HTTP pages are in :mod:`reference_provider.idp_routes`;
this is the state behind them.

Flow: a relying party (a dialect) sends the user to ``/idp/<provider>/authorize`` with
``client_id``, ``redirect_uri``, ``state``; the user logs in and consents; the IdP redirects to
``redirect_uri?code=...&state=...``; the relying party exchanges the code
(:meth:`IdpMixin.idp_exchange_code`, or POST ``/idp/<provider>/token``) and reads the subject
(:meth:`IdpMixin.idp_userinfo`), then calls :meth:`IdpMixin.login_idp`.
"""

from __future__ import annotations

import datetime as dt
import os
import secrets
from dataclasses import dataclass
from urllib.parse import urlencode

from .auth import AuthMixin
from .catalogue import SSO_PROVIDERS
from .errors import InvalidCredentials, InvalidInput, NotFound
from .models import AuthResult, IdpIdentity, Subscriber
from .state import check_password, hash_password

__all__ = ["IdpMixin", "IdpRequest", "IdpTokens"]

CODE_TTL = dt.timedelta(minutes=5)
TOKEN_TTL = dt.timedelta(hours=1)


@dataclass(slots=True)
class IdpRequest:
    id: str
    provider: str
    client_id: str
    redirect_uri: str
    state: str
    scope: str
    nonce: str | None
    subject: str | None = None  # set once the user has logged in at the IdP


@dataclass(slots=True)
class IdpTokens:
    access_token: str
    id_token: str
    subject: str
    expires_in: int


@dataclass(slots=True)
class _Grant:
    provider: str
    subject: str
    client_id: str
    redirect_uri: str
    expires_at: dt.datetime
    nonce: str | None


class IdpMixin(AuthMixin):
    _idp_requests: dict[str, IdpRequest]
    _idp_codes: dict[str, _Grant]
    _idp_tokens: dict[str, tuple[str, str, dt.datetime]]  # token -> (provider, subject, exp)
    idp_clients: set[str]

    def _idp_init(self) -> None:
        self._idp_requests = {}
        self._idp_codes = {}
        self._idp_tokens = {}
        self.idp_clients = {"lk_b2c", "reference", "aggregator"}

    @staticmethod
    def _check_provider(provider: str) -> None:
        if provider not in SSO_PROVIDERS:
            raise NotFound(f"Неизвестный поставщик входа: {provider}")

    def add_idp_identity(
        self,
        provider: str,
        username: str,
        password: str,
        full_name: str,
        email: str | None = None,
        phone: str | None = None,
    ) -> IdpIdentity:
        self._check_provider(provider)
        salt = os.urandom(16)
        ident = IdpIdentity(
            provider,
            f"{provider}-{len(self.idp_subjects) + 1:06d}",
            username,
            hash_password(password, salt),
            salt,
            full_name,
            email,
            phone,
        )
        self.idp_identities[(provider, username.lower())] = ident
        self.idp_subjects[(provider, ident.subject)] = ident
        return ident

    def link_idp(self, sub: Subscriber, ident: IdpIdentity) -> None:
        sub.idp_links.add((ident.provider, ident.subject))
        self._idp_links[(sub.operator, ident.provider, ident.subject)] = sub.id

    def idp_authorize(
        self,
        provider: str,
        client_id: str,
        redirect_uri: str,
        state: str,
        scope: str = "openid",
        nonce: str | None = None,
    ) -> IdpRequest:
        """Validate an authorization request and remember it for the login page."""
        self._check_provider(provider)
        if client_id not in self.idp_clients:
            raise InvalidInput("Неизвестное приложение (client_id)")
        if not redirect_uri.startswith(("http://", "https://")):
            raise InvalidInput("Некорректный адрес возврата (redirect_uri)")
        request = IdpRequest(
            secrets.token_urlsafe(12), provider, client_id, redirect_uri, state, scope, nonce
        )
        self._idp_requests[request.id] = request
        return request

    def idp_request(self, request_id: str) -> IdpRequest:
        try:
            return self._idp_requests[request_id]
        except KeyError:
            raise NotFound("Запрос на вход устарел, начните заново") from None

    def idp_login(self, request_id: str, username: str, password: str) -> IdpRequest:
        """The user typed their IdP login and password on the IdP's page."""
        request = self.idp_request(request_id)
        ident = self.idp_identities.get((request.provider, username.strip().lower()))
        if ident is None or not check_password(password, ident.salt, ident.password_hash):
            raise InvalidCredentials()
        request.subject = ident.subject
        return request

    def idp_consent(self, request_id: str, allow: bool) -> str:
        """The user allowed or denied; return the redirect URL back to the relying party."""
        request = self._idp_requests.pop(request_id, None)
        if request is None or request.subject is None:
            raise NotFound("Запрос на вход устарел, начните заново")
        sep = "&" if "?" in request.redirect_uri else "?"
        if not allow:
            query = {"error": "access_denied", "state": request.state}
            return f"{request.redirect_uri}{sep}{urlencode(query)}"
        code = secrets.token_urlsafe(18)
        self._idp_codes[code] = _Grant(
            request.provider,
            request.subject,
            request.client_id,
            request.redirect_uri,
            self.now() + self.lifetime(CODE_TTL),
            request.nonce,
        )
        return f"{request.redirect_uri}{sep}{urlencode({'code': code, 'state': request.state})}"

    def idp_exchange_code(
        self, provider: str, code: str, client_id: str, redirect_uri: str | None = None
    ) -> IdpTokens:
        """The token endpoint: a code (once) for an access token and an id token."""
        grant = self._idp_codes.pop(code, None)
        if (
            grant is None
            or grant.provider != provider
            or grant.client_id != client_id
            or (redirect_uri is not None and redirect_uri != grant.redirect_uri)
            or self.now() > grant.expires_at
        ):
            raise InvalidCredentials("invalid_grant")
        token = secrets.token_urlsafe(24)
        expires = self.now() + self.lifetime(TOKEN_TTL)
        self._idp_tokens[token] = (provider, grant.subject, expires)
        claims = {
            "iss": f"/idp/{provider}",
            "sub": grant.subject,
            "aud": client_id,
            "exp": int(expires.timestamp()),
            "nonce": grant.nonce,
        }
        return IdpTokens(
            token, _unsigned_jwt(claims), grant.subject, int(TOKEN_TTL.total_seconds())
        )

    def idp_userinfo(self, access_token: str) -> IdpIdentity:
        entry = self._idp_tokens.get(access_token)
        if entry is None or self.now() > entry[2]:
            raise InvalidCredentials("invalid_token")
        return self.idp_subjects[(entry[0], entry[1])]

    def login_idp(
        self, operator: str, provider: str, subject: str, device: str | None = None
    ) -> AuthResult:
        """Log in the subscriber of ``operator`` linked to this IdP identity."""
        sid = self._idp_links.get((operator, provider, subject))
        if sid is None:
            raise InvalidCredentials("Эта учётная запись не привязана к личному кабинету")
        sub = self.subscribers[sid]
        sub.failed_attempts = 0
        if device:
            sub.known_devices.add(device)
        session = self.open_session(sub, device)
        return AuthResult(session, sub, False)

    def idp_complete_as_user(
        self, authorize_url: str, username: str, password: str, allow: bool = True
    ) -> str:
        """Simulation: what a person does in the browser; returns the callback URL."""
        from urllib.parse import parse_qs, urlsplit

        parts = urlsplit(authorize_url)
        segments = [s for s in parts.path.split("/") if s]
        if len(segments) < 3 or segments[-3] != "idp":
            raise InvalidInput("Это не адрес страницы входа поставщика")
        q = {k: v[0] for k, v in parse_qs(parts.query).items()}
        request = self.idp_authorize(
            segments[-2],
            q.get("client_id", ""),
            q.get("redirect_uri", ""),
            q.get("state", ""),
            q.get("scope", "openid"),
            q.get("nonce"),
        )
        self.idp_login(request.id, username, password)
        return self.idp_consent(request.id, allow)


def _unsigned_jwt(claims: dict[str, object]) -> str:
    import base64
    import json

    def b64(data: bytes) -> str:
        return base64.urlsafe_b64encode(data).rstrip(b"=").decode()

    header = b64(json.dumps({"alg": "none", "typ": "JWT"}).encode())
    return f"{header}.{b64(json.dumps(claims).encode())}."
