"""Beeline and Rostelecom plugins polling their dialects, next to a bare httpx loop, same run.

The reference provider runs under uvicorn in a child process on a loopback port (billing clock
frozen, simulation API on). ``--accounts`` bulk accounts per operator are created through the
simulation API, each with its own live session. Then, per operator, two loops poll every
account round-robin with ``--concurrency`` tasks on one shared ``httpx.AsyncClient``:

* **plugin**: ``provider.poll(session, account)``: the real plugin (request building, transport
  error mapping, JSON decoding, pydantic validation of the reply, contract models);
* **bare**: the same HTTP requests to the same server with ``httpx`` and ``response.json()``,
  nothing else (Beeline: payType, prepaidBalance, pricePlan, status with ?ctn=, the app's
  headers and the token; Rostelecom: client-api getAccountBalanceV2, getFplStatus,
  getServiceTariffName and getServiceInfo on the cabinet's cookie session with its CSRF-TOKEN
  header).

Rounds come in adjacent pairs (bare then plugin, then plugin then bare, ...): the machine is
shared and noisy, and two adjacent rounds see about the same load, so the figure is the median
over the pairs of plugin polls/s / bare polls/s. The client's own CPU time per poll (the server
is another process) shows the plugin's cost independently of the load. Beeline's per-token rate
limit is never reached at these rates (each token is polled a few times a second at most).

    .venv/bin/python bench/bench_beeline_rostelecom.py [--seconds 1.5] [--rounds 8]
"""

from __future__ import annotations

import argparse
import asyncio
import itertools
import os
import socket
import statistics
import subprocess
import sys
import time
from collections.abc import Awaitable, Callable
from dataclasses import dataclass
from typing import Any

import httpx
from aggregator_beeline import BeelineProvider
from aggregator_beeline.client import APP_HEADERS
from aggregator_rostelecom import RostelecomProvider

from aggregator import FlowRegistry, Provider, ProviderContext, Session


@dataclass
class Round:
    polls: int
    requests: int
    seconds: float
    errors: int
    cpu: float  # this process's CPU seconds during the round (the server is another process)

    @property
    def cpu_us_per_poll(self) -> float:
        return self.cpu / max(self.polls, 1) * 1e6

    @property
    def polls_per_s(self) -> float:
        return self.polls / self.seconds

    @property
    def requests_per_s(self) -> float:
        return self.requests / self.seconds


@dataclass
class Target:
    operator: str
    provider: Provider
    accounts: list[tuple[Session, str]]
    bare: Callable[[httpx.AsyncClient, Session, str], Awaitable[None]]
    requests_per_poll: int


def free_port() -> int:
    with socket.socket() as sock:
        sock.bind(("127.0.0.1", 0))
        return int(sock.getsockname()[1])


def start_server(port: int) -> subprocess.Popen[bytes]:
    cmd = [
        sys.executable,
        "-m",
        "reference_provider",
        "--host",
        "127.0.0.1",
        "--port",
        str(port),
        "--sim",
        "--clock-speed",
        "0",
    ]
    return subprocess.Popen(cmd, stdout=subprocess.DEVNULL, stderr=subprocess.DEVNULL)


async def wait_ready(http: httpx.AsyncClient, url: str) -> None:
    deadline = time.monotonic() + 60
    while time.monotonic() < deadline:
        try:
            if (await http.get(url + "/sim/clock")).status_code == 200:
                return
        except httpx.TransportError:
            pass
        await asyncio.sleep(0.1)
    raise RuntimeError("the reference provider did not start")


# -- the bare loops: the same requests, nothing else -----------------------------------------


def bare_beeline(base: str) -> Callable[[httpx.AsyncClient, Session, str], Awaitable[None]]:
    api = base + "/beeline/api/1.0/info/"

    async def poll(http: httpx.AsyncClient, session: Session, account: str) -> None:
        token = session.data["token"]
        headers = {
            **APP_HEADERS,
            "X-Auth-Token": token,
            "Cookie": f"token={token}",
            "X-CTN": account,
            "X-Login": session.data["login"],
        }
        for path in ("payType", "prepaidBalance", "pricePlan", "status"):
            (await http.get(api + path, headers=headers, params={"ctn": account})).json()

    return poll


def bare_rostelecom(base: str) -> Callable[[httpx.AsyncClient, Session, str], Awaitable[None]]:
    api = base + "/rostelecom/lk/client-api/"

    async def poll(http: httpx.AsyncClient, session: Session, account: str) -> None:
        cookies = session.data["cookies"]
        headers = {
            "Cookie": "; ".join(f"{k}={v}" for k, v in cookies.items()),
            "CSRF-TOKEN": cookies["CSRF-TOKEN"],
        }
        service = int(account) * 100 + 1
        for method, body in (
            ("getAccountBalanceV2", {"accountId": account}),
            ("getFplStatus", {}),
            ("getServiceTariffName", {"servicesId": [service]}),
            ("getServiceInfo", {"serviceId": service}),
        ):
            body = {**body, "client_uuid": "C", "current_page": "main"}
            (await http.post(api + method, json=body, headers=headers)).json()

    return poll


# -- running ---------------------------------------------------------------------------------


async def run_round(
    target: Target,
    http: httpx.AsyncClient,
    kind: str,
    seconds: float,
    concurrency: int,
) -> Round:
    cycle = itertools.cycle(target.accounts)
    polls = errors = 0
    deadline = time.perf_counter() + seconds

    async def worker() -> None:
        nonlocal polls, errors
        while time.perf_counter() < deadline:
            session, account = next(cycle)
            try:
                if kind == "plugin":
                    await target.provider.poll(session, account)
                else:
                    await target.bare(http, session, account)
            except Exception:
                errors += 1
            else:
                polls += 1

    started, cpu = time.perf_counter(), time.process_time()
    await asyncio.gather(*(worker() for _ in range(concurrency)))
    elapsed = time.perf_counter() - started
    return Round(
        polls, polls * target.requests_per_poll, elapsed, errors, time.process_time() - cpu
    )


async def bulk(http: httpx.AsyncClient, url: str, operator: str, count: int) -> list[Any]:
    r = await http.post(url + "/sim/accounts/bulk", json={"operator": operator, "count": count})
    r.raise_for_status()
    return list(r.json()["accounts"])


async def main(args: argparse.Namespace) -> int:
    port = free_port()
    url = f"http://127.0.0.1:{port}"
    server = start_server(port)
    limits = httpx.Limits(max_connections=args.concurrency * 2, max_keepalive_connections=100)
    try:
        async with httpx.AsyncClient(timeout=30, limits=limits) as http:
            await wait_ready(http, url)
            context = ProviderContext(http=http, base_url=url + "/beeline", flows=FlowRegistry())
            bee_accounts = await bulk(http, url, "beeline", args.accounts)
            beeline = Target(
                "beeline",
                BeelineProvider(context),
                [
                    (Session(provider="beeline", data=a["session"]), a["number"])
                    for a in bee_accounts
                ],
                bare_beeline(url),
                4,
            )
            rt_context = ProviderContext(
                http=http, base_url=url + "/rostelecom", flows=FlowRegistry()
            )
            rt_accounts = await bulk(http, url, "rostelecom", args.accounts)
            rostelecom = Target(
                "rostelecom",
                RostelecomProvider(rt_context),
                [
                    (
                        Session(provider="rostelecom", data=a["session"]),
                        a["account_id"].removeprefix("acc-"),
                    )
                    for a in rt_accounts
                ],
                bare_rostelecom(url),
                4,
            )
            results: dict[tuple[str, str], Round] = {}
            pair_ratios: dict[str, list[float]] = {"beeline": [], "rostelecom": []}
            cpu: dict[tuple[str, str], list[float]] = {}
            failures = 0
            for target in (beeline, rostelecom):
                # warm-up: connections open, code paths hot
                await run_round(target, http, "bare", 0.3, args.concurrency)
                await run_round(target, http, "plugin", 0.3, args.concurrency)
                for i in range(args.rounds):
                    # adjacent rounds see the same machine load: their ratio is the figure;
                    # the order alternates so that neither loop always goes first
                    order = ("bare", "plugin") if i % 2 == 0 else ("plugin", "bare")
                    pair: dict[str, Round] = {}
                    for kind in order:
                        r = await run_round(target, http, kind, args.seconds, args.concurrency)
                        failures += r.errors
                        pair[kind] = r
                        cpu.setdefault((target.operator, kind), []).append(r.cpu_us_per_poll)
                        best = results.get((target.operator, kind))
                        if best is None or r.polls_per_s > best.polls_per_s:
                            results[(target.operator, kind)] = r
                    pair_ratios[target.operator].append(
                        pair["plugin"].polls_per_s / pair["bare"].polls_per_s
                    )
    finally:
        server.terminate()
        server.wait(timeout=10)

    print(
        f"\nPoll rate against the reference provider (loopback, {args.accounts} accounts per "
        f"operator, {args.concurrency} concurrent tasks, {args.rounds} alternating pairs of "
        f"{args.seconds:g} s rounds; {os.cpu_count()} CPUs, load {os.getloadavg()[0]:.1f})\n"
    )
    header = (
        f"{'operator':<11} {'loop':<7} {'polls/s':>9} {'requests/s':>11} "
        f"{'client CPU µs/poll':>19} {'ratio':>7}"
    )
    print(header)
    print("-" * len(header))
    worst = 1.0
    for operator in ("beeline", "rostelecom"):
        ratio = statistics.median(pair_ratios[operator])
        worst = min(worst, ratio)
        for kind in ("bare", "plugin"):
            r = results[(operator, kind)]
            shown = "1.00" if kind == "bare" else f"{ratio:.2f}"
            us = statistics.median(cpu[(operator, kind)])
            print(
                f"{operator:<11} {kind:<7} {r.polls_per_s:>9.0f} {r.requests_per_s:>11.0f} "
                f"{us:>19.0f} {shown:>7}"
            )
    print(
        "\npolls/s and requests/s: the best round of each loop. ratio: the median over the "
        "pairs of\nadjacent rounds of plugin polls/s / bare polls/s (same requests, same "
        f"server). Worst ratio: {worst:.2f}"
    )
    if failures:
        print(f"{failures} polls failed (see the dialect's rate limit and the server log)")
        return 1
    return 0


def parse_args(argv: list[str] | None = None) -> argparse.Namespace:
    parser = argparse.ArgumentParser(description=__doc__.split("\n")[0] if __doc__ else None)
    parser.add_argument("--accounts", type=int, default=200)
    parser.add_argument("--seconds", type=float, default=1.5)
    parser.add_argument("--rounds", type=int, default=8)
    parser.add_argument("--concurrency", type=int, default=16)
    return parser.parse_args(argv)


if __name__ == "__main__":
    sys.exit(asyncio.run(main(parse_args())))
