"""The way back of an SSO login at a terminal: a loopback address the browser returns to.

``aggregator accounts add --scheme sso`` prints the identity provider's URL; the person logs in
in a browser, which is then sent back to ``http://127.0.0.1:<port>/sso/callback`` where this
small listener waits (the loopback redirect of native apps, RFC 8252 section 7.3). It answers
with a page saying to go back to the terminal and keeps the address the browser came back with
(the operator's ``code`` and ``state``); the login goes on from it. A browser on another machine
cannot reach the loopback address: the person pastes the address from its address bar instead.

The listener runs in a thread of its own, so the terminal's prompts stay on the main thread
(Ctrl-C stops them at once) while it answers the browser. Only the first ``GET`` of the
callback path is kept; everything else is a 404. Whoever else on the machine calls the address
first gains nothing: the plugin checks the ``state`` it sent.
"""

from __future__ import annotations

import asyncio
import html
import threading
from http.server import BaseHTTPRequestHandler, ThreadingHTTPServer
from typing import Any
from urllib.parse import urlsplit

__all__ = ["CALLBACK_PATH", "LoopbackReturn"]

CALLBACK_PATH = "/sso/callback"
#: How long one connection may stay silent.
SOCKET_TIMEOUT_S = 10.0

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


class _Server(ThreadingHTTPServer):
    daemon_threads = True
    owner: LoopbackReturn


class _Handler(BaseHTTPRequestHandler):
    server: _Server
    timeout = SOCKET_TIMEOUT_S
    server_version = "aggregator"
    sys_version = ""

    def do_GET(self) -> None:
        if urlsplit(self.path).path == CALLBACK_PATH and self.server.owner.take(self.path):
            self._reply(200, _DONE_PAGE)
        else:
            self._reply(404, "")

    def _reply(self, status: int, body: str) -> None:
        payload = body.encode()
        self.send_response(status)
        self.send_header("Content-Type", "text/html; charset=utf-8")
        self.send_header("Content-Length", str(len(payload)))
        self.send_header("Cache-Control", "no-store")
        self.send_header("Referrer-Policy", "no-referrer")
        self.send_header("Connection", "close")
        self.end_headers()
        self.wfile.write(payload)

    def log_message(self, format: str, *args: Any) -> None:
        """Nothing on the terminal (the address carries the operator's code)."""


class LoopbackReturn:
    """A one-shot HTTP listener on ``127.0.0.1`` (a free port) for the browser's way back."""

    def __init__(self) -> None:
        self._server: _Server | None = None
        self._thread: threading.Thread | None = None
        self._lock = threading.Lock()
        self._returned = threading.Event()
        self.url = ""
        self.returned: str | None = None

    def take(self, target: str) -> bool:
        """Keep ``target`` (a request's path and query) if nothing came back yet."""
        with self._lock:
            if self.returned is not None:
                return False
            self.returned = self.url.removesuffix(CALLBACK_PATH) + target
        self._returned.set()
        return True

    async def __aenter__(self) -> LoopbackReturn:
        server = _Server(("127.0.0.1", 0), _Handler)
        server.owner = self
        self._server = server
        self.url = f"http://127.0.0.1:{server.server_address[1]}{CALLBACK_PATH}"
        self._thread = threading.Thread(
            target=server.serve_forever, kwargs={"poll_interval": 0.2}, daemon=True
        )
        self._thread.start()
        return self

    async def __aexit__(self, *exc: object) -> None:
        server, self._server = self._server, None
        if server is not None:
            await asyncio.to_thread(server.shutdown)
            server.server_close()

    async def wait(self, seconds: float) -> str | None:
        """The address the browser came back with, waiting at most ``seconds``."""
        await asyncio.to_thread(self._returned.wait, seconds)
        return self.returned
