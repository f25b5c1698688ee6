"""Households and their users: the first user creates the household; passwords are argon2id.

Used by ``aggregator users create`` and by the dashboard (first start, sign-in, invitations).
Nothing here commits: the caller owns the transaction, as in :mod:`aggregator.accounts`.
"""

from __future__ import annotations

import re
from functools import lru_cache
from typing import TYPE_CHECKING

from sqlalchemy import func, select

from .i18n import LANGS
from .storage.models import AuditLog, Household, User

if TYPE_CHECKING:
    from argon2 import PasswordHasher
    from sqlalchemy.ext.asyncio import AsyncSession

__all__ = [
    "MIN_PASSWORD_LENGTH",
    "check_password",
    "create_household_with_owner",
    "hash_password",
    "needs_rehash",
    "normalise_email",
    "verify_password",
]

MIN_PASSWORD_LENGTH = 8
_EMAIL = re.compile(r"[^@\s]+@[^@\s]+\.[^@\s]+")


@lru_cache(maxsize=1)
def _hasher() -> PasswordHasher:
    from argon2 import PasswordHasher, Type

    # argon2id with the library's recommended parameters (RFC 9106, low-memory profile).
    return PasswordHasher(type=Type.ID)


def hash_password(password: str) -> str:
    """An argon2id hash of ``password`` (deliberately slow: run it off the event loop)."""
    if not password:
        raise ValueError("password is required")
    return _hasher().hash(password)


def verify_password(password_hash: str, password: str) -> bool:
    """True when ``password`` matches ``password_hash``; False for a wrong or unreadable hash."""
    from argon2.exceptions import InvalidHashError, VerificationError

    try:
        return bool(_hasher().verify(password_hash, password))
    except (VerificationError, InvalidHashError):
        return False


def needs_rehash(password_hash: str) -> bool:
    """True when the hash was made with weaker parameters than today's (rehash on sign-in)."""
    from argon2.exceptions import InvalidHashError

    try:
        return bool(_hasher().check_needs_rehash(password_hash))
    except InvalidHashError:
        return True


def normalise_email(email: str) -> str:
    """The e-mail address as stored: trimmed, lower-case; ``ValueError`` when malformed."""
    value = email.strip().lower()
    if not _EMAIL.fullmatch(value):
        raise ValueError("e-mail address is not valid")
    return value


def check_password(password: str) -> None:
    """``ValueError`` when the password is too weak for a household account."""
    if len(password) < MIN_PASSWORD_LENGTH:
        raise ValueError(f"password must have at least {MIN_PASSWORD_LENGTH} characters")


async def create_household_with_owner(
    db: AsyncSession,
    *,
    email: str,
    password: str,
    name: str = "",
    lang: str = "ru",
    timezone: str = "Europe/Moscow",
) -> User:
    """Create a household and its first user, the owner; flush, do not commit.

    ``ValueError`` (with a message for the user) for a malformed e-mail, a weak password, an
    unknown language or an e-mail that already has a user. The returned user has its
    ``household`` loaded.
    """
    import anyio.to_thread

    address = normalise_email(email)
    check_password(password)
    if lang not in LANGS:
        raise ValueError(f"language must be one of {', '.join(LANGS)}")
    taken = await db.scalar(select(func.count()).select_from(User).where(User.email == address))
    if taken:
        raise ValueError("a user with this e-mail address already exists")
    password_hash = await anyio.to_thread.run_sync(hash_password, password)
    household = Household(name=name.strip() or address, lang=lang, timezone=timezone)
    db.add(household)
    await db.flush()
    user = User(
        household_id=household.id,
        email=address,
        display_name=name.strip(),
        password_hash=password_hash,
        role="owner",
        lang=lang,
    )
    user.household = household
    db.add(user)
    await db.flush()
    db.add(
        AuditLog(
            household_id=household.id,
            user_id=user.id,
            action="household.created",
            details={"email": address},
        )
    )
    await db.flush()
    return user
