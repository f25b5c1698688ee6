"""A household's diagnostics file replayed: the regression test an author writes from it.

``payloads/diagnostics.har`` is what ``aggregator accounts diagnose ID --login`` writes for a
Rostelecom account (the passport login in the browser, one poll and the profile), taken against
the reference provider's ``rostelecom`` dialect in its real shape. The plugin's requests are
answered from the file: this pins how it reads the cabinet's client-api, with no operator and
no browser.
"""

from __future__ import annotations

from decimal import Decimal
from pathlib import Path

import pytest
from aggregator_rostelecom import RostelecomProvider

from aggregator import Session
from aggregator.core.models import AccountState
from aggregator.testing import UnrecordedRequest, load_har, replay_provider, replayed_account

HAR = load_har(Path(__file__).parent / "payloads" / "diagnostics.har")


def session() -> Session:
    return Session(
        provider="rostelecom", data={"cookies": {"SESSION": "replayed", "CSRF-TOKEN": "replayed"}}
    )


async def test_the_households_poll_replays_into_the_same_reading() -> None:
    provider = replay_provider(RostelecomProvider, HAR)
    result = await provider.poll(session(), replayed_account(HAR))
    assert result.balance.amount.amount == Decimal("1540.00")  # split over two sub-accounts
    assert result.balance.bonus is not None and result.balance.bonus.amount == Decimal(350)
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
