"""The interactive API docs page: Swagger UI served from vendored files, no inline script."""

from __future__ import annotations

from typing import Any

from litestar import Request
from litestar.openapi.plugins import OpenAPIRenderPlugin

__all__ = ["LocalSwaggerPlugin"]


class LocalSwaggerPlugin(OpenAPIRenderPlugin):
    """Swagger UI from ``/static/vendor/swagger-ui``; ``js/api-docs.js`` starts it.

    The page carries the schema URL and the signed-in user's CSRF token in ``data-`` and
    ``<meta>`` attributes, so "Try it out" works against the session without inline script.
    """

    def __init__(self, static_url: Any, path: str = "/") -> None:
        super().__init__(path=path)
        self._static_url = static_url

    def render(self, request: Request[Any, Any, Any], openapi_schema: dict[str, Any]) -> bytes:
        """The dashboard's own page (its menu, language and a way back) around Swagger UI."""
        from ..context import server_state
        from ..rendering import base_context

        context, _ = base_context(request)
        context["spec_url"] = self.get_openapi_json_route(request)
        return server_state(request).renderer.render("api_docs.html", context).encode()
