"""The flow registry's time limit, and the one transport-error mapping."""

from __future__ import annotations

import asyncio
import datetime as dt

import httpx
import pytest

from aggregator.core.errors import FlowExpired, ParseError, RateLimited, Timeout, Unavailable
from aggregator.core.flows import FlowRegistry
from aggregator.transport import check_response, json_body, mapped_errors


async def test_flow_registry_releases_expired_state() -> None:
    released: list[str] = []

    async def release(value: str) -> None:
        released.append(value)

    flows = FlowRegistry()
    flows.put("a", "page-a", ttl=0.01, on_expire=release)
    flows.put("b", "page-b", ttl=60, on_expire=release)
    await asyncio.sleep(0.05)
    with pytest.raises(FlowExpired):
        await flows.take("a")
    assert released == ["page-a"]
    assert await flows.take("b") == "page-b"
    with pytest.raises(FlowExpired):
        await flows.take("b")


def _handler(request: httpx.Request) -> httpx.Response:
    if request.url.path == "/429":
        return httpx.Response(429, headers={"Retry-After": "17"})
    if request.url.path == "/503":
        return httpx.Response(503)
    if request.url.path == "/bad-json":
        return httpx.Response(200, content=b'{"balance": 1, "token": "abcdef123456"')
    if request.url.path == "/timeout":
        raise httpx.ReadTimeout("slow", request=request)
    if request.url.path == "/refused":
        raise httpx.ConnectError("refused", request=request)
    return httpx.Response(200, json={"ok": True})


async def test_transport_errors_map_onto_the_tree() -> None:
    async with httpx.AsyncClient(transport=httpx.MockTransport(_handler), base_url="http://x") as c:
        with pytest.raises(RateLimited) as rate:
            check_response(await c.get("/429"))
        assert rate.value.retry_after == 17
        with pytest.raises(Unavailable):
            check_response(await c.get("/503"))
        with pytest.raises(ParseError) as parse:
            json_body(await c.get("/bad-json"))
        assert "abcdef123456" not in str(parse.value.payload)
        with pytest.raises(Timeout):
            async with mapped_errors():
                await c.get("/timeout")
        with pytest.raises(Unavailable):
            async with mapped_errors():
                await c.get("/refused")
        assert json_body(check_response(await c.get("/ok"))) == {"ok": True}


async def test_server_clock_reads_the_operators_date_header_across_tasks() -> None:
    from aggregator.transport import server_clock

    def dated(request: httpx.Request) -> httpx.Response:
        if request.url.path == "/undated":
            return httpx.Response(200)
        return httpx.Response(200, headers={"Date": "Tue, 24 Nov 2026 01:52:30 GMT"})

    async with httpx.AsyncClient(transport=httpx.MockTransport(dated), base_url="http://x") as c:
        with server_clock() as clock:
            await asyncio.gather(  # answers checked in child tasks still reach the clock
                *(asyncio.ensure_future(_checked(c, "/dated")) for _ in range(2))
            )
        assert clock.now().isoformat() == "2026-11-24T01:52:30+00:00"
        with server_clock() as undated:
            await _checked(c, "/undated")
        before = undated.now()
        assert before.tzinfo is not None  # no Date header: our own clock, aware
        assert abs((before - dt.datetime.now(dt.UTC)).total_seconds()) < 60


async def _checked(client: httpx.AsyncClient, path: str) -> None:
    check_response(await client.get(path))
