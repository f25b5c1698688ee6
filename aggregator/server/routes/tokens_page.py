"""The settings page of personal API tokens: create (shown once), list, revoke.

A thin adapter over :mod:`aggregator.services.tokens`.
"""

from __future__ import annotations

from typing import Any

from litestar import Request, Response, get, post
from litestar.exceptions import NotFoundException, PermissionDeniedException
from litestar.params import FromPath

from ...services import tokens as token_service
from ..rendering import page, translate
from .common import DB, form_data, redirect, require_user

__all__ = ["ROUTES"]


async def _render(
    request: Request[Any, Any, Any],
    db: DB,
    *,
    created: token_service.CreatedToken | None = None,
    error: str | None = None,
    errors: dict[str, str] | None = None,
    form: dict[str, str] | None = None,
    status_code: int = 200,
) -> Response[Any]:
    user = require_user(request)
    listing = await token_service.list_tokens(db, user.household_id)
    return page(
        request,
        "tokens.html",
        status_code=status_code,
        tokens=listing,
        created=created,
        created_value=created.token.reveal() if created is not None else None,
        error=error,
        errors=errors or {},
        form=form or {},
        revoked=request.query_params.get("revoked"),
    )


@get("/settings/tokens", include_in_schema=False)
async def tokens_page(request: Request[Any, Any, Any], db: DB) -> Response[Any]:
    return await _render(request, db)


@post("/settings/tokens", include_in_schema=False)
async def tokens_create(request: Request[Any, Any, Any], db: DB) -> Response[Any]:
    user = require_user(request)
    form = await form_data(request)
    name = " ".join(form.get("name", "").split())
    if not name or len(name) > token_service.MAX_NAME:  # said at the field, the rest kept
        message = translate(request, "tokens.name_invalid", max=token_service.MAX_NAME)
        return await _render(request, db, errors={"name": message}, form=form, status_code=400)
    try:
        created = await token_service.create_token(
            db,
            household_id=user.household_id,
            user_id=user.user_id,
            name=form.get("name", ""),
            scope=form.get("scope", "read"),
        )
    except token_service.TokenError as exc:
        return await _render(request, db, error=str(exc), form=form, status_code=400)
    # Shown once, on this very response (not after a redirect: it is never stored).
    return await _render(request, db, created=created)


@post("/settings/tokens/{token_id:int}/revoke", include_in_schema=False)
async def tokens_revoke(
    request: Request[Any, Any, Any], db: DB, token_id: FromPath[int]
) -> Response[Any]:
    user = require_user(request)
    listing = {t.id: t for t in await token_service.list_tokens(db, user.household_id)}
    token = listing.get(token_id)
    if token is None:
        raise NotFoundException()
    if not user.is_owner and token.user_email != user.email:
        raise PermissionDeniedException("only the owner revokes another member's token")
    await token_service.revoke_token(db, user.household_id, token_id, by_user_id=user.user_id)
    return redirect(request, "/settings/tokens?revoked=1")


ROUTES = [tokens_page, tokens_create, tokens_revoke]
