"""Helpers for tests: run an app on a real uvicorn server on a free loopback port.

::

    from reference_provider.testing import running_server

    with running_server(create_app(sim=True, clock_speed=0)) as base_url:
        httpx.get(f"{base_url}/reference/api/v1/...")

The server runs in a thread with its own event loop; talk to it over HTTP only (the domain is
not thread-safe, so don't call ``app.state.backend`` methods while it serves). A test that
drives the backend directly while the server runs uses :func:`serving` instead: the same
server as a task on the test's own event loop.
"""

from __future__ import annotations

import asyncio
import socket
import threading
import time
from collections.abc import AsyncIterator, Iterator
from contextlib import asynccontextmanager, contextmanager
from typing import Any

import uvicorn

__all__ = ["running_server", "serving"]


def _server(app: Any, host: str) -> tuple[uvicorn.Server, socket.socket, int]:
    sock = socket.socket(socket.AF_INET, socket.SOCK_STREAM)
    sock.setsockopt(socket.SOL_SOCKET, socket.SO_REUSEADDR, 1)
    sock.bind((host, 0))
    config = uvicorn.Config(
        app, log_level="warning", access_log=False, lifespan="on", date_header=False
    )
    return uvicorn.Server(config), sock, sock.getsockname()[1]


@contextmanager
def running_server(app: Any, host: str = "127.0.0.1", timeout: float = 10.0) -> Iterator[str]:
    """Serve ``app`` on ``host`` at a free port in a thread; yield ``http://host:port``."""
    server, sock, port = _server(app, host)
    thread = threading.Thread(target=server.run, kwargs={"sockets": [sock]}, daemon=True)
    thread.start()
    deadline = time.monotonic() + timeout
    while not server.started:
        if not thread.is_alive() or time.monotonic() > deadline:
            raise RuntimeError("the reference provider did not start")
        time.sleep(0.01)
    try:
        yield f"http://{host}:{port}"
    finally:
        server.should_exit = True
        thread.join(timeout)
        sock.close()


@asynccontextmanager
async def serving(app: Any, host: str = "127.0.0.1") -> AsyncIterator[str]:
    """Serve ``app`` at a free port as a task on the running event loop; yield its origin."""
    server, sock, port = _server(app, host)
    task = asyncio.create_task(server.serve(sockets=[sock]))
    while not server.started:
        if task.done():
            task.result()
            raise RuntimeError("the reference provider did not start")
        await asyncio.sleep(0.01)
    try:
        yield f"http://{host}:{port}"
    finally:
        server.should_exit = True
        await task
        sock.close()
