"""What every handler module uses: the database session, the user, forms, redirects."""

from __future__ import annotations

from collections.abc import AsyncIterator
from typing import Any, TypeAlias

from litestar import Request, Response
from litestar.datastructures import State
from litestar.di import NamedDependency, Provide
from litestar.exceptions import NotAuthorizedException, PermissionDeniedException
from litestar.response import Redirect
from sqlalchemy.ext.asyncio import AsyncSession

from ..context import CurrentUser, ServerState
from ..rendering import current_user, is_htmx

__all__ = [
    "DB",
    "Server",
    "dependencies",
    "form_data",
    "owner_required",
    "redirect",
    "require_user",
    "safe_next",
]


async def provide_db(state: State) -> AsyncIterator[AsyncSession]:
    server: Server = state.server
    async with server.db() as db:
        yield db


def provide_server(state: State) -> ServerState:
    server: Server = state.server
    return server


DB: TypeAlias = NamedDependency[AsyncSession]
"""A database session for the request (a handler parameter named ``db``)."""
Server: TypeAlias = NamedDependency[ServerState]
"""The server's shared state (a handler parameter named ``server``)."""

dependencies = {
    "db": Provide(provide_db),
    "server": Provide(provide_server, sync_to_thread=False),
}


def require_user(request: Request[Any, Any, Any]) -> CurrentUser:
    user = current_user(request)
    if user is None:
        raise NotAuthorizedException("sign in first")
    return user


def owner_required(request: Request[Any, Any, Any]) -> CurrentUser:
    user = require_user(request)
    if not user.is_owner:
        raise PermissionDeniedException("only the household's owner can do this")
    return user


async def form_data(request: Request[Any, Any, Any]) -> dict[str, str]:
    """The submitted form as plain strings (the last value of a repeated field wins)."""
    form = await request.form()
    return {key: value for key, value in form.items() if isinstance(value, str)}


async def form_lists(request: Request[Any, Any, Any]) -> dict[str, list[str]]:
    form = await request.form()
    out: dict[str, list[str]] = {}
    for key, value in form.multi_items():
        if isinstance(value, str):
            out.setdefault(key, []).append(value)
    return out


def safe_next(value: str | None, default: str = "/") -> str:
    """A local path to go back to; anything else (another site, ``//host``) becomes ``default``."""
    if not value or not value.startswith("/") or value.startswith("//") or "\\" in value:
        return default
    return value


def redirect(request: Request[Any, Any, Any], target: str) -> Response[Any]:
    """303 to ``target``; for htmx requests an ``HX-Redirect`` so the whole page moves."""
    if is_htmx(request):
        return Response("", status_code=200, headers={"HX-Redirect": target})
    return Redirect(target, status_code=303)
