"""The Beeline plugin against a real reference provider server on a loopback port."""

from __future__ import annotations

from typing import TYPE_CHECKING

import httpx
from aggregator_beeline import BeelineProvider
from aggregator_beeline.provider import SCHEME_PASSWORD, SCHEME_SMS

from aggregator import Challenge, ChallengeAnswer, ChallengeKind, ProviderContext, Secret, Session
from aggregator.core.models import AccountState, Money

if TYPE_CHECKING:
    from conftest import LoopbackServer


async def test_full_flow_over_loopback(loopback: LoopbackServer) -> None:
    async with httpx.AsyncClient(timeout=10) as http:
        provider = BeelineProvider(ProviderContext(http=http, base_url=loopback.url + "/beeline"))
        session = await provider.start_login(
            SCHEME_PASSWORD.build_credentials("+7 903 123-45-67", "Beeline-2024")
        )
        assert isinstance(session, Session)
        subs = await provider.subaccounts(session)
        assert len(subs) == 5
        poll = await provider.poll(session, subs[0].id)
        assert poll.balance.amount == Money.rub("412.50")
        assert poll.state is AccountState.ACTIVE

        # the SMS temporary password, read from the outbox through the simulation API
        challenge = await provider.start_login(SCHEME_SMS.build_credentials("9052223344"))
        assert isinstance(challenge, Challenge) and challenge.kind is ChallengeKind.CODE
        reply = await http.get(
            loopback.url + "/sim/outbox/last-code",
            params={"operator": "beeline", "destination": "9052223344"},
        )
        code = reply.json()["code"]
        step = await provider.continue_login(challenge, ChallengeAnswer(text=Secret(code)))
        assert isinstance(step, Challenge) and step.kind is ChallengeKind.NEW_PASSWORD
        done = await provider.continue_login(
            step, ChallengeAnswer(new_password=Secret("Loopback-2024"))
        )
        assert isinstance(done, Session)
        assert (await provider.balance(done, "9052223344")).amount == Money.rub(150)
