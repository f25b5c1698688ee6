"""One HTTP client per operator, within what the operator tolerates (aggregator.politeness).

In process: the operators' "cabinet" is a small ASGI app that counts the requests it has in
flight, sets cookies and echoes the ones it receives; the runtime sends to it through its
per-operator clients (``Runtime(transport=...)``).
"""

from __future__ import annotations

import asyncio
import time
from pathlib import Path
from typing import Any, ClassVar

import httpx
import pytest

from aggregator.core.login import LoginScheme
from aggregator.core.provider import OperatorLimits, Provider
from aggregator.plugins import PluginRegistry
from aggregator.politeness import Politeness
from aggregator.polling.breaker import OperatorGates
from aggregator.polling.cluster import ClusterLedger, operator_states
from aggregator.runtime import Runtime
from aggregator.settings import Settings
from aggregator.storage.db import create_engine
from aggregator.storage.schema import upgrade
from aggregator.storage.transactions import polling_engine


class Cabinet:
    """An ASGI operator: ``/slow`` holds the request a while; ``/login`` sets a cookie;
    ``/echo`` answers with the Cookie header it got. Counts requests in flight per path
    prefix (the operator)."""

    def __init__(self, delay_s: float = 0.02) -> None:
        self.delay_s = delay_s
        self.in_flight: dict[str, int] = {}
        self.peak: dict[str, int] = {}
        self.times: list[float] = []

    async def __call__(self, scope: dict[str, Any], receive: Any, send: Any) -> None:
        assert scope["type"] == "http"
        operator, _, action = scope["path"].strip("/").partition("/")
        self.in_flight[operator] = self.in_flight.get(operator, 0) + 1
        self.peak[operator] = max(self.peak.get(operator, 0), self.in_flight[operator])
        self.times.append(time.monotonic())
        try:
            headers = [(b"content-type", b"text/plain")]
            body = b"ok"
            if action == "slow":
                await asyncio.sleep(self.delay_s)
            elif action == "login":
                headers.append((b"set-cookie", b"SESSION=secret-of-account-1; Path=/"))
            elif action == "echo":
                body = dict(scope["headers"]).get(b"cookie", b"")
            await send({"type": "http.response.start", "status": 200, "headers": headers})
            await send({"type": "http.response.body", "body": body})
        finally:
            self.in_flight[operator] -= 1


def provider_class(operator: str, limits: OperatorLimits) -> type[Provider]:
    class Operator(Provider):
        id: ClassVar[str] = operator
        name: ClassVar[str] = operator
        name_en: ClassVar[str] = operator
        default_base_url: ClassVar[str] = f"http://cabinet/{operator}"
        login_schemes: ClassVar[tuple[LoginScheme, ...]] = ()

    Operator.limits = limits
    return Operator


def registry(**limits: OperatorLimits) -> PluginRegistry:
    reg = PluginRegistry()
    for operator, declared in limits.items():
        reg.providers[operator] = provider_class(operator, declared)
    return reg


def runtime_for(cabinet: Cabinet, settings: Settings | None = None, **limits: Any) -> Runtime:
    return Runtime(
        settings or Settings(),
        registry=registry(**limits),
        transport=httpx.ASGITransport(app=cabinet),
    )


async def test_each_operator_has_its_own_client_with_its_declared_pool_and_timeouts() -> None:
    async with Runtime(
        Settings(http_timeout_s=20.0),
        registry=registry(
            slow=OperatorLimits(concurrency=3, connect_timeout_s=4.0, read_timeout_s=60.0),
            quick=OperatorLimits(concurrency=12, read_timeout_s=5.0),
        ),
    ) as runtime:
        slow, quick = runtime.client("slow"), runtime.client("quick")
        assert slow is not quick
        assert runtime.provider("slow").context.http is slow
        assert runtime.client("slow") is slow  # one per operator and process
        assert slow.timeout.connect == 4.0 and slow.timeout.read == 20.0  # the setting caps it
        assert quick.timeout.read == 5.0
        # Each client's own connection pool is as large as the operator's concurrency.
        assert slow._transport.inner._pool._max_connections == 3  # type: ignore[attr-defined]
        assert quick._transport.inner._pool._max_connections == 12  # type: ignore[attr-defined]


async def test_no_operator_sees_more_requests_at_once_than_it_declares() -> None:
    cabinet = Cabinet()
    runtime = runtime_for(
        cabinet, narrow=OperatorLimits(concurrency=3), wide=OperatorLimits(concurrency=7)
    )
    async with runtime:

        async def hit(operator: str) -> None:
            response = await runtime.client(operator).get(f"http://cabinet/{operator}/slow")
            assert response.status_code == 200

        await asyncio.gather(*(hit(op) for op in ["narrow", "wide"] * 30))
        assert cabinet.peak == {"narrow": 3, "wide": 7}
        states = {s.operator: s for s in operator_states(runtime)}
        assert states["narrow"].peak_in_flight == 3 and states["narrow"].in_flight == 0
        assert states["wide"].requests == 30


async def test_the_settings_lower_the_declared_limits_never_raise_them() -> None:
    cabinet = Cabinet()
    settings = Settings(per_operator_concurrency=2, per_operator_rate=500.0)
    runtime = runtime_for(
        cabinet,
        settings,
        big=OperatorLimits(concurrency=9, requests_per_s=100.0),
        small=OperatorLimits(concurrency=1),
    )
    async with runtime:
        assert runtime.politeness.limits("big").concurrency == 2
        assert runtime.politeness.limits("big").requests_per_s == 100.0
        assert runtime.politeness.limits("small").concurrency == 1
        assert runtime.politeness.limits("small").requests_per_s == 500.0
        await asyncio.gather(
            *(runtime.client("big").get("http://cabinet/big/slow") for _ in range(10))
        )
        assert cabinet.peak["big"] == 2
    with pytest.raises(ValueError):
        Settings(per_operator_concurrency=0)


async def test_the_rate_budget_spaces_requests_out() -> None:
    cabinet = Cabinet(delay_s=0.0)
    runtime = runtime_for(cabinet, metered=OperatorLimits(requests_per_s=40.0, burst=5))
    async with runtime:
        started = time.monotonic()
        await asyncio.gather(
            *(runtime.client("metered").get("http://cabinet/metered/echo") for _ in range(25))
        )
        took = time.monotonic() - started
    # 5 at once from the full bucket, then 20 more at 40 per second: at least 0.5 s.
    assert took >= 0.45, took
    assert len(cabinet.times) == 25


async def test_the_cookie_jar_keeps_nothing_so_no_session_leaks_between_accounts() -> None:
    cabinet = Cabinet()
    runtime = runtime_for(cabinet, jarless=OperatorLimits(), jarred=OperatorLimits(cookies=True))
    async with runtime:
        jarless = runtime.client("jarless")
        login = await jarless.get("http://cabinet/jarless/login")
        assert "SESSION" in login.headers["set-cookie"]  # the plugin can still read it
        assert len(jarless.cookies.jar) == 0
        # The next account's request carries no cookie of the first one.
        echoed = await jarless.get("http://cabinet/jarless/echo")
        assert echoed.content == b""
        # A cookie set on the client explicitly is refused too.
        jarless.cookies.set("SESSION", "x", domain="cabinet")
        assert len(jarless.cookies.jar) == 0
        # A plugin that asks for a jar gets one (and the other operators' stay empty).
        jarred = runtime.client("jarred")
        await jarred.get("http://cabinet/jarred/login")
        echoed = await jarred.get("http://cabinet/jarred/echo")
        assert echoed.content == b"SESSION=secret-of-account-1"
        assert len(runtime.client("jarless").cookies.jar) == 0


async def test_a_shared_ledger_splits_the_slots_between_processes(tmp_path: Path) -> None:
    """Two runtimes (two "processes") on one database: together never more than declared,
    each gets its share, and a stopped one's share goes to the other."""
    url = f"sqlite+aiosqlite:///{tmp_path / 'ledger.db'}"
    setup = create_engine(url)
    await upgrade(setup)
    await setup.dispose()
    cabinet = Cabinet(delay_s=0.03)
    limits = {"op": OperatorLimits(concurrency=5, requests_per_s=400.0)}
    engine = polling_engine(url)
    runtimes = [runtime_for(cabinet, **limits) for _ in range(2)]
    ledgers = [
        ClusterLedger(
            engine, rt.politeness, OperatorGates(5), f"node-{n}", interval_s=0.05, idle_s=0.5
        )
        for n, rt in enumerate(runtimes)
    ]
    try:
        for ledger in ledgers:
            await ledger.__aenter__()

        async def hammer(runtime: Runtime, count: int) -> None:
            for _ in range(count):
                await runtime.client("op").get("http://cabinet/op/slow")

        await asyncio.gather(*(hammer(rt, 8) for rt in runtimes for _ in range(6)))
        assert cabinet.peak["op"] == 5
        shares = sorted(rt.politeness.budget("op").peak_in_flight for rt in runtimes)
        assert shares[0] >= 2, shares  # neither starved the other
        # One stops: it gives its slots back, the other takes all of them.
        await ledgers[0].aclose()
        cabinet.peak.clear()
        await asyncio.gather(*(hammer(runtimes[1], 4) for _ in range(10)))
        assert cabinet.peak["op"] == 5
    finally:
        for ledger in ledgers:
            await ledger.aclose()
        for rt in runtimes:
            await rt.aclose()
        await engine.dispose()


async def test_a_breaker_opened_in_one_process_pauses_the_operator_in_the_others(
    tmp_path: Path,
) -> None:
    url = f"sqlite+aiosqlite:///{tmp_path / 'ledger.db'}"
    setup = create_engine(url)
    await upgrade(setup)
    await setup.dispose()
    engine = polling_engine(url)
    settings = Settings()
    gates = [OperatorGates(4, threshold=3, cooldown_s=60.0) for _ in range(2)]
    politeness = [Politeness(settings, lambda _op: OperatorLimits()) for _ in range(2)]
    ledgers = [
        ClusterLedger(engine, p, g, f"node-{n}", interval_s=0.05)
        for n, (p, g) in enumerate(zip(politeness, gates, strict=True))
    ]
    try:
        for ledger in ledgers:
            await ledger.__aenter__()
        first, second = gates[0]["op"].breaker, gates[1]["op"].breaker
        for ledger in ledgers:
            await ledger.sync()
        for _ in range(3):
            first.record_failure()
        assert not first.allow()
        await ledgers[0].sync()  # shares it
        await ledgers[1].sync()  # adopts it
        assert not second.allow()
        assert second.retry_in() > 50
        # A good probe in the second closes it for the first as well.
        second.adopt(second.clock() - 61, 60.0)
        assert second.allow()
        second.record_success()
        await ledgers[1].sync()
        await ledgers[0].sync()
        assert first.allow() and first.failures == 0
    finally:
        for ledger in ledgers:
            await ledger.aclose()
        await engine.dispose()
