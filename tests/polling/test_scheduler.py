"""The embedded scheduler (APScheduler 4 on SQLite): due accounts get polled on their own
interval, never twice at once; job arguments are account ids; one schedule, whatever the
restarts; manual polls and needs_login accounts."""

from __future__ import annotations

import asyncio
import datetime as dt
import pickle
from collections import Counter
from typing import Any, cast

from sqlalchemy import Table, select, text, update

from aggregator.polling import PollingOptions, PollingService
from aggregator.polling.harness import InProcessEnv, create_household
from aggregator.polling.service import DISPATCH_SCHEDULE, POLL_TASK
from aggregator.storage.models import BalanceReading, LinkedAccount

accounts_t = cast(Table, LinkedAccount.__table__)
readings_t = cast(Table, BalanceReading.__table__)

FAST = PollingOptions(
    dispatch_interval_s=0.1,
    dispatch_budget_s=1.0,
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
    jobs: list[dict[str, Any]] = []

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
        async with env.engine.begin() as conn:  # keep a copy of every job's arguments
            await conn.execute(text("CREATE TABLE job_log (task_id TEXT, args BLOB, kwargs BLOB)"))
            await conn.execute(
                text(
                    "CREATE TRIGGER job_log_insert AFTER INSERT ON jobs BEGIN "
                    "INSERT INTO job_log VALUES (new.task_id, new.args, new.kwargs); END"
                )
            )

        async def everyone_polled_three_times() -> bool:
            return all(polls[i] >= 3 for i in ids)

        await wait_until(everyone_polled_three_times)

    assert not overlaps
    async with env.engine.connect() as conn:
        for task_id, args, kwargs in (await conn.execute(text("SELECT * FROM job_log"))).all():
            assert not any(secret.encode() in args + kwargs for secret in secrets)
            jobs.append(
                {"task": task_id, "args": pickle.loads(args), "kwargs": pickle.loads(kwargs)}
            )
    readings = await readings_by_account(env)
    assert all(len(readings[i]) >= 3 for i in ids)
    poll_jobs = [job for job in jobs if job["task"] == POLL_TASK]
    assert poll_jobs
    for job in poll_jobs:
        kwargs = job["kwargs"]
        assert job["args"] == ()
        assert set(kwargs) == {"account_ids", "claim", "provider_id"}
        assert all(isinstance(i, int) for i in kwargs["account_ids"])
        assert not any(secret in repr(kwargs) for secret in secrets)
    async with env.engine.connect() as conn:
        schedules = (await conn.execute(text("SELECT id FROM schedules"))).scalars().all()
    assert schedules == [DISPATCH_SCHEDULE]


async def test_restarts_keep_one_schedule_and_free_their_claims(env: InProcessEnv) -> None:
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
    async with env.engine.connect() as conn:
        schedules = (await conn.execute(text("SELECT id FROM schedules"))).scalars().all()
        claims = (
            (await conn.execute(select(accounts_t.c.poll_claim).where(accounts_t.c.id.in_(ids))))
            .scalars()
            .all()
        )
    assert schedules == [DISPATCH_SCHEDULE]
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
