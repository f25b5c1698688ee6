"""Exception handlers: a translated message and what to do, never a traceback.

Provider errors (the contract's tree) carry a stable ``key``; the page shows the translated
message for it and the advice (log in again, try later, the operator said no, the plugin needs
an update). The JSON API answers ``{"error": {"key", "message", "action"}}`` with a status
that says who should act. Anything unexpected is logged with its traceback and answered with
a plain "something went wrong".
"""

from __future__ import annotations

import logging
from typing import Any

from litestar import Request, Response
from litestar.exceptions import HTTPException, ValidationException

from ..core.errors import (
    AggregatorError,
    AuthError,
    CodeRejected,
    NotSupported,
    OperationRejected,
    ParseError,
    RateLimited,
    TemporaryError,
)
from ..services.errors import BadInput, NotFound
from .context import server_state
from .rendering import page, request_lang

__all__ = ["exception_handlers", "provider_error_status"]

log = logging.getLogger(__name__)


def provider_error_status(exc: AggregatorError) -> int:
    if isinstance(exc, CodeRejected):
        return 422  # the code was wrong or stale: the step is still open, answer again
    if isinstance(exc, AuthError):
        return 409  # the account needs a person: re-login
    if isinstance(exc, TemporaryError):
        return 503
    if isinstance(exc, OperationRejected):
        return 409  # the operator said no: the request conflicts with the account's state
    if isinstance(exc, ParseError):
        return 502
    if isinstance(exc, NotSupported):
        return 404
    return 500


def _is_api(request: Request[Any, Any, Any]) -> bool:
    return request.url.path.startswith("/api/")


def _json_error(
    request: Request[Any, Any, Any],
    status: int,
    key: str,
    *,
    detail: Any = None,
    headers: dict[str, str] | None = None,
    reason: str | None = None,
) -> Response[Any]:
    translator = server_state(request).translator
    lang = request_lang(request)
    message, action = translator.error(lang, key)
    body: dict[str, Any] = {"key": key, "message": message, "action": action}
    if reason:
        body["reason"] = reason
    if detail is not None:
        body["detail"] = detail
    # Always JSON, whatever the route produces (a report route answers application/pdf: its
    # errors were serialised as bytes and became 500).
    return Response(
        {"error": body}, status_code=status, headers=headers, media_type="application/json"
    )


def _html_error(
    request: Request[Any, Any, Any],
    status: int,
    key: str,
    *,
    reason: str | None = None,
    headers: dict[str, str] | None = None,
    account_id: int | None = None,
) -> Response[Any]:
    translator = server_state(request).translator
    message, action = translator.error(request_lang(request), key)
    htmx = request.headers.get("hx-request") == "true"
    template = "partials/error.html" if htmx else "error.html"
    try:
        return page(
            request,
            template,
            status_code=status,
            headers=headers,
            error_key=key,
            message=message,
            action=action,
            reason=reason,
            account_id=account_id,
            # A section loading into a page (an htmx GET) says it in one quiet line: a page
            # whose seven sections fail alike does not show seven red boxes.
            compact=htmx and request.method == "GET",
        )
    except Exception:  # the error page itself failed: plain text, still no traceback
        log.exception("rendering the error page failed")
        return Response(message, status_code=status, media_type="text/plain; charset=utf-8")


def _respond(
    request: Request[Any, Any, Any],
    status: int,
    key: str,
    *,
    reason: str | None = None,
    detail: Any = None,
    headers: dict[str, str] | None = None,
) -> Response[Any]:
    if _is_api(request):
        return _json_error(request, status, key, detail=detail, headers=headers, reason=reason)
    account_id = request.path_params.get("account_id") if request.scope.get("path_params") else None
    return _html_error(request, status, key, reason=reason, headers=headers, account_id=account_id)


def handle_provider_error(request: Request[Any, Any, Any], exc: AggregatorError) -> Response[Any]:
    status = provider_error_status(exc)
    headers = None
    if isinstance(exc, RateLimited) and exc.retry_after:
        headers = {"Retry-After": str(int(exc.retry_after) + 1)}
    if isinstance(exc, ParseError):
        log.warning("plugin parse error on %s: %s", request.url.path, exc.message)
    reason = exc.reason if isinstance(exc, OperationRejected) and exc.reason else None
    return _respond(request, status, exc.key, reason=reason, headers=headers)


_HTTP_KEYS = {
    400: "http.bad_request",
    401: "http.unauthorized",
    403: "http.forbidden",
    404: "http.not_found",
    405: "http.method_not_allowed",
    409: "http.conflict",
    413: "http.too_large",
    415: "http.bad_request",
    422: "http.invalid",
    429: "http.too_many",
}


def handle_http_error(request: Request[Any, Any, Any], exc: HTTPException) -> Response[Any]:
    status = exc.status_code
    if status >= 500:
        log.error("HTTP %s on %s: %s", status, request.url.path, exc.detail)
        return _respond(request, 500, "internal")
    key = _HTTP_KEYS.get(status, "http.bad_request")
    detail = None
    if isinstance(exc, ValidationException) and _is_api(request):
        # A request the API could read but not accept: 422 naming the fields.
        status, key, detail = 422, "http.invalid", exc.extra
    headers = dict(exc.headers or {})
    return _respond(request, status, key, detail=detail, headers=headers or None)


def handle_not_found(request: Request[Any, Any, Any], exc: NotFound) -> Response[Any]:
    """The application layer found no such account (or flow) in this household: 404."""
    return _respond(request, 404, "http.not_found")


def handle_bad_input(request: Request[Any, Any, Any], exc: BadInput) -> Response[Any]:
    """A value the person gave does not fit (the application layer says which): the API
    answers 422 naming the field; a page that did not show it at its field, 400."""
    if _is_api(request):
        detail = [{"field": exc.field, "key": exc.key, "message": exc.message}]
        return _respond(request, 422, "http.invalid", detail=detail, reason=str(exc))
    detail = [{"key": exc.field, "message": exc.message}]
    return _respond(request, 400, "http.bad_request", detail=detail, reason=str(exc))


def handle_internal_error(request: Request[Any, Any, Any], exc: Exception) -> Response[Any]:
    log.exception("unexpected error on %s %s", request.method, request.url.path)
    return _respond(request, 500, "internal")


exception_handlers: dict[Any, Any] = {
    AggregatorError: handle_provider_error,
    HTTPException: handle_http_error,
    NotFound: handle_not_found,
    BadInput: handle_bad_input,
    Exception: handle_internal_error,
}
