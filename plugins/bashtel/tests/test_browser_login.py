"""The bashtel login through a real Chromium (Playwright) against a server on loopback.

The captcha becomes a challenge carrying the PNG; the answer is typed into the same live page;
the device cookie the cabinet sets lets a later unattended re-login skip the captcha.
"""

from __future__ import annotations

import asyncio
from collections.abc import AsyncIterator
from decimal import Decimal

import aggregator_bashtel.provider as provider_module
import httpx
import pytest
import pytest_asyncio
from aggregator_bashtel.provider import BashtelProvider
from reference_provider.backend import Backend

from aggregator import (
    AccountLocked,
    Challenge,
    ChallengeAnswer,
    ChallengeKind,
    FlowExpired,
    FlowRegistry,
    InvalidCredentials,
    ParseError,
    ProviderContext,
    Secret,
    Session,
    SessionExpired,
    Unavailable,
)
from aggregator.browser import SharedBrowser

from .conftest import Customer, new_customer

pytestmark = pytest.mark.browser


@pytest_asyncio.fixture
async def loopback_http() -> AsyncIterator[httpx.AsyncClient]:
    async with httpx.AsyncClient(timeout=10) as client:
        yield client


@pytest.fixture
def make_provider(
    live_server: str, loopback_http: httpx.AsyncClient, shared_browser: SharedBrowser
):
    """A provider as one process has it (call again for "another process")."""

    def make(flows: FlowRegistry | None = None) -> BashtelProvider:
        context = ProviderContext(
            http=loopback_http,
            base_url=f"{live_server}/bashtel",
            flows=flows or FlowRegistry(),
            browser=shared_browser,
        )
        return BashtelProvider(context)

    return make


async def answer_captchas(
    provider: BashtelProvider, backend: Backend, result: Session | Challenge
) -> Session:
    while isinstance(result, Challenge):
        assert result.kind is ChallengeKind.CAPTCHA
        answer = backend.captcha_answer("bashtel")
        result = await provider.continue_login(result, ChallengeAnswer(text=Secret(answer)))
    return result


async def test_first_login_shows_the_captcha_and_the_answer_continues_in_the_same_page(
    make_provider, backend: Backend, shared_browser: SharedBrowser
) -> None:
    customer = new_customer(backend)
    provider = make_provider()
    challenge = await provider.start_login(customer.credentials())
    assert isinstance(challenge, Challenge)
    assert challenge.kind is ChallengeKind.CAPTCHA
    assert challenge.image is not None and challenge.image.startswith(b"\x89PNG")
    assert challenge.image_type == "image/png"
    assert challenge.flow_id in provider.context.flows
    assert customer.password not in repr(challenge) + repr(challenge.state)

    wrong = await provider.continue_login(challenge, ChallengeAnswer(text=Secret("XXXXX")))
    assert isinstance(wrong, Challenge)
    assert wrong.flow_id != challenge.flow_id
    assert "Неверно" in wrong.message
    assert wrong.image != challenge.image
    with pytest.raises(FlowExpired):  # the old step is gone
        await provider.continue_login(challenge, ChallengeAnswer(text=Secret("XXXXX")))

    session = await answer_captchas(provider, backend, wrong)
    assert isinstance(session, Session)
    assert set(session.data["cookies"]) >= {"BTSESSID", "bt_device"}
    assert session.data["persistent"]["bt_device"] > 0
    assert len(provider.context.flows) == 0
    poll = await provider.poll(session, "")
    assert poll.balance.amount.amount == Decimal("600.00")
    assert provider.browser_logins == 1
    assert shared_browser.running


async def test_a_remembered_device_logs_in_again_without_a_captcha(
    make_provider, backend: Backend
) -> None:
    customer = new_customer(backend)
    provider = make_provider()
    first = await answer_captchas(
        provider, backend, await provider.start_login(customer.credentials())
    )
    again = await provider.start_login(customer.credentials())
    assert isinstance(again, Session)
    assert again.data["cookies"] != first.data["cookies"]


async def test_a_restarted_process_re_logs_in_silently_after_the_session_expired(
    make_provider, backend: Backend
) -> None:
    customer = new_customer(backend)
    first = make_provider()
    session = await answer_captchas(first, backend, await first.start_login(customer.credentials()))
    stored = Session.model_validate_json(session.model_dump_json())

    restarted = make_provider()  # a new process: only the sealed session survived
    backend.expire_sessions(operator="bashtel")
    with pytest.raises(SessionExpired):
        await restarted.poll(stored, "")
    relogin = await restarted.start_login(customer.credentials())
    assert isinstance(relogin, Session), "the device cookie should spare the captcha"
    assert (await restarted.poll(relogin, "")).balance.amount.amount == Decimal("600.00")


async def test_a_demanded_captcha_makes_the_unattended_re_login_wait_for_a_person(
    make_provider, backend: Backend
) -> None:
    customer = new_customer(backend)
    provider = make_provider()
    session = await answer_captchas(
        provider, backend, await provider.start_login(customer.credentials())
    )
    backend.faults.add("captcha", operator="bashtel", path="/bashtel/cabinet", count=1)
    with pytest.raises(SessionExpired):
        await provider.poll(session, "")
    relogin = await provider.start_login(customer.credentials())
    assert isinstance(relogin, Challenge)  # the host marks the account "needs login"
    assert relogin.kind is ChallengeKind.CAPTCHA
    await provider.context.flows.aclose()


@pytest.mark.parametrize("wrong", ["password", "digits"])
async def test_wrong_credentials_are_invalid_credentials(
    make_provider, backend: Backend, wrong: str
) -> None:
    customer = new_customer(backend)
    provider = make_provider()
    credentials = (
        customer.credentials(password="Not-The-Password")
        if wrong == "password"
        else customer.credentials(last3="000" if customer.last3 != "000" else "111")
    )
    with pytest.raises(InvalidCredentials):
        await answer_captchas(provider, backend, await provider.start_login(credentials))
    assert len(provider.context.flows) == 0


async def test_repeated_failures_lock_the_account(make_provider, backend: Backend) -> None:
    customer = new_customer(backend)
    provider = make_provider()
    wrong = customer.credentials(password="Not-The-Password")
    for _ in range(4):
        with pytest.raises(InvalidCredentials):
            await answer_captchas(provider, backend, await provider.start_login(wrong))
    with pytest.raises(AccountLocked):
        await answer_captchas(provider, backend, await provider.start_login(wrong))
    with pytest.raises(AccountLocked):  # even the right password, until the lock ends
        await answer_captchas(provider, backend, await provider.start_login(customer.credentials()))


async def test_an_unanswered_captcha_page_is_closed_when_its_time_runs_out(
    make_provider,
    backend: Backend,
    shared_browser: SharedBrowser,
    monkeypatch: pytest.MonkeyPatch,
) -> None:
    monkeypatch.setattr(provider_module, "CAPTCHA_TTL_S", 0.05)
    customer = new_customer(backend)
    provider = make_provider()
    before = len(shared_browser._browser.contexts) if shared_browser._browser else 0
    challenge = await provider.start_login(customer.credentials())
    assert isinstance(challenge, Challenge)
    await asyncio.sleep(0.1)
    with pytest.raises(FlowExpired):
        await provider.continue_login(challenge, ChallengeAnswer(text=Secret("ABCDE")))
    assert shared_browser._browser is not None
    assert len(shared_browser._browser.contexts) == before  # the page's context was closed


@pytest.mark.parametrize(("kind", "error"), [("503", Unavailable), ("changed_html", ParseError)])
async def test_a_broken_login_page_is_a_contract_error_and_leaves_no_page_open(
    make_provider,
    backend: Backend,
    shared_browser: SharedBrowser,
    kind: str,
    error: type[Exception],
) -> None:
    customer: Customer = new_customer(backend)
    provider = make_provider()
    backend.faults.add(kind, operator="bashtel", path="/bashtel/login", count=1)
    with pytest.raises(error):
        await provider.start_login(customer.credentials())
    assert shared_browser._browser is not None
    assert not shared_browser._browser.contexts
    assert len(provider.context.flows) == 0


async def test_a_dead_browser_is_started_again(
    make_provider, backend: Backend, shared_browser: SharedBrowser
) -> None:
    customer = new_customer(backend)
    provider = make_provider()
    await answer_captchas(provider, backend, await provider.start_login(customer.credentials()))
    assert shared_browser._browser is not None
    launches = shared_browser.launches
    await shared_browser._browser.close()  # as if Chromium crashed
    again = await provider.start_login(customer.credentials())
    assert isinstance(again, Session)
    assert shared_browser.launches == launches + 1


async def test_the_next_login_closes_captcha_pages_nobody_answered(
    make_provider,
    backend: Backend,
    shared_browser: SharedBrowser,
    monkeypatch: pytest.MonkeyPatch,
) -> None:
    monkeypatch.setattr(provider_module, "CAPTCHA_TTL_S", 0.05)
    provider = make_provider()
    left = await provider.start_login(new_customer(backend).credentials())  # nobody answers
    assert isinstance(left, Challenge)
    await asyncio.sleep(0.1)
    other = await provider.start_login(new_customer(backend).credentials())
    assert isinstance(other, Challenge)
    assert left.flow_id not in provider.context.flows
    assert shared_browser._browser is not None
    assert len(shared_browser._browser.contexts) == 1  # only the page of the new challenge
    await provider.context.flows.aclose()
    assert not shared_browser._browser.contexts
