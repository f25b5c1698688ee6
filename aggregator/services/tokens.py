"""Personal API tokens: create, list, revoke, and authenticate a ``Bearer`` request.

A token is ``agg_`` + 43 random URL-safe characters (256 bits). It is shown once, when
created; only its SHA-256 is stored (a random token of that strength needs no slow hash), with
its first characters (``prefix``) so a list can tell tokens apart. A token acts for the member
who created it, inside that member's household only; ``read`` tokens may only read (GET),
``write`` tokens may also change things. Revoking is immediate. The last use is recorded (at
most once a minute per token, so reading the API does not write on every request).

The settings page, the JSON API and ``aggregator tokens`` are thin adapters over this module.
"""

from __future__ import annotations

import datetime as dt
import hashlib
import secrets
from dataclasses import dataclass

from sqlalchemy import func, select, update
from sqlalchemy.ext.asyncio import AsyncSession

from ..core.secret import Secret
from ..storage.models import ApiToken, AuditLog, Household, User, utcnow

__all__ = [
    "SCOPES",
    "TOKEN_PREFIX",
    "CreatedToken",
    "TokenError",
    "TokenInfo",
    "TokenNotFound",
    "TokenUser",
    "authenticate",
    "create_token",
    "hash_api_token",
    "list_tokens",
    "looks_like_token",
    "member_by_email",
    "revoke_token",
]

TOKEN_PREFIX = "agg_"
SCOPES = ("read", "write")
MAX_NAME = 100
_TOUCH_EVERY = dt.timedelta(minutes=1)


class TokenError(ValueError):
    """A token request that cannot be done as asked (the message says why)."""


class TokenNotFound(TokenError):
    """No such token in this household."""


@dataclass(frozen=True)
class TokenInfo:
    id: int
    name: str
    prefix: str
    scope: str
    user_email: str
    created_at: dt.datetime
    last_used_at: dt.datetime | None
    revoked_at: dt.datetime | None

    @property
    def active(self) -> bool:
        return self.revoked_at is None


@dataclass(frozen=True)
class CreatedToken:
    info: TokenInfo
    token: Secret  # shown once; never stored


@dataclass(frozen=True)
class TokenUser:
    """Who a valid token speaks for."""

    token_id: int
    scope: str
    user_id: int
    household_id: int
    email: str
    display_name: str
    role: str
    lang: str
    timezone: str
    household_name: str

    @property
    def can_write(self) -> bool:
        return self.scope == "write"


def hash_api_token(token: str) -> str:
    return hashlib.sha256(token.encode()).hexdigest()


def looks_like_token(value: str) -> bool:
    return value.startswith(TOKEN_PREFIX) and 20 <= len(value) <= 200


async def member_by_email(db: AsyncSession, email: str) -> User:
    """The member signing in with ``email`` (TokenNotFound when there is none)."""
    wanted = email.strip().lower()
    query = select(User).where(func.lower(User.email) == wanted)
    user = (await db.execute(query)).scalars().first()
    if user is None:
        raise TokenNotFound(f"no member signs in as {email}")
    return user


def _info(token: ApiToken, email: str) -> TokenInfo:
    return TokenInfo(
        id=token.id,
        name=token.name,
        prefix=token.prefix,
        scope=token.scope,
        user_email=email,
        created_at=token.created_at,
        last_used_at=token.last_used_at,
        revoked_at=token.revoked_at,
    )


async def create_token(
    db: AsyncSession, *, household_id: int, user_id: int, name: str, scope: str
) -> CreatedToken:
    """A new token for ``user_id`` (a member of ``household_id``); commits."""
    name = " ".join(name.split())
    if not name:
        raise TokenError("name the token (what uses it, e.g. Home Assistant)")
    if len(name) > MAX_NAME:
        raise TokenError(f"the name is longer than {MAX_NAME} characters")
    if scope not in SCOPES:
        raise TokenError("the scope is read or write")
    user = await db.get(User, user_id)
    if user is None or user.household_id != household_id:
        raise TokenError("no such member in this household")
    value = TOKEN_PREFIX + secrets.token_urlsafe(32)
    row = ApiToken(
        household_id=household_id,
        user_id=user_id,
        name=name,
        token_hash=hash_api_token(value),
        prefix=value[:8],
        scope=scope,
        created_at=utcnow(),
    )
    db.add(row)
    await db.flush()
    db.add(
        AuditLog(
            household_id=household_id,
            user_id=user_id,
            action="token.create",
            details={"token_id": row.id, "name": name, "scope": scope},
        )
    )
    await db.commit()
    return CreatedToken(_info(row, user.email), Secret(value))


async def list_tokens(
    db: AsyncSession, household_id: int, *, include_revoked: bool = True
) -> list[TokenInfo]:
    """The household's tokens, newest first."""
    query = (
        select(ApiToken, User.email)
        .join(User, User.id == ApiToken.user_id)
        .where(ApiToken.household_id == household_id)
        .order_by(ApiToken.created_at.desc(), ApiToken.id.desc())
    )
    if not include_revoked:
        query = query.where(ApiToken.revoked_at.is_(None))
    return [_info(token, email) for token, email in (await db.execute(query)).all()]


async def revoke_token(
    db: AsyncSession, household_id: int, token_id: int, *, by_user_id: int | None = None
) -> TokenInfo:
    """Revoke a token of this household (again: no change); commits."""
    row = (
        await db.execute(
            select(ApiToken, User.email)
            .join(User, User.id == ApiToken.user_id)
            .where(ApiToken.id == token_id, ApiToken.household_id == household_id)
        )
    ).first()
    if row is None:
        raise TokenNotFound(f"no token {token_id} in this household")
    token, email = row
    if token.revoked_at is None:
        token.revoked_at = utcnow()
        db.add(
            AuditLog(
                household_id=household_id,
                user_id=by_user_id,
                action="token.revoke",
                details={"token_id": token.id, "name": token.name},
            )
        )
        await db.commit()
    return _info(token, email)


async def authenticate(db: AsyncSession, value: str) -> TokenUser | None:
    """The member a live token speaks for, or None (unknown, revoked, malformed)."""
    value = value.strip()
    if not looks_like_token(value):
        return None
    row = (
        await db.execute(
            select(
                ApiToken.id,
                ApiToken.scope,
                ApiToken.last_used_at,
                User.id.label("user_id"),
                User.household_id,
                User.email,
                User.display_name,
                User.role,
                User.lang,
                Household.timezone,
                Household.name,
            )
            .join(User, User.id == ApiToken.user_id)
            .join(Household, Household.id == User.household_id)
            .where(
                ApiToken.token_hash == hash_api_token(value),
                ApiToken.revoked_at.is_(None),
                # A member moved out of the household: the token does not follow them.
                ApiToken.household_id == User.household_id,
            )
        )
    ).first()
    if row is None:
        return None
    now = utcnow()
    if row.last_used_at is None or now - row.last_used_at >= _TOUCH_EVERY:
        await db.execute(update(ApiToken).where(ApiToken.id == row.id).values(last_used_at=now))
        await db.commit()
    return TokenUser(
        token_id=row.id,
        scope=row.scope,
        user_id=row.user_id,
        household_id=row.household_id,
        email=row.email,
        display_name=row.display_name,
        role=row.role,
        lang=row.lang,
        timezone=row.timezone,
        household_name=row.name,
    )
