"""Every fault kind of the simulation API ends in the right contract error (Rostelecom)."""

from __future__ import annotations

from typing import TYPE_CHECKING

import httpx
import pytest
from aggregator_rostelecom import RostelecomProvider
from aggregator_rostelecom.provider import SCHEME_PASSWORD

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

API = "/rostelecom/client-api"
PASSPORT = "/rostelecom/passport"
CREDS = SCHEME_PASSWORD.build_credentials("smirnov.ivan", "Rostelecom2024", identifier_kind="login")


async def login(provider: RostelecomProvider) -> tuple[Session, str]:
    session = await provider.start_login(CREDS)
    assert isinstance(session, Session)
    subs = await provider.subaccounts(session)
    return session, subs[0].id


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
    session, account = await login(world.provider)
    world.backend.faults.add(kind, operator="rostelecom", path=API, count=1, retry_after=9)
    with pytest.raises(error) as caught:
        await world.provider.poll(session, account)
    for secret in (session.data["access_token"], session.data["refresh_token"]):
        assert secret not in str(caught.value.to_dict()) and secret not in repr(caught.value)
    if isinstance(caught.value, RateLimited):
        assert caught.value.retry_after == 9
    if error is not SessionExpired:
        poll = await world.provider.poll(session, account)
        assert poll.balance.amount == Money.rub("1540.00")


async def test_a_demanded_captcha_makes_the_next_login_a_captcha_challenge(world: World) -> None:
    session, account = await login(world.provider)
    world.backend.faults.add("captcha", operator="rostelecom", path=API, count=1)
    with pytest.raises(SessionExpired):
        await world.provider.balance(session, account)
    challenge = await world.provider.start_login(CREDS)
    assert isinstance(challenge, Challenge) and challenge.kind is ChallengeKind.CAPTCHA


async def test_captcha_fault_on_the_login_form(world: World) -> None:
    world.backend.faults.add(
        "captcha", operator="rostelecom", path=PASSPORT + "/auth/realms/b2c/login-actions", count=1
    )
    challenge = await world.provider.start_login(CREDS)
    assert isinstance(challenge, Challenge) and challenge.kind is ChallengeKind.CAPTCHA


@pytest.mark.parametrize(
    ("kind", "path", "error"),
    [
        ("503", PASSPORT, Unavailable),
        ("502", PASSPORT + "/auth/realms/b2c/protocol/openid-connect/token", Unavailable),
        ("changed_html", PASSPORT, ParseError),
        ("malformed_json", PASSPORT + "/auth/realms/b2c/protocol/openid-connect/auth", ParseError),
        ("truncated", PASSPORT + "/auth/realms/b2c/protocol/openid-connect/token", ParseError),
        ("changed_html", PASSPORT + "/auth/realms/b2c/protocol/openid-connect/token", ParseError),
        ("429", PASSPORT, RateLimited),
    ],
)
async def test_fault_on_the_login_is_the_right_error(
    world: World, kind: str, path: str, error: type[AggregatorError]
) -> None:
    world.backend.faults.add(kind, operator="rostelecom", path=path, count=1)
    with pytest.raises(error) as caught:
        await world.provider.start_login(CREDS)
    assert "Rostelecom2024" not in str(caught.value.to_dict())


async def test_a_fault_while_refreshing_the_token_is_temporary(world: World) -> None:
    session, account = await login(world.provider)
    world.backend.advance(minutes=11)  # the access token expired: the plugin refreshes
    world.backend.faults.add("503", operator="rostelecom", path=PASSPORT, count=1)
    with pytest.raises(Unavailable):
        await world.provider.balance(session, account)
    assert (await world.provider.balance(session, account)).amount == Money.rub("1540.00")


async def test_timeout_over_loopback(loopback: LoopbackServer) -> None:
    async with httpx.AsyncClient(timeout=0.5) as http:
        provider = RostelecomProvider(
            ProviderContext(http=http, base_url=loopback.url + "/rostelecom")
        )
        session, account = await login(provider)
        loopback.backend.faults.add("timeout", operator="rostelecom", path=API, count=1, seconds=2)
        with pytest.raises(Timeout):
            await provider.balance(session, account)
        loopback.backend.faults.clear()


async def test_latency_only_slows_the_answer(world: World) -> None:
    session, account = await login(world.provider)
    world.backend.faults.add("latency", operator="rostelecom", seconds=0.05, count=3)
    assert (await world.provider.poll(session, account)).balance.amount == Money.rub("1540.00")


async def test_a_login_step_the_passport_forgot_is_flow_expired(world: World) -> None:
    from aggregator_rostelecom.provider import SCHEME_SMS

    from aggregator import ChallengeAnswer, FlowExpired, Secret

    step = await world.provider.start_login(
        SCHEME_SMS.build_credentials("9031234567", identifier_kind="phone")
    )
    assert isinstance(step, Challenge)
    world.backend.advance(minutes=31)  # the passport keeps a login for 30 minutes
    with pytest.raises(FlowExpired):
        await world.provider.continue_login(step, ChallengeAnswer(text=Secret("123456")))
