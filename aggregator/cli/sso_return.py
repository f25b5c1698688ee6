"""The way back of an SSO login at a terminal: a loopback address the browser returns to.

``aggregator accounts add --scheme sso`` prints the identity provider's URL; the person logs in
in a browser, which is then sent back to ``http://127.0.0.1:<port>/sso/callback`` where this
small listener waits (the loopback redirect of native apps, RFC 8252 section 7.3). It answers
with a page saying to go back to the terminal and keeps the address the browser came back with
(the operator's ``code`` and ``state``); the login goes on from it. A browser on another machine
cannot reach the loopback address: the person pastes the address from its address bar instead.

Only the first ``GET`` of the callback path is kept; everything else is a 404. Whoever else on
the machine calls the address first gains nothing: the plugin checks the ``state`` it sent.
"""

from __future__ import annotations

import asyncio
import contextlib
import html
from urllib.parse import urlsplit

__all__ = ["CALLBACK_PATH", "LoopbackReturn"]

CALLBACK_PATH = "/sso/callback"
#: How long one connection may take to send its request head.
READ_TIMEOUT_S = 10.0
MAX_HEADER_LINES = 100

_DONE_PAGE = (
    '<!doctype html><html lang="ru"><head><meta charset="utf-8">'
    "<title>{title}</title></head><body><main><h1>{title}</h1><p>{text}</p></main></body></html>"
).format(
    title=html.escape("Вход выполнен / Logged in"),
    text=html.escape(
        "Вернитесь в терминал и нажмите Enter; эту вкладку можно закрыть. / "
        "Go back to the terminal and press Enter; you may close this tab."
    ),
)


class LoopbackReturn:
    """A one-shot HTTP listener on ``127.0.0.1`` (a free port) for the browser's way back."""

    def __init__(self) -> None:
        self._server: asyncio.base_events.Server | None = None
        self._returned: asyncio.Event = asyncio.Event()
        self.url = ""
        self.returned: str | None = None

    async def __aenter__(self) -> LoopbackReturn:
        self._server = await asyncio.start_server(self._handle, "127.0.0.1", 0)
        port = self._server.sockets[0].getsockname()[1]
        self.url = f"http://127.0.0.1:{port}{CALLBACK_PATH}"
        return self

    async def __aexit__(self, *exc: object) -> None:
        if self._server is not None:
            self._server.close()
            with contextlib.suppress(Exception):
                await asyncio.wait_for(self._server.wait_closed(), 5)
            self._server = None

    async def wait(self, seconds: float) -> str | None:
        """The address the browser came back with, waiting at most ``seconds``."""
        with contextlib.suppress(TimeoutError):
            await asyncio.wait_for(self._returned.wait(), seconds)
        return self.returned

    async def _handle(self, reader: asyncio.StreamReader, writer: asyncio.StreamWriter) -> None:
        try:
            status, body = await self._answer(reader)
            payload = body.encode()
            writer.write(
                (
                    f"HTTP/1.1 {status}\r\n"
                    "Content-Type: text/html; charset=utf-8\r\n"
                    f"Content-Length: {len(payload)}\r\n"
                    "Cache-Control: no-store\r\n"
                    "Referrer-Policy: no-referrer\r\n"
                    "Connection: close\r\n\r\n"
                ).encode()
                + payload
            )
            await writer.drain()
        except (OSError, TimeoutError, ValueError, asyncio.IncompleteReadError):
            pass
        finally:
            writer.close()
            with contextlib.suppress(Exception):
                await writer.wait_closed()

    async def _answer(self, reader: asyncio.StreamReader) -> tuple[str, str]:
        line = await asyncio.wait_for(reader.readline(), READ_TIMEOUT_S)
        for _ in range(MAX_HEADER_LINES):  # the rest of the head is not needed
            header = await asyncio.wait_for(reader.readline(), READ_TIMEOUT_S)
            if header in (b"\r\n", b"\n", b""):
                break
        parts = line.decode("latin-1").split()
        if len(parts) != 3 or parts[0] != "GET" or not parts[1].startswith("/"):
            return "400 Bad Request", ""
        target = parts[1]
        if urlsplit(target).path != CALLBACK_PATH or self.returned is not None:
            return "404 Not Found", ""
        origin = "{0.scheme}://{0.netloc}".format(urlsplit(self.url))
        self.returned = origin + target
        self._returned.set()
        return "200 OK", _DONE_PAGE
