"""A household's diagnostics file replayed: the regression test an author writes from it.

``payloads/diagnostics.har`` is what ``aggregator accounts diagnose ID --login`` wrote for the
reference provider's demo NetByNet contract (a login, one poll, the profile), redacted: the
session cookie, the password and the contract number are gone from it. The plugin's requests
are answered from the file, so this pins how the plugin reads the real wire.
"""

from __future__ import annotations

from decimal import Decimal
from pathlib import Path

import pytest
from aggregator_netbynet import NetbynetProvider

from aggregator import Session
from aggregator.core.models import AccountState, NoticeKind
from aggregator.testing import UnrecordedRequest, load_har, replay_provider, replayed_account

HAR = load_har(Path(__file__).parent / "payloads" / "diagnostics.har")
SESSION = Session(provider="netbynet", data={"cookies": {"AUTHORIZATION": '"replayed"'}})


async def test_the_households_poll_replays_into_the_same_reading() -> None:
    provider = replay_provider(NetbynetProvider, HAR)
    result = await provider.poll(SESSION, replayed_account(HAR))
    assert result.balance.amount.amount == Decimal("900.00")
    assert result.tariff_name == "Wifire 300"
    assert result.state is AccountState.ACTIVE
    # the news feed's maintenance works: a notice (mailed once); the promotion is not
    (notice,) = result.notices
    assert notice.kind is NoticeKind.MAINTENANCE and notice.id == "maintenance:netbynet-news-3"
    assert notice.title == "Профилактика на сети"
    profile = await provider.profile(SESSION, replayed_account(HAR))
    assert profile.full_name and profile.account_number


async def test_a_request_the_file_does_not_hold_fails_loudly() -> None:
    provider = replay_provider(NetbynetProvider, HAR)
    with pytest.raises(UnrecordedRequest, match="get-tariffs"):
        await provider.tariffs(SESSION, replayed_account(HAR))


def test_the_file_is_a_redacted_har() -> None:
    log = HAR["log"]
    assert log["version"] == "1.2"
    assert log["_aggregator"]["plugin"]["name"] == "aggregator-netbynet"
    text = str(HAR)
    assert "Netbynet-2024" not in text and "500100200" not in text
