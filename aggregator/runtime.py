"""The process-wide runtime: settings, loaded plugins, one HTTP client per operator, flows,
browser.

``serve``, ``worker``, ``poll`` and the CLI each open one :class:`Runtime` and get provider
instances from it; nothing else creates HTTP clients or browsers.

Each operator gets its own ``httpx.AsyncClient`` (:meth:`Runtime.client`): its own connection
pool and timeouts from the plugin's :class:`~aggregator.core.provider.OperatorLimits`, a cookie
jar that refuses every cookie unless the plugin asks for them, and a transport that sends each
request within the operator's limits (:mod:`aggregator.politeness`), shared with the other
processes of a cluster once :mod:`aggregator.polling.cluster` runs. A test may pass one client
(``http=``) for every operator, or a ``transport=`` (an in-process ASGI app) under the
per-operator clients.
"""

from __future__ import annotations

import functools
import logging
import ssl
from collections.abc import Callable, Mapping, Sequence
from http.cookiejar import Cookie, CookieJar
from types import TracebackType
from typing import Any

import httpx

from .core.flows import FlowRegistry
from .core.provider import BrowserPool, OperatorLimits, Provider, ProviderContext
from .plugins import PluginRegistry, load_plugins
from .politeness import Politeness, PoliteTransport
from .settings import Settings

__all__ = ["USER_AGENT", "RefusingCookieJar", "Runtime"]

log = logging.getLogger(__name__)

USER_AGENT = "aggregator/0.1"

EventHooks = Mapping[str, Sequence[Callable[..., Any]]]


class RefusingCookieJar(CookieJar):
    """Keeps no cookie (set by a response or by hand): an operator client's jar is shared by
    every account of the operator, so a session kept there would ride along with the next
    account's requests. Plugins send the cookies of the account's session explicitly."""

    def set_cookie(self, cookie: Cookie) -> None:
        return None

    def extract_cookies(self, response: Any, request: Any) -> None:
        return None

    def add_cookie_header(self, request: Any) -> None:
        return None


@functools.cache
def _tls_context() -> ssl.SSLContext:
    """One TLS context for every operator's client (loading the CA store costs ~0.1 s and a
    few MB each time)."""
    return ssl.create_default_context()


class Runtime:
    """Owns the shared resources providers use; an async context manager."""

    def __init__(
        self,
        settings: Settings | None = None,
        *,
        registry: PluginRegistry | None = None,
        http: httpx.AsyncClient | None = None,
        browser: BrowserPool | None = None,
        transport: httpx.AsyncBaseTransport | None = None,
        event_hooks: EventHooks | None = None,
    ) -> None:
        self.settings = settings or Settings()
        self.registry = registry or load_plugins()
        self._shared_http = http  # a test's one client for every operator
        self._own_http = http is None
        self.http = http or httpx.AsyncClient(
            timeout=httpx.Timeout(self.settings.http_timeout_s),
            follow_redirects=False,
            headers={"User-Agent": USER_AGENT},
            cookies=RefusingCookieJar(),
            transport=transport,
        )
        self._transport = transport
        self._event_hooks = {k: list(v) for k, v in (event_hooks or {}).items()}
        self.politeness = Politeness(self.settings, self._declared_limits)
        self._clients: dict[str, httpx.AsyncClient] = {}
        self.flows = FlowRegistry()
        self._browser = browser
        self._own_browser = browser is None
        self._providers: dict[str, Provider] = {}

    @property
    def browser(self) -> BrowserPool:
        """The shared browser pool, started on first use (only browser-login plugins need it)."""
        if self._browser is None:
            from .browser import SharedBrowser

            self._browser = SharedBrowser(
                executable_path=self.settings.browser_executable,
                idle_s=self.settings.browser_idle_s,
            )
        return self._browser

    @property
    def browser_if_started(self) -> BrowserPool | None:
        """The browser pool if anyone asked for it (metrics look without starting one)."""
        return self._browser

    def base_url(self, provider_id: str) -> str:
        cls = self.registry.provider(provider_id)
        chosen = self.settings.provider_urls.get(provider_id)
        if isinstance(chosen, dict):
            chosen = chosen.get("base")
        return (chosen or cls.default_base_url).rstrip("/")

    def host_urls(self, provider_id: str) -> dict[str, str]:
        """The named hosts the settings point elsewhere (see :class:`~aggregator.Host`)."""
        cls = self.registry.provider(provider_id)
        chosen = self.settings.provider_urls.get(provider_id)
        if not isinstance(chosen, dict):
            return {}
        names = {h.name for h in cls.hosts}
        unknown = sorted(set(chosen) - names - {"base"})
        if unknown:
            raise ValueError(f"AGGREGATOR_PROVIDER_URLS: {provider_id} has no host {unknown[0]!r}")
        return {k: v.rstrip("/") for k, v in chosen.items() if k in names and v}

    def _declared_limits(self, provider_id: str) -> OperatorLimits:
        try:
            return self.registry.provider(provider_id).limits
        except KeyError:
            return OperatorLimits()

    def client(self, provider_id: str) -> httpx.AsyncClient:
        """The operator's own HTTP client (one per operator and process)."""
        if self._shared_http is not None:
            return self._shared_http
        client = self._clients.get(provider_id)
        if client is None:
            limits = self.politeness.limits(provider_id)
            budget = self.politeness.budget(provider_id)
            pool = httpx.Limits(
                max_connections=limits.concurrency, max_keepalive_connections=limits.concurrency
            )
            inner = self._transport or httpx.AsyncHTTPTransport(limits=pool, verify=_tls_context())
            ceiling = self.settings.http_timeout_s
            client = self._clients[provider_id] = httpx.AsyncClient(
                transport=PoliteTransport(inner, budget, close_inner=self._transport is None),
                timeout=httpx.Timeout(
                    min(ceiling, limits.read_timeout_s),
                    connect=min(ceiling, limits.connect_timeout_s),
                ),
                follow_redirects=False,
                headers={"User-Agent": USER_AGENT},
                cookies=None if limits.cookies else RefusingCookieJar(),
                event_hooks=self._event_hooks,
            )
        return client

    def provider(self, provider_id: str) -> Provider:
        """The provider instance for ``provider_id`` (one per process)."""
        instance = self._providers.get(provider_id)
        if instance is None:
            cls = self.registry.provider(provider_id)
            context = ProviderContext(
                http=self.client(provider_id),
                base_url=self.base_url(provider_id),
                hosts=self.host_urls(provider_id),
                flows=self.flows,
                browser=_LazyBrowser(self),
            )
            instance = self._providers[provider_id] = cls(context)
        return instance

    async def __aenter__(self) -> Runtime:
        return self

    async def __aexit__(
        self,
        exc_type: type[BaseException] | None,
        exc: BaseException | None,
        tb: TracebackType | None,
    ) -> None:
        await self.aclose()

    async def aclose(self) -> None:
        await self.flows.aclose()
        clients, self._clients = list(self._clients.values()), {}
        for client in clients:
            await client.aclose()
        if self._own_http:
            await self.http.aclose()
        if self._own_browser and self._browser is not None:
            close = getattr(self._browser, "aclose", None)
            if close is not None:
                await close()


class _LazyBrowser:
    """Starts the shared browser only when a provider first asks for a context."""

    def __init__(self, runtime: Runtime) -> None:
        self._runtime = runtime

    async def new_context(self) -> Any:
        return await self._runtime.browser.new_context()
