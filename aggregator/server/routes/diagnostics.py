"""The account page's "Скачать диагностику / Download diagnostics": a thin adapter over
:func:`aggregator.services.diagnostics.diagnose_account` that sends the redacted HAR file."""

from __future__ import annotations

import re
from typing import Any

from litestar import Request, Response, post
from litestar.params import FromPath

from ...diagnostics import HAR_MEDIA_TYPE
from ...services.diagnostics import diagnose_account
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


ROUTES = [download_diagnostics]
