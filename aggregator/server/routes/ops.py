"""``/healthz`` and ``/metrics``: for load balancers, orchestrators and Prometheus.

Thin adapters over :mod:`aggregator.services.health`. Neither needs a signed-in user (a probe
has no session); ``/metrics`` asks for ``Authorization: Bearer <AGGREGATOR_METRICS_TOKEN>``
when that setting is set. Neither names a household, an account or a login: only counts per
operator and status.
"""

from __future__ import annotations

import hmac
from typing import Any

from litestar import Request, Response, get

from ...services.health import CONTENT_TYPE, exposition, readiness
from .common import Server

__all__ = ["ROUTES"]

_NO_STORE = {"Cache-Control": "no-store"}


def _poll_metrics(server: Server, *, scheduling: bool = False) -> Any:
    """This process's polling metrics (with ``scheduling``: only when it runs a scheduler)."""
    polling = server.polling
    if polling is None or (scheduling and not polling.schedule):
        return None
    return polling.metrics


@get("/healthz", opt={"public": True}, include_in_schema=False)
async def healthz(server: Server) -> Response[dict[str, Any]]:
    """200 when ready (database, schema, scheduler tick), else 503; JSON either way."""
    options = server.polling.options if server.polling is not None else None
    health = await readiness(server.engine, _poll_metrics(server, scheduling=True), options)
    return Response(health.as_json(), status_code=200 if health.ready else 503, headers=_NO_STORE)


@get("/metrics", opt={"public": True}, include_in_schema=False)
async def metrics(request: Request[Any, Any, Any], server: Server) -> Response[bytes]:
    """The Prometheus text exposition of the cluster (and of this process when it polls)."""
    token = server.settings.metrics_token
    if token is not None:
        scheme, _, given = request.headers.get("authorization", "").partition(" ")
        expected = token.get_secret_value().encode()
        if scheme.lower() != "bearer" or not hmac.compare_digest(given.strip().encode(), expected):
            return Response(
                b"unauthorized\n",
                status_code=401,
                media_type="text/plain",
                headers={"WWW-Authenticate": "Bearer", **_NO_STORE},
            )
    if server.engine is None:
        return Response(b"not ready\n", status_code=503, media_type="text/plain")
    body = await exposition(server.engine, _poll_metrics(server))
    return Response(body, media_type=CONTENT_TYPE, headers=_NO_STORE)


ROUTES = [healthz, metrics]
