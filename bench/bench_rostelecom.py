"""The Rostelecom plugin: browser logins per poll, and its passport login next to a bare script.

The reference provider runs under uvicorn in a child process on a loopback port (billing clock
frozen and moved by the simulation API). One shared Chromium (``aggregator.browser``) serves
every passport login. Two measurements, each next to its baseline in the same run:

1. **Browser logins per 100 polls.** The demo IDs are linked as a person would (Anna's first
   login answers a captcha), then every account is polled every simulated hour for ``--days``
   days by a loop that does what the poller does: on ``SessionExpired`` it logs in again from
   the stored password (the remembered passport "device" spares the captcha). Once in steady
   state (the cookie session lives), once with the operator dropping every session once, half
   way through (each ID must log in again exactly once, silently: the remembered passport
   device spares the captcha). Goal: at most 1 browser login per 100 polls.
2. **Login time.** ``provider.start_login`` (fresh context, anti-robot page, first screen,
   «standard auth», tab, form, submit, sso-auth, cookies, close) next to a bare Playwright
   script doing the same steps on the same browser, interleaved, ``--logins`` each; medians
   compared. Goal: <= 1.2x.

    .venv/bin/python bench/bench_rostelecom.py [--days 7] [--logins 8]
"""

from __future__ import annotations

import argparse
import asyncio
import statistics
import time
from dataclasses import dataclass

import httpx
from aggregator_rostelecom import RostelecomProvider
from aggregator_rostelecom.provider import SCHEME_PASSWORD
from bench_netbynet import free_port, start_server, wait_ready
from browser_memory import ChromiumMemory, MemorySampler, idle_rows, print_memory

from aggregator import (
    Challenge,
    ChallengeAnswer,
    Credentials,
    FlowRegistry,
    ProviderContext,
    Secret,
    Session,
    SessionExpired,
)
from aggregator.browser import SharedBrowser

IDS = [
    ("smirnov.ivan", "Rostelecom2024", "login"),
    ("anna.petrova@example.ru", "Petrova2024", "email"),
]


@dataclass
class Steady:
    scenario: str
    accounts: int
    polls: int
    captcha_logins: int
    browser_logins: int


async def login(
    provider: RostelecomProvider, http: httpx.AsyncClient, origin: str, credentials: Credentials
) -> tuple[Session, bool]:
    """Log in; answer captchas from the sim API as the person would. (session, captcha?)."""
    result = await provider.start_login(credentials)
    asked = False
    while isinstance(result, Challenge):
        asked = True
        answer = (await http.get(origin + "/sim/captcha", params={"operator": "rostelecom"})).json()
        result = await provider.continue_login(
            result, ChallengeAnswer(text=Secret(answer["answer"]))
        )
    return result, asked


async def steady_state(
    http: httpx.AsyncClient, origin: str, browser: SharedBrowser, days: int, drop: bool
) -> Steady:
    provider = RostelecomProvider(
        ProviderContext(
            http=http, base_url=origin + "/rostelecom", flows=FlowRegistry(), browser=browser
        )
    )
    ids = [SCHEME_PASSWORD.build_credentials(u, p, identifier_kind=k) for u, p, k in IDS]
    sessions: list[Session] = []
    accounts: list[list[str]] = []
    captcha = polls = 0
    for credentials in ids:  # linking: a person answers the captcha if one comes
        session, asked = await login(provider, http, origin, credentials)
        captcha += asked
        sessions.append(session)
        accounts.append([s.id for s in await provider.subaccounts(session)])
    for hour in range(days * 24):
        await http.post(origin + "/sim/clock/advance", json={"hours": 1})
        if drop and hour == days * 12:  # half way through
            await http.post(origin + "/sim/sessions/expire", json={"operator": "rostelecom"})
        for i, credentials in enumerate(ids):
            for account in accounts[i]:
                try:
                    await provider.poll(sessions[i], account)
                except SessionExpired:
                    sessions[i], asked = await login(provider, http, origin, credentials)
                    captcha += asked
                    await provider.poll(sessions[i], account)
                polls += 1
    scenario = "operator drops every session once" if drop else "steady state"
    total = sum(len(a) for a in accounts)
    return Steady(scenario, total, polls, captcha, provider.browser_logins)


async def bare_login(browser: SharedBrowser, provider: RostelecomProvider, url: str) -> None:
    """The same passport login as a bare Playwright script."""
    context = await browser.new_context()
    try:
        page = await context.new_page()
        await page.goto(url, wait_until="domcontentloaded")
        await page.wait_for_selector("form.login-form", state="attached")
        async with page.expect_navigation(wait_until="domcontentloaded"):
            await page.click("#standard_auth_btn")
        await page.click("div#t-btn-tab-login")
        await page.fill("#username", IDS[0][0])
        await page.fill("#password", IDS[0][1])
        async with page.expect_navigation(wait_until="domcontentloaded"):
            await page.click("#kc-login")
        cookies = await context.cookies([provider.lk_url + "/"])
        assert any(c["name"] == "SESSION" for c in cookies), "the bare login failed"
    finally:
        await context.close()


async def login_times(
    http: httpx.AsyncClient, origin: str, browser: SharedBrowser, count: int
) -> tuple[list[float], list[float]]:
    provider = RostelecomProvider(
        ProviderContext(
            http=http, base_url=origin + "/rostelecom", flows=FlowRegistry(), browser=browser
        )
    )
    credentials = SCHEME_PASSWORD.build_credentials(IDS[0][0], IDS[0][1], identifier_kind="login")
    url = provider.auth_url(provider._sso_auth_uri(), '{"uuid":"bench"}')
    plugin: list[float] = []
    bare: list[float] = []
    for _ in range(2):  # warm-up, not counted
        await bare_login(browser, provider, url)
        await provider.start_login(credentials)
    for _ in range(count):
        start = time.perf_counter()
        await bare_login(browser, provider, url)
        bare.append(time.perf_counter() - start)
        start = time.perf_counter()
        result = await provider.start_login(credentials)
        plugin.append(time.perf_counter() - start)
        assert isinstance(result, Session)
    return plugin, bare


async def main() -> None:
    parser = argparse.ArgumentParser(description=__doc__.split("\n")[0])
    parser.add_argument("--days", type=int, default=7, help="simulated days of hourly polls")
    parser.add_argument("--logins", type=int, default=8, help="timed logins of each kind")
    parser.add_argument("--only", choices=("steady", "login"), help="run one measurement only")
    parser.add_argument("--idle", type=float, default=3.0, help="AGGREGATOR_BROWSER_IDLE_S")
    args = parser.parse_args()
    run = {args.only} if args.only else {"steady", "login"}
    steady: list[Steady] = []
    plugin_times: list[float] = []
    bare_times: list[float] = []

    port = free_port()
    origin = f"http://127.0.0.1:{port}"
    server = start_server(port)
    browser = SharedBrowser(idle_s=args.idle)
    memory: list[tuple[str, ChromiumMemory]] = []
    try:
        async with httpx.AsyncClient(timeout=30) as http:
            await wait_ready(http, origin)
            if "steady" in run:
                steady = [
                    await steady_state(http, origin, browser, args.days, drop=False),
                    await steady_state(http, origin, browser, args.days, drop=True),
                ]
            if "login" in run:
                async with MemorySampler() as sampler:
                    plugin_times, bare_times = await login_times(http, origin, browser, args.logins)
                memory = await idle_rows(sampler, browser)
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


def print_steady(steady: list[Steady], days: int) -> None:
    print(f"1. Browser logins per 100 polls ({days} simulated days, a poll per account an hour)")
    print()
    print("| scenario | accounts | polls | browser logins | of them with captcha "
          "| browser logins per 100 polls | goal |")  # fmt: skip
    print("|---|---:|---:|---:|---:|---:|---|")
    for s in steady:
        per_100 = 100 * s.browser_logins / s.polls
        print(f"| {s.scenario} | {s.accounts} | {s.polls} | {s.browser_logins} "
              f"| {s.captcha_logins} | {per_100:.2f} | <= 1 |")  # fmt: skip
    print()


def print_logins(plugin_times: list[float], bare_times: list[float], count: int) -> None:
    print(f"2. Passport login through Playwright on the shared browser ({count} each, interleaved)")
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


if __name__ == "__main__":
    asyncio.run(main())
