"""The shared browser pool: one headless Chromium per process, a fresh context per login.

Operators whose login only works in a real browser (Bashtel's form with a captcha) drive
Chromium through Playwright. Starting Chromium costs far more than a login, so the process keeps
one browser and hands every login its own :class:`~playwright.async_api.BrowserContext`: an
incognito-like profile that lives in memory only (nothing is written to a profile folder on disk,
so no cookie or password outlives the context) and is closed by the caller when the login ends.

The browser starts lazily on the first :meth:`SharedBrowser.new_context` and is started again
when it died (crashed, killed) or when it was started on another event loop (Playwright objects
are bound to the loop that created them). :meth:`SharedBrowser.aclose` stops it.

A home server logs in through the browser perhaps once a week, and Chromium holds hundreds of
megabytes meanwhile: when its last context has been closed for ``idle_s`` seconds
(``AGGREGATOR_BROWSER_IDLE_S``), the browser and Playwright stop, and the next login starts
them again.
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
    :param idle_s: stop Chromium when no context has been open for this long (None: never).
    """

    def __init__(
        self,
        executable_path: str = "/usr/bin/chromium",
        *,
        args: Sequence[str] = DEFAULT_ARGS,
        headless: bool = True,
        locale: str = "ru-RU",
        launch_timeout_s: float = 30.0,
        idle_s: float | None = 300.0,
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
        self.idle_s = idle_s
        self.launches = 0  # how many times Chromium was started (benchmarks, tests)
        self.idle_closes = 0  # how many times it was stopped for being idle
        self._open_contexts = 0
        self._idle_task: asyncio.Task[None] | None = None

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
        self._cancel_idle()
        self._open_contexts += 1  # before the launch: an idle stop must not race it
        try:
            browser = await self._ensure_browser()
            try:
                context = await browser.new_context(**options)
            except Exception:
                if browser.is_connected():
                    raise
                log.warning("the shared browser died; starting it again")
                browser = await self._ensure_browser()
                context = await browser.new_context(**options)
        except BaseException:
            self._context_closed()
            raise
        context.once("close", lambda _context: self._context_closed())
        return context

    @property
    def open_contexts(self) -> int:
        """Contexts handed out and not closed yet."""
        return self._open_contexts

    def _context_closed(self) -> None:
        self._open_contexts = max(0, self._open_contexts - 1)
        if self._open_contexts == 0 and self.idle_s is not None and self._browser is not None:
            self._cancel_idle()
            self._idle_task = asyncio.get_running_loop().create_task(
                self._close_when_idle(self.idle_s), name="browser-idle"
            )

    def _cancel_idle(self) -> None:
        task, self._idle_task = self._idle_task, None
        if task is not None and not task.done() and task is not asyncio.current_task():
            task.cancel()

    async def _close_when_idle(self, delay: float) -> None:
        await asyncio.sleep(delay)
        # From here on a new login waits for the stop (on the lock) instead of cancelling it
        # halfway, which could leave a Chromium without its Playwright.
        if self._idle_task is asyncio.current_task():
            self._idle_task = None
        lock = self._lock_for_loop()
        async with lock:
            if self._open_contexts or self._browser is None:
                return
            self.idle_closes += 1
            await self._stop()
        log.info("stopped the shared browser after %.0f s without a login", delay)

    async def aclose(self) -> None:
        """Stop the browser and Playwright (idempotent)."""
        self._cancel_idle()
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
