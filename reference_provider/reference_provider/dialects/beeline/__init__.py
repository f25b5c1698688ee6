"""The Beeline dialect: the «Мой Билайн» mobile JSON API, under ``/beeline/api/``.

Shaped like the real ``my.beeline.ru/api/`` as independent clients use it (every endpoint's
citation: ``reference_provider/DIALECTS.md``, Beeline)::

    PUT  2.0/auth/auth?login=<ctn>&userType=Mobile  {password}    -> token, tempPassInd
         (or offerUrl + token: GET offerUrl with X-Offer-Token accepts the terms first)
    GET  1.0/passReset?login=&channelType=CTN                      -> channel (SMS sent)
    PUT  1.0/setting/changePassword?login=&newPassword=            (the temporary token)
    GET  1.0/sso/list?login= | sso/subscribers?login= | sso/contactData?login=
    GET  1.0/info/payType | prepaidBalance | postpaidBalance | pricePlan |
         pricePlanAvailableList | status | serviceList | serviceAvailableList |
         subscriptions | accumulators | rests | payments/history?periodStart&periodEnd |
         trustPayment | targetedOffers                              (all with ?ctn=)
    PUT  request/changePricePlan?ctn=&pricePlan=  | 1.0/request/serviceActivate?serviceName=
    GET  1.0/request/subscription/remove?subscriptionId=&type=  (a paid subscription)
    GET  1.0/request/serviceDeactivate?serviceName= | request/prepaidDetail ->
         1.0/request/requestAttachment?requestId=
    PUT  1.0/request/trustPayment {amount};  chat: 1.0/chat/topics | history | unseen | message
    DELETE 2.0/auth/auth

The token travels as header ``X-Auth-Token`` or cookie ``token``. Every JSON reply carries
``meta {status, code, message}``; errors keep HTTP 200 and name themselves in ``meta.message``
(``AUTH_ERROR``, ``TOKEN_NOT_FOUND``, ``LOGIN_TRY_NUMBER_EXCEED``, ...); a refusal has code
49999 and the operator's words. More than :data:`RATE_LIMIT` requests per second on one token
answer HTTP 429 "Too Many Requests" with ``Retry-After``.

The module is split: :mod:`.wire` (format, errors, rate limit), :mod:`.auth` (login),
:mod:`.api` (per-number calls). Handlers are plain functions; the backend and the rate limiter
are injected (Litestar dependencies), so nothing closes over the backend.
"""

from __future__ import annotations

from typing import Any

from litestar import Router
from litestar.di import Provide
from litestar.exceptions import HTTPException

from ...backend import Backend
from ...domain.errors import DomainError
from ...domain.models import BulkAccount
from . import api, auth
from .auth import OFFER_PENDING
from .wire import RATE_LIMIT, RateLimiter, TooManyRequests, error_response

__all__ = ["OFFER_PENDING", "RATE_LIMIT", "bulk_session", "error_response", "router"]


def router(backend: Backend) -> Router:
    limiter = RateLimiter(RATE_LIMIT)
    return Router(
        path="/",
        route_handlers=[*auth.HANDLERS, *api.HANDLERS],
        dependencies={
            "backend": Provide(lambda: backend, use_cache=True, sync_to_thread=False),
            "limiter": Provide(lambda: limiter, use_cache=True, sync_to_thread=False),
        },
        exception_handlers={
            DomainError: error_response,
            TooManyRequests: error_response,
            HTTPException: error_response,
            Exception: error_response,
        },
        tags=["beeline"],
    )


def bulk_session(backend: Backend, account: BulkAccount) -> dict[str, Any]:
    """``Session.data`` of the Beeline plugin for a bulk-created account (benchmarks)."""
    return {"token": account.token, "login": account.login}
