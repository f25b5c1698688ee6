"""The interactive API docs page: Swagger UI served from vendored files, no inline script."""

from __future__ import annotations

import html
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
        user = request.scope.get("user")
        csrf = getattr(user, "csrf_token", "") or ""
        title = html.escape(str(openapi_schema.get("info", {}).get("title", "API")))
        spec_url = html.escape(self.get_openapi_json_route(request))
        static = self._static_url
        page = f"""<!DOCTYPE html>
<html lang="en">
<head>
<meta charset="utf-8">
<meta name="viewport" content="width=device-width, initial-scale=1">
<meta name="csrf-token" content="{html.escape(csrf)}">
<title>{title}</title>
<link rel="icon" href="{static("img/favicon.svg")}" type="image/svg+xml">
<link rel="stylesheet" href="{static("vendor/swagger-ui/swagger-ui.css")}">
<link rel="stylesheet" href="{static("css/api-docs.css")}">
<script src="{static("vendor/swagger-ui/swagger-ui-bundle.js")}" defer></script>
<script src="{static("js/api-docs.js")}" defer></script>
</head>
<body>
<main>
<h1 class="docs-title">{title}</h1>
<div id="swagger" data-spec-url="{spec_url}"></div>
</main>
</body>
</html>"""
        return page.encode()
