"""The Rostelecom plugin against a real reference provider server on a loopback port."""

from __future__ import annotations

from collections.abc import Awaitable, Callable
from typing import TYPE_CHECKING

import httpx
from aggregator_rostelecom import RostelecomProvider
from aggregator_rostelecom.provider import SCHEME_EMAIL, SCHEME_PASSWORD, SCHEME_SSO

from aggregator import Challenge, ChallengeAnswer, ChallengeKind, ProviderContext, Secret, Session
from aggregator.core.models import AccountState, Money, OperationResult

if TYPE_CHECKING:
    from conftest import LoopbackServer


async def test_full_flow_over_loopback(
    loopback: LoopbackServer, sso_browser: Callable[..., Awaitable[str]]
) -> None:
    async with httpx.AsyncClient(timeout=10) as http:
        provider = RostelecomProvider(
            ProviderContext(http=http, base_url=loopback.url + "/rostelecom")
        )
        session = await provider.start_login(
            SCHEME_PASSWORD.build_credentials(
                "ivan.smirnov@example.ru", "Rostelecom2024", identifier_kind="email"
            )
        )
        assert isinstance(session, Session)
        subs = await provider.subaccounts(session)
        assert len(subs) == 4
        poll = await provider.poll(session, subs[0].id)
        assert poll.balance.amount == Money.rub("1540.00") and poll.state is AccountState.ACTIVE

        # a financial operation: the SMS code read through the simulation API
        challenge = await provider.change_tariff(session, subs[0].id, "rt-inet100")
        assert isinstance(challenge, Challenge) and challenge.operation == "change_tariff"
        reply = await http.get(
            loopback.url + "/sim/outbox/last-code",
            params={"operator": "rostelecom", "purpose": "change_tariff"},
        )
        done = await provider.confirm(
            session, challenge, ChallengeAnswer(text=Secret(reply.json()["code"]))
        )
        assert isinstance(done, OperationResult) and done.effective_date

        # a one-time code by e-mail
        step = await provider.start_login(
            SCHEME_EMAIL.build_credentials("smirnov.ivan", identifier_kind="login")
        )
        assert isinstance(step, Challenge) and step.kind is ChallengeKind.CODE
        assert step.channel == "email"
        reply = await http.get(
            loopback.url + "/sim/outbox/last-code",
            params={"operator": "rostelecom", "purpose": "login"},
        )
        by_code = await provider.continue_login(
            step, ChallengeAnswer(text=Secret(reply.json()["code"]))
        )
        assert isinstance(by_code, Session)

        # SSO: the identity provider's pages, through the real server
        sso = await provider.start_login(SCHEME_SSO.build_credentials(sso_provider="mailru"))
        assert isinstance(sso, Challenge) and sso.url and sso.url.startswith(loopback.url)
        callback = await sso_browser(http, sso.url, "ivan.smirnov@mail.ru")
        by_sso = await provider.continue_login(sso, ChallengeAnswer(callback_url=callback))
        assert isinstance(by_sso, Session)
        assert len(await provider.subaccounts(by_sso)) == 4
