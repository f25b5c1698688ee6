"""The NetByNet plugin polling its dialect, next to a bare httpx loop, in the same run.

The reference provider runs under uvicorn in a child process on a loopback port (billing clock
frozen, simulation API on). Bulk accounts are created through the simulation API, each with its
own live session cookie. Then two loops poll every account round-robin with ``--concurrency``
tasks on one shared ``httpx.AsyncClient``:

* **plugin**: ``NetbynetProvider.poll(session, account)``: the three API calls of a poll
  (``v1/get-balance``, ``v1/get-balance-details``, ``v1/get-internet-accounts-details``, sent
  together), transport error mapping, the resultCode check, exact money, contract models;
* **bare**: the same three requests with the same cookie, ``response.json()``, nothing else.

Rounds alternate (bare, plugin, ...) and the best round of each is kept: the machine is shared
and noisy. Every figure is printed at the full size and at 1/10 of it (growth must be linear).

    .venv/bin/python bench/bench_netbynet.py [--accounts 500] [--seconds 3] [--rounds 3]
"""

from __future__ import annotations

import argparse
import asyncio
import itertools
import socket
import subprocess
import sys
import time
from dataclasses import dataclass

import httpx
from aggregator_netbynet import NetbynetProvider

from aggregator import ProviderContext, Session

PATHS = ("v1/get-balance", "v1/get-balance-details", "v1/get-internet-accounts-details")


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
        "Cookie": f"NBN_SESSION={session.data['cookies']['NBN_SESSION']}",
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


async def measure(
    http: httpx.AsyncClient,
    origin: str,
    sessions: list[Session],
    seconds: float,
    rounds: int,
    concurrency: int,
) -> tuple[Round, Round]:
    provider = NetbynetProvider(ProviderContext(http=http, base_url=origin + "/netbynet"))
    api = origin + "/netbynet/api/"
    best: dict[str, Round] = {}
    for _ in range(rounds):
        for kind in ("bare", "plugin"):
            result = await run_round(kind, provider, http, api, sessions, seconds, concurrency)
            if kind not in best or result.polls_per_s > best[kind].polls_per_s:
                best[kind] = result
    return best["bare"], best["plugin"]


async def main() -> None:
    parser = argparse.ArgumentParser(description=__doc__.split("\n")[0])
    parser.add_argument("--accounts", type=int, default=500)
    parser.add_argument("--seconds", type=float, default=3.0)
    parser.add_argument("--rounds", type=int, default=3)
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
                bare, plugin = await measure(
                    http, origin, sessions[:size], args.seconds, args.rounds, args.concurrency
                )
                rows.append((size, bare, plugin))
    finally:
        server.terminate()
        server.wait(10)

    print(f"NetByNet poll rate: plugin vs bare httpx, same requests ({len(PATHS)} per poll), "
          f"concurrency {args.concurrency}, best of {args.rounds} x {args.seconds:g} s")  # fmt: skip
    print()
    header = ("accounts", "bare polls/s", "bare req/s", "plugin polls/s", "plugin req/s",
              "ratio", "errors")  # fmt: skip
    print("| " + " | ".join(header) + " |")
    print("|" + "|".join("---:" for _ in header) + "|")
    for size, bare, plugin in rows:
        ratio = plugin.polls_per_s / bare.polls_per_s
        print(
            f"| {size} | {bare.polls_per_s:.0f} | {bare.polls_per_s * len(PATHS):.0f} "
            f"| {plugin.polls_per_s:.0f} | {plugin.polls_per_s * len(PATHS):.0f} "
            f"| {ratio:.2f} | {bare.errors + plugin.errors} |"
        )
    print()
    print("ratio = plugin polls/s / bare polls/s (goal >= 0.80)")


if __name__ == "__main__":
    asyncio.run(main())
