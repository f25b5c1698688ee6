"""The dashboard: every account as a card, those needing action first, and the total."""

from __future__ import annotations

from typing import Any

from litestar import Request, Response, get

from ..queries import household_dashboard
from ..rendering import page, request_lang
from .common import DB, Server, require_user
from .pages_common import provider_names

__all__ = ["ROUTES"]


@get("/", include_in_schema=False)
async def dashboard(request: Request[Any, Any, Any], db: DB, server: Server) -> Response[Any]:
    user = require_user(request)
    board = await household_dashboard(db, user.household_id)
    return page(
        request,
        "dashboard.html",
        board=board,
        names=provider_names(server, request_lang(request)),
        linked=request.query_params.get("linked"),
        removed=request.query_params.get("removed"),
    )


ROUTES = [dashboard]
