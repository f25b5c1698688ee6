"""The OpenAPI document says what the API really answers.

Litestar documents its own error body and only the statuses a handler declares; our handlers
answer ``{"error": {"key", "message", "action"}}`` (:mod:`.errors`) with 401 signed out, 403 on a
missing CSRF token, 404 for another household's objects, 422 for invalid input, and for the
operations that reach an operator 409 (a person must log in again), 422 (the operator said no),
502 (its answer could not be read) and 503 (it is unreachable). :func:`document_api` rewrites
the generated document once, when the app is built: every operation gets those responses with
the ``Error`` schema, and the report download names its real media types.
"""

from __future__ import annotations

from typing import Any

from litestar import Litestar
from litestar._openapi.plugin import OpenAPIPlugin
from litestar.openapi.spec import OpenAPIMediaType as MediaType
from litestar.openapi.spec import OpenAPIResponse, Reference, Schema
from litestar.openapi.spec.enums import OpenAPIType

__all__ = ["document_api"]

API = "/api/v1/"
_OPERATOR_FREE = ("/readings", "/alerts")  # account sub-paths that never reach the operator
_REPORT_TYPES = (
    "application/pdf",
    "application/vnd.openxmlformats-officedocument.spreadsheetml.sheet",
)

ERROR_SCHEMA = Schema(
    type=OpenAPIType.OBJECT,
    required=["error"],
    properties={
        "error": Schema(
            type=OpenAPIType.OBJECT,
            required=["key", "message", "action"],
            properties={
                "key": Schema(type=OpenAPIType.STRING, description="A stable error key."),
                "message": Schema(type=OpenAPIType.STRING, description="What happened."),
                "action": Schema(type=OpenAPIType.STRING, description="What to do about it."),
                "reason": Schema(type=OpenAPIType.STRING, description="The operator's words."),
                "detail": Schema(description="Which fields were invalid, and why."),
            },
        )
    },
)

_DESCRIPTIONS = {
    "400": "The request is malformed",
    "401": "Not signed in",
    "403": "No CSRF token, or not allowed",
    "404": "No such object in this household (or the operator lacks the capability)",
    "409": "The account needs a person to log in again",
    "422": "Invalid input, or the operator refused",
    "429": "Too many requests; see Retry-After",
    "502": "The operator's answer could not be read",
    "503": "The operator is unreachable or busy; try later",
}


def _error_response(status: str) -> OpenAPIResponse:
    return OpenAPIResponse(
        description=_DESCRIPTIONS[status],
        content={"application/json": MediaType(schema=Reference(ref="#/components/schemas/Error"))},
    )


def _statuses(path: str, method: str) -> list[str]:
    statuses = ["400", "401", "422"]
    if method != "get":
        statuses.append("403")
    if "{" in path:
        statuses.append("404")
    if path.startswith(f"{API}accounts/{{account_id}}/") and not path.endswith(_OPERATOR_FREE):
        statuses += ["404", "409", "429", "502", "503"]
    return sorted(set(statuses))


def document_api(app: Litestar) -> None:
    """Rewrite the app's generated OpenAPI document (see the module docstring)."""
    openapi = app.plugins.get(OpenAPIPlugin).provide_openapi()
    components = openapi.components
    if components.schemas is None:
        components.schemas = {}
    components.schemas["Error"] = ERROR_SCHEMA
    for name in list(components.schemas):
        if name.endswith("ValidationException") or name == "ClientException":
            components.schemas.pop(name, None)
    for path, item in (openapi.paths or {}).items():
        if not path.startswith(API):
            continue
        for method in ("get", "post", "put", "patch", "delete"):
            operation: Any = getattr(item, method, None)
            if operation is None:
                continue
            responses = dict(operation.responses or {})
            for status in _statuses(path, method):
                responses[status] = _error_response(status)
            if path.endswith("/reports") and "200" in responses:
                ok = responses["200"]
                schema = Schema(type=OpenAPIType.STRING, format="binary")  # type: ignore[arg-type]
                ok.content = {kind: MediaType(schema=schema) for kind in _REPORT_TYPES}
            operation.responses = responses
    plugin = app.plugins.get(OpenAPIPlugin)
    plugin._openapi_schema = None  # rebuilt from the rewritten document on first request
