"""What the passport and the cabinet of the Rostelecom dialect share: the protocol state (one per
backend), HTML and JSON reply helpers. Business state stays in the domain."""

from __future__ import annotations

import datetime as dt
import secrets
import weakref
from dataclasses import dataclass, field
from pathlib import Path
from typing import TYPE_CHECKING, Any
from urllib.parse import urlencode, urlsplit

from jinja2 import Environment, FileSystemLoader, select_autoescape
from litestar import Request, Response

from ...domain.clock import MSK
from ...domain.errors import (
    AuthFailure,
    CodeInvalid,
    DomainError,
    Forbidden,
    NotFound,
    Rejected,
)
from ...domain.models import ReportFile

if TYPE_CHECKING:
    from ...backend import Backend

OPERATOR = "rostelecom"
CLIENT_ID = "lk_b2c"
REALM = "/auth/realms/b2c"
CODE_TTL = dt.timedelta(minutes=2)
LOGIN_TTL = dt.timedelta(minutes=30)
#: The anti-robot cookie (the real passport's cookie name is not public: assumed).
BOT_COOKIE = "rt_bot_pass"
#: The cabinet's session cookie (name assumed) and its CSRF cookie (name proven).
SESSION_COOKIE = "SESSION"
CSRF_COOKIE = "CSRF-TOKEN"
CSRF_HEADER = "CSRF-TOKEN"
#: A long-lived passport cookie naming the device (assumed); a known device needs no captcha.
DEVICE_COOKIE = "rt_device"
_MAX_PENDING = 20_000
_LOOPBACK = {"127.0.0.1", "localhost", "::1", "[::1]"}

_templates = Environment(
    loader=FileSystemLoader(Path(__file__).parent.parent / "templates" / "rostelecom"),
    autoescape=select_autoescape(["html"]),
    auto_reload=False,
)


@dataclass
class Login:
    """One login attempt at the passport (Keycloak's "authentication session")."""

    code: str
    redirect_uri: str
    state: str
    expires_at: dt.datetime
    step: str = "start"  # start (the code screen) | password | otp
    tab: str = "PHONE"
    username: str = ""
    ticket_id: str | None = None  # a one-time code sent for this login
    channel: str = "sms"
    destination: str = ""
    reset_ticket_id: str | None = None
    captcha_id: str | None = None
    device: str | None = None


@dataclass
class Grant:
    """An authorization code waiting for the cabinet's ``sso-auth`` page."""

    domain_token: str
    redirect_uri: str
    expires_at: dt.datetime


@dataclass
class LkSession:
    """The cabinet's cookie session: bound to a domain session, with its CSRF token."""

    domain_token: str
    csrf: str


@dataclass
class State:
    logins: dict[str, Login] = field(default_factory=dict)
    codes: dict[str, Grant] = field(default_factory=dict)
    broker: dict[str, tuple[str, str]] = field(default_factory=dict)  # state -> (login, idp)
    bot_nonces: dict[str, dt.datetime] = field(default_factory=dict)
    lk: dict[str, LkSession] = field(default_factory=dict)
    reports: dict[str, tuple[str, ReportFile]] = field(default_factory=dict)

    @staticmethod
    def prune(table: dict[str, Any], now: dt.datetime) -> None:
        if len(table) < _MAX_PENDING:
            return
        expired = [k for k, v in table.items() if _expiry(v) <= now]
        for key in expired or list(table)[: len(table) // 2]:
            table.pop(key, None)

    def new_lk_session(self, domain_token: str) -> tuple[str, LkSession]:
        if len(self.lk) >= _MAX_PENDING:
            for key in list(self.lk)[: len(self.lk) // 2]:
                self.lk.pop(key, None)
        sid = secrets.token_urlsafe(24)
        session = self.lk[sid] = LkSession(domain_token, secrets.token_hex(16))
        return sid, session


_STATES: weakref.WeakKeyDictionary[Backend, State] = weakref.WeakKeyDictionary()


def state_of(backend: Backend) -> State:
    """The protocol state of ``backend``'s Rostelecom (one per app)."""
    state = _STATES.get(backend)
    if state is None:
        state = _STATES[backend] = State()
    return state


def _expiry(value: Any) -> dt.datetime:
    if isinstance(value, dt.datetime):
        return value
    when = getattr(value, "expires_at", None)
    return when if isinstance(when, dt.datetime) else dt.datetime.max.replace(tzinfo=MSK)


def redirect_allowed(uri: str, registered: str) -> bool:
    """``lk_b2c`` may return to the cabinet's ``sso-auth`` page or to a loopback URL."""
    parts = urlsplit(uri)
    if parts.scheme not in ("http", "https") or not parts.netloc:
        return False
    if uri.split("?")[0].rstrip("/") == registered.rstrip("/"):
        return True
    return (parts.hostname or "") in _LOOPBACK


def with_query(uri: str, **params: str) -> str:
    sep = "&" if "?" in uri else "?"
    return f"{uri}{sep}{urlencode(params)}"


def origin(request: Request[Any, Any, Any]) -> str:
    return f"{request.url.scheme}://{request.url.netloc}"


def root_of(request: Request[Any, Any, Any], host: str) -> str:
    """The URL of a host root (``passport`` or ``lk``) of this dialect, from any request."""
    path = request.url.path
    marker = f"/{OPERATOR}/"
    prefix = path[: path.index(marker) + len(marker)] if marker in path else marker
    return f"{origin(request)}{prefix}{host}"


def cookie_path(request: Request[Any, Any, Any], host: str) -> str:
    return root_of(request, host)[len(origin(request)) :] + "/"


def html(name: str, status: int = 200, **context: Any) -> Response[str]:
    return Response(
        _templates.get_template(name).render(**context),
        status_code=status,
        media_type="text/html; charset=utf-8",
        headers={"Cache-Control": "no-store"},
    )


def message(
    title: str, text: str, status: int = 200, link: str = "", link_text: str = ""
) -> Response[str]:
    return html("message.html", status, title=title, text=text, link=link, link_text=link_text)


def when(value: dt.datetime) -> str:
    return value.astimezone(MSK).isoformat(timespec="seconds")


# -- client-api replies ----------------------------------------------------------------------


def api_ok(**data: Any) -> Response[Any]:
    return Response({"isError": False, **data})


def api_error(code: str, text: str, status: int = 200, **extra: Any) -> Response[Any]:
    return Response(
        {"isError": True, "errorCode": code, "errorMsg": text, **extra}, status_code=status
    )


def session_lost(text: str = "Сессия истекла, войдите заново") -> Response[Any]:
    return api_error("SESSION_LOST", text, 401, isSessionLost=True)


def render_api_error(exc: DomainError) -> Response[Any]:
    if isinstance(exc, CodeInvalid):
        return api_error("INVALID_CODE", exc.message)
    if isinstance(exc, AuthFailure):
        return session_lost(exc.message)
    if isinstance(exc, Forbidden):
        return api_error("ACCESS_DENIED", exc.message)
    if isinstance(exc, NotFound):
        return api_error("NOT_FOUND", exc.message)
    if isinstance(exc, Rejected):
        return api_error("REJECTED", exc.message)
    return api_error("BAD_REQUEST", exc.message)
