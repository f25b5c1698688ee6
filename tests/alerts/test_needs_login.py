"""A login that stops working: one e-mail for the whole login, however many numbers it holds,
and no further login attempt until the user links it again."""

from __future__ import annotations

from collections import Counter
from collections.abc import AsyncIterator
from pathlib import Path
from typing import Any, cast

import pytest
from reference_provider.testing.aggregator_env import (
    BulkLink,
    InProcessEnv,
    create_household,
    link_many,
)
from sqlalchemy import Table, insert, select

from aggregator import Credentials, Secret, Session
from aggregator.alerts.outbox import OutboxSender
from aggregator.alerts.sink import MailSink
from aggregator.plugins import PluginRegistry
from aggregator.polling import PollingOptions, PollingService
from aggregator.polling.service import notifier_instances
from aggregator.storage.models import AlertEpisode, AlertRule, LinkedAccount

rules_t = cast(Table, AlertRule.__table__)
accounts_t = cast(Table, LinkedAccount.__table__)
episodes_t = cast(Table, AlertEpisode.__table__)
NB = "\u00a0"


@pytest.fixture
async def demo_env(tmp_path: Path, registry: PluginRegistry) -> AsyncIterator[InProcessEnv]:
    async with InProcessEnv(tmp_path / "data", registry, demo=True) as env:
        yield env


async def link_demo_login(env: InProcessEnv, household: int) -> list[int]:
    """The reference operator's demo login holds four accounts: link them all."""
    provider = env.runtime.provider("reference")
    credentials = Credentials(scheme="password", identifier="demo", secret=Secret("demo-password"))
    session = await provider.start_login(credentials)
    assert isinstance(session, Session)
    subs = await provider.subaccounts(session)
    assert len(subs) == 4
    links = [
        BulkLink("demo", "demo-password", sub.id, sub.number, dict(session.data), kind=sub.kind)
        for sub in subs
    ]
    return await link_many(
        env.engine, env.vault, household, env.registry.provider("reference"), links
    )


def count_logins(env: InProcessEnv) -> Counter[str]:
    counts: Counter[str] = Counter()
    original = env.backend.login_password

    def counting(op: str, identifier: str, *args: Any, **kwargs: Any) -> Any:
        counts[identifier] += 1
        return original(op, identifier, *args, **kwargs)

    env.backend.login_password = counting  # type: ignore[method-assign]
    return counts


@pytest.mark.parametrize("poll_first", ["one", "all"])
async def test_a_refused_login_is_told_once_and_never_retried(
    demo_env: InProcessEnv, poll_first: str
) -> None:
    env = demo_env
    household = await create_household(env.engine, users=[("ivan@example.ru", "ru")])
    async with env.engine.begin() as conn:  # only the login alert, to count its mail
        await conn.execute(
            insert(rules_t),
            [
                {"household_id": household, "kind": kind, "enabled": False, "recipients": []}
                for kind in ("low_balance", "runs_out", "suspension_ends")
            ],
        )
    ids = await link_demo_login(env, household)
    options = PollingOptions(send_mail=False, start_sink=False, min_interval_s=0)
    sink = MailSink(env.settings.data_dir / "mail", port=env.settings.mail_sink_port)
    async with PollingService(
        env.runtime, settings=env.settings, options=options, vault=env.vault, schedule=False
    ) as service:
        sender = OutboxSender(service.engine, notifier_instances(env.runtime, env.settings))
        assert {o.status for o in await service.poll_accounts(ids)} == {"ok"}

        # The password was changed at the operator and every session ended.
        subscriber = env.backend.find_subscriber("reference", "demo")
        env.backend.set_password(subscriber, "Changed-elsewhere-1")
        env.backend.expire_sessions(operator="reference")
        logins = count_logins(env)
        first = ids[:1] if poll_first == "one" else ids
        outcomes = await service.poll_accounts(first)
        assert {o.status for o in outcomes} == {"needs_login"}
        assert logins["demo"] == 1
        async with env.engine.connect() as conn:
            statuses = (
                (await conn.execute(select(accounts_t.c.status).where(accounts_t.c.id.in_(ids))))
                .scalars()
                .all()
            )
        assert set(statuses) == {"needs_login"}  # the siblings stopped too

        for _ in range(3):  # further rounds: nobody tries that login again
            outcomes = await service.poll_accounts(ids)
            assert {o.status for o in outcomes} == {"needs_login"}
        assert logins["demo"] == 1

        with sink:
            report = await sender.send_due()
            mails = sink.store.list()
    assert report.sent == 1 and len(mails) == 1
    assert mails[0].subject.endswith(": нужно войти заново")
    async with env.engine.connect() as conn:
        episodes = (
            await conn.execute(
                select(episodes_t.c.account_id, episodes_t.c.details).where(
                    episodes_t.c.kind == "needs_login"
                )
            )
        ).all()
    assert sorted(e.account_id for e in episodes) == sorted(ids)  # each account's own episode
    assert sum(1 for e in episodes if "same_login_as" not in e.details) == 1
