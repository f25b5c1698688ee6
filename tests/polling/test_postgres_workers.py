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
from collections.abc import AsyncIterator, Iterator
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
    tmp_path: Path, n: int, pg_url: str, settings: Settings, server: ReferenceServer
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
        ],
        stderr=open(tmp_path / f"worker-{n}.err", "wb"),  # noqa: SIM115
    )
    return process, events


async def test_two_workers_split_200_accounts_without_duplicates(
    tmp_path: Path, pg_url: str, server: ReferenceServer
) -> None:
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
        for operator, count in ACCOUNTS.items():
            items = server.bulk(operator, count)
            links = await bulk_links(runtime.provider(operator), items)
            ids += await link_many(engine, vault, household, registry.provider(operator), links)
    assert len(ids) == 200

    # Not due until both workers are up: the split measures sharing, not who started first.
    later = dt.datetime.now(dt.UTC) + dt.timedelta(days=1)
    async with engine.begin() as conn:
        await conn.execute(update(LinkedAccount).values(next_due_at=later))
    workers = [start_worker(tmp_path, n, pg_url, settings, server) for n in (1, 2)]
    try:
        deadline = time.monotonic() + 120
        while not all("READY" in events.read_text() for _, events in workers):
            assert time.monotonic() < deadline, "the workers did not start"
            for process, _ in workers:
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
            for process, _ in workers:
                assert process.poll() is None, "a worker died"
            await asyncio.sleep(0.2)
        await asyncio.sleep(2.0)  # room for a duplicate poll to show up, if there were one
    finally:
        for process, _ in workers:
            process.send_signal(signal.SIGTERM)
        for process, _ in workers:
            process.wait(60)

    polls: list[Counter[int]] = []
    for _, events in workers:
        lines = events.read_text().splitlines()
        assert "READY" in lines
        polls.append(Counter(int(line.split()[1]) for line in lines if line.startswith("POLL")))
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
