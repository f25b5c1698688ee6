"""The NetByNet plugin polling its dialect, next to a bare httpx loop, in the same run.

The reference provider runs under uvicorn in a child process on a loopback port (billing clock
frozen, simulation API on). Bulk accounts are created through the simulation API, each with its
own live session cookie. Then two loops poll every account round-robin with ``--concurrency``
tasks on one shared ``httpx.AsyncClient``:

* **plugin**: ``NetbynetProvider.poll(session, account)``: the three API calls of a poll
  (``v1/get-balance``, ``v2/get-balance-details``, ``v2/get-internet-accounts-details``, sent
  together), transport error mapping, the resultCode check, exact money, contract models;
* **bare**: the same three requests with the same cookie, ``response.json()``, nothing else.

The machine is shared and noisy, so the two loops run in short alternating slices (bare, plugin,
plugin, bare, ...): each pair of neighbouring slices sees about the same load, and the ratio is
the median of the per-pair ratios (the rates shown are medians too). Every figure is printed at
the full size and at 1/10 of it (growth must be linear).

    .venv/bin/python bench/bench_netbynet.py [--accounts 500] [--pairs 12] [--slice 0.4]
"""

from __future__ import annotations

import argparse
import asyncio
import itertools
import socket
import statistics
import subprocess
import sys
import time
from collections.abc import Awaitable, Callable
from dataclasses import dataclass

import httpx
from aggregator_netbynet import NetbynetProvider

from aggregator import ProviderContext, Session

PATHS = ("v1/get-balance", "v2/get-balance-details", "v2/get-internet-accounts-details")


@dataclass
class Round:
    polls: int
    seconds: float
    errors: int

    @property
    def polls_per_s(self) -> float:
        return self.polls / self.seconds


def free_port() -> int:
    with socket.socket() as sock:
        sock.bind(("127.0.0.1", 0))
        return int(sock.getsockname()[1])


def start_server(port: int) -> subprocess.Popen[bytes]:
    cmd = [sys.executable, "-m", "reference_provider", "--host", "127.0.0.1", "--port",
           str(port), "--sim", "--clock-speed", "0"]  # fmt: skip
    return subprocess.Popen(cmd, stdout=subprocess.DEVNULL, stderr=subprocess.DEVNULL)


async def wait_ready(http: httpx.AsyncClient, origin: str) -> None:
    deadline = time.monotonic() + 60
    while time.monotonic() < deadline:
        try:
            if (await http.get(origin + "/sim/clock")).status_code == 200:
                return
        except httpx.TransportError:
            pass
        await asyncio.sleep(0.1)
    raise RuntimeError("the reference provider did not start")


async def bulk_sessions(http: httpx.AsyncClient, origin: str, count: int) -> list[Session]:
    sessions: list[Session] = []
    while len(sessions) < count:
        batch = min(1000, count - len(sessions))
        reply = await http.post(
            origin + "/sim/accounts/bulk", json={"operator": "netbynet", "count": batch}
        )
        reply.raise_for_status()
        sessions += [
            Session(provider="netbynet", data=item["session"]) for item in reply.json()["accounts"]
        ]
    return sessions


async def bare_poll(http: httpx.AsyncClient, api: str, session: Session) -> None:
    headers = {
        "Cookie": f"AUTHORIZATION={session.data['cookies']['AUTHORIZATION']}",
        "Accept": "application/json",
        "X-Requested-With": "XMLHttpRequest",
    }
    replies = await asyncio.gather(*(http.get(api + path, headers=headers) for path in PATHS))
    for reply in replies:
        reply.json()


async def run_round(
    kind: str,
    provider: NetbynetProvider,
    http: httpx.AsyncClient,
    api: str,
    sessions: list[Session],
    seconds: float,
    concurrency: int,
) -> Round:
    cycle = itertools.cycle(sessions)
    polls = errors = 0
    deadline = time.perf_counter() + seconds

    async def worker() -> None:
        nonlocal polls, errors
        while time.perf_counter() < deadline:
            session = next(cycle)
            try:
                if kind == "plugin":
                    await provider.poll(session, "")
                else:
                    await bare_poll(http, api, session)
            except Exception:
                errors += 1
            else:
                polls += 1

    start = time.perf_counter()
    await asyncio.gather(*(worker() for _ in range(concurrency)))
    return Round(polls, time.perf_counter() - start, errors)


@dataclass
class Paired:
    """Alternating slices of the two loops: median rates and the median per-pair ratio."""

    bare_per_s: float
    plugin_per_s: float
    ratio: float
    errors: int


async def paired(run: Callable[[str], Awaitable[Round]], pairs: int) -> Paired:
    """Run ``run("bare")`` and ``run("plugin")`` in alternating order, ``pairs`` times."""
    bare: list[float] = []
    plugin: list[float] = []
    ratios: list[float] = []
    errors = 0
    for i in range(pairs):
        order = ("bare", "plugin") if i % 2 == 0 else ("plugin", "bare")
        rates: dict[str, float] = {}
        for kind in order:
            result = await run(kind)
            rates[kind] = result.polls_per_s
            errors += result.errors
        bare.append(rates["bare"])
        plugin.append(rates["plugin"])
        ratios.append(rates["plugin"] / rates["bare"])
    return Paired(
        statistics.median(bare), statistics.median(plugin), statistics.median(ratios), errors
    )


async def measure(
    http: httpx.AsyncClient,
    origin: str,
    sessions: list[Session],
    slice_s: float,
    pairs: int,
    concurrency: int,
) -> Paired:
    provider = NetbynetProvider(ProviderContext(http=http, base_url=origin + "/netbynet"))
    api = origin + "/netbynet/api/"

    async def run(kind: str) -> Round:
        return await run_round(kind, provider, http, api, sessions, slice_s, concurrency)

    await run("bare")  # warm-up: connections, caches
    await run("plugin")
    return await paired(run, pairs)


async def main() -> None:
    parser = argparse.ArgumentParser(description=__doc__.split("\n")[0])
    parser.add_argument("--accounts", type=int, default=500)
    parser.add_argument("--pairs", type=int, default=12, help="alternating slice pairs")
    parser.add_argument("--slice", type=float, default=0.4, help="seconds per slice")
    parser.add_argument("--concurrency", type=int, default=8)
    args = parser.parse_args()

    port = free_port()
    origin = f"http://127.0.0.1:{port}"
    server = start_server(port)
    try:
        limits = httpx.Limits(max_connections=64, max_keepalive_connections=64)
        async with httpx.AsyncClient(timeout=30, limits=limits) as http:
            await wait_ready(http, origin)
            sessions = await bulk_sessions(http, origin, args.accounts)
            rows = []
            for size in (args.accounts // 10, args.accounts):
                result = await measure(
                    http, origin, sessions[:size], args.slice, args.pairs, args.concurrency
                )
                rows.append((size, result))
    finally:
        server.terminate()
        server.wait(10)

    n = len(PATHS)
    print(
        f"NetByNet poll rate: plugin vs bare httpx, the same {n} requests per poll, "
        f"concurrency {args.concurrency}, {args.pairs} alternating pairs of {args.slice:g} s"
    )
    print()
    print(
        "| accounts | bare polls/s | bare req/s | plugin polls/s | plugin req/s | ratio | errors |"
    )
    print("|---:|---:|---:|---:|---:|---:|---:|")
    for size, r in rows:
        print(
            f"| {size} | {r.bare_per_s:.0f} | {r.bare_per_s * n:.0f} | {r.plugin_per_s:.0f} "
            f"| {r.plugin_per_s * n:.0f} | {r.ratio:.2f} | {r.errors} |"
        )
    print()
    print("ratio = median over pairs of plugin polls/s / bare polls/s (goal >= 0.80)")


if __name__ == "__main__":
    asyncio.run(main())
