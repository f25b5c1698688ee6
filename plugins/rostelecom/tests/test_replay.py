"""A household's diagnostics file replayed: the regression test an author writes from it.

``payloads/diagnostics.har`` is what ``aggregator accounts diagnose ID --login`` writes for a
Rostelecom account (the passport login in the browser, one poll and the profile), taken against
the reference provider's ``rostelecom`` dialect in its real shape. The plugin's requests are
answered from the file: this pins how it reads the cabinet's client-api, with no operator and
no browser.
"""

from __future__ import annotations

from collections.abc import AsyncIterator
from decimal import Decimal
from pathlib import Path

import httpx
import pytest
import pytest_asyncio
from aggregator_rostelecom import RostelecomProvider
from aggregator_rostelecom.provider import SCHEME_PASSWORD
from reference_provider.app import create_app
from reference_provider.backend import Backend
from reference_provider.testing import serving

from aggregator import Session
from aggregator.browser import SharedBrowser
from aggregator.core.models import AccountState, BonusPoints
from aggregator.diagnostics import record_diagnostics
from aggregator.runtime import Runtime
from aggregator.settings import Settings
from aggregator.testing import UnrecordedRequest, load_har, replay_provider, replayed_account
from aggregator.testing.leaks import byte_forms

HAR = load_har(Path(__file__).parent / "payloads" / "diagnostics.har")


def session() -> Session:
    return Session(
        provider="rostelecom", data={"cookies": {"SESSION": "replayed", "CSRF-TOKEN": "replayed"}}
    )


async def test_the_households_poll_replays_into_the_same_reading() -> None:
    provider = replay_provider(RostelecomProvider, HAR)
    result = await provider.poll(session(), replayed_account(HAR))
    assert result.balance.amount.amount == Decimal("1540.00")  # split over two sub-accounts
    assert result.balance.bonus == BonusPoints(points=Decimal(350))
    assert result.state is AccountState.ACTIVE
    assert result.tariff_name
    profile = await provider.profile(session(), replayed_account(HAR))
    assert profile.full_name  # masked in the file


async def test_a_request_the_file_does_not_hold_fails_loudly() -> None:
    provider = replay_provider(RostelecomProvider, HAR)
    with pytest.raises(UnrecordedRequest, match="getPromotions"):
        await provider.news(session(), replayed_account(HAR))


def test_the_file_is_a_redacted_har_with_the_passport_login() -> None:
    log = HAR["log"]
    assert log["version"] == "1.2"
    assert log["_aggregator"]["plugin"]["name"] == "aggregator-rostelecom"
    browser = [e for e in log["entries"] if e["_source"] == "browser"]
    assert any("/passport/" in e["request"]["url"] for e in browser)
    assert any("/lk/sso-auth/" in e["request"]["url"] for e in browser)
    text = str(HAR)
    for secret in ("Rostelecom2024", "smirnov.ivan", "361000000001"):
        assert secret not in text, secret
    assert "mergeConfig(" in text  # the passport's pages are in it


# -- taking such a file: the passport login in the shared Chromium ---------------------------
CANARY_LOGIN = "kesha.canary"
CANARY_PASSWORD = "Kanareyka7Zq"
NAME = "Канареев Кеша Птицевич"
PHONE = "9035550172"
EMAIL = "kesha.canary@example.ru"
ADDRESS = "Москва, ул. Канареечная, д. 17, кв. 4"


@pytest.fixture(scope="module")
def canary_backend() -> Backend:
    return Backend(seed=1, clock_speed=0)


@pytest_asyncio.fixture(scope="module", loop_scope="session")
async def canary_server(canary_backend: Backend) -> AsyncIterator[str]:
    async with serving(create_app(backend=canary_backend, sim=True)) as url:
        yield url


@pytest.mark.browser
async def test_diagnostics_of_the_passport_login_hold_no_canary_and_replay(
    canary_backend: Backend, canary_server: str, shared_browser: SharedBrowser
) -> None:
    """The passport's pages (their HTML, the form post) and the cabinet's client-api are in
    the file; no password, login, name, phone, e-mail, address or account number survives in
    any encoding; the file replays into the same reading."""
    backend = canary_backend
    sub = backend.create_subscriber(
        "rostelecom", CANARY_LOGIN, CANARY_PASSWORD, NAME, phone=PHONE, email=EMAIL,
        region="Москва", captcha_policy="never",
    )  # fmt: skip
    account = backend.create_account(sub, kind="internet", balance=640_00, address=ADDRESS)
    credentials = SCHEME_PASSWORD.build_credentials(
        CANARY_LOGIN, CANARY_PASSWORD, identifier_kind="login"
    )
    settings = Settings(provider_urls={"rostelecom": f"{canary_server}/rostelecom"})
    async with (
        httpx.AsyncClient(timeout=20) as http,
        Runtime(settings, http=http, browser=shared_browser) as runtime,
    ):
        subaccount = str(int(account.id.removeprefix("acc-")))  # the cabinet's accountId
        result = await record_diagnostics(
            runtime,
            "rostelecom",
            subaccount_id=subaccount,
            credentials=credentials,
            session=None,
            personal=[(subaccount, "account")],
            login=True,
        )
    log = result.har["log"]
    assert result.outcome == "ok", log["_aggregator"]["steps"]
    assert log["pages"] and any("/passport/" in page["_url"] for page in log["pages"])
    assert any("<form" in page["_html"] for page in log["pages"])  # the login page itself
    assert any(e["_source"] == "browser" for e in log["entries"])
    for value in (CANARY_PASSWORD, CANARY_LOGIN, account.number, ADDRESS, NAME, PHONE, EMAIL):
        for form, kind in byte_forms(value).items():
            assert form not in result.content, f"{value[:3]}… ({kind}) survived"
    for part in NAME.split():
        assert part.encode() not in result.content, part[:3]
    replayed = replay_provider(RostelecomProvider, result.har)
    poll = await replayed.poll(session(), replayed_account(result.har))
    assert poll.balance.amount.amount * 100 == backend.balance(account)
