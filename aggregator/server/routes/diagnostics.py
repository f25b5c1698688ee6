"""The account page's "Скачать диагностику / Download diagnostics": a thin adapter over
:func:`aggregator.services.diagnostics.diagnose_account` that sends the redacted HAR file; and
``/help/report``, the page the built-in plugins name as their address for reports (their
``[project.urls]``): how to take the diagnostics and whom to give them to."""

from __future__ import annotations

import re
from typing import Any

from litestar import Request, Response, get, post
from litestar.params import FromPath, FromQuery

from ...diagnostics import HAR_MEDIA_TYPE
from ...services.diagnostics import diagnose_account
from ..rendering import page
from .common import DB, Server, form_data, require_user

__all__ = ["ROUTES"]


@post("/accounts/{account_id:int}/diagnostics", include_in_schema=False)
async def download_diagnostics(
    request: Request[Any, Any, Any], db: DB, server: Server, account_id: FromPath[int]
) -> Response[Any]:
    """One poll (and a login when the box is ticked) recorded, redacted, sent as a file."""
    user = require_user(request)
    form = await form_data(request)
    result = await diagnose_account(
        db,
        user.household_id,
        account_id,
        runtime=server.require_runtime(),
        vault=server.require_vault(),
        login=form.get("login") in ("1", "on", "true"),
        user_id=user.user_id,
    )
    filename = re.sub(r"[^A-Za-z0-9._-]", "_", result.filename)
    return Response(
        result.content,
        media_type=HAR_MEDIA_TYPE,
        headers={"Content-Disposition": f'attachment; filename="{filename}"'},
    )


@get("/help/report", opt={"public": True}, include_in_schema=False)
async def report_help(
    request: Request[Any, Any, Any], server: Server, plugin: FromQuery[str | None] = None
) -> Response[Any]:
    """How to report a plugin's failure: the diagnostics, what they hold, where they go."""
    registry = server.require_runtime().registry
    found = registry.plugins.get(plugin or "")
    return page(request, "report_help.html", plugin=found)


ROUTES = [download_diagnostics, report_help]
