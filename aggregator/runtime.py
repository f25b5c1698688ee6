"""The process-wide runtime: settings, loaded plugins, one HTTP client, flows, browser.

``serve``, ``worker``, ``poll`` and the CLI each open one :class:`Runtime` and get provider
instances from it; nothing else creates HTTP clients or browsers.
"""

from __future__ import annotations

import logging
from types import TracebackType
from typing import Any

import httpx

from .core.flows import FlowRegistry
from .core.provider import BrowserPool, Provider, ProviderContext
from .plugins import PluginRegistry, load_plugins
from .settings import Settings

__all__ = ["Runtime"]

log = logging.getLogger(__name__)


class Runtime:
    """Owns the shared resources providers use; an async context manager."""

    def __init__(
        self,
        settings: Settings | None = None,
        *,
        registry: PluginRegistry | None = None,
        http: httpx.AsyncClient | None = None,
        browser: BrowserPool | None = None,
    ) -> None:
        self.settings = settings or Settings()
        self.registry = registry or load_plugins()
        self._own_http = http is None
        self.http = http or httpx.AsyncClient(
            timeout=httpx.Timeout(self.settings.http_timeout_s),
            limits=httpx.Limits(max_connections=200, max_keepalive_connections=100),
            follow_redirects=False,
            headers={"User-Agent": "aggregator/0.1"},
        )
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

    def provider(self, provider_id: str) -> Provider:
        """The provider instance for ``provider_id`` (one per process)."""
        instance = self._providers.get(provider_id)
        if instance is None:
            cls = self.registry.provider(provider_id)
            context = ProviderContext(
                http=self.http,
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
