"""The OpenAPI document says what the API really answers.

Litestar documents its own error body and only the statuses a handler declares; our handlers
answer ``{"error": {"key", "message", "action"}}`` (:mod:`.errors`) with 401 signed out, 403 on a
missing CSRF token, 404 for another household's objects, 422 for invalid input, and for the
operations that reach an operator 409 (a person must log in again, or the operator said no),
502 (its answer could not be read) and 503 (it is unreachable). :func:`document_api` rewrites
the generated document once, when the app is built: every operation gets those responses with
the ``Error`` schema, and the report download names its real media types.
"""

from __future__ import annotations

from collections.abc import Iterator
from typing import Any

import msgspec
from litestar import Litestar
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
    "409": "The account needs a person to log in again, or the operator refused",
    "422": "Invalid input",
    "429": "Too many requests; see Retry-After",
    "502": "The operator's answer could not be read",
    "503": "The operator is unreachable or busy; try later",
}


# Sums in roubles: a decimal string (to the kopeck) or a JSON number, within the range the
# handlers accept (top-up: above 0 up to 1 000 000; alert thresholds: 0 to 10 000 000).
_TOP_UP = (
    r"^(0\.(0[1-9]|[1-9][0-9]?)|[1-9][0-9]{0,5}(\.[0-9]{1,2})?|1000000(\.00?)?)$",
    0,
    1_000_000,
    True,
)
_THRESHOLD = (r"^([0-9]{1,7}(\.[0-9]{1,2})?|10000000(\.00?)?)$", 0, 10_000_000, False)
_MONEY_FIELDS = {
    ("TopUpIn", "amount"): _TOP_UP,
    ("AlertSettings", "threshold"): _THRESHOLD,
    ("AlertSettings", "margin"): _THRESHOLD,
    ("AccountAlerts", "threshold"): _THRESHOLD,
}


def _money_schema(pattern: str, low: int, high: int, above: bool, nullable: bool) -> Schema:
    number = Schema(type=OpenAPIType.NUMBER, maximum=high)
    if above:
        number.exclusive_minimum = low
    else:
        number.minimum = low
    choices = [Schema(type=OpenAPIType.STRING, pattern=pattern), number]
    if nullable:
        choices.append(Schema(type=OpenAPIType.NULL))
    return Schema(one_of=choices, description="Roubles: a decimal string or a number")


def _structs(base: type[msgspec.Struct] = msgspec.Struct) -> Iterator[type[msgspec.Struct]]:
    for cls in base.__subclasses__():
        if cls.__module__.startswith("aggregator.server."):
            yield cls
        yield from _structs(cls)


def _tighten(schemas: dict[str, Any]) -> None:
    """What the bodies really accept: no unknown field where the struct forbids them, sums in
    roubles as strings of the right shape or numbers in range (Litestar writes ``string``)."""
    for cls in _structs():
        schema = schemas.get(cls.__name__)
        if not isinstance(schema, Schema):
            continue
        if cls.__struct_config__.forbid_unknown_fields:
            schema.additional_properties = False
        properties = dict(schema.properties or {})
        for name, prop in properties.items():
            money = _MONEY_FIELDS.get((cls.__name__, name))
            if money is not None:
                nullable = name not in (schema.required or [])
                properties[name] = _money_schema(*money, nullable=nullable)
            elif isinstance(prop, Schema) and isinstance(prop.items, Schema):
                # Litestar drops the constraints of a list's items: take them from msgspec
                (own,), defs = msgspec.json.schema_components([cls])
                field = defs[own["$ref"].rsplit("/", 1)[-1]]["properties"].get(name, {})
                items = field.get("items", {})
                prop.items.pattern = items.get("pattern", prop.items.pattern)
                prop.items.max_length = items.get("maxLength", prop.items.max_length)
                prop.items.min_length = items.get("minLength", prop.items.min_length)
        schema.properties = properties


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
    openapi = app.openapi_schema  # the document the app serves (built once, on first use)
    components = openapi.components
    if components.schemas is None:
        components.schemas = {}
    _tighten(components.schemas)
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
