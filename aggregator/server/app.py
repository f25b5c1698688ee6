"""The Litestar application: :func:`create_app` and :func:`serve`.

``create_app(settings)`` builds the whole dashboard: server-rendered pages (Jinja2 + htmx), the
JSON API under ``/api/v1`` with its OpenAPI 3.1 schema and docs page, static assets, security
headers, sessions and CSRF. Its lifespan opens the database (checking that the schema is
current, or creating it in a fresh SQLite file), the vault, the :class:`~aggregator.runtime.Runtime`
(HTTP client, browser pool, flows) and, with ``settings.embedded_scheduler``, the polling
service. ``serve(settings)`` runs it under uvicorn.
"""

from __future__ import annotations

import asyncio
import contextlib
import gc
import logging
from collections.abc import AsyncIterator
from typing import Any
from urllib.parse import quote

from litestar import Litestar, Request, Response, Router, get
from litestar.datastructures import CacheControlHeader, State
from litestar.openapi import OpenAPIConfig
from litestar.openapi.spec import Components, SecurityScheme, Tag
from litestar.response import Redirect
from litestar.static_files import create_static_files_router

from .. import __version__
from ..logs import install_redaction
from ..polling.login_lease import LoginLeases
from ..polling.options import PollingOptions
from ..runtime import Runtime
from ..services.operations import AccountOperations
from ..services.tokens import authenticate as authenticate_token
from ..settings import Settings
from ..storage.datadir import private_umask
from ..storage.db import create_engine, session_factory
from .assets import WebAssets
from .context import CurrentUser, ServerState
from .errors import _respond, exception_handlers
from .flows import FlowStore
from .i18n import Translator
from .integration import open_database, start_background, stop_background
from .openapi import document_api
from .rendering import Renderer
from .routes import (
    accounts,
    api,
    auth,
    channels_page,
    common,
    dashboard,
    diagnostics,
    docs,
    ops,
    settings_pages,
    tokens_page,
    wizard,
)
from .security import (
    ANON_CSRF_COOKIE,
    CSRF_FIELD,
    CSRF_HEADER,
    csrf_matches,
    load_current_user,
    security_headers_hook,
    session_cookie_name,
)
from .throttle import SignInThrottle

__all__ = ["create_app", "serve"]

log = logging.getLogger(__name__)

_SAFE_METHODS = frozenset({"GET", "HEAD", "OPTIONS", "TRACE"})
_FORM_TYPES = ("application/x-www-form-urlencoded", "multipart/form-data")


async def _csrf_ok(request: Request[Any, Any, Any], expected: str | None) -> bool:
    given = request.headers.get(CSRF_HEADER)
    if not given:
        content_type = request.headers.get("content-type", "")
        if content_type.startswith(_FORM_TYPES):
            try:
                form = await request.form()
            except Exception:
                return False
            value = form.get(CSRF_FIELD)
            given = value if isinstance(value, str) else None
    return csrf_matches(expected, given)


def _bearer(request: Request[Any, Any, Any]) -> str | None:
    """The token of an ``Authorization: Bearer`` header ("" when the header is malformed)."""
    header = request.headers.get("authorization")
    if header is None:
        return None
    scheme, _, value = header.strip().partition(" ")
    return value.strip() if scheme.lower() == "bearer" else ""


async def _token_user(state: ServerState, value: str) -> CurrentUser | None:
    if not value or state.sessionmaker is None:
        return None
    async with state.db() as db:
        found = await authenticate_token(db, value)
    if found is None:
        return None
    return CurrentUser(
        user_id=found.user_id,
        household_id=found.household_id,
        email=found.email,
        display_name=found.display_name,
        role=found.role,
        lang=found.lang,
        timezone=found.timezone,
        household_name=found.household_name,
        session_id="",
        csrf_token="",
        token_id=found.token_id,
        token_scope=found.scope,
    )


async def gatekeeper(request: Request[Any, Any, Any]) -> Any:
    """Before every handler: load the signed-in user, check CSRF, send strangers away."""
    opt = request.route_handler.opt
    if opt.get("static"):
        return None
    state: ServerState = request.app.state.server
    is_api = request.url.path.startswith("/api/")
    bearer = _bearer(request) if is_api else None
    if bearer is not None:
        # A personal API token: no cookie, so no CSRF to check; a read-only one only reads.
        user = await _token_user(state, bearer)
        request.scope["user"] = user
        if user is None:
            return _respond(
                request, 401, "http.token_invalid", headers={"WWW-Authenticate": "Bearer"}
            )
        if request.method not in _SAFE_METHODS and user.token_scope != "write":
            return _respond(request, 403, "http.token_read_only")
        return None
    token = request.cookies.get(session_cookie_name(state.settings))
    user = None
    if token and state.sessionmaker is not None:
        async with state.db() as db:
            user = await load_current_user(db, token)
    request.scope["user"] = user
    if request.method not in _SAFE_METHODS:
        expected = user.csrf_token if user else request.cookies.get(ANON_CSRF_COOKIE)
        if not await _csrf_ok(request, expected):
            return _respond(request, 403, "http.csrf")
    if user is None and not opt.get("public"):
        if is_api:
            return _respond(request, 401, "http.unauthorized")
        target = "/login"
        if request.method == "GET" and request.url.path != "/":
            path = request.url.path + (f"?{request.url.query}" if request.url.query else "")
            target += "?next=" + quote(path, safe="")
        if request.headers.get("hx-request") == "true":
            return Response("", status_code=401, headers={"HX-Redirect": target})
        return Redirect(target, status_code=303)
    return None


@get("/favicon.ico", opt={"static": True}, include_in_schema=False, sync_to_thread=False)
def favicon() -> Redirect:
    return Redirect("/static/img/favicon.svg", status_code=301)


def _configure_providers(runtime: Runtime, settings: Settings) -> None:
    """Tell every provider where an identity provider should send the user back (SSO)."""
    callback = f"{settings.dashboard_url}/accounts/sso/callback"
    for provider_id in runtime.registry.providers:
        try:
            provider = runtime.provider(provider_id)
        except Exception:  # a broken plugin must not stop the dashboard
            log.exception("the provider %s cannot start", provider_id)
            continue
        provider.context.settings.setdefault("sso_redirect_uri", callback)


def create_app(
    settings: Settings,
    *,
    runtime: Runtime | None = None,
    polling_options: PollingOptions | None = None,
    demo_reference_url: str | None = None,
) -> Litestar:
    """The dashboard application. ``runtime`` lets tests share one with the app;
    ``polling_options`` tunes the embedded poller (the demo polls every few seconds);
    ``demo_reference_url`` (the demo's reference provider) puts a banner on every page pointing
    to its crib sheet of demo logins, one-time codes and captcha answers."""
    assets = WebAssets()
    translator = Translator(assets.locales)
    server = ServerState(
        settings=settings,
        assets=assets,
        translator=translator,
        renderer=Renderer(assets, translator, settings),
        throttle=SignInThrottle(),
        flows=FlowStore(),
    )
    server.polling_options = polling_options
    if demo_reference_url:
        server.renderer.env.globals["demo_crib_url"] = demo_reference_url.rstrip("/") + "/sim/demo"

    @contextlib.asynccontextmanager
    async def lifespan(app: Litestar) -> AsyncIterator[None]:
        engine = create_engine(settings.resolved_database_url)
        own_runtime = runtime is None
        try:
            server.vault = await open_database(settings, engine)
            server.engine = engine
            server.sessionmaker = session_factory(engine)
            server.runtime = runtime or Runtime(settings)
            _configure_providers(server.runtime, settings)
            server.operations = AccountOperations(
                server.runtime,
                server.vault,
                leases=LoginLeases(engine, server.vault, "dashboard"),
            )
            await start_background(server)
            # Everything built so far lives as long as the process: keep it out of the
            # garbage collector's scans, which otherwise grow with it (shorter pauses).
            gc.freeze()
            yield
        finally:
            await stop_background(server)
            server.flows.sweep()
            if own_runtime and server.runtime is not None:
                await server.runtime.aclose()
            await engine.dispose()

    static_router = create_static_files_router(
        path="/static",
        directories=[assets.static],
        opt={"static": True},
        cache_control=CacheControlHeader(max_age=86400 * 30, public=True),
        include_in_schema=False,
    )
    openapi_router = Router(
        "/api/schema", route_handlers=[], opt={"public": True}, include_in_schema=False
    )
    openapi = OpenAPIConfig(
        title="Aggregator API",
        version=__version__,
        description=(
            "The household's accounts, balances, readings, tariffs, services, suspension, "
            "chat, reports, alert settings and outbox. Signed in either by a personal API "
            "token (`Authorization: Bearer agg_...`, created on the settings page or with "
            "`aggregator tokens create`; a read-only token may only GET) or by the dashboard's "
            "session cookie, in which case every POST/PUT/PATCH/DELETE carries the session's "
            "CSRF token in the X-CSRF-Token header."
        ),
        path="/api/schema",
        openapi_router=openapi_router,
        render_plugins=[docs.LocalSwaggerPlugin(assets.static_url)],
        components=Components(
            security_schemes={
                "session": SecurityScheme(
                    type="apiKey", name=session_cookie_name(settings), security_scheme_in="cookie"
                ),
                "token": SecurityScheme(
                    type="http",
                    scheme="bearer",
                    description="A personal API token (agg_...); read-only tokens may only GET.",
                ),
            }
        ),
        security=[{"session": []}, {"token": []}],
        tags=[Tag(name=name) for name in api.TAGS],
    )
    app = Litestar(
        route_handlers=[
            *ops.ROUTES,
            favicon,
            static_router,
            *auth.ROUTES,
            *dashboard.ROUTES,
            *accounts.ROUTES,
            *diagnostics.ROUTES,
            *wizard.ROUTES,
            *settings_pages.ROUTES,
            *tokens_page.ROUTES,
            *channels_page.ROUTES,
            api.router(),
        ],
        lifespan=[lifespan],
        dependencies=common.dependencies,
        before_request=gatekeeper,
        before_send=[security_headers_hook],
        exception_handlers=exception_handlers,
        openapi_config=openapi,
        state=State({"server": server}),
        debug=False,
        logging_config=None,  # the process configures logging (serve, the CLI, tests)
        request_max_body_size=2 * 1024 * 1024,
    )
    document_api(app)
    return app


# Loggers that say too much at INFO: request URLs (which may name a login), SMTP dialogues,
# every scheduler job, every migration step.
_QUIET = ("httpx", "httpcore", "mail.log", "aggregator.polling.scheduler", "apscheduler", "alembic")


def configure_logging(settings: Settings) -> None:
    """One line per event on stderr, at ``settings.log_level``; chatty libraries quieter."""
    level = getattr(logging, settings.log_level.upper(), logging.INFO)
    root = logging.getLogger()
    if not root.handlers:
        logging.basicConfig(level=level, format="%(asctime)s %(levelname)s %(name)s: %(message)s")
    root.setLevel(level)
    install_redaction()
    for name in _QUIET:
        logging.getLogger(name).setLevel(max(level, logging.WARNING))


def _warn_about_cookies(settings: Settings) -> None:
    """Browsers drop Secure cookies over plain HTTP except on loopback: say so before a user
    wonders why signing in does nothing."""
    url = settings.dashboard_url
    loopback = ("http://127.", "http://localhost", "http://[::1]")
    if settings.secure_cookies and url.startswith("http://") and not url.startswith(loopback):
        log.warning(
            "the dashboard is served over plain HTTP at %s with Secure cookies: browsers will "
            "not keep the sign-in; serve it over HTTPS or set AGGREGATOR_SECURE_COOKIES=false",
            url,
        )


def _port_problem(host: str, port: int) -> str | None:
    """Why uvicorn could not listen on ``host:port`` (asked before it starts), or None."""
    import socket

    try:
        infos = socket.getaddrinfo(host, port, type=socket.SOCK_STREAM)
    except OSError as exc:
        return f"cannot listen on {host}:{port}: {exc.strerror or exc}"
    family, kind, proto, _, address = infos[0]
    with socket.socket(family, kind, proto) as probe:
        probe.setsockopt(socket.SOL_SOCKET, socket.SO_REUSEADDR, 1)  # as uvicorn does
        try:
            probe.bind(address)
        except OSError as exc:
            reason = exc.strerror or str(exc)
            return (
                f"cannot listen on {host}:{port}: {reason} (is another aggregator running? "
                "choose another port with --port or AGGREGATOR_PORT)"
            )
    return None


def serve(
    settings: Settings,
    *,
    polling_options: PollingOptions | None = None,
    demo_reference_url: str | None = None,
) -> None:
    """Run the dashboard under uvicorn (``aggregator serve``)."""
    import uvicorn

    from .integration import preflight

    private_umask()
    problem = asyncio.run(preflight(settings)) or _port_problem(settings.host, settings.port)
    if problem:
        raise SystemExit(f"aggregator: {problem}")
    configure_logging(settings)
    _warn_about_cookies(settings)
    app = create_app(
        settings, polling_options=polling_options, demo_reference_url=demo_reference_url
    )
    uvicorn.run(
        app,
        host=settings.host,
        port=settings.port,
        log_level=settings.log_level.lower(),
        log_config=None,
        proxy_headers=False,
        server_header=False,
        access_log=False,
    )
