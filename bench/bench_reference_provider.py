"""The reference provider's balance endpoint next to a bare Litestar handler, same run.

Each server runs under uvicorn in its own process on loopback; one httpx client with
``--concurrency`` tasks drives it for ``--seconds``. The provider serves the native dialect's
``GET /reference/api/v1/accounts/{id}/balance`` for ``--accounts`` bulk accounts (each request
with its own bearer token: session lookup, ownership check, accrual check, JSON); the bare
handler returns a constant dict of the same shape. Rounds alternate (bare, provider, ...) and
the best round of each is kept, because the machine is shared and noisy.

Three figures: the request rate each server sustained over HTTP (the goal: provider >= 0.5 x
bare; the client may be the limit for both), the server process's own CPU time per request
(independent of the client), and the app's CPU time per request called in-process as raw ASGI
with no HTTP at all (what the provider's own code costs next to a bare handler; uvicorn's
pure-Python HTTP parsing, h11, is most of the per-request cost over HTTP).

    .venv/bin/python bench/bench_reference_provider.py [--seconds 4] [--rounds 2]
"""

from __future__ import annotations

import argparse
import asyncio
import os
import socket
import subprocess
import sys
import time
from dataclasses import dataclass
from typing import Any

import httpx
import psutil

BALANCE = {
    "amount": "850.00",
    "currency": "RUB",
    "as_of": "2025-01-15T12:00:00+03:00",
    "credit_limit": None,
    "bonus": None,
    "next_charge_date": "2025-02-01",
    "next_charge_amount": "0.00",
}


# -- the servers (run in a child process) ----------------------------------------------------
def bare_app() -> Any:
    from litestar import Litestar, get
    from litestar.params import FromPath

    @get("/balance/{account_id:str}", sync_to_thread=False)
    def balance(account_id: FromPath[str]) -> dict[str, object]:
        return BALANCE

    return Litestar(route_handlers=[balance], openapi_config=None, logging_config=None)


def serve_bare(port: int) -> None:
    import uvicorn

    uvicorn.run(bare_app(), host="127.0.0.1", port=port, log_level="warning", access_log=False)


# -- in-process: the app alone, called as raw ASGI ------------------------------------------------
async def asgi_cost(app: Any, requests: list[tuple[str, str]], calls: int) -> float:
    """CPU microseconds per request of ``app`` called directly (no HTTP, no network)."""

    async def call(path: str, token: str) -> int:
        scope = {
            "type": "http",
            "asgi": {"version": "3.0"},
            "http_version": "1.1",
            "method": "GET",
            "scheme": "http",
            "path": path,
            "raw_path": path.encode(),
            "query_string": b"",
            "root_path": "",
            "client": ("127.0.0.1", 1),
            "server": ("127.0.0.1", 80),
            "state": {},
            "headers": [(b"authorization", f"Bearer {token}".encode())],
        }
        sent: list[dict[str, Any]] = []

        async def receive() -> dict[str, Any]:
            return {"type": "http.request", "body": b"", "more_body": False}

        async def send(message: dict[str, Any]) -> None:
            sent.append(message)

        await app(scope, receive, send)
        return int(sent[0]["status"])

    for path, token in requests[:200]:
        await call(path, token)
    began = time.process_time()
    for i in range(calls):
        status = await call(*requests[i % len(requests)])
        if status != 200:
            raise SystemExit(f"in-process call answered {status}")
    return (time.process_time() - began) / calls * 1e6


def in_process(accounts: int, calls: int) -> tuple[float, float]:
    from reference_provider.app import create_app
    from reference_provider.backend import Backend

    backend = Backend(seed=1, clock_speed=1.0)
    provider = create_app(backend=backend, sim=True)
    made = backend.bulk_create("reference", accounts)
    native = [(f"/reference/api/v1/accounts/{a.account_id}/balance", a.token) for a in made]
    bare = [(f"/balance/acc-{i}", "x" * 32) for i in range(accounts)]
    bare_us = min(asyncio.run(asgi_cost(bare_app(), bare, calls)) for _ in range(2))
    provider_us = min(asyncio.run(asgi_cost(provider, native, calls)) for _ in range(2))
    return bare_us, provider_us


def free_port() -> int:
    with socket.socket() as s:
        s.bind(("127.0.0.1", 0))
        return int(s.getsockname()[1])


def start(kind: str) -> tuple[subprocess.Popen[bytes], str]:
    port = free_port()
    command = [sys.executable, __file__, "--serve-bare", "--port", str(port)]
    if kind == "provider":  # the real server, as `python -m reference_provider` runs it
        command = [sys.executable, "-m", "reference_provider", "--port", str(port), "--sim"]
    process = subprocess.Popen(command, stdout=subprocess.DEVNULL, stderr=subprocess.DEVNULL)
    base = f"http://127.0.0.1:{port}"
    deadline = time.monotonic() + 30
    while True:
        try:
            httpx.get(f"{base}/schema/openapi.json" if kind == "provider" else base, timeout=1)
            return process, base
        except httpx.TransportError:
            if process.poll() is not None or time.monotonic() > deadline:
                raise SystemExit(f"the {kind} server did not start") from None
            time.sleep(0.1)


# -- the client ---------------------------------------------------------------------------------
@dataclass
class Result:
    requests: int
    seconds: float
    server_cpu: float
    errors: int

    @property
    def rate(self) -> float:
        return self.requests / self.seconds

    @property
    def cpu_us_per_request(self) -> float:
        return self.server_cpu / max(1, self.requests) * 1e6


async def drive(
    urls: list[tuple[str, dict[str, str]]], seconds: float, concurrency: int, pid: int
) -> Result:
    limits = httpx.Limits(max_connections=concurrency, max_keepalive_connections=concurrency)
    server = psutil.Process(pid)
    async with httpx.AsyncClient(limits=limits, timeout=10) as client:

        async def worker(offset: int, stop: float, counts: list[int]) -> None:
            i = offset
            while time.perf_counter() < stop:
                url, headers = urls[i % len(urls)]
                i += concurrency
                response = await client.get(url, headers=headers)
                counts[0 if response.status_code == 200 else 1] += 1

        warm = [0, 0]
        stop = time.perf_counter() + min(1.0, seconds / 4)
        await asyncio.gather(*(worker(k, stop, warm) for k in range(concurrency)))
        counts = [0, 0]
        cpu_before = sum(server.cpu_times()[:2])
        began = time.perf_counter()
        stop = began + seconds
        await asyncio.gather(*(worker(k, stop, counts) for k in range(concurrency)))
        elapsed = time.perf_counter() - began
        cpu = sum(server.cpu_times()[:2]) - cpu_before
    return Result(counts[0], elapsed, cpu, counts[1])


def provider_urls(base: str, accounts: int) -> list[tuple[str, dict[str, str]]]:
    r = httpx.post(
        f"{base}/sim/accounts/bulk",
        json={"operator": "reference", "count": accounts},
        timeout=120,
    )
    r.raise_for_status()
    return [
        (
            f"{base}/reference/api/v1/accounts/{a['account_id']}/balance",
            {"authorization": f"Bearer {a['token']}"},
        )
        for a in r.json()["accounts"]
    ]


def main() -> None:
    parser = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    parser.add_argument("--serve-bare", action="store_true", help=argparse.SUPPRESS)
    parser.add_argument("--port", type=int)
    parser.add_argument("--seconds", type=float, default=3.0)
    parser.add_argument("--rounds", type=int, default=3)
    parser.add_argument("--calls", type=int, default=20000, help="in-process ASGI calls")
    parser.add_argument("--concurrency", type=int, default=32)
    parser.add_argument("--accounts", type=int, default=1000)
    args = parser.parse_args()
    if args.serve_bare:
        serve_bare(args.port)
        return

    bare, bare_url = start("bare")
    provider, provider_url = start("provider")
    try:
        token = {"authorization": "Bearer x" * 4}
        bare_urls = [(f"{bare_url}/balance/acc-{i}", token) for i in range(args.accounts)]
        native_urls = provider_urls(provider_url, args.accounts)
        results: dict[str, list[Result]] = {"bare": [], "provider": []}
        for _ in range(args.rounds):
            for name, urls, process in (
                ("bare", bare_urls, bare),
                ("provider", native_urls, provider),
            ):
                results[name].append(
                    asyncio.run(drive(urls, args.seconds, args.concurrency, process.pid))
                )
    finally:
        for process in (bare, provider):
            process.terminate()
            process.wait(timeout=10)

    bare_app_us, provider_app_us = in_process(args.accounts, args.calls)
    best = {name: max(rs, key=lambda r: r.rate) for name, rs in results.items()}
    b, p = best["bare"], best["provider"]
    print(
        f"\nReference provider balance endpoint vs a bare Litestar handler "
        f"(uvicorn, loopback, httpx x{args.concurrency}, best of {args.rounds} x "
        f"{args.seconds:g} s, {args.accounts} accounts, {os.cpu_count()} CPUs)\n"
    )
    header = (
        f"{'server':<30}{'requests':>9}{'req/s':>8}{'errors':>7}"
        f"{'server CPU us/req':>19}{'app-only CPU us/req':>21}"
    )
    print(header)
    print("-" * len(header))
    for label, r, app_us in (
        ("bare Litestar handler", b, bare_app_us),
        ("reference provider /balance", p, provider_app_us),
    ):
        print(
            f"{label:<30}{r.requests:>9}{r.rate:>8.0f}{r.errors:>7}"
            f"{r.cpu_us_per_request:>19.0f}{app_us:>21.1f}"
        )
    print("-" * len(header))
    print(
        f"{'ratio (provider vs bare)':<30}{p.rate / b.rate:>17.2f}{'':>7}"
        f"{b.cpu_us_per_request / p.cpu_us_per_request:>19.2f}"
        f"{bare_app_us / provider_app_us:>21.2f}"
    )
    print("goal: the rate ratio >= 0.50 (ratios above 1 mean the provider cost less)")
    if p.errors or b.errors:
        raise SystemExit("some requests failed")


if __name__ == "__main__":
    main()
