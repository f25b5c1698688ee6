"""Helpers shared by the page handlers: provider names, capabilities, fragments."""

from __future__ import annotations

import re
from typing import Any

from litestar import Request, Response

from ...core.models import Report, ReportFormat
from ...core.provider import Capability, Provider
from ..context import ServerState
from ..rendering import is_htmx, page, request_lang

__all__ = [
    "capabilities_of",
    "fragment",
    "provider_class",
    "provider_name",
    "provider_names",
    "report_response",
]


def provider_class(server: ServerState, provider_id: str) -> type[Provider] | None:
    if server.runtime is None:
        return None
    return server.runtime.registry.providers.get(provider_id)


def provider_name(server: ServerState, provider_id: str, lang: str) -> str:
    cls = provider_class(server, provider_id)
    if cls is None:
        return provider_id
    return cls.name_en if lang == "en" else cls.name


def provider_names(server: ServerState, lang: str) -> dict[str, str]:
    if server.runtime is None:
        return {}
    return {
        pid: (cls.name_en if lang == "en" else cls.name)
        for pid, cls in server.runtime.registry.providers.items()
    }


def capabilities_of(server: ServerState, provider_id: str) -> set[str]:
    cls = provider_class(server, provider_id)
    if cls is None:
        return set()
    return {c.value for c in cls.capabilities()}


def fragment(
    request: Request[Any, Any, Any],
    template: str,
    *,
    status_code: int = 200,
    back: str | None = None,
    **values: Any,
) -> Response[str]:
    """A partial for htmx; without htmx the same partial inside the page layout."""
    if is_htmx(request):
        return page(request, template, status_code=status_code, **values)
    return page(
        request,
        "fragment_page.html",
        status_code=status_code,
        fragment_template=template,
        back=back,
        **values,
    )


def lang_of(request: Request[Any, Any, Any]) -> str:
    return request_lang(request)


ALL_CAPABILITIES = [c.value for c in Capability]


def report_response(report: Report, fmt: ReportFormat) -> Response[bytes]:
    """A report as a download, under a file name safe for any browser."""
    filename = re.sub(r"[^A-Za-z0-9._-]", "_", report.filename) or f"report.{fmt.value}"
    return Response(
        report.content,
        media_type=report.media_type,
        headers={"Content-Disposition": f'attachment; filename="{filename}"'},
    )
