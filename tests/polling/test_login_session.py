"""The session belongs to the operator login, not to each of its accounts: an operator that
rotates its token on every call (the old one dies at once) keeps every sibling account ok,
without logging in again, across 100 polls; the newest session is stored for all of them."""

from __future__ import annotations

from pathlib import Path
from typing import cast

from reference_provider.testing.aggregator_env import (
    BulkLink,
    InProcessEnv,
    create_household,
    link_many,
)
from sqlalchemy import Table, select

from aggregator.accounts import open_session
from aggregator.core.flows import Session
from aggregator.core.login import Credentials, IdentifierKind
from aggregator.core.secret import Secret
from aggregator.plugins import PluginRegistry
from aggregator.polling import PollingOptions, PollingService
from aggregator.storage.models import LinkedAccount

accounts_t = cast(Table, LinkedAccount.__table__)
MANUAL = PollingOptions(send_mail=False, start_sink=False, min_interval_s=0)


async def test_rotating_tokens_keep_every_sibling_ok_across_100_polls(
    tmp_path: Path, registry: PluginRegistry
) -> None:
    async with InProcessEnv(tmp_path / "data", registry, demo=True, min_poll_interval_s=1) as env:
        household = await create_household(env.engine)
        provider = env.runtime.provider("reference")
        session = await provider.start_login(
            Credentials(
                scheme="password",
                identifier_kind=IdentifierKind.LOGIN,
                identifier="demo",
                secret=Secret("demo-password"),
            )
        )
        assert isinstance(session, Session)
        subaccounts = await provider.subaccounts(session)
        assert len(subaccounts) == 4  # one login, four accounts
        links = [
            BulkLink("demo", "demo-password", s.id, s.number, dict(session.data), kind=s.kind)
            for s in subaccounts
        ]
        ids = await link_many(env.engine, env.vault, household, type(provider), links)
        env.backend.rotate_tokens = True  # every call answers with a new token

        async with PollingService(
            env.runtime, settings=env.settings, options=MANUAL, vault=env.vault, schedule=False
        ) as service:
            polls = 0
            while polls < 100:
                outcomes = await service.poll_accounts(ids)
                assert [o.status for o in outcomes] == ["ok"] * 4, outcomes
                polls += len(outcomes)
            attempts = sum(service.runner.poller.sessions.login_attempts.values())
        assert attempts == 0  # never logged in again: each sibling used the newest token

        # The newest session is stored once for the whole login: every row holds it.
        async with env.engine.connect() as conn:
            rows = (await conn.execute(select(accounts_t.c.id, accounts_t.c.session_sealed))).all()
        tokens = {
            open_session(env.vault, LinkedAccount(id=r.id, session_sealed=r.session_sealed)).data[
                "token"
            ]  # type: ignore[union-attr]
            for r in rows
        }
        assert len(tokens) == 1
        (token,) = tokens
        assert token != session.data["token"] and token in env.backend.sessions
