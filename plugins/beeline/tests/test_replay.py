"""A household's diagnostics file replayed: the regression test an author writes from it.

``payloads/diagnostics.har`` is what ``aggregator accounts diagnose ID --login`` wrote for a
Beeline number of the reference provider's demo household (a login, one poll, the contact
data), redacted: the token, the password and the number are gone from it. The plugin's
requests are answered from the file, so this pins how the plugin reads the real wire.
"""

from __future__ import annotations

from decimal import Decimal
from pathlib import Path

import pytest
from aggregator_beeline import BeelineProvider
from aggregator_beeline.provider import SCHEME_PASSWORD

from aggregator import Session
from aggregator.core.models import AccountState, NoticeKind
from aggregator.testing import UnrecordedRequest, load_har, replay_provider, replayed_account

HAR = load_har(Path(__file__).parent / "payloads" / "diagnostics.har")


def replayed_session() -> Session:
    return Session(provider="beeline", data={"token": "replayed", "login": replayed_account(HAR)})


async def test_the_households_poll_replays_into_the_same_reading() -> None:
    provider = replay_provider(BeelineProvider, HAR)
    result = await provider.poll(replayed_session(), replayed_account(HAR))
    assert result.balance.amount.amount == Decimal("412.50")
    assert result.tariff_name == "ВСЁ за 400"
    assert result.state is AccountState.ACTIVE
    # The remainders (``1.0/info/accumulators``, added to the file when the poll learnt them).
    assert result.remainders is not None
    assert [(r.unit.value, int(r.rest)) for r in result.remainders] == [
        ("seconds", 9720),
        ("bytes", 5662310 * 1024),
    ]
    assert result.trusted_payment is not None and result.trusted_payment.available
    assert [n.kind for n in result.notices] == [NoticeKind.CHAT_REPLY]


async def test_the_recorded_login_replays_into_a_session() -> None:
    provider = replay_provider(BeelineProvider, HAR)
    session = await provider._authenticate(replayed_account(HAR), "any password")
    assert isinstance(session, Session) and session.data["token"]
    assert SCHEME_PASSWORD.id == "password"


async def test_a_request_the_file_does_not_hold_fails_loudly() -> None:
    provider = replay_provider(BeelineProvider, HAR)
    with pytest.raises(UnrecordedRequest, match="pricePlanAvailableList"):
        await provider.tariffs(replayed_session(), replayed_account(HAR))


def test_the_file_is_a_redacted_har() -> None:
    log = HAR["log"]
    assert log["version"] == "1.2" and log["_aggregator"]["plugin"]["name"] == "aggregator-beeline"
    text = str(HAR)
    assert "Beeline-2024" not in text and "9031234567" not in text
