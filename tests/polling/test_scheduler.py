"""The embedded scheduler (APScheduler 3, one in-memory tick job, claims in SQLite): due
accounts get polled on their own interval, never twice at once; the scheduler holds no account,
no secret and no table; restarts free their claims; manual polls and needs_login accounts."""

from __future__ import annotations

import asyncio
import datetime as dt
from collections import Counter
from typing import Any, cast

from reference_provider.testing.aggregator_env import InProcessEnv, create_household
from sqlalchemy import Table, inspect, select, update

from aggregator.polling import PollingOptions, PollingService
from aggregator.polling.service import TICK_JOB
from aggregator.storage.models import BalanceReading, Base, LinkedAccount

accounts_t = cast(Table, LinkedAccount.__table__)
readings_t = cast(Table, BalanceReading.__table__)

FAST = PollingOptions(
    tick_interval_s=0.1,
    min_interval_s=0.5,
    lease_s=30,
    send_mail=False,
    start_sink=False,
    max_batch=5,
)


async def readings_by_account(env: InProcessEnv) -> dict[int, list[dt.datetime]]:
    async with env.engine.connect() as conn:
        rows = (
            await conn.execute(
                select(readings_t.c.account_id, readings_t.c.id).order_by(readings_t.c.id)
            )
        ).all()
    out: dict[int, list[Any]] = {}
    for account_id, reading_id in rows:
        out.setdefault(account_id, []).append(reading_id)
    return out


# Our schema's tables (every migration's): the scheduler may add none of its own.
OUR_TABLES = {"alembic_version", *Base.metadata.tables}


async def table_names(env: InProcessEnv) -> set[str]:
    async with env.engine.connect() as conn:
        return set(await conn.run_sync(lambda sync: inspect(sync).get_table_names()))


async def wait_until(condition: Any, limit_s: float = 60.0) -> None:
    for _ in range(int(limit_s / 0.05)):
        if await condition():
            return
        await asyncio.sleep(0.05)
    raise AssertionError("timed out")


async def test_scheduler_polls_each_account_on_its_interval(env: InProcessEnv) -> None:
    household = await create_household(env.engine, poll_interval_s=1)
    ids: list[int] = []
    secrets: list[str] = []
    for operator in ("reference", "netbynet", "rostelecom"):
        new, items = await env.link(operator, 8, household_id=household)
        ids += new
        secrets += [item["password"] for item in items] + [item["token"] for item in items]
    polls: Counter[int] = Counter()
    in_flight: set[int] = set()
    overlaps: list[int] = []

    async with PollingService(
        env.runtime, settings=env.settings, options=FAST, vault=env.vault
    ) as service:
        original_poll = service.runner.poller.poll

        async def watched(account: Any) -> Any:
            if account.id in in_flight:
                overlaps.append(account.id)
            in_flight.add(account.id)
            try:
                return await original_poll(account)
            finally:
                in_flight.discard(account.id)
                polls[account.id] += 1

        service.runner.poller.poll = watched  # type: ignore[method-assign]
        # The scheduler holds one job, the tick, with no arguments: no account, no secret.
        assert service.scheduler is not None
        jobs = service.scheduler.get_jobs()
        assert [job.id for job in jobs] == [TICK_JOB]
        assert jobs[0].args == () and jobs[0].kwargs == {}
        assert not any(secret in repr(jobs[0].__getstate__()) for secret in secrets)

        async def everyone_polled_three_times() -> bool:
            return all(polls[i] >= 3 for i in ids)

        await wait_until(everyone_polled_three_times)

    assert not overlaps
    readings = await readings_by_account(env)
    assert all(len(readings[i]) >= 3 for i in ids)
    assert await table_names(env) <= OUR_TABLES  # the scheduler keeps nothing in the database


async def test_restarts_free_their_claims_and_leave_no_scheduler_state(env: InProcessEnv) -> None:
    household = await create_household(env.engine, poll_interval_s=3600)
    ids, _ = await env.link("reference", 4, household_id=household)
    # A previous life of this identity died holding claims: they are freed on start.
    from aggregator.polling.service import _tag, default_identity

    async with env.engine.begin() as conn:
        await conn.execute(
            update(accounts_t)
            .where(accounts_t.c.id.in_(ids))
            .values(
                poll_claim=f"{_tag(default_identity())}.dead",
                next_due_at=dt.datetime.now(dt.UTC) + dt.timedelta(hours=1),
            )
        )
    for _ in range(3):
        async with PollingService(
            env.runtime, settings=env.settings, options=FAST, vault=env.vault
        ) as service:

            async def all_polled() -> bool:
                readings = await readings_by_account(env)
                return all(readings.get(i) for i in ids)

            await wait_until(all_polled)
            assert service.scheduler is not None
            assert [job.id for job in service.scheduler.get_jobs()] == [TICK_JOB]
        assert service.scheduler is None  # stopped with the service
    async with env.engine.connect() as conn:
        claims = (
            (await conn.execute(select(accounts_t.c.poll_claim).where(accounts_t.c.id.in_(ids))))
            .scalars()
            .all()
        )
    assert await table_names(env) <= OUR_TABLES
    assert claims == [None] * len(ids)
    readings = await readings_by_account(env)
    assert all(len(readings[i]) == 1 for i in ids)  # hourly: once, whatever the restarts


async def test_manual_poll_and_paused_accounts(env: InProcessEnv) -> None:
    household = await create_household(env.engine)
    ids, _ = await env.link("reference", 2, household_id=household)
    async with env.engine.begin() as conn:
        await conn.execute(
            update(accounts_t)
            .where(accounts_t.c.id == ids[1])
            .values(status="needs_login", last_error_key="auth.invalid_credentials")
        )
    options = PollingOptions(send_mail=False, start_sink=False)
    async with PollingService(
        env.runtime, settings=env.settings, options=options, vault=env.vault, schedule=False
    ) as service:
        outcome = await service.poll_account(ids[0])
        assert outcome is not None and outcome.status == "ok" and outcome.balance is not None
        paused = await service.poll_account(ids[1])
        assert paused is not None and paused.status == "needs_login"
        assert paused.error_key == "auth.invalid_credentials"
        assert await service.poll_account(999_999) is None
    readings = await readings_by_account(env)
    assert len(readings[ids[0]]) == 1 and ids[1] not in readings


async def test_backlog_drains_without_waiting_for_the_interval_and_kick_looks_now(
    env: InProcessEnv,
) -> None:
    """One batch of two at a time, a tick every hour: each finished batch asks for the next
    tick at once, so ten accounts are polled long before the interval; a kick does the same
    for an account made due from outside (a new link)."""
    household = await create_household(env.engine, poll_interval_s=3600)
    ids, _ = await env.link("reference", 10, household_id=household)
    options = PollingOptions(
        tick_interval_s=3600,
        jobs_per_operator=1,
        max_batch=2,
        send_mail=False,
        start_sink=False,
    )
    async with PollingService(
        env.runtime, settings=env.settings, options=options, vault=env.vault
    ) as service:

        async def all_polled() -> bool:
            readings = await readings_by_account(env)
            return all(readings.get(i) for i in ids)

        await wait_until(all_polled, 30)
        async with env.engine.begin() as conn:
            await conn.execute(
                update(accounts_t).where(accounts_t.c.id == ids[0]).values(next_due_at=None)
            )
        service.kick()

        async def polled_again() -> bool:
            return len((await readings_by_account(env))[ids[0]]) == 2

        await wait_until(polled_again, 30)
    readings = await readings_by_account(env)
    assert [len(readings[i]) for i in ids] == [2] + [1] * 9


async def test_stopping_mid_batch_gives_the_claims_back(env: InProcessEnv) -> None:
    household = await create_household(env.engine, poll_interval_s=3600)
    ids, _ = await env.link("reference", 6, household_id=household)
    options = PollingOptions(max_batch=6, send_mail=False, start_sink=False, stop_timeout_s=0.2)
    started = asyncio.Event()
    async with PollingService(
        env.runtime, settings=env.settings, options=options, vault=env.vault
    ) as service:

        async def stuck(account: Any) -> Any:
            started.set()
            await asyncio.sleep(3600)

        service.runner.poller.poll = stuck  # type: ignore[method-assign]
        await asyncio.wait_for(started.wait(), 30)
        assert service.running_batches.get("reference", 0) >= 1
    async with env.engine.connect() as conn:
        rows = (
            await conn.execute(
                select(accounts_t.c.poll_claim, accounts_t.c.next_due_at).where(
                    accounts_t.c.id.in_(ids)
                )
            )
        ).all()
    now = dt.datetime.now(dt.UTC)
    assert all(row.poll_claim is None for row in rows)
    assert all(row.next_due_at.replace(tzinfo=dt.UTC) <= now for row in rows)  # due again
