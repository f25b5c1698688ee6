"""``create_app()``: the Litestar app of the reference provider.

Dialects: each name in :data:`~.registry.DIALECTS` is a module
``reference_provider.dialects.<name>`` exposing ``router(backend) -> litestar.Router``; the app
mounts it under :data:`~.registry.PREFIXES` ``[name]``. A module that does not exist (yet) is
skipped. A dialect module may also expose ``error_response(request, exc) -> Response`` to
render errors raised before its handlers run (unknown path, wrong method) in its own format.
See DIALECTS.md.

The :class:`~reference_provider.backend.Backend` is ``app.state.backend``.
"""

from __future__ import annotations

import datetime as dt
import logging
from typing import Any

from litestar import Litestar, Request, Response, Router, get
from litestar.config.app import AppConfig
from litestar.exceptions import HTTPException
from litestar.middleware import DefineMiddleware
from litestar.openapi import OpenAPIConfig
from litestar.openapi.plugins import ScalarRenderPlugin
from litestar.status_codes import HTTP_500_INTERNAL_SERVER_ERROR

from .backend import Backend
from .dialects.native import renewed_token_header
from .faults import FaultMiddleware, OperatorDateMiddleware
from .inflight import InFlightMiddleware
from .registry import DIALECTS, PREFIXES, SEGMENTS, load_dialect

__all__ = ["DIALECTS", "PREFIXES", "create_app"]

log = logging.getLogger("reference_provider")


class _MountedRouter(Router):
    """A router registered exactly once: Litestar need not deep-copy it (which costs ~0.3 s
    per app for ~170 handlers). Dialect routers are made fresh for each app, so this is safe."""

    __slots__ = ()

    def __deepcopy__(self, memo: dict[int, Any]) -> _MountedRouter:
        return self


def _mount(prefix: str, router: Router) -> Router:
    if type(router) is Router:
        router.__class__ = _MountedRouter
    return _MountedRouter(path=prefix, route_handlers=[router])


@get("/", include_in_schema=False, sync_to_thread=False)
def index() -> dict[str, Any]:
    return {"service": "reference-provider", "dialects": dict(PREFIXES), "schema": "/schema"}


def create_app(
    *,
    seed: int = 1,
    sim: bool = False,
    clock_speed: float = 1.0,
    clock_start: dt.datetime | None = None,
    clock_not_after_real: bool = False,
    backend: Backend | None = None,
) -> Litestar:
    """The app. ``backend`` (made from ``seed``, ``clock_speed`` and ``clock_start``, the
    billing clock's first moment (now when None), when None) is ``app.state.backend``;
    ``clock_not_after_real`` keeps a fast clock from running past the wall clock;
    ``sim`` mounts the simulation API at ``/sim`` (loopback only)."""
    from .idp_routes import idp_router
    from .sim import sim_router

    if backend is None:
        backend = Backend(
            seed=seed,
            clock_speed=clock_speed,
            start=clock_start,
            not_after_real=clock_not_after_real,
            sim=sim,
        )
    backend.sim = sim
    handlers: list[Any] = [index, _mount("/", idp_router(backend))]
    error_renderers: dict[str, Any] = {}
    for name in DIALECTS:
        module = load_dialect(name)
        if module is None:
            continue
        handlers.append(_mount(PREFIXES[name], module.router(backend)))
        renderer = getattr(module, "error_response", None)
        if renderer is not None:
            error_renderers[SEGMENTS[name]] = renderer
    if sim:
        handlers.append(_mount("/", sim_router(backend)))

    def dispatch_error(request: Request[Any, Any, Any], exc: Exception) -> Response[Any]:
        """Errors raised outside any handler (404, 405, ...): the dialect's format if any."""
        segment = request.url.path.split("/", 2)[1] if request.url.path.count("/") else ""
        renderer = error_renderers.get(segment)
        if renderer is not None:
            try:
                return renderer(request, exc)  # type: ignore[no-any-return]
            except Exception:  # a broken renderer must not turn a 404 into a 500
                log.exception("error renderer of %s failed", segment)
        if isinstance(exc, HTTPException):
            status = exc.status_code
            message = exc.detail
        else:
            log.error("unhandled %s on %s", type(exc).__name__, request.url.path)
            status, message = HTTP_500_INTERNAL_SERVER_ERROR, "Internal Server Error"
        return Response({"error": {"code": status, "message": message}}, status_code=status)

    def on_app_init(config: AppConfig) -> AppConfig:
        config.state["backend"] = backend
        return config

    return Litestar(
        route_handlers=handlers,
        before_send=[renewed_token_header],
        middleware=[
            DefineMiddleware(
                InFlightMiddleware, in_flight=backend.in_flight, operators=set(SEGMENTS.values())
            ),
            DefineMiddleware(OperatorDateMiddleware, now=lambda: backend.now()),
            DefineMiddleware(FaultMiddleware, faults=backend.faults),
        ],
        exception_handlers={HTTPException: dispatch_error, Exception: dispatch_error},
        openapi_config=OpenAPIConfig(
            title="Reference operator provider",
            version="1.0.0",
            description="A fake telecom operator backend: one domain, one dialect per operator.",
            path="/schema",
            render_plugins=[ScalarRenderPlugin()],
        ),
        on_app_init=[on_app_init],
        debug=False,
        logging_config=None,
    )
