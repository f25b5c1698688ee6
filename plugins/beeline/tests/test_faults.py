"""Every fault kind of the simulation API ends in the right contract error (Beeline)."""

from __future__ import annotations

from typing import TYPE_CHECKING

import httpx
import pytest
from aggregator_beeline import BeelineProvider
from aggregator_beeline.provider import SCHEME_PASSWORD

from aggregator import (
    AggregatorError,
    Challenge,
    ChallengeKind,
    ParseError,
    ProviderContext,
    RateLimited,
    Session,
    SessionExpired,
    Timeout,
    Unavailable,
)
from aggregator.core.models import Money

if TYPE_CHECKING:
    from conftest import LoopbackServer, World

LOGIN = "9031234567"
PASSWORD = "Beeline-2024"
INFO = "/beeline/api/1.0/info"


async def login(provider: BeelineProvider) -> Session:
    session = await provider.start_login(SCHEME_PASSWORD.build_credentials(LOGIN, PASSWORD))
    assert isinstance(session, Session)
    return session


@pytest.mark.parametrize(
    ("kind", "error"),
    [
        ("500", Unavailable),
        ("502", Unavailable),
        ("503", Unavailable),
        ("429", RateLimited),
        ("malformed_json", ParseError),
        ("truncated", ParseError),
        ("changed_html", ParseError),
        ("expired_session", SessionExpired),
        ("captcha", SessionExpired),
    ],
)
async def test_fault_on_a_poll_is_the_right_error(
    world: World, kind: str, error: type[AggregatorError]
) -> None:
    session = await login(world.provider)
    world.backend.faults.add(kind, operator="beeline", path=INFO, count=1, retry_after=7)
    with pytest.raises(error) as caught:
        await world.provider.poll(session, LOGIN)
    token = session.data["token"]
    assert token not in str(caught.value) and token not in repr(caught.value)
    assert token not in str(caught.value.to_dict())
    if isinstance(caught.value, RateLimited):
        assert caught.value.retry_after == 7
    # the fault is spent: the next poll reads the real balance (unless the session is gone)
    if error is SessionExpired:
        return
    assert (await world.provider.poll(session, LOGIN)).balance.amount == Money.rub("412.50")


async def test_latency_only_slows_the_answer(world: World) -> None:
    session = await login(world.provider)
    world.backend.faults.add("latency", operator="beeline", seconds=0.05, count=4)
    assert (await world.provider.poll(session, LOGIN)).balance.amount == Money.rub("412.50")


async def test_captcha_fault_makes_the_next_login_ask_for_a_captcha(world: World) -> None:
    session = await login(world.provider)
    world.backend.faults.add("captcha", operator="beeline", path=INFO, count=1)
    with pytest.raises(SessionExpired):
        await world.provider.balance(session, LOGIN)
    result = await world.provider.start_login(SCHEME_PASSWORD.build_credentials(LOGIN, PASSWORD))
    assert isinstance(result, Challenge) and result.kind is ChallengeKind.CAPTCHA


@pytest.mark.parametrize("kind", ["500", "503", "malformed_json", "truncated", "changed_html"])
async def test_fault_on_the_login_is_the_right_error(world: World, kind: str) -> None:
    world.backend.faults.add(kind, operator="beeline", path="/beeline/api/2.0/auth", count=1)
    expected = Unavailable if kind.isdigit() else ParseError
    with pytest.raises(expected) as caught:
        await login(world.provider)
    assert PASSWORD not in str(caught.value.to_dict())


async def test_a_parse_error_carries_the_payload_redacted(world: World) -> None:
    session = await login(world.provider)
    world.backend.faults.add("changed_html", operator="beeline", path=INFO, count=1)
    with pytest.raises(ParseError) as caught:
        await world.provider.balance(session, LOGIN)
    assert caught.value.payload and "v2_meta" in caught.value.payload
    assert session.data["token"] not in caught.value.payload


async def test_timeout_over_loopback(loopback: LoopbackServer) -> None:
    async with httpx.AsyncClient(timeout=0.5) as http:
        provider = BeelineProvider(ProviderContext(http=http, base_url=loopback.url + "/beeline"))
        session = await login(provider)
        loopback.backend.faults.add("timeout", operator="beeline", path=INFO, count=1, seconds=2)
        with pytest.raises(Timeout):
            await provider.balance(session, LOGIN)
        loopback.backend.faults.clear()
