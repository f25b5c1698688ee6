"""The session belongs to the operator login, not to each of its accounts: an operator that
rotates its token on every call (the old one dies at once) keeps every sibling account ok,
without logging in again, across 100 polls; the newest session is stored for all of them."""

from __future__ import annotations

import asyncio
from pathlib import Path
from typing import cast

import pytest
from reference_provider.testing.aggregator_env import (
    BulkLink,
    InProcessEnv,
    create_household,
    link_many,
)
from sqlalchemy import Table, select
from sqlalchemy.ext.asyncio import AsyncSession

from aggregator.accounts import open_session
from aggregator.core.flows import Session
from aggregator.core.login import Credentials, IdentifierKind
from aggregator.core.secret import Secret
from aggregator.plugins import PluginRegistry
from aggregator.polling import PollingOptions, PollingService
from aggregator.services.operations import AccountOperations
from aggregator.storage.models import LinkedAccount, LoginLease

accounts_t = cast(Table, LinkedAccount.__table__)
leases_t = cast(Table, LoginLease.__table__)
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


async def _four_siblings(env: InProcessEnv) -> tuple[list[int], Session]:
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
    links = [
        BulkLink("demo", "demo-password", s.id, s.number, dict(session.data), kind=s.kind)
        for s in subaccounts
    ]
    return await link_many(env.engine, env.vault, household, type(provider), links), session


@pytest.mark.parametrize("cluster", [True, False], ids=["lease", "no-lease"])
async def test_two_processes_polling_siblings_never_send_the_same_rotating_token(
    tmp_path: Path, registry: PluginRegistry, cluster: bool, db_url: str
) -> None:
    """Two pollers with their own memory (two worker processes) on one database poll the
    siblings of one login at the same time: with the login's cluster lease each reads the newest
    token under it and none is refused, so nobody logs in again across 100 polls; without it
    (the control) the second user of a token is refused and logs in again. SQLite, and
    PostgreSQL under scripts/with-postgres.sh."""
    async with InProcessEnv(
        tmp_path / "data", registry, demo=True, min_poll_interval_s=1, database_url=db_url
    ) as env:
        ids, _ = await _four_siblings(env)
        env.backend.rotate_tokens = True
        services = [
            PollingService(
                env.runtime,
                settings=env.settings,
                options=MANUAL,
                vault=env.vault,
                schedule=False,
                identity=f"worker-{n}",
            )
            for n in (1, 2)
        ]
        async with services[0] as one, services[1] as two:
            pollers = [one.runner.poller, two.runner.poller]
            assert pollers[0].sessions.guard is not pollers[1].sessions.guard
            if not cluster:
                for poller in pollers:
                    poller.sessions.guard.cluster = None
            polls = 0
            statuses: list[str] = []
            while polls < 100:
                first, second = await asyncio.gather(
                    one.poll_accounts(ids[:2]), two.poll_accounts(ids[2:])
                )
                statuses += [o.status for o in (*first, *second)]
                polls += len(first) + len(second)
            attempts = sum(sum(p.sessions.login_attempts.values()) for p in pollers)
            waits = sum(p.sessions.guard.cluster.waits for p in pollers if p.sessions.guard.cluster)
            if cluster:
                # The dashboard's operations take the login's turn too (the poller's keeper):
                # a tariff list for one sibling while the other process polls the rest.
                ops = AccountOperations(env.runtime, env.vault, pollers[0].sessions)
                async with AsyncSession(env.engine, expire_on_commit=False) as db:
                    account = await db.get(LinkedAccount, ids[0])
                    assert account is not None
                    for _ in range(5):
                        catalogue, polled = await asyncio.gather(
                            ops.tariffs(db, account), two.poll_accounts(ids[1:])
                        )
                        assert catalogue.current.name
                        statuses += [o.status for o in polled]
                attempts += sum(sum(p.sessions.login_attempts.values()) for p in pollers)
        if cluster:
            assert set(statuses) == {"ok"} and len(statuses) == 115
            assert attempts == 0  # never logged in again: no token was sent twice
            assert waits > 0  # the two really met at the login's lease
            async with env.engine.connect() as conn:
                assert (await conn.execute(select(leases_t))).all() == []  # all given back
        else:
            assert attempts > 0  # the race the lease prevents
