"""Households, their members and invitations, sign-in and personal settings, written once.

The first user creates the household (``aggregator users create``, the dashboard's first
start, the demo); the owner invites members by a one-time link, revokes an invitation or
removes a member; a person signs in, changes the password, the language and the household's
settings. Passwords are argon2id, hashed in a worker thread (deliberately slow).

The dashboard's pages (:mod:`aggregator.server.routes.auth`, ``settings_pages``) and the CLI
are adapters over these functions. A function that finishes a workflow commits; a step of
one the adapter finishes (sign-in and accepting an invitation, which the dashboard completes
with a web session) only flushes, and says so. A value a person typed that does not fit is a
:class:`~aggregator.services.errors.BadInput` naming the field and the catalogue key.
"""

from __future__ import annotations

import datetime as dt
import hashlib
import re
import secrets
import zoneinfo
from dataclasses import dataclass
from functools import lru_cache
from typing import TYPE_CHECKING

import anyio.to_thread
from sqlalchemy import delete, func, select

from ..i18n import LANGS
from ..storage.models import AuditLog, Household, Invitation, User, WebSession, utcnow
from .errors import BadInput, Forbidden, NotFound

if TYPE_CHECKING:
    from argon2 import PasswordHasher
    from sqlalchemy.ext.asyncio import AsyncSession

__all__ = [
    "INVITATION_TTL",
    "MAX_PASSWORD_LENGTH",
    "MIN_PASSWORD_LENGTH",
    "TIME_ZONES",
    "Profile",
    "accept_invitation",
    "any_user_exists",
    "authenticate",
    "change_password",
    "check_password",
    "create_household_with_owner",
    "hash_password",
    "hash_password_async",
    "household",
    "invite_member",
    "members",
    "needs_rehash",
    "new_password_problem",
    "normalise_email",
    "open_invitation",
    "open_invitations",
    "remove_member",
    "revoke_invitation",
    "save_profile",
    "set_language",
    "verify_password",
    "verify_password_async",
]

MIN_PASSWORD_LENGTH = 8
MAX_PASSWORD_LENGTH = 256
INVITATION_TTL = dt.timedelta(days=7)
_EMAIL = re.compile(r"[^@\s]+@[^@\s]+\.[^@\s]+")
# The time zones a household may choose (Russia's are all under Europe/ and Asia/).
TIME_ZONES = sorted(
    z for z in zoneinfo.available_timezones() if z.startswith(("Europe/", "Asia/")) and "/" in z
) or ["Europe/Moscow"]


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


# -- passwords off the event loop ------------------------------------------------------------


async def hash_password_async(password: str) -> str:
    """:func:`hash_password` in a worker thread."""
    return str(await anyio.to_thread.run_sync(hash_password, password))


async def verify_password_async(password_hash: str, password: str) -> bool:
    """:func:`verify_password` in a worker thread."""
    return bool(await anyio.to_thread.run_sync(verify_password, password_hash, password))


def new_password_problem(password: str, confirm: str | None = None) -> str | None:
    """The catalogue key of what is wrong with a new password (and its repetition), or None."""
    if len(password) < MIN_PASSWORD_LENGTH:
        return "form.password_short"
    if len(password) > MAX_PASSWORD_LENGTH:
        return "form.password_long"
    if confirm is not None and password != confirm:
        return "form.password_mismatch"
    return None


_dummy_hash: list[str] = []


async def _dummy() -> str:
    """A hash to verify against when the address is unknown: timing reveals no accounts."""
    if not _dummy_hash:
        _dummy_hash.append(await hash_password_async(secrets.token_urlsafe(16)))
    return _dummy_hash[0]


# -- signing in --------------------------------------------------------------------------------


async def any_user_exists(db: AsyncSession) -> bool:
    """Whether anyone has an account yet (else the dashboard offers the first start)."""
    return bool(await db.scalar(select(func.count()).select_from(User)))


async def authenticate(db: AsyncSession, email: str, password: str) -> User | None:
    """The user whose e-mail and password these are, or None; audited (``auth.sign_in`` or
    ``auth.sign_in_failed`` for a known address). A step: flushes, the caller commits (after
    its own throttle record and web session)."""
    address = email.strip().lower()
    user = await db.scalar(select(User).where(User.email == address)) if address else None
    ok = await verify_password_async(user.password_hash if user else await _dummy(), password)
    if user is None:
        return None
    action = "auth.sign_in" if ok and password else "auth.sign_in_failed"
    db.add(AuditLog(household_id=user.household_id, user_id=user.id, action=action, details={}))
    await db.flush()
    return user if ok and password else None


# -- members and invitations -------------------------------------------------------------------


def _invitation_hash(token: str) -> str:
    return hashlib.sha256(token.encode()).hexdigest()


async def members(db: AsyncSession, household_id: int) -> list[User]:
    """The household's users, oldest first."""
    return list(
        await db.scalars(select(User).where(User.household_id == household_id).order_by(User.id))
    )


async def open_invitations(db: AsyncSession, household_id: int) -> list[Invitation]:
    """Invitations neither accepted nor expired, newest first."""
    return list(
        await db.scalars(
            select(Invitation)
            .where(
                Invitation.household_id == household_id,
                Invitation.accepted_at.is_(None),
                Invitation.expires_at > utcnow(),
            )
            .order_by(Invitation.id.desc())
        )
    )


async def invite_member(db: AsyncSession, household_id: int, user_id: int, email: str) -> str:
    """Invite ``email`` into the household (audited ``member.invited``) and commit; returns the
    one-time token of the link (only its hash is stored). ``BadInput`` on the ``email`` field for
    a malformed address or one that already has a user."""
    address = email.strip().lower()
    if not _EMAIL.fullmatch(address) or any(c in address for c in ",;"):
        raise BadInput("email", "e-mail address is not valid", key="form.email_invalid")
    if await db.scalar(select(User.id).where(User.email == address)):
        raise BadInput("email", "a user with this e-mail exists", key="members.email_taken")
    token = secrets.token_urlsafe(32)
    db.add(
        Invitation(
            household_id=household_id,
            email=address,
            token_hash=_invitation_hash(token),
            expires_at=utcnow() + INVITATION_TTL,
        )
    )
    db.add(
        AuditLog(
            household_id=household_id,
            user_id=user_id,
            action="member.invited",
            details={"email": address},
        )
    )
    await db.commit()
    return token


async def revoke_invitation(db: AsyncSession, household_id: int, invitation_id: int) -> None:
    """Withdraw an open invitation of this household (another household's: nothing) and commit."""
    await db.execute(
        delete(Invitation).where(
            Invitation.id == invitation_id, Invitation.household_id == household_id
        )
    )
    await db.commit()


async def open_invitation(db: AsyncSession, token: str) -> Invitation | None:
    """The invitation of a link's token while it can still be accepted, else None."""
    invitation = await db.scalar(
        select(Invitation).where(Invitation.token_hash == _invitation_hash(token))
    )
    if invitation is None or invitation.accepted_at is not None:
        return None
    if invitation.expires_at <= utcnow():
        return None
    return invitation


async def accept_invitation(
    db: AsyncSession, invitation: Invitation, *, password: str, name: str, lang: str
) -> User:
    """The invited person's user (a member), audited ``member.joined``; the invitation is used.
    ``BadInput`` when the address got a user meanwhile. A step: flushes, the caller commits
    (the dashboard after the new web session)."""
    if await db.scalar(select(User.id).where(User.email == invitation.email)):
        raise BadInput("email", "a user with this e-mail exists", key="invite.email_taken")
    user = User(
        household_id=invitation.household_id,
        email=invitation.email,
        display_name=name.strip(),
        password_hash=await hash_password_async(password),
        role="member",
        lang=lang if lang in LANGS else "ru",
    )
    db.add(user)
    invitation.accepted_at = utcnow()
    await db.flush()
    db.add(
        AuditLog(
            household_id=user.household_id,
            user_id=user.id,
            action="member.joined",
            details={"email": user.email},
        )
    )
    await db.flush()
    return user


async def remove_member(
    db: AsyncSession, household_id: int, by_user_id: int, member_id: int
) -> None:
    """Remove a member of the household (their web sessions end), audited ``member.removed``,
    and commit. ``NotFound`` for someone outside the household; ``Forbidden`` for oneself."""
    member = await db.scalar(
        select(User).where(User.id == member_id, User.household_id == household_id)
    )
    if member is None:
        raise NotFound("member", member_id)
    if member.id == by_user_id:
        raise Forbidden("the owner cannot remove themselves")
    await db.execute(delete(WebSession).where(WebSession.user_id == member.id))
    await db.delete(member)
    db.add(
        AuditLog(
            household_id=household_id,
            user_id=by_user_id,
            action="member.removed",
            details={"email": member.email},
        )
    )
    await db.commit()


# -- personal and household settings ----------------------------------------------------------


async def household(db: AsyncSession, household_id: int) -> Household:
    """The household's row (its name, time zone, polling interval); ``NotFound`` when gone."""
    found = await db.get(Household, household_id)
    if found is None:
        raise NotFound("household", household_id)
    return found


@dataclass(frozen=True)
class Profile:
    """What the settings page changes: the person's own, and (the owner only) the household's.
    None keeps the value as it is."""

    display_name: str
    lang: str | None = None
    household_name: str | None = None
    timezone: str | None = None
    poll_interval_s: int | None = None


async def save_profile(
    db: AsyncSession, household_id: int, user_id: int, *, is_owner: bool, profile: Profile
) -> None:
    """Save a person's settings (and, for the owner, the household's) and commit. A language or
    time zone that is not offered is ignored."""
    user = await db.get(User, user_id)
    household = await db.get(Household, household_id)
    if user is None or household is None or user.household_id != household_id:
        raise NotFound("user", user_id)
    user.display_name = profile.display_name.strip()[:200]
    if profile.lang in LANGS:
        user.lang = profile.lang
    if is_owner:
        name = (profile.household_name or "").strip()
        if name:
            household.name = name[:200]
        if profile.timezone in TIME_ZONES:
            household.timezone = profile.timezone
        if profile.poll_interval_s:
            household.poll_interval_s = profile.poll_interval_s
    await db.commit()


async def set_language(db: AsyncSession, user_id: int, lang: str) -> None:
    """A person's language (one of :data:`LANGS`), and commit."""
    user = await db.get(User, user_id)
    if user is not None and lang in LANGS:
        user.lang = lang
        await db.commit()


async def change_password(
    db: AsyncSession,
    user_id: int,
    *,
    current: str,
    new: str,
    confirm: str | None,
    keep_session_id: str | None = None,
) -> None:
    """Change a person's password, end every other web session of theirs, audit it
    (``auth.password_changed``) and commit. ``BadInput`` on ``current_password`` (key
    ``settings.wrong_password``) or ``new_password`` (the policy's key)."""
    user = await db.get(User, user_id)
    if user is None:
        raise NotFound("user", user_id)
    if not await verify_password_async(user.password_hash, current):
        raise BadInput("current_password", "wrong password", key="settings.wrong_password")
    problem = new_password_problem(new, confirm)
    if problem:
        field = "new_password_confirm" if problem == "form.password_mismatch" else "new_password"
        raise BadInput(field, "the new password does not fit", key=problem)
    user.password_hash = await hash_password_async(new)
    others = delete(WebSession).where(WebSession.user_id == user.id)
    if keep_session_id is not None:
        others = others.where(WebSession.id != keep_session_id)
    await db.execute(others)
    db.add(
        AuditLog(household_id=user.household_id, user_id=user.id, action="auth.password_changed")
    )
    await db.commit()
