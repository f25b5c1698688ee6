"""The one place where httpx and Playwright errors become the contract's errors.

Plugins wrap their I/O in :func:`mapped_errors` (or call :func:`check_response`) instead of
catching transport exceptions themselves, as httpx's own ``map_httpcore_exceptions`` does::

    async with mapped_errors():
        response = await http.get(url)
    check_response(response)
    data = json_body(response)
"""

from __future__ import annotations

import contextlib
import contextvars
import datetime as dt
import email.utils
import json
import logging
import math
import re
from collections.abc import AsyncIterator, Iterable, Iterator, Mapping, Sequence
from contextlib import asynccontextmanager, contextmanager
from typing import Any

import httpx

from .core.errors import AggregatorError, ParseError, RateLimited, Timeout, Unavailable

__all__ = [
    "ServerClock",
    "check_response",
    "json_body",
    "map_exception",
    "mapped_errors",
    "open_browser_page",
    "retry_after",
    "server_clock",
]

# Some operators take secrets in the query string (Beeline's ``setting/changePassword?
# newPassword=``); httpx logs every URL at INFO. The values of such parameters never reach a log.
_SECRET_QUERY = re.compile(
    r"(?i)([?&](?:[a-z_]*pass(?:word)?|[a-z_]*token|code|captcha[a-z_]*|secret)=)[^&\s\"']*"
)


class _SecretQueryFilter(logging.Filter):
    """Masks secret query parameters in httpx's request log lines."""

    def filter(self, record: logging.LogRecord) -> bool:
        if isinstance(record.args, tuple) and record.args:
            record.args = tuple(
                _SECRET_QUERY.sub(r"\1***", str(arg)) if isinstance(arg, httpx.URL | str) else arg
                for arg in record.args
            )
        return True


logging.getLogger("httpx").addFilter(_SecretQueryFilter())


class ServerClock:
    """The operator's own time, read from the ``Date`` header of its answers.

    A balance is "as of" the operator's clock, not ours: an API that sends no timestamp in the
    body still dates every answer. Used through :func:`server_clock`.
    """

    __slots__ = ("_seen",)

    def __init__(self) -> None:
        self._seen: dt.datetime | None = None

    def observe(self, response: httpx.Response) -> None:
        values = response.headers.get_list("date")
        if not values:
            return
        try:
            parsed = email.utils.parsedate_to_datetime(values[-1])
        except (TypeError, ValueError):
            return
        if parsed.tzinfo is None:
            parsed = parsed.replace(tzinfo=dt.UTC)
        self._seen = parsed.astimezone(dt.UTC)

    def now(self) -> dt.datetime:
        """The latest ``Date`` the operator sent inside the block, or our clock without one."""
        return self._seen or dt.datetime.now(dt.UTC)


_SERVER_CLOCK: contextvars.ContextVar[ServerClock | None] = contextvars.ContextVar(
    "aggregator_server_clock", default=None
)


@contextmanager
def server_clock() -> Iterator[ServerClock]:
    """Note the operator's ``Date`` of every answer checked inside the block::

        with server_clock() as clock:
            payload = await client.call(...)      # check_response() observes the answer
        Balance(..., as_of=clock.now())

    Tasks started inside the block (``asyncio.gather``) share the same clock.
    """
    clock = ServerClock()
    token = _SERVER_CLOCK.set(clock)
    try:
        yield clock
    finally:
        _SERVER_CLOCK.reset(token)


def retry_after(response: httpx.Response) -> float | None:
    """Seconds from a ``Retry-After`` header: delta-seconds or an HTTP-date (RFC 9110 10.2.3).

    None when there is none or it cannot be read (garbage, an impossible date): a 429 is a
    rate limit whatever its header says, never a crash.
    """
    value = (response.headers.get("retry-after") or "").strip()
    if not value:
        return None
    try:
        seconds = float(value)
    except ValueError:
        pass
    else:
        return max(0.0, seconds) if math.isfinite(seconds) else None
    try:
        when = email.utils.parsedate_to_datetime(value)
    except (TypeError, ValueError, IndexError, OverflowError):
        return None
    if when.tzinfo is None:  # "-0000" (no zone information) means UTC
        when = when.replace(tzinfo=dt.UTC)
    return max(0.0, (when - dt.datetime.now(dt.UTC)).total_seconds())


def check_response(response: httpx.Response) -> httpx.Response:
    """Raise RateLimited for 429 and Unavailable for 5xx; return the response otherwise."""
    clock = _SERVER_CLOCK.get()
    if clock is not None:
        clock.observe(response)
    if response.status_code == 429:
        raise RateLimited("the operator asks to slow down", retry_after=retry_after(response))
    if response.status_code >= 500:
        raise Unavailable(f"the operator answered {response.status_code}")
    return response


def json_body(response: httpx.Response, secrets: Iterable[str] = ()) -> Any:
    """The JSON body, or ParseError (with the body redacted) for malformed or truncated JSON."""
    try:
        return json.loads(response.content)
    except ValueError as exc:
        raise ParseError(
            f"the operator sent malformed JSON ({exc.__class__.__name__})",
            payload=response.content[:2000],
            secrets=secrets,
        ) from None


def map_exception(exc: BaseException) -> AggregatorError | None:
    """The contract error for a transport exception, or None when it is not one."""
    if isinstance(exc, AggregatorError):
        return exc
    if isinstance(exc, httpx.TimeoutException):
        return Timeout("the operator did not answer in time")
    if isinstance(exc, httpx.RemoteProtocolError):
        return Unavailable("the operator closed the connection")
    if isinstance(exc, httpx.TransportError):
        return Unavailable(f"cannot reach the operator ({exc.__class__.__name__})")
    if isinstance(exc, httpx.HTTPStatusError):
        try:
            check_response(exc.response)
        except AggregatorError as mapped:
            return mapped
        return None
    try:  # Playwright is optional for plugins that never drive a browser
        from playwright.async_api import Error as PlaywrightError
        from playwright.async_api import TimeoutError as PlaywrightTimeout
    except ImportError:  # pragma: no cover
        return None
    if isinstance(exc, PlaywrightTimeout):
        return Timeout("the operator's page did not load in time")
    if isinstance(exc, PlaywrightError):
        return Unavailable("the browser could not load the operator's page")
    return None


@asynccontextmanager
async def mapped_errors() -> AsyncIterator[None]:
    """Re-raise httpx and Playwright exceptions as the contract's errors (secrets stay out)."""
    try:
        yield
    except AggregatorError:
        raise
    except Exception as exc:
        mapped = map_exception(exc)
        if mapped is None:
            raise
        raise mapped from None


async def open_browser_page(
    browser: Any,
    url: str,
    *,
    timeout_ms: int,
    cookies: Sequence[Mapping[str, Any]] = (),
    cookie_url: str | None = None,
    ready_selector: str | None = None,
    who: str = "the operator",
) -> tuple[Any, Any]:
    """A fresh context of a Playwright ``browser`` on ``url``: ``(context, page)``.

    The cookies a login remembered (a known device) are restored first, for ``cookie_url``
    (default: ``url``), with their expiry when they have one; ``ready_selector`` is awaited
    (an anti-robot page that reloads itself into the form). A 5xx answer is
    :class:`Unavailable` naming ``who``; Playwright's errors are the contract's; on any failure
    the context is closed.
    """
    async with mapped_errors():
        context = await browser.new_context()
    try:
        context.set_default_timeout(timeout_ms)
        if cookies:
            where = (cookie_url or url).rstrip("/") + "/"
            await context.add_cookies(
                [
                    {
                        "name": c["name"],
                        "value": c["value"],
                        "url": where,
                        **({"expires": c["expires"]} if (c.get("expires") or -1) > 0 else {}),
                    }
                    for c in cookies
                ]
            )
        page = await context.new_page()
        async with mapped_errors():
            response = await page.goto(url, wait_until="domcontentloaded")
            if response is not None and response.status >= 500:
                raise Unavailable(f"{who} answered {response.status}")
            if ready_selector:
                await page.wait_for_selector(ready_selector, state="attached")
    except BaseException:
        with contextlib.suppress(Exception):
            await context.close()
        raise
    return context, page
