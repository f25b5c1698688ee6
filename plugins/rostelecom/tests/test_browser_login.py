"""The passport driven in a real Chromium (Playwright) against the reference provider on a
loopback port: the anti-robot page, the first screen, each identifier tab, one-time codes, a
captcha relayed to the person, a silent re-login when the cookie session is gone."""

from __future__ import annotations

from collections.abc import AsyncIterator, Awaitable, Callable

import httpx
import pytest
import pytest_asyncio
from aggregator_rostelecom import RostelecomProvider
from aggregator_rostelecom.provider import SCHEME_EMAIL, SCHEME_PASSWORD, SCHEME_SMS, SCHEME_SSO
from reference_provider.app import create_app
from reference_provider.backend import Backend
from reference_provider.testing import serving

from aggregator import (
    Challenge,
    ChallengeAnswer,
    ChallengeKind,
    FlowExpired,
    FlowRegistry,
    InvalidCredentials,
    ProviderContext,
    Secret,
    Session,
    SessionExpired,
)
from aggregator.browser import SharedBrowser

pytestmark = pytest.mark.browser

PASSWORD = "Rostelecom2024"
SsoBrowser = Callable[..., Awaitable[str]]
IDP_LOGINS = {
    "gosuslugi": "ivan.smirnov",
    "tbank": "+79031234567",
    "vk": "ivan.smirnov@vk.com",
    "ok": "ivan.smirnov.ok",
    "mailru": "ivan.smirnov@mail.ru",
}


@pytest.fixture(scope="module")
def backend() -> Backend:
    return Backend(seed=1, clock_speed=0)


@pytest_asyncio.fixture(scope="module", loop_scope="session")
async def live_server(backend: Backend) -> AsyncIterator[str]:
    async with serving(create_app(backend=backend, sim=True)) as url:
        yield url


@pytest_asyncio.fixture
async def provider(
    live_server: str, shared_browser: SharedBrowser
) -> AsyncIterator[RostelecomProvider]:
    async with httpx.AsyncClient(timeout=20) as http:
        flows = FlowRegistry()
        yield RostelecomProvider(
            ProviderContext(
                http=http, base_url=f"{live_server}/rostelecom", flows=flows, browser=shared_browser
            )
        )
        await flows.aclose()


@pytest.mark.parametrize(
    ("kind", "identifier"),
    [
        ("login", "smirnov.ivan"),
        ("phone", "+7 (903) 123-45-67"),
        ("email", "ivan.smirnov@example.ru"),
        ("account_number", "3610 0000 0001"),
    ],
)
async def test_each_identifier_tab(
    provider: RostelecomProvider, kind: str, identifier: str
) -> None:
    session = await provider.start_login(
        SCHEME_PASSWORD.build_credentials(identifier, PASSWORD, identifier_kind=kind)
    )
    assert isinstance(session, Session)
    assert set(session.data["cookies"]) == {"SESSION", "CSRF-TOKEN"}
    assert len(await provider.subaccounts(session)) == 4


async def test_a_wrong_password(provider: RostelecomProvider) -> None:
    with pytest.raises(InvalidCredentials, match="парол"):
        await provider.start_login(
            SCHEME_PASSWORD.build_credentials(
                "smirnov.ivan", "Wrong-Pass-1", identifier_kind="login"
            )
        )


@pytest.mark.parametrize(
    ("scheme", "identifier", "kind", "channel"),
    [
        (SCHEME_SMS, "+7 903 123-45-67", "phone", "sms"),
        (SCHEME_EMAIL, "ivan.smirnov@example.ru", "email", "email"),
    ],
)
async def test_a_one_time_code(
    provider: RostelecomProvider,
    backend: Backend,
    scheme: object,
    identifier: str,
    kind: str,
    channel: str,
) -> None:
    step = await provider.start_login(scheme.build_credentials(identifier, identifier_kind=kind))  # type: ignore[attr-defined]
    assert isinstance(step, Challenge) and step.kind is ChallengeKind.CODE
    assert step.channel == channel and step.masked_destination
    again = await provider.continue_login(step, ChallengeAnswer(text=Secret("000000")))
    assert isinstance(again, Challenge) and again.kind is ChallengeKind.CODE
    code = backend.last_code("rostelecom", purpose="login")
    session = await provider.continue_login(again, ChallengeAnswer(text=Secret(code)))
    assert isinstance(session, Session)


async def test_a_captcha_goes_to_the_person_once_per_device(
    provider: RostelecomProvider, backend: Backend
) -> None:
    credentials = SCHEME_PASSWORD.build_credentials(
        "anna.petrova@example.ru", "Petrova2024", identifier_kind="email"
    )
    step = await provider.start_login(credentials)
    assert isinstance(step, Challenge) and step.kind is ChallengeKind.CAPTCHA
    assert step.image and step.image.startswith(b"\x89PNG")
    wrong = await provider.continue_login(step, ChallengeAnswer(text=Secret("xxxxx")))
    assert isinstance(wrong, Challenge) and wrong.kind is ChallengeKind.CAPTCHA
    answer = backend.captcha_answer("rostelecom")
    session = await provider.continue_login(wrong, ChallengeAnswer(text=Secret(answer)))
    assert isinstance(session, Session)
    # the passport now knows this "device": a silent re-login needs no person
    assert isinstance(await provider.start_login(credentials), Session)


async def test_a_lost_session_costs_one_silent_browser_login(
    provider: RostelecomProvider, backend: Backend
) -> None:
    credentials = SCHEME_PASSWORD.build_credentials(
        "smirnov.ivan", PASSWORD, identifier_kind="login"
    )
    session = await provider.start_login(credentials)
    assert isinstance(session, Session)
    account = (await provider.subaccounts(session))[0].id
    for _ in range(20):
        await provider.poll(session, account)
    assert provider.browser_logins == 1
    backend.expire_sessions(operator="rostelecom")
    with pytest.raises(SessionExpired):
        await provider.poll(session, account)
    session = await provider.start_login(credentials)  # what the poller does
    assert isinstance(session, Session)
    assert (await provider.poll(session, account)).balance
    assert provider.browser_logins == 2


@pytest.mark.parametrize("idp", ["gosuslugi", "tbank", "vk", "ok", "mailru"])
async def test_sso_round_trip(
    provider: RostelecomProvider, sso_browser: SsoBrowser, idp: str
) -> None:
    step = await provider.start_login(SCHEME_SSO.build_credentials(sso_provider=idp))
    assert isinstance(step, Challenge) and step.kind is ChallengeKind.SSO_REDIRECT
    assert step.url and "kc_idp_hint=" + idp in step.url
    callback = await sso_browser(provider.context.http, step.url, IDP_LOGINS[idp])
    session = await provider.continue_login(step, ChallengeAnswer(callback_url=callback))
    assert isinstance(session, Session)
    assert set(session.data["cookies"]) == {"SESSION", "CSRF-TOKEN"}
    assert len(await provider.subaccounts(session)) == 4
    assert not provider.context.http.cookies  # the shared client's jar kept nothing of it


async def test_sso_refused_or_foreign_callbacks(
    provider: RostelecomProvider, sso_browser: SsoBrowser
) -> None:
    step = await provider.start_login(SCHEME_SSO.build_credentials(sso_provider="vk"))
    assert isinstance(step, Challenge) and step.url
    refused = await sso_browser(provider.context.http, step.url, IDP_LOGINS["vk"], allow=False)
    with pytest.raises(InvalidCredentials):
        await provider.continue_login(step, ChallengeAnswer(callback_url=refused))
    with pytest.raises(InvalidCredentials):
        await provider.continue_login(
            step, ChallengeAnswer(callback_url="https://evil.example/cb?code=x&state=y")
        )


async def test_a_spent_sso_code_is_an_expired_flow(
    provider: RostelecomProvider, sso_browser: SsoBrowser
) -> None:
    step = await provider.start_login(SCHEME_SSO.build_credentials(sso_provider="gosuslugi"))
    assert isinstance(step, Challenge) and step.url
    callback = await sso_browser(provider.context.http, step.url, IDP_LOGINS["gosuslugi"])
    assert isinstance(
        await provider.continue_login(step, ChallengeAnswer(callback_url=callback)), Session
    )
    with pytest.raises(FlowExpired):
        await provider.continue_login(step, ChallengeAnswer(callback_url=callback))
