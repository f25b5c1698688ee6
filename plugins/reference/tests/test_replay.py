"""A household's diagnostics file replayed: the regression test an author writes from it.

``payloads/diagnostics.har`` is what ``aggregator accounts diagnose ID --login`` wrote for a
reference account (a login, one poll and the profile), taken against the reference provider
for an invented subscriber; the plugin's requests are answered from the file.
"""

from __future__ import annotations

from decimal import Decimal
from pathlib import Path

from aggregator_reference import ReferenceProvider

from aggregator import Session
from aggregator.core.models import AccountState
from aggregator.testing import load_har, replay_provider, replayed_account

HAR = load_har(Path(__file__).parent / "payloads" / "diagnostics.har")


async def test_the_households_poll_replays_into_the_same_reading() -> None:
    provider = replay_provider(ReferenceProvider, HAR)
    session = Session(provider="reference", data={"token": "replayed"})
    result = await provider.poll(session, replayed_account(HAR))
    assert result.balance.amount.amount == Decimal("1224.88")  # as the file says
    assert result.state is AccountState.ACTIVE
    # The poll reads the package remainders too (``/usage``, added to the file by hand when
    # the poll learnt it: the household's file was taken before).
    assert result.remainders is not None
    assert [(r.unit.value, int(r.rest)) for r in result.remainders] == [
        ("seconds", 9720),
        ("sms", 54),
        ("bytes", 5798205849),
    ]
    profile = await provider.profile(session, replayed_account(HAR))
    assert profile.email and profile.email.endswith("@example.invalid")  # masked in the file


async def test_the_login_replays_too() -> None:
    provider = replay_provider(ReferenceProvider, HAR)
    scheme = ReferenceProvider.scheme("password")
    session = await provider.start_login(
        scheme.build_credentials("anyone", "any-password", identifier_kind="login")
    )
    assert isinstance(session, Session)
