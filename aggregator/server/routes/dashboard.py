"""The dashboard: every account as a card, those needing action first, and the total."""

from __future__ import annotations

from typing import Any

from litestar import Request, Response, get, post

from ...services.channels import disabled_recipients
from ...services.dashboard import household_dashboard
from ..integration import poll_household
from ..presenters import cards
from ..rendering import page, request_lang
from .common import DB, Server, redirect, require_user
from .pages_common import provider_names

__all__ = ["ROUTES"]


@get("/", include_in_schema=False)
async def dashboard(request: Request[Any, Any, Any], db: DB, server: Server) -> Response[Any]:
    user = require_user(request)
    board = await household_dashboard(db, user.household_id)
    lang = request_lang(request)
    helpers = server.renderer.helpers(lang, user.timezone)
    return page(
        request,
        "dashboard.html",
        board=board,
        cards=cards(
            board,
            provider_names(server, lang),
            helpers["t"],
            helpers["money"],
            helpers["when"],
            helpers["day"],
            helpers["age"],
            helpers["size"],
            helpers["bonus"],
        ),
        linked=request.query_params.get("linked"),
        removed=request.query_params.get("removed"),
        refreshed=request.query_params.get("refreshed"),
        gone=await disabled_recipients(db, server.require_runtime().registry, user.household_id),
    )


@post("/refresh", include_in_schema=False)
async def refresh_all(request: Request[Any, Any, Any], db: DB, server: Server) -> Response[Any]:
    """Poll every account of the household now (what the scheduler does on its own)."""
    user = require_user(request)
    await poll_household(server, db, user.household_id)
    return redirect(request, "/?refreshed=1")


ROUTES = [dashboard, refresh_all]
