"""Recording what a provider sends and receives: httpx exchanges and browser pages.

:class:`RecordingTransport` wraps the httpx transport a provider's client uses and keeps every
exchange (the bodies decoded as the plugin saw them); :class:`RecordingBrowser` wraps the shared
browser pool and keeps, for each context it hands out, every request the pages make (with the
HTML of documents and the text of XHR/fetch replies) and each page's final HTML. Nothing is
redacted here; :mod:`aggregator.diagnostics.har` redacts before anything is written.
"""

from __future__ import annotations

import asyncio
import contextlib
import datetime as dt
import logging
import time
from collections.abc import Callable
from dataclasses import dataclass, field
from typing import Any

import httpx

__all__ = ["Exchange", "PageSnapshot", "Recording", "RecordingBrowser", "RecordingTransport"]

log = logging.getLogger(__name__)

_TEXT_TYPES = ("document", "xhr", "fetch", "script", "stylesheet")
_MAX_BODY = 2_000_000  # a body larger than this is cut (a report file, a video)


@dataclass
class Exchange:
    """One HTTP request and its response, as the operator saw and sent them."""

    started: dt.datetime
    method: str
    url: str
    request_headers: list[tuple[str, str]]
    request_body: bytes
    status: int
    reason: str
    response_headers: list[tuple[str, str]]
    response_body: bytes
    elapsed_ms: float
    source: str = "http"  # "http" (httpx) or "browser"
    error: str | None = None


@dataclass
class PageSnapshot:
    """The HTML of a browser page as it stood (after its scripts ran), at ``taken``."""

    taken: dt.datetime
    url: str
    title: str
    html: str


@dataclass
class Recording:
    """Everything recorded during one diagnostics run, in order."""

    exchanges: list[Exchange] = field(default_factory=list)
    pages: list[PageSnapshot] = field(default_factory=list)


class RecordingTransport(httpx.AsyncBaseTransport):
    """An httpx transport that forwards to ``inner`` and records each exchange."""

    def __init__(self, inner: httpx.AsyncBaseTransport, recording: Recording) -> None:
        self.inner = inner
        self.recording = recording

    async def handle_async_request(self, request: httpx.Request) -> httpx.Response:
        started = dt.datetime.now(dt.UTC)
        clock = time.monotonic()
        body = await request.aread()
        try:
            response = await self.inner.handle_async_request(request)
            raw = b"".join([chunk async for chunk in response.aiter_raw()])
            await response.aclose()
        except Exception as exc:
            self.recording.exchanges.append(
                Exchange(
                    started=started,
                    method=request.method,
                    url=str(request.url),
                    request_headers=list(request.headers.multi_items()),
                    request_body=body,
                    status=0,
                    reason="",
                    response_headers=[],
                    response_body=b"",
                    elapsed_ms=(time.monotonic() - clock) * 1000,
                    error=type(exc).__name__,
                )
            )
            raise
        decoded = httpx.Response(response.status_code, headers=response.headers, content=raw)
        try:
            content = decoded.read()
        except httpx.DecodingError:
            content = raw
        self.recording.exchanges.append(
            Exchange(
                started=started,
                method=request.method,
                url=str(request.url),
                request_headers=list(request.headers.multi_items()),
                request_body=body,
                status=response.status_code,
                reason=response.reason_phrase,
                response_headers=list(response.headers.multi_items()),
                response_body=content[:_MAX_BODY],
                elapsed_ms=(time.monotonic() - clock) * 1000,
            )
        )
        return httpx.Response(
            response.status_code,
            headers=response.headers,
            stream=httpx.ByteStream(raw),
            extensions=response.extensions,
            request=request,
        )

    async def aclose(self) -> None:
        """The inner transport belongs to the process-wide client: it is not closed here."""


class RecordingBrowser:
    """A :class:`~aggregator.core.provider.BrowserPool` that records what its contexts load."""

    def __init__(self, inner: Any, recording: Recording) -> None:
        self.inner = inner
        self.recording = recording
        self._tasks: set[asyncio.Task[None]] = set()
        self._contexts: list[Any] = []

    async def new_context(self, **options: Any) -> Any:
        context = await self.inner.new_context(**options)
        self._contexts.append(context)
        context.on("response", lambda response: self._spawn(self._response, response))
        context.on("page", self._watch_page)
        return _RecordedContext(context, self)

    def _spawn(self, handler: Callable[[Any], Any], value: Any) -> None:
        task = asyncio.ensure_future(handler(value))
        self._tasks.add(task)
        task.add_done_callback(self._tasks.discard)

    def _watch_page(self, page: Any) -> None:
        page.on("load", lambda loaded: self._spawn(self._snapshot, loaded))

    async def _response(self, response: Any) -> None:
        request = response.request
        started = dt.datetime.now(dt.UTC)
        body = b""
        if request.resource_type in _TEXT_TYPES:
            with contextlib.suppress(Exception):  # a redirect or a closed page has no body
                body = (await response.body())[:_MAX_BODY]
        try:
            request_headers = list((await request.all_headers()).items())
            response_headers = list((await response.all_headers()).items())
        except Exception:
            request_headers, response_headers = list(request.headers.items()), []
        post = request.post_data_buffer or b""
        self.recording.exchanges.append(
            Exchange(
                started=started,
                method=request.method,
                url=request.url,
                request_headers=request_headers,
                request_body=post,
                status=response.status,
                reason=response.status_text or "",
                response_headers=response_headers,
                response_body=body,
                elapsed_ms=0.0,
                source="browser",
            )
        )

    async def _snapshot(self, page: Any) -> None:
        with contextlib.suppress(Exception):  # the page may close while it is read
            html = await page.content()
            title = await page.title()
            self.recording.pages.append(
                PageSnapshot(dt.datetime.now(dt.UTC), page.url, title, html)
            )

    async def snapshot_open_pages(self) -> None:
        """Record the HTML of every page still open (a login waiting for a captcha)."""
        for context in self._contexts:
            with contextlib.suppress(Exception):
                for page in context.pages:
                    await self._snapshot(page)

    async def drain(self) -> None:
        """Wait (at most 10 s) for the recording of responses and pages already seen."""
        if self._tasks:
            await asyncio.wait(set(self._tasks), timeout=10.0)


class _RecordedContext:
    """A browser context whose ``close`` first finishes recording what its pages loaded."""

    def __init__(self, context: Any, owner: RecordingBrowser) -> None:
        self._context = context
        self._owner = owner

    def __getattr__(self, name: str) -> Any:
        return getattr(self._context, name)

    async def close(self, **kwargs: Any) -> None:
        for page in list(self._context.pages):
            await self._owner._snapshot(page)
        await self._owner.drain()
        await self._context.close(**kwargs)
