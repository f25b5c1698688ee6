"""Helpers for tests: run an app on a real uvicorn server on a free loopback port.

::

    from reference_provider.testing import running_server

    with running_server(create_app(sim=True, clock_speed=0)) as base_url:
        httpx.get(f"{base_url}/reference/api/v1/...")

The server runs in a thread with its own event loop; talk to it over HTTP only (the domain is
not thread-safe, so don't call ``app.state.backend`` methods while it serves). A test that
drives the backend directly while the server runs uses :func:`serving` instead: the same
server as a task on the test's own event loop.

For tests and benchmarks of whole processes, :class:`ReferenceServer` runs
``python -m reference_provider --sim`` in a subprocess with a small client for its simulation
API, and :func:`backend_bulk` creates many accounts in an in-process backend. The aggregator's
side (a household, bulk-linked accounts, an in-process environment) is in
:mod:`reference_provider.testing.aggregator_env`.
"""

from __future__ import annotations

import asyncio
import contextlib
import os
import socket
import subprocess
import sys
import threading
import time
from collections.abc import AsyncIterator, Iterator
from contextlib import asynccontextmanager, contextmanager
from typing import Any

import httpx
import uvicorn

from ..registry import load_dialect

__all__ = ["ReferenceServer", "backend_bulk", "free_port", "running_server", "serving"]


def free_port() -> int:
    """A free TCP port on the loopback interface."""
    with socket.socket() as sock:
        sock.bind(("127.0.0.1", 0))
        return int(sock.getsockname()[1])


def _server(app: Any, host: str) -> tuple[uvicorn.Server, socket.socket, int]:
    sock = socket.socket(socket.AF_INET, socket.SOCK_STREAM)
    sock.setsockopt(socket.SOL_SOCKET, socket.SO_REUSEADDR, 1)
    sock.bind((host, 0))
    config = uvicorn.Config(
        app, log_level="warning", access_log=False, lifespan="on", date_header=False
    )
    return uvicorn.Server(config), sock, sock.getsockname()[1]


@contextmanager
def running_server(app: Any, host: str = "127.0.0.1", timeout: float = 60.0) -> Iterator[str]:
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


class ReferenceServer:
    """The reference provider in a subprocess (uvicorn) on a free loopback port."""

    def __init__(
        self,
        *,
        seed: int = 1,
        clock_speed: float = 0.0,
        port: int | None = None,
        log_path: str | None = None,
        keep_alive_s: float = 5.0,
    ) -> None:
        self.seed = seed
        self.keep_alive_s = keep_alive_s
        self.clock_speed = clock_speed
        self.port = port or free_port()
        self.url = f"http://127.0.0.1:{self.port}"
        self.log_path = log_path
        self.process: subprocess.Popen[bytes] | None = None
        self.sim = httpx.Client(base_url=f"{self.url}/sim", timeout=60.0)

    def start(self, timeout: float = 90.0) -> ReferenceServer:
        log = open(self.log_path, "ab") if self.log_path else subprocess.DEVNULL  # noqa: SIM115
        self.process = subprocess.Popen(
            [
                sys.executable,
                "-m",
                "reference_provider",
                "--host",
                "127.0.0.1",
                "--port",
                str(self.port),
                "--seed",
                str(self.seed),
                "--sim",
                "--clock-speed",
                str(self.clock_speed),
                "--keep-alive-s",
                str(self.keep_alive_s),
            ],
            stdout=log,
            stderr=log,
            env={**os.environ, "PYTHONUNBUFFERED": "1"},
        )
        deadline = time.monotonic() + timeout
        while time.monotonic() < deadline:
            if self.process.poll() is not None:
                raise RuntimeError(f"the reference provider exited with {self.process.returncode}")
            with contextlib.suppress(httpx.HTTPError):
                if self.sim.get("/clock", timeout=1.0).status_code == 200:
                    return self
            time.sleep(0.1)
        self.stop()
        raise RuntimeError("the reference provider did not start in time")

    def stop(self) -> None:
        process, self.process = self.process, None
        if process is not None and process.poll() is None:
            process.terminate()
            try:
                process.wait(10)
            except subprocess.TimeoutExpired:
                process.kill()
                process.wait(10)
        self.sim.close()

    @property
    def pid(self) -> int | None:
        return self.process.pid if self.process else None

    def __enter__(self) -> ReferenceServer:
        return self.start()

    def __exit__(self, *exc: object) -> None:
        self.stop()

    # -- the simulation API ------------------------------------------------------------------
    def call(self, method: str, path: str, **kwargs: Any) -> Any:
        response = self.sim.request(method, path, **kwargs)
        response.raise_for_status()
        return response.json() if response.content else None

    def bulk(
        self, operator: str, count: int, *, balance: str = "500.00", password: str = "Bulk-pass-1"
    ) -> list[dict[str, Any]]:
        body = self.call(
            "POST",
            "/accounts/bulk",
            json={"operator": operator, "count": count, "balance": balance, "password": password},
        )
        return list(body["accounts"])

    def set_balance(self, operator: str, number: str, amount: str) -> None:
        self.call("PUT", f"/accounts/{operator}/{number}/balance", json={"amount": amount})

    def account(self, operator: str, number: str) -> dict[str, Any]:
        return dict(self.call("GET", f"/accounts/{operator}/{number}"))

    def advance(self, **delta: float) -> None:
        self.call("POST", "/clock/advance", json=delta)

    def fault(self, kind: str, **fields: Any) -> None:
        self.call("POST", "/faults", json={"kind": kind, **fields})

    def clear_faults(self) -> None:
        self.call("DELETE", "/faults")

    def in_flight(self) -> dict[str, dict[str, int]]:
        """Per operator: requests in flight now, the most at once (``peak``), the total."""
        return dict(self.call("GET", "/in-flight")["operators"])

    def reset_in_flight(self) -> None:
        """Forget the peaks and totals counted so far."""
        self.call("DELETE", "/in-flight")


def backend_bulk(
    backend: Any, operator: str, count: int, *, balance: int = 50_000, password: str = "Bulk-pass-1"
) -> list[dict[str, Any]]:
    """What ``POST /sim/accounts/bulk`` answers, from an in-process reference Backend."""
    created = backend.bulk_create(operator, count, password=password, balance=balance)
    module = load_dialect("native" if operator == "reference" else operator)
    hook = getattr(module, "bulk_session", None) if module else None
    return [
        {
            "login": b.login,
            "password": b.password,
            "account_id": b.account_id,
            "number": b.number,
            "token": b.token,
            "subscriber_id": b.subscriber_id,
            "session": hook(backend, b) if hook is not None else {"token": b.token},
        }
        for b in created
    ]
