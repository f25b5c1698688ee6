"""The Bashtel plugin: browser logins per poll, its Playwright login, and its poll rate.

The reference provider runs under uvicorn in a child process on a loopback port (billing clock
frozen and moved by the simulation API). One shared Chromium (``aggregator.browser``) serves
every browser login. Three measurements, each next to its baseline in the same run:

1. **Polls per browser login.** Demo accounts are linked as a person would (the first login
   answers the captcha), then polled every simulated hour for ``--days`` days by a loop that
   does what the poller does: on ``SessionExpired`` it logs in again (the device cookie spares
   the captcha). Once in steady state (sessions valid), and once with the operator dropping
   every session each simulated week. Goal: at most 1 browser login per 100 polls.
2. **Login time.** ``provider.start_login`` (the plugin: fresh context, restored device cookie,
   form, submit, cookies, close) next to a bare Playwright script doing the same form login on
   the same browser, interleaved, ``--logins`` each; medians compared. Goal: <= 1.2x.
3. **Poll rate.** ``provider.poll`` (one page over httpx, parsed with selectolax) next to a bare
   httpx loop fetching the same page with the same cookie, on bulk accounts, in short
   alternating slices (the machine is shared: neighbouring slices see the same load; medians
   of the rates and of the per-pair ratios), at the full size and 1/10 of it. Goal: >= 0.8x.

    .venv/bin/python bench/bench_bashtel.py [--days 14] [--logins 15] [--accounts 300]
"""

from __future__ import annotations

import argparse
import asyncio
import itertools
import statistics
import time
from dataclasses import dataclass
from typing import Any

import httpx
from aggregator_bashtel import BashtelProvider
from aggregator_bashtel.provider import LOGIN_SCHEME
from bench_netbynet import Paired, Round, free_port, paired, start_server, wait_ready
from browser_memory import ChromiumMemory, MemorySampler, idle_rows, print_memory

from aggregator import (
    Challenge,
    ChallengeAnswer,
    FlowRegistry,
    ProviderContext,
    Secret,
    Session,
    SessionExpired,
)
from aggregator.browser import SharedBrowser

DEMO = [("smirnov_ufa", "123"), ("ivanova_ufa", "789"), ("petrov_ufa", "321")]
PASSWORD = "Bashtel-2024"


@dataclass
class Steady:
    scenario: str
    accounts: int
    polls: int
    captcha_logins: int
    silent_logins: int

    @property
    def logins(self) -> int:
        return self.captcha_logins + self.silent_logins


async def login(
    provider: BashtelProvider, http: httpx.AsyncClient, origin: str, credentials: Any
) -> tuple[Session, bool]:
    """Log in; answer captchas from the sim API as the person would. (session, captcha?)."""
    result = await provider.start_login(credentials)
    asked = False
    while isinstance(result, Challenge):
        asked = True
        answer = (await http.get(origin + "/sim/captcha", params={"operator": "bashtel"})).json()
        result = await provider.continue_login(
            result, ChallengeAnswer(text=Secret(answer["answer"]))
        )
    return result, asked


async def steady_state(
    http: httpx.AsyncClient, origin: str, browser: SharedBrowser, days: int, drop_weekly: bool
) -> Steady:
    provider = BashtelProvider(
        ProviderContext(
            http=http, base_url=origin + "/bashtel", flows=FlowRegistry(), browser=browser
        )
    )
    accounts = [
        LOGIN_SCHEME.build_credentials(name, PASSWORD, extras={"account_last3": digits})
        for name, digits in DEMO
    ]
    sessions: list[Session] = []
    captcha = silent = polls = 0
    for credentials in accounts:  # linking the accounts: a person answers the captcha
        session, asked = await login(provider, http, origin, credentials)
        captcha += asked
        silent += not asked
        sessions.append(session)
    for hour in range(days * 24):
        await http.post(origin + "/sim/clock/advance", json={"hours": 1})
        if drop_weekly and hour and hour % (7 * 24) == 0:
            await http.post(origin + "/sim/sessions/expire", json={"operator": "bashtel"})
        for i, credentials in enumerate(accounts):
            try:
                await provider.poll(sessions[i], "")
            except SessionExpired:
                sessions[i], asked = await login(provider, http, origin, credentials)
                captcha += asked
                silent += not asked
                await provider.poll(sessions[i], "")
            polls += 1
    scenario = "operator drops sessions weekly" if drop_weekly else "steady state"
    return Steady(scenario, len(accounts), polls, captcha, silent)


async def bare_login(browser: SharedBrowser, base: str, device: list[dict[str, Any]]) -> None:
    """The same form login as a bare Playwright script: context, form, submit, cookies."""
    context = await browser.new_context()
    try:
        if device:
            await context.add_cookies(device)
        page = await context.new_page()
        await page.goto(base + "/login", wait_until="domcontentloaded")
        await page.fill("#login", DEMO[0][0])
        await page.fill("#password", PASSWORD)
        await page.fill("#ls3", DEMO[0][1])
        async with page.expect_navigation(wait_until="domcontentloaded"):
            await page.click("#login-submit")
        await page.content()
        cookies = await context.cookies()
        assert any(c["name"] == "BTSESSID" for c in cookies), "the bare login failed"
    finally:
        await context.close()


async def login_times(
    http: httpx.AsyncClient, origin: str, browser: SharedBrowser, count: int
) -> tuple[list[float], list[float]]:
    provider = BashtelProvider(
        ProviderContext(
            http=http, base_url=origin + "/bashtel", flows=FlowRegistry(), browser=browser
        )
    )
    credentials = LOGIN_SCHEME.build_credentials(
        DEMO[0][0], PASSWORD, extras={"account_last3": DEMO[0][1]}
    )
    session, _ = await login(provider, http, origin, credentials)  # the device becomes known
    device = [
        {"name": name, "value": session.data["cookies"][name], "url": origin + "/bashtel/"}
        for name in session.data["persistent"]
    ]
    plugin: list[float] = []
    bare: list[float] = []
    for _ in range(2):  # warm-up, not counted
        await bare_login(browser, origin + "/bashtel", device)
        await provider.start_login(credentials)
    for _ in range(count):
        start = time.perf_counter()
        await bare_login(browser, origin + "/bashtel", device)
        bare.append(time.perf_counter() - start)
        start = time.perf_counter()
        result = await provider.start_login(credentials)
        plugin.append(time.perf_counter() - start)
        assert isinstance(result, Session), "a known device must not get a captcha"
    return plugin, bare


async def poll_rates(
    http: httpx.AsyncClient, origin: str, count: int, slice_s: float, pairs: int, workers: int
) -> list[tuple[int, Paired]]:
    reply = await http.post(
        origin + "/sim/accounts/bulk", json={"operator": "bashtel", "count": count}
    )
    reply.raise_for_status()
    sessions = [Session(provider="bashtel", data=a["session"]) for a in reply.json()["accounts"]]
    provider = BashtelProvider(ProviderContext(http=http, base_url=origin + "/bashtel"))
    page = origin + "/bashtel/cabinet"

    async def bare(session: Session) -> None:
        cookie = "; ".join(f"{k}={v}" for k, v in session.data["cookies"].items())
        response = await http.get(page, headers={"Cookie": cookie, "Accept": "text/html"})
        response.text  # noqa: B018 - decode the body as the plugin does

    rows = []
    for size in (count // 10, count):
        subset = sessions[:size]

        async def run(kind: str, subset: list[Session] = subset) -> Round:
            cycle = itertools.cycle(subset)
            polls = errors = 0
            deadline = time.perf_counter() + slice_s

            async def worker() -> None:
                nonlocal polls, errors
                while time.perf_counter() < deadline:
                    session = next(cycle)
                    try:
                        if kind == "plugin":
                            await provider.poll(session, "")
                        else:
                            await bare(session)
                    except Exception:
                        errors += 1
                    else:
                        polls += 1

            start = time.perf_counter()
            await asyncio.gather(*(worker() for _ in range(workers)))
            return Round(polls, time.perf_counter() - start, errors)

        await run("bare")  # warm-up
        await run("plugin")
        rows.append((size, await paired(run, pairs)))
    return rows


async def main() -> None:
    parser = argparse.ArgumentParser(description=__doc__.split("\n")[0])
    parser.add_argument("--days", type=int, default=14, help="simulated days of hourly polls")
    parser.add_argument("--logins", type=int, default=15, help="timed logins of each kind")
    parser.add_argument("--accounts", type=int, default=300, help="bulk accounts polled")
    parser.add_argument("--pairs", type=int, default=12, help="alternating slice pairs")
    parser.add_argument("--slice", type=float, default=0.4, help="seconds per slice")
    parser.add_argument("--concurrency", type=int, default=8)
    parser.add_argument(
        "--only", choices=("steady", "login", "polls"), help="run one measurement only"
    )
    parser.add_argument("--idle", type=float, default=3.0, help="AGGREGATOR_BROWSER_IDLE_S")
    args = parser.parse_args()
    run = {args.only} if args.only else {"steady", "login", "polls"}
    steady: list[Steady] = []
    plugin_times: list[float] = []
    bare_times: list[float] = []
    rates: list[tuple[int, Paired]] = []

    port = free_port()
    origin = f"http://127.0.0.1:{port}"
    server = start_server(port)
    browser = SharedBrowser(idle_s=args.idle)
    memory: list[tuple[str, ChromiumMemory]] = []
    try:
        limits = httpx.Limits(max_connections=64, max_keepalive_connections=64)
        async with httpx.AsyncClient(timeout=30, limits=limits) as http:
            await wait_ready(http, origin)
            if "steady" in run:
                steady = [
                    await steady_state(http, origin, browser, args.days, drop_weekly=False),
                    await steady_state(http, origin, browser, args.days, drop_weekly=True),
                ]
            if "login" in run:
                async with MemorySampler() as sampler:
                    plugin_times, bare_times = await login_times(http, origin, browser, args.logins)
                memory = await idle_rows(sampler, browser)
            if "polls" in run:
                rates = await poll_rates(
                    http, origin, args.accounts, args.slice, args.pairs, args.concurrency
                )
    finally:
        await browser.aclose()
        server.terminate()
        server.wait(10)

    if steady:
        print_steady(steady, args.days)
    if plugin_times:
        print_logins(plugin_times, bare_times, args.logins)
    if memory:
        print_memory(memory, args.idle)
    if rates:
        print_rates(rates, args.concurrency, args.pairs, args.slice)


def print_steady(steady: list[Steady], days: int) -> None:
    print(f"1. Browser logins per poll ({days} simulated days, a poll per account an hour)")
    print()
    print("| scenario | accounts | polls | logins with captcha | silent re-logins "
          "| polls per browser login | goal |")  # fmt: skip
    print("|---|---:|---:|---:|---:|---:|---|")
    for s in steady:
        print(f"| {s.scenario} | {s.accounts} | {s.polls} | {s.captcha_logins} "
              f"| {s.silent_logins} | {s.polls / s.logins:.0f} | >= 100 |")  # fmt: skip
    print()


def print_logins(plugin_times: list[float], bare_times: list[float], count: int) -> None:
    print(f"2. Login through Playwright on the shared browser ({count} each, interleaved)")
    print()
    print("| login | median ms | mean ms | min ms | ratio (median) | goal |")
    print("|---|---:|---:|---:|---:|---|")
    bare_median = statistics.median(bare_times)
    for name, times in (("bare Playwright script", bare_times), ("plugin", plugin_times)):
        ratio = statistics.median(times) / bare_median
        print(f"| {name} | {statistics.median(times) * 1000:.0f} "
              f"| {statistics.mean(times) * 1000:.0f} | {min(times) * 1000:.0f} "
              f"| {ratio:.2f} | {'<= 1.20' if name == 'plugin' else ''} |")  # fmt: skip
    print()


def print_rates(
    rates: list[tuple[int, Paired]], concurrency: int, pairs: int, slice_s: float
) -> None:
    print(
        f"3. Poll rate: plugin vs bare httpx (the same page per poll), concurrency "
        f"{concurrency}, {pairs} alternating pairs of {slice_s:g} s (medians)"
    )
    print()
    print("| accounts | bare polls/s | plugin polls/s | ratio | errors | goal |")
    print("|---:|---:|---:|---:|---:|---|")
    for size, r in rates:
        print(
            f"| {size} | {r.bare_per_s:.0f} | {r.plugin_per_s:.0f} | {r.ratio:.2f} "
            f"| {r.errors} | >= 0.80 |"
        )


if __name__ == "__main__":
    asyncio.run(main())
