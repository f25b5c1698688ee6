"""The page side of "confirm once more": an adapter over :mod:`aggregator.services.provenance`."""

from __future__ import annotations

from typing import Any

from litestar import Request, Response

from ...services.provenance import needs_second_confirmation
from ...storage.models import LinkedAccount
from ..context import ServerState
from ..rendering import request_lang
from .pages_common import fragment, provider_class, provider_name

__all__ = ["second_confirmation"]


def second_confirmation(
    request: Request[Any, Any, Any],
    server: ServerState,
    account: LinkedAccount,
    operation: str,
    form: dict[str, str],
    action: str,
    *,
    enabling: bool = True,
) -> Response[Any] | None:
    """The confirmation fragment when the operation needs one and the form has not given it,
    else None (go on)."""
    if form.get("confirm_assumed") == "1":
        return None
    if not needs_second_confirmation(
        provider_class(server, account.provider_id), operation, enabling=enabling
    ):
        return None
    fields = {k: v for k, v in form.items() if k not in ("_csrf", "confirm_assumed")}
    return fragment(
        request,
        "partials/assumed_confirm.html",
        account=account,
        action=action,
        fields=fields,
        provider_name=provider_name(server, account.provider_id, request_lang(request)),
        back=f"/accounts/{account.id}",
    )
