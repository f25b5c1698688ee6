"""The Rostelecom dialect: two hosts, as the real operator has them.

- ``passport`` (``b2c.passport.rt.ru``, :mod:`.passport`): Keycloak realm ``b2c``, client
  ``lk_b2c``; an anti-robot JavaScript page, then screens whose forms a script builds from
  ``mergeConfig({...})``; password by four identifier tabs, a one-time code, a captcha in the
  config, password reset, SSO through Госуслуги, Т-Банк, VK, Одноклассники, Mail.ru.
- ``lk`` (``lk.rt.ru``, :mod:`.lk`): the ``sso-auth`` page spends the passport's code and opens
  a cookie session (with a ``CSRF-TOKEN`` cookie); ``client-api/<method>`` answers JSON
  (:mod:`.client_api`).

Both live under the dialect's prefix (``/rostelecom/passport``, ``/rostelecom/lk``): the
aggregator's settings point the provider's two hosts there. DIALECTS.md gives the provenance of
every endpoint.
"""

from __future__ import annotations

from typing import TYPE_CHECKING, Any

from litestar import Request, Response, Router
from litestar.exceptions import HTTPException

from ...domain.errors import DomainError
from .lk import Cabinet
from .passport import Passport
from .shared import (
    CLIENT_ID,
    CSRF_COOKIE,
    SESSION_COOKIE,
    api_error,
    message,
    render_api_error,
    state_of,
)

if TYPE_CHECKING:
    from ...backend import Backend
    from ...domain.models import BulkAccount

__all__ = ["CLIENT_ID", "bulk_session", "error_response", "router"]


def error_response(request: Request[Any, Any, Any], exc: Exception) -> Response[Any]:
    """Errors raised outside a handler (unknown path, wrong method), in Rostelecom's format."""
    status = exc.status_code if isinstance(exc, HTTPException) else 500
    if "/client-api/" in request.url.path:
        if isinstance(exc, DomainError):
            return render_api_error(exc)
        if status >= 500:
            return api_error("INTERNAL_ERROR", "Сервис временно недоступен", 500)
        return api_error(
            "NOT_FOUND" if status in (404, 405) else "BAD_REQUEST",
            "Метод не найден" if status in (404, 405) else "Некорректный запрос",
            status,
        )
    if isinstance(exc, DomainError):
        return message("Ошибка", exc.message, exc.status)
    if status >= 500:
        return message("Ошибка", "Сервис временно недоступен, попробуйте позже", 500)
    return message("Страница не найдена", "Проверьте адрес страницы", status)


def bulk_session(backend: Backend, account: BulkAccount) -> dict[str, Any]:
    """``Session.data`` of the Rostelecom plugin for a bulk-created account (benchmarks): the
    cabinet's cookies, as a browser login leaves them."""
    sid, lk = state_of(backend).new_lk_session(account.token)
    return {"cookies": {SESSION_COOKIE: sid, CSRF_COOKIE: lk.csrf}}


def router(backend: Backend) -> Router:
    state = state_of(backend)
    return Router(
        path="/",
        route_handlers=[Passport(backend, state).router(), Cabinet(backend, state).router()],
        exception_handlers={HTTPException: error_response, Exception: error_response},
        tags=["rostelecom"],
    )
