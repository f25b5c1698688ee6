"""Signing in and out, the first account, accepting an invitation, the language switch."""

from __future__ import annotations

import datetime as dt
import hashlib
import math
import re
import secrets
from typing import Any

from litestar import Request, Response, get, post
from litestar.params import FromPath, FromQuery
from litestar.response import Redirect
from sqlalchemy import select

from ...households import MIN_PASSWORD_LENGTH
from ...storage.models import AuditLog, Invitation, User, utcnow
from ..i18n import LANGS
from ..integration import (
    any_user_exists,
    create_household_with_owner,
    hash_password,
    verify_password,
)
from ..rendering import current_user, page
from ..security import (
    create_web_session,
    delete_web_session,
    lang_cookie,
    session_cookie,
)
from .common import DB, Server, form_data, redirect, safe_next

__all__ = ["MIN_PASSWORD", "ROUTES", "validate_new_password"]

MIN_PASSWORD = MIN_PASSWORD_LENGTH
_EMAIL = re.compile(r"[^@\s]+@[^@\s]+\.[^@\s]+")
_dummy: list[str] = []


async def _dummy_hash() -> str:
    """A hash to verify against when the address is unknown: timing reveals no accounts."""
    if not _dummy:
        _dummy.append(await hash_password(secrets.token_urlsafe(16)))
    return _dummy[0]


def validate_new_password(password: str, confirm: str | None = None) -> str | None:
    """The translation key of what is wrong with a new household password, or None."""
    if len(password) < MIN_PASSWORD:
        return "form.password_short"
    if len(password) > 256:
        return "form.password_long"
    if confirm is not None and password != confirm:
        return "form.password_mismatch"
    return None


def _signed_in(server: Server, token: str, target: str) -> Response[Any]:
    response = Redirect(target, status_code=303)
    response.cookies.append(session_cookie(server.settings, token))
    return response


@get("/login", opt={"public": True}, include_in_schema=False)
async def login_page(
    request: Request[Any, Any, Any], db: DB, next: FromQuery[str | None] = None
) -> Response[Any]:
    if current_user(request) is not None:
        return Redirect(safe_next(next), status_code=303)
    if not await any_user_exists(db):
        return Redirect("/setup", status_code=303)
    return page(request, "login.html", next=safe_next(next), email="", error=None)


@post("/login", opt={"public": True}, include_in_schema=False)
async def login_submit(request: Request[Any, Any, Any], db: DB, server: Server) -> Response[Any]:
    form = await form_data(request)
    email = form.get("email", "").strip().lower()
    password = form.get("password", "")
    target = safe_next(form.get("next"))
    client = request.client.host if request.client else "unknown"
    wait = await server.throttle.retry_after(db, email, client)
    if wait:
        return page(
            request,
            "login.html",
            status_code=429,
            headers={"Retry-After": str(math.ceil(wait))},
            next=target,
            email=email,
            error="login.throttled",
            minutes=max(1, math.ceil(wait / 60)),
        )
    user = await db.scalar(select(User).where(User.email == email)) if email else None
    ok = await verify_password(user.password_hash if user else await _dummy_hash(), password)
    if user is None or not ok or not password:
        await server.throttle.failed(db, email, client)
        if user is not None:
            db.add(
                AuditLog(
                    household_id=user.household_id,
                    user_id=user.id,
                    action="auth.sign_in_failed",
                    details={},
                )
            )
        await db.commit()
        return page(
            request,
            "login.html",
            status_code=400,
            next=target,
            email=email,
            error="login.invalid",
        )
    await server.throttle.succeeded(db, email, client)
    token = await create_web_session(db, user.id)
    db.add(AuditLog(household_id=user.household_id, user_id=user.id, action="auth.sign_in"))
    await db.commit()
    return _signed_in(server, token, target)


@post("/logout", include_in_schema=False)
async def logout(request: Request[Any, Any, Any], db: DB, server: Server) -> Response[Any]:
    user = current_user(request)
    if user is not None:
        await delete_web_session(db, user.session_id)
        await db.commit()
    response = Redirect("/login", status_code=303)
    response.cookies.append(session_cookie(server.settings, None))
    return response


@get("/setup", opt={"public": True}, include_in_schema=False)
async def setup_page(request: Request[Any, Any, Any], db: DB) -> Response[Any]:
    if await any_user_exists(db):
        return Redirect("/login", status_code=303)
    return page(request, "setup.html", values={}, error=None)


@post("/setup", opt={"public": True}, include_in_schema=False)
async def setup_submit(request: Request[Any, Any, Any], db: DB, server: Server) -> Response[Any]:
    if await any_user_exists(db):
        return Redirect("/login", status_code=303)
    form = await form_data(request)
    values = {k: form.get(k, "").strip() for k in ("household", "name", "email", "lang")}
    email = values["email"].lower()
    lang = values["lang"] if values["lang"] in LANGS else "ru"
    password = form.get("password", "")
    error = None
    if not _EMAIL.fullmatch(email):
        error = "form.email_invalid"
    else:
        error = validate_new_password(password, form.get("password_confirm", ""))
    if error:
        return page(request, "setup.html", status_code=400, values=values, error=error)
    try:
        user = await create_household_with_owner(
            db,
            email=email,
            password=password,
            name=values["household"] or values["name"] or email,
            lang=lang,
        )
    except ValueError:
        await db.rollback()
        return page(
            request, "setup.html", status_code=400, values=values, error="form.email_invalid"
        )
    user.display_name = values["name"]
    token = await create_web_session(db, user.id)
    await db.commit()
    return _signed_in(server, token, "/")


def _invitation_hash(token: str) -> str:
    return hashlib.sha256(token.encode()).hexdigest()


async def _open_invitation(db: DB, token: str) -> Invitation | None:
    invitation = await db.scalar(
        select(Invitation).where(Invitation.token_hash == _invitation_hash(token))
    )
    if invitation is None or invitation.accepted_at is not None:
        return None
    if invitation.expires_at <= utcnow():
        return None
    return invitation


@get("/invite/{token:str}", opt={"public": True}, include_in_schema=False)
async def invitation_page(
    request: Request[Any, Any, Any], db: DB, token: FromPath[str]
) -> Response[Any]:
    invitation = await _open_invitation(db, token)
    if invitation is None:
        return page(request, "invite.html", status_code=404, invitation=None, token="", error=None)
    return page(request, "invite.html", invitation=invitation, token=token, error=None, values={})


@post("/invite/{token:str}", opt={"public": True}, include_in_schema=False)
async def invitation_accept(
    request: Request[Any, Any, Any], db: DB, server: Server, token: FromPath[str]
) -> Response[Any]:
    invitation = await _open_invitation(db, token)
    if invitation is None:
        return page(request, "invite.html", status_code=404, invitation=None, token="", error=None)
    form = await form_data(request)
    values = {"name": form.get("name", "").strip(), "lang": form.get("lang", "ru")}
    password = form.get("password", "")
    error = validate_new_password(password, form.get("password_confirm", ""))
    if error is None and await db.scalar(select(User.id).where(User.email == invitation.email)):
        error = "invite.email_taken"
    if error:
        return page(
            request,
            "invite.html",
            status_code=400,
            invitation=invitation,
            token=token,
            error=error,
            values=values,
        )
    user = User(
        household_id=invitation.household_id,
        email=invitation.email,
        display_name=values["name"],
        password_hash=await hash_password(password),
        role="member",
        lang=values["lang"] if values["lang"] in LANGS else "ru",
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
    token_value = await create_web_session(db, user.id)
    await db.commit()
    return _signed_in(server, token_value, "/")


@post("/lang", opt={"public": True}, include_in_schema=False)
async def switch_language(request: Request[Any, Any, Any], db: DB, server: Server) -> Response[Any]:
    form = await form_data(request)
    lang = form.get("lang", "ru")
    if lang not in LANGS:
        lang = "ru"
    user = current_user(request)
    if user is not None:
        row = await db.get(User, user.user_id)
        if row is not None:
            row.lang = lang
            await db.commit()
    response = redirect(request, safe_next(form.get("next")))
    response.cookies.append(lang_cookie(server.settings, lang))
    return response


INVITATION_TTL = dt.timedelta(days=7)

ROUTES = [
    login_page,
    login_submit,
    logout,
    setup_page,
    setup_submit,
    invitation_page,
    invitation_accept,
    switch_language,
]
