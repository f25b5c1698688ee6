"""Two ``aggregator worker`` processes on one PostgreSQL (each with its own scheduler tick,
sharing nothing but the claims in ``linked_accounts``) poll 200 accounts: each exactly once,
split fairly between them."""

from __future__ import annotations

import asyncio
import datetime as dt
import os
import signal
import subprocess
import sys
import time
import uuid
from collections import Counter
from collections.abc import AsyncIterator, Iterator, Sequence
from pathlib import Path

import pytest
from reference_provider.testing import ReferenceServer
from reference_provider.testing.aggregator_env import (
    bulk_links,
    create_household,
    link_many,
    provider_urls,
)
from sqlalchemy import func, select, text, update
from sqlalchemy.engine import make_url
from sqlalchemy.ext.asyncio import AsyncEngine

from aggregator.plugins import load_plugins
from aggregator.runtime import Runtime
from aggregator.settings import Settings
from aggregator.storage.db import create_engine
from aggregator.storage.models import BalanceReading, LinkedAccount
from aggregator.storage.schema import upgrade
from aggregator.vault import Vault

pytestmark = pytest.mark.postgres

SCRIPT = Path(__file__).with_name("worker_process.py")
ACCOUNTS = {"reference": 80, "netbynet": 40, "rostelecom": 40, "beeline": 40}
ENV = "AGGREGATOR_TEST_POSTGRES_URL"


async def _admin(sql: str) -> None:
    import psycopg

    server = make_url(os.environ[ENV]).set(drivername="postgresql")
    async with await psycopg.AsyncConnection.connect(
        server.render_as_string(hide_password=False), autocommit=True
    ) as conn:
        await conn.execute(sql)  # type: ignore[arg-type]


@pytest.fixture
async def pg_url() -> AsyncIterator[str]:
    if not os.environ.get(ENV):
        pytest.skip(f"{ENV} is unset (make test or scripts/with-postgres.sh sets it)")
    name = f"aggpoll_{uuid.uuid4().hex[:10]}"
    await _admin(f'CREATE DATABASE "{name}"')
    try:
        yield make_url(os.environ[ENV]).set(database=name).render_as_string(hide_password=False)
    finally:
        await _admin(f'DROP DATABASE IF EXISTS "{name}" WITH (FORCE)')


@pytest.fixture
def server() -> Iterator[ReferenceServer]:
    with ReferenceServer(clock_speed=0) as server:
        yield server


def start_worker(
    tmp_path: Path,
    n: int,
    pg_url: str,
    settings: Settings,
    server: ReferenceServer,
    extra: Sequence[str] = (),
) -> tuple[subprocess.Popen[bytes], Path]:
    events = tmp_path / f"worker-{n}.log"
    events.touch()
    process = subprocess.Popen(
        [
            sys.executable,
            str(SCRIPT),
            "--database-url",
            pg_url,
            "--data-dir",
            str(settings.data_dir),
            "--provider",
            server.url,
            "--identity",
            f"test-worker-{n}",
            "--events",
            str(events),
            *extra,
        ],
        stderr=open(tmp_path / f"worker-{n}.err", "wb"),  # noqa: SIM115
    )
    return process, events


async def link_accounts(
    tmp_path: Path, pg_url: str, server: ReferenceServer, accounts: dict[str, int]
) -> tuple[Settings, AsyncEngine, list[int]]:
    """``accounts`` linked in a fresh household, not due (until :func:`poll_with_workers`)."""
    registry = load_plugins()
    settings = Settings(
        data_dir=tmp_path / "data",
        database_url=pg_url,
        provider_urls=provider_urls(registry, server.url),
    )
    settings.data_dir.mkdir()
    engine = create_engine(pg_url)
    await upgrade(engine)
    vault = Vault.from_settings(settings)
    household = await create_household(engine, poll_interval_s=3600)
    ids: list[int] = []
    async with Runtime(settings, registry=registry) as runtime:
        for operator, count in accounts.items():
            items = server.bulk(operator, count)
            links = await bulk_links(runtime.provider(operator), items)
            ids += await link_many(engine, vault, household, registry.provider(operator), links)
    # Not due until every worker is up: the split measures sharing, not who started first.
    later = dt.datetime.now(dt.UTC) + dt.timedelta(days=1)
    async with engine.begin() as conn:
        await conn.execute(update(LinkedAccount).values(next_due_at=later))
    return settings, engine, ids


async def poll_with_workers(
    tmp_path: Path,
    pg_url: str,
    server: ReferenceServer,
    settings: Settings,
    engine: AsyncEngine,
    ids: list[int],
    workers: int,
    extra: Sequence[str] = (),
) -> list[Counter[int]]:
    """Start ``workers`` workers, make every account due, wait until each has a reading;
    the accounts each worker polled (from its events file)."""
    started = [
        start_worker(tmp_path, n, pg_url, settings, server, extra) for n in range(1, workers + 1)
    ]
    try:
        deadline = time.monotonic() + 180
        while not all("READY" in events.read_text() for _, events in started):
            assert time.monotonic() < deadline, "the workers did not start"
            for process, _ in started:
                assert process.poll() is None, "a worker died"
            await asyncio.sleep(0.1)
        async with engine.begin() as conn:
            await conn.execute(update(LinkedAccount).values(next_due_at=dt.datetime.now(dt.UTC)))
        while True:
            async with engine.connect() as conn:
                polled = await conn.scalar(
                    select(func.count(func.distinct(BalanceReading.account_id)))
                )
            if polled == len(ids):
                break
            assert time.monotonic() < deadline, f"only {polled} accounts polled"
            for process, _ in started:
                assert process.poll() is None, "a worker died"
            await asyncio.sleep(0.2)
        await asyncio.sleep(2.0)  # room for a duplicate poll to show up, if there were one
    finally:
        for process, _ in started:
            process.send_signal(signal.SIGTERM)
        for process, _ in started:
            process.wait(60)
    polls: list[Counter[int]] = []
    for _, events in started:
        lines = events.read_text().splitlines()
        assert "READY" in lines
        polls.append(Counter(int(line.split()[1]) for line in lines if line.startswith("POLL")))
    return polls


async def test_two_workers_split_200_accounts_without_duplicates(
    tmp_path: Path, pg_url: str, server: ReferenceServer
) -> None:
    settings, engine, ids = await link_accounts(tmp_path, pg_url, server, ACCOUNTS)
    assert len(ids) == 200
    polls = await poll_with_workers(tmp_path, pg_url, server, settings, engine, ids, 2)
    both = polls[0] + polls[1]
    assert set(both) == set(ids)
    assert max(both.values()) == 1, "an account was polled twice"
    shares = [sum(p.values()) for p in polls]
    assert min(shares) >= 0.25 * len(ids), f"unfair split {shares}"
    async with engine.connect() as conn:
        readings = await conn.scalar(select(func.count()).select_from(BalanceReading))
        schemas = (await conn.execute(text("SELECT nspname FROM pg_namespace"))).scalars().all()
    await engine.dispose()
    assert readings == len(ids)
    assert "apscheduler" not in schemas  # the scheduler keeps nothing in the database
    print(f"\nsplit between the two workers: {shares}")


async def test_three_workers_together_stay_within_each_operators_limit(
    tmp_path: Path, pg_url: str, server: ReferenceServer
) -> None:
    """The operators' limit of requests at once (lowered to 3 by the settings) holds for the
    cluster: the reference provider counts the requests each operator has in flight, and with
    three workers (each alone would send 3 at once) no operator ever sees more than 3."""
    accounts = {"reference": 60, "netbynet": 30, "beeline": 30, "rostelecom": 30}
    settings, engine, ids = await link_accounts(tmp_path, pg_url, server, accounts)
    server.fault("latency", seconds=0.03)  # every request takes a while: they overlap
    server.reset_in_flight()
    polls = await poll_with_workers(
        tmp_path,
        pg_url,
        server,
        settings,
        engine,
        ids,
        3,
        ["--per-operator-concurrency", "3"],
    )
    server.clear_faults()
    seen = server.in_flight()
    await engine.dispose()
    every = sum(polls, Counter[int]())
    assert set(every) == set(ids)
    assert max(every.values()) == 1, "an account was polled twice"
    assert sum(1 for p in polls if p) >= 2, "one worker polled everything"
    peaks = {op: counts["peak"] for op, counts in seen.items()}
    assert set(accounts) <= set(peaks)
    assert max(peaks.values()) <= 3, f"an operator saw more than its limit at once: {peaks}"
    assert max(peaks.values()) >= 2, (
        f"the limit was never reached, the test proves nothing: {peaks}"
    )
    print(
        f"\npeak requests at once per operator: {peaks}; polls per worker: "
        f"{[sum(p.values()) for p in polls]}"
    )
