"""A household's diagnostics file replayed: the regression test an author writes from it.

``payloads/diagnostics.har`` is what ``aggregator accounts diagnose ID --login`` wrote for a
Bashtel account (a browser login, one poll and the profile; see payloads/README.md). The
requests the plugin makes are answered from the file, so this test pins how the plugin reads
the household's real pages, with no operator and no browser.
"""

from __future__ import annotations

import datetime as dt
from decimal import Decimal
from pathlib import Path

import httpx
import pytest
from aggregator_bashtel.provider import LOGIN_SCHEME, BashtelProvider
from reference_provider.backend import Backend

from aggregator import Challenge, ChallengeAnswer, Secret, Session
from aggregator.browser import SharedBrowser
from aggregator.core.models import AccountState
from aggregator.diagnostics import record_diagnostics
from aggregator.runtime import Runtime
from aggregator.settings import Settings
from aggregator.testing import UnrecordedRequest, load_har, replay_provider, replayed_account
from aggregator.testing.leaks import byte_forms

HAR = load_har(Path(__file__).parent / "payloads" / "diagnostics.har")


async def test_the_households_poll_replays_into_the_same_reading() -> None:
    provider = replay_provider(BashtelProvider, HAR)
    session = Session(
        provider="bashtel", data={"cookies": {"BTSESSID": "replayed"}, "login_key": "replayed"}
    )
    result = await provider.poll(session, replayed_account(HAR))
    assert result.balance.amount.amount == Decimal("987.65")
    assert result.state is AccountState.ACTIVE
    assert result.tariff_name
    profile = await provider.profile(session, replayed_account(HAR))
    assert profile.full_name and profile.full_name.startswith("Name-")  # masked in the file


async def test_a_request_the_file_does_not_hold_fails_loudly() -> None:
    provider = replay_provider(BashtelProvider, HAR)
    session = Session(
        provider="bashtel", data={"cookies": {"BTSESSID": "replayed"}, "login_key": "replayed"}
    )
    with pytest.raises(UnrecordedRequest, match="/bashtel/news"):
        await provider.news(session, replayed_account(HAR))


def test_the_file_is_a_redacted_har_with_the_browser_login() -> None:
    log = HAR["log"]
    assert log["version"] == "1.2" and log["_aggregator"]["plugin"]["name"] == "aggregator-bashtel"
    posts = [e for e in log["entries"] if e["request"]["method"] == "POST"]
    assert posts and all(e["_source"] == "browser" for e in posts)
    assert any("login-form" in page["_html"] for page in log["pages"])
    assert "Bashtel-Pass-9" not in posts[0]["request"]["postData"]["text"]


# -- taking such a file: a browser login through the shared Chromium ------------------------
CANARY_PASSWORD = "Kanareyka/7+Zq=&ы pass"
NAME = "Канареев Кеша Птицевич"
PHONE = "9375550172"
EMAIL = "kesha.canary@example.ru"
ADDRESS = "Уфа, ул. Канареечная, д. 17, кв. 4"


@pytest.mark.browser
async def test_diagnostics_of_a_browser_login_hold_no_canary_and_replay(
    backend: Backend, live_server: str, shared_browser: SharedBrowser
) -> None:
    """The captcha answered as a person would; the pages' HTML is in the file, redacted."""
    sub = backend.create_subscriber(
        "bashtel", "kesha_ufa", CANARY_PASSWORD, NAME, phone=PHONE, email=EMAIL, region="Уфа"
    )
    account = backend.create_account(
        sub,
        kind="bundle",
        tariff_id="bt-combo",
        opened=backend.clock.today() - dt.timedelta(days=75),
        address=ADDRESS,
    )
    backend.set_balance(account, 432_10)
    credentials = LOGIN_SCHEME.build_credentials(
        "kesha_ufa", CANARY_PASSWORD, extras={"account_last3": account.number[-3:]}
    )
    settings = Settings(provider_urls={"bashtel": f"{live_server}/bashtel"})

    async def solve(challenge: Challenge) -> ChallengeAnswer:
        return ChallengeAnswer(text=Secret(backend.captcha_answer("bashtel")))

    async with (
        httpx.AsyncClient(timeout=20) as http,
        Runtime(settings, http=http, browser=shared_browser) as runtime,
    ):
        result = await record_diagnostics(
            runtime,
            "bashtel",
            subaccount_id="",
            credentials=credentials,
            session=None,
            login=True,
            answer=solve,
        )
    assert result.outcome == "ok", result.har["log"]["_aggregator"]["steps"]
    log = result.har["log"]
    assert log["pages"] and any(e["_source"] == "browser" for e in log["entries"])
    for value in (CANARY_PASSWORD, "kesha_ufa", account.number, ADDRESS, NAME, PHONE, EMAIL):
        for form, kind in byte_forms(value).items():
            assert form not in result.content, f"{value[:3]}… ({kind}) survived"
    replayed = replay_provider(BashtelProvider, result.har)
    session = Session(provider="bashtel", data={"cookies": {"BTSESSID": "x"}, "login_key": "x"})
    poll = await replayed.poll(session, replayed_account(result.har))
    assert poll.balance.amount.amount == Decimal("432.10")
