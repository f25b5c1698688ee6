"""The settings page of notification channels: a plugin channel's settings (a bot token),
linking a chat with a one-time code, the linked chats (and those a channel disabled), and
which channels carry each alert kind. A thin adapter over :mod:`aggregator.services.channels`.
"""

from __future__ import annotations

from typing import Any

from litestar import Request, Response, get, post
from litestar.exceptions import NotFoundException, PermissionDeniedException
from litestar.params import FromPath

from ...alerts.rules import AlertKind
from ...services import channels as channel_service
from ..rendering import page
from .common import DB, Server, form_lists, redirect, require_user

__all__ = ["ROUTES"]


async def _render(
    request: Request[Any, Any, Any],
    db: DB,
    server: Server,
    *,
    code: channel_service.LinkCode | None = None,
    error: str | None = None,
    typed_choice: dict[str, list[str] | None] | None = None,
    field_error: tuple[str, channel_service.ChannelFieldError] | None = None,
    typed: dict[str, str] | None = None,
    status_code: int = 200,
) -> Response[Any]:
    user = require_user(request)
    registry = server.require_runtime().registry
    channels = await channel_service.channels_of(
        db, server.require_vault(), registry, user.household_id
    )
    choice = typed_choice or await channel_service.channel_choice(db, registry, user.household_id)
    # After a refused choice: the ticks as sent, and the kinds left without a channel marked.
    unchosen = [kind for kind, picked in (typed_choice or {}).items() if not picked]
    names = {"email": "E-mail", **{c.id: c.name for c in channels}}
    return page(
        request,
        "channels.html",
        status_code=status_code,
        channels=channels,
        choice=choice,
        unchosen=unchosen,
        kinds=[k.value for k in AlertKind],
        channel_names=names,
        code=code,
        error=error,
        # A refused setting: (channel id, the error); the page marks that field and keeps what
        # was typed in the channel's plain fields (a secret is never sent back).
        field_error=field_error,
        typed=typed or {},
        max_length=channel_service.MAX_SETTING_LENGTH,
        saved=request.query_params.get("saved"),
    )


@get("/settings/channels", include_in_schema=False)
async def channels_page(request: Request[Any, Any, Any], db: DB, server: Server) -> Response[Any]:
    return await _render(request, db, server)


@post("/settings/channels/choice", include_in_schema=False)
async def channels_choice(request: Request[Any, Any, Any], db: DB, server: Server) -> Response[Any]:
    user = require_user(request)
    if not user.is_owner:
        raise PermissionDeniedException("only the household's owner can do this")
    form = await form_lists(request)
    chosen = form.get("channel", [])
    choice: dict[str, list[str] | None] = {}
    for kind in AlertKind:
        picked = [v.split(":", 1)[1] for v in chosen if v.startswith(f"{kind.value}:")]
        choice[kind.value] = picked
    if any(not picked for picked in choice.values()):
        return await _render(
            request, db, server, error="channels.none_chosen", typed_choice=choice, status_code=400
        )
    try:
        await channel_service.save_channel_choice(
            db, server.require_runtime().registry, user.household_id, choice, user_id=user.user_id
        )
    except channel_service.ChannelError as exc:
        return await _render(request, db, server, error=str(exc), status_code=400)
    return redirect(request, "/settings/channels?saved=choice")


@post("/settings/channels/{notifier_id:str}", include_in_schema=False)
async def channels_save(
    request: Request[Any, Any, Any], db: DB, server: Server, notifier_id: FromPath[str]
) -> Response[Any]:
    user = require_user(request)
    if not user.is_owner:
        raise PermissionDeniedException("only the household's owner can do this")
    form = {k: v[-1] for k, v in (await form_lists(request)).items() if v}
    try:
        await channel_service.save_channel_settings(
            db,
            server.require_vault(),
            server.require_runtime().registry,
            user.household_id,
            notifier_id,
            form,
            user_id=user.user_id,
        )
    except channel_service.ChannelFieldError as exc:
        return await _render(
            request,
            db,
            server,
            field_error=(notifier_id, exc),
            typed=form,
            status_code=400,
        )
    except channel_service.ChannelError as exc:
        if str(exc).startswith("no such channel"):
            raise NotFoundException() from None
        return await _render(request, db, server, error=str(exc), status_code=400)
    return redirect(request, f"/settings/channels?saved={notifier_id}")


@post("/settings/channels/{notifier_id:str}/code", include_in_schema=False)
async def channels_code(
    request: Request[Any, Any, Any], db: DB, server: Server, notifier_id: FromPath[str]
) -> Response[Any]:
    user = require_user(request)
    try:
        code = await channel_service.create_link_code(
            db,
            server.require_runtime().registry,
            user.household_id,
            notifier_id,
            user_id=user.user_id,
            lang=user.lang,
        )
    except channel_service.ChannelError as exc:
        if str(exc).startswith("no such channel"):
            raise NotFoundException() from None
        return await _render(request, db, server, error=str(exc), status_code=400)
    return await _render(request, db, server, code=code)


@post("/settings/channels/recipients/{recipient_id:int}/remove", include_in_schema=False)
async def channels_remove_recipient(
    request: Request[Any, Any, Any], db: DB, recipient_id: FromPath[int]
) -> Response[Any]:
    user = require_user(request)
    try:
        await channel_service.remove_recipient(
            db, user.household_id, recipient_id, user_id=user.user_id
        )
    except channel_service.ChannelError:
        raise NotFoundException() from None
    return redirect(request, "/settings/channels?saved=removed")


ROUTES = [
    channels_page,
    channels_choice,
    channels_save,
    channels_code,
    channels_remove_recipient,
]
