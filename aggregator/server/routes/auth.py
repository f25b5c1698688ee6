"""Signing in and out, the first account, accepting an invitation, the language switch."""

from __future__ import annotations

import math
import re
from typing import Any

from litestar import Request, Response, get, post
from litestar.params import FromPath, FromQuery
from litestar.response import Redirect

from ...services import households
from ...services.errors import BadInput
from ..i18n import LANGS
from ..rendering import current_user, page
from ..security import (
    create_web_session,
    delete_web_session,
    lang_cookie,
    session_cookie,
)
from .common import DB, Server, form_data, redirect, safe_next

__all__ = ["MIN_PASSWORD", "ROUTES"]

MIN_PASSWORD = households.MIN_PASSWORD_LENGTH
_EMAIL = re.compile(r"[^@\s]+@[^@\s]+\.[^@\s]+")


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
    if not await households.any_user_exists(db):
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
    user = await households.authenticate(db, email, password)
    if user is None:
        await server.throttle.failed(db, email, client)
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
    if await households.any_user_exists(db):
        return Redirect("/login", status_code=303)
    return page(request, "setup.html", values={}, error=None)


@post("/setup", opt={"public": True}, include_in_schema=False)
async def setup_submit(request: Request[Any, Any, Any], db: DB, server: Server) -> Response[Any]:
    if await households.any_user_exists(db):
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
        error = households.new_password_problem(password, form.get("password_confirm", ""))
    if error:
        return page(request, "setup.html", status_code=400, values=values, error=error)
    try:
        user = await households.create_household_with_owner(
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


@get("/invite/{token:str}", opt={"public": True}, include_in_schema=False)
async def invitation_page(
    request: Request[Any, Any, Any], db: DB, token: FromPath[str]
) -> Response[Any]:
    invitation = await households.open_invitation(db, token)
    if invitation is None:
        return page(request, "invite.html", status_code=404, invitation=None, token="", error=None)
    return page(request, "invite.html", invitation=invitation, token=token, error=None, values={})


@post("/invite/{token:str}", opt={"public": True}, include_in_schema=False)
async def invitation_accept(
    request: Request[Any, Any, Any], db: DB, server: Server, token: FromPath[str]
) -> Response[Any]:
    invitation = await households.open_invitation(db, token)
    if invitation is None:
        return page(request, "invite.html", status_code=404, invitation=None, token="", error=None)
    form = await form_data(request)
    values = {"name": form.get("name", "").strip(), "lang": form.get("lang", "ru")}
    password = form.get("password", "")
    error = households.new_password_problem(password, form.get("password_confirm", ""))
    user = None
    if error is None:
        try:
            user = await households.accept_invitation(
                db, invitation, password=password, name=values["name"], lang=values["lang"]
            )
        except BadInput as exc:
            error = exc.key
    if error or user is None:  # nothing was written: the checks come first
        return page(
            request,
            "invite.html",
            status_code=400,
            invitation=invitation,
            token=token,
            error=error,
            values=values,
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
        await households.set_language(db, user.user_id, lang)
    response = redirect(request, safe_next(form.get("next")))
    response.cookies.append(lang_cookie(server.settings, lang))
    return response


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
