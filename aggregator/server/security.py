"""Sessions, CSRF, security headers and sign-in throttling.

- **Sessions** are server-side (:class:`~aggregator.storage.models.WebSession`): the cookie holds a
  random token; the table holds only its SHA-256, so a copy of the database signs nobody in.
  Cookies are ``HttpOnly``, ``SameSite=Lax`` and ``Secure`` (``settings.secure_cookies``).
- **CSRF**: every POST/PUT/PATCH/DELETE carries a token, in the ``_csrf`` form field or the
  ``X-CSRF-Token`` header (htmx adds it from a ``<meta>`` tag). Signed in, it must equal the
  session's own token (synchroniser pattern); signed out (sign-in, first account, invitation),
  it must equal the ``agg_csrf`` cookie (double submit). Otherwise: 403.
- **Headers** on every response: a CSP without inline script, ``nosniff``,
  ``frame-ancestors 'none'``, a referrer policy.
- **Throttling**: :mod:`.throttle` (per e-mail and per client address, in the database).
"""

from __future__ import annotations

import datetime as dt
import hashlib
import hmac
import secrets
from typing import TYPE_CHECKING, Any

from litestar.datastructures import Cookie
from sqlalchemy import delete, select

from ..storage.models import Household, User, WebSession, utcnow
from .users import CurrentUser

if TYPE_CHECKING:
    from litestar.types import Message, Scope
    from sqlalchemy.ext.asyncio import AsyncSession

    from ..settings import Settings

__all__ = [
    "ANON_CSRF_COOKIE",
    "CSRF_FIELD",
    "CSRF_HEADER",
    "SESSION_TTL",
    "create_web_session",
    "csrf_matches",
    "delete_web_session",
    "hash_token",
    "load_current_user",
    "new_token",
    "security_headers_hook",
    "session_cookie",
    "session_cookie_name",
]

CSRF_FIELD = "_csrf"
CSRF_HEADER = "x-csrf-token"
ANON_CSRF_COOKIE = "agg_csrf"
LANG_COOKIE = "agg_lang"
SESSION_TTL = dt.timedelta(days=14)
_REFRESH_WHEN_LEFT = dt.timedelta(days=7)

CSP = "; ".join(
    [
        "default-src 'self'",
        "script-src 'self'",
        "style-src 'self'",
        "img-src 'self' data:",
        "font-src 'self'",
        "connect-src 'self'",
        "object-src 'none'",
        "base-uri 'none'",
        "form-action 'self'",
        "frame-ancestors 'none'",
    ]
)
# Swagger UI sets style attributes from its bundle; the docs page alone allows them.
CSP_DOCS = CSP.replace("style-src 'self'", "style-src 'self' 'unsafe-inline'")

_HEADERS: list[tuple[bytes, bytes]] = [
    (b"x-content-type-options", b"nosniff"),
    (b"x-frame-options", b"DENY"),
    (b"referrer-policy", b"same-origin"),
    (b"cross-origin-opener-policy", b"same-origin"),
    (b"permissions-policy", b"camera=(), microphone=(), geolocation=(), payment=()"),
]


def new_token() -> str:
    return secrets.token_urlsafe(32)


def hash_token(token: str) -> str:
    return hashlib.sha256(token.encode()).hexdigest()


def session_cookie_name(settings: Settings) -> str:
    # The __Host- prefix pins the cookie to this host and path "/", and requires Secure.
    return "__Host-agg_session" if settings.secure_cookies else "agg_session"


def session_cookie(settings: Settings, token: str | None) -> Cookie:
    """The session cookie carrying ``token`` (None: an expired cookie that deletes it)."""
    return Cookie(
        key=session_cookie_name(settings),
        value=token or "",
        path="/",
        httponly=True,
        secure=settings.secure_cookies,
        samesite="lax",
        max_age=int(SESSION_TTL.total_seconds()) if token else 0,
    )


def anon_csrf_cookie(settings: Settings, token: str) -> Cookie:
    return Cookie(
        key=ANON_CSRF_COOKIE,
        value=token,
        path="/",
        httponly=True,
        secure=settings.secure_cookies,
        samesite="lax",
        max_age=3600 * 12,
    )


def lang_cookie(settings: Settings, lang: str) -> Cookie:
    return Cookie(
        key=LANG_COOKIE,
        value=lang,
        path="/",
        httponly=True,
        secure=settings.secure_cookies,
        samesite="lax",
        max_age=3600 * 24 * 365,
    )


def csrf_matches(expected: str | None, given: str | None) -> bool:
    if not expected or not given:
        return False
    return hmac.compare_digest(expected.encode(), given.encode())


async def create_web_session(db: AsyncSession, user_id: int) -> str:
    """A new server-side session for ``user_id``; returns the cookie token (never stored)."""
    token = new_token()
    db.add(
        WebSession(
            id=hash_token(token),
            user_id=user_id,
            csrf_token=new_token(),
            expires_at=utcnow() + SESSION_TTL,
            data={},
        )
    )
    await db.flush()
    return token


async def delete_web_session(db: AsyncSession, session_id: str) -> None:
    await db.execute(delete(WebSession).where(WebSession.id == session_id))


async def load_current_user(db: AsyncSession, token: str) -> CurrentUser | None:
    """The user of a live session token, or None (unknown or expired: the row is removed)."""
    session_id = hash_token(token)
    row = (
        await db.execute(
            select(
                WebSession.expires_at,
                WebSession.csrf_token,
                User.id,
                User.household_id,
                User.email,
                User.display_name,
                User.role,
                User.lang,
                Household.timezone,
                Household.name,
            )
            .join(User, User.id == WebSession.user_id)
            .join(Household, Household.id == User.household_id)
            .where(WebSession.id == session_id)
        )
    ).first()
    if row is None:
        return None
    now = utcnow()
    if row.expires_at <= now:
        await db.execute(delete(WebSession).where(WebSession.id == session_id))
        await db.commit()
        return None
    if row.expires_at - now < _REFRESH_WHEN_LEFT:  # sliding expiry, written rarely
        session = await db.get(WebSession, session_id)
        if session is not None:
            session.expires_at = now + SESSION_TTL
            await db.commit()
    return CurrentUser(
        user_id=row.id,
        household_id=row.household_id,
        email=row.email,
        display_name=row.display_name,
        role=row.role,
        lang=row.lang,
        timezone=row.timezone,
        household_name=row.name,
        session_id=session_id,
        csrf_token=row.csrf_token,
    )


def security_headers_hook(message: Message, scope: Scope) -> None:
    """A ``before_send`` hook: the security headers on every HTTP response."""
    if message["type"] != "http.response.start":
        return
    headers: list[Any] = list(message.get("headers") or [])
    present = {name.lower() for name, _ in headers}
    path: str = scope.get("path", "")
    csp = CSP_DOCS if path.startswith("/api/schema") else CSP
    extra = [(b"content-security-policy", csp.encode()), *_HEADERS]
    if not path.startswith("/static/"):  # personal pages and data: never cached
        extra.append((b"cache-control", b"no-store"))
    headers.extend(h for h in extra if h[0] not in present)
    message["headers"] = headers
