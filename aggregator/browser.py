"""The shared browser pool: one headless Chromium per process, a fresh context per login.

Operators whose login only works in a real browser (Bashtel's form with a captcha) drive
Chromium through Playwright. Starting Chromium costs far more than a login, so the process keeps
one browser and hands every login its own :class:`~playwright.async_api.BrowserContext`: an
incognito-like profile that lives in memory only (nothing is written to a profile folder on disk,
so no cookie or password outlives the context) and is closed by the caller when the login ends.

The browser starts lazily on the first :meth:`SharedBrowser.new_context` and is started again
when it died (crashed, killed) or when it was started on another event loop (Playwright objects
are bound to the loop that created them). :meth:`SharedBrowser.aclose` stops it.
"""

from __future__ import annotations

import asyncio
import contextlib
import logging
from collections.abc import Sequence
from typing import TYPE_CHECKING, Any

if TYPE_CHECKING:
    from playwright.async_api import Browser, BrowserContext, Playwright

__all__ = ["DEFAULT_ARGS", "SharedBrowser"]

log = logging.getLogger(__name__)

#: Flags for a headless Chromium in a container with no GPU and no outside network.
DEFAULT_ARGS: tuple[str, ...] = (
    "--no-sandbox",
    "--disable-gpu",
    "--disable-quic",
    "--no-first-run",
    "--disable-background-networking",
    "--disable-component-update",
    "--disable-sync",
)


class SharedBrowser:
    """One Chromium per process; implements :class:`aggregator.core.provider.BrowserPool`.

    :param executable_path: the Chromium binary (Debian's ``/usr/bin/chromium`` by default).
    :param args: command-line flags for Chromium.
    :param headless: run without a window (always, except when debugging by hand).
    :param locale: the ``Accept-Language`` and ``navigator.language`` of every context.
    :param launch_timeout_s: how long Chromium may take to start.
    """

    def __init__(
        self,
        executable_path: str = "/usr/bin/chromium",
        *,
        args: Sequence[str] = DEFAULT_ARGS,
        headless: bool = True,
        locale: str = "ru-RU",
        launch_timeout_s: float = 30.0,
    ) -> None:
        self.executable_path = executable_path
        self.args = list(args)
        self.headless = headless
        self.locale = locale
        self.launch_timeout_s = launch_timeout_s
        self._playwright: Playwright | None = None
        self._browser: Browser | None = None
        self._loop: asyncio.AbstractEventLoop | None = None
        self._lock: asyncio.Lock | None = None
        self.launches = 0  # how many times Chromium was started (benchmarks, tests)

    def __repr__(self) -> str:
        state = "running" if self.running else "stopped"
        return f"SharedBrowser({self.executable_path!r}, {state})"

    @property
    def running(self) -> bool:
        """True when a browser is started and still connected."""
        return self._browser is not None and self._browser.is_connected()

    async def new_context(self, **options: Any) -> BrowserContext:
        """A fresh, empty browser context (no cookies, no storage, nothing on disk).

        ``options`` go to Playwright's ``Browser.new_context`` (viewport, user agent, ...);
        the locale defaults to Russian. The caller closes the context when done. When the
        browser died since the last call, it is started again once.
        """
        options.setdefault("locale", self.locale)
        browser = await self._ensure_browser()
        try:
            return await browser.new_context(**options)
        except Exception:
            if browser.is_connected():
                raise
            log.warning("the shared browser died; starting it again")
            browser = await self._ensure_browser()
            return await browser.new_context(**options)

    async def aclose(self) -> None:
        """Stop the browser and Playwright (idempotent)."""
        lock = self._lock_for_loop()
        async with lock:
            await self._stop()

    async def _ensure_browser(self) -> Browser:
        lock = self._lock_for_loop()
        async with lock:
            if self._browser is not None and self._browser.is_connected():
                return self._browser
            await self._stop()
            return await self._start()

    def _lock_for_loop(self) -> asyncio.Lock:
        """The start/stop lock; objects from another (closed) event loop are dropped."""
        loop = asyncio.get_running_loop()
        if self._loop is not loop:
            # Playwright's connection lives on the loop that started it: from another loop it
            # can neither be used nor closed, so forget it and start afresh on this loop.
            self._playwright = None
            self._browser = None
            self._loop = loop
            self._lock = asyncio.Lock()
        assert self._lock is not None
        return self._lock

    async def _start(self) -> Browser:
        from playwright.async_api import async_playwright

        playwright = await async_playwright().start()
        try:
            browser = await playwright.chromium.launch(
                executable_path=self.executable_path,
                args=self.args,
                headless=self.headless,
                timeout=self.launch_timeout_s * 1000,
            )
        except BaseException:
            with contextlib.suppress(Exception):
                await playwright.stop()
            raise
        self._playwright, self._browser = playwright, browser
        self.launches += 1
        log.info("started the shared browser (%s)", self.executable_path)
        return browser

    async def _stop(self) -> None:
        browser, playwright = self._browser, self._playwright
        self._browser = self._playwright = None
        if browser is not None:
            with contextlib.suppress(Exception):
                await browser.close()
        if playwright is not None:
            with contextlib.suppress(Exception):
                await playwright.stop()
