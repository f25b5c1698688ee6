"""``aggregator worker --metrics-port``: a real worker process on PostgreSQL polls reference
accounts and serves its own Prometheus metrics; the cluster's numbers, read from the database
as the server's ``/metrics`` reads them, agree with what the worker counted."""

from __future__ import annotations

import asyncio
import signal
import socket
import subprocess
import sys
import time
from pathlib import Path

import httpx
import pytest
from prometheus_client.parser import text_string_to_metric_families
from reference_provider.testing import ReferenceServer
from reference_provider.testing.aggregator_env import (
    bulk_links,
    create_household,
    link_many,
    provider_urls,
)
from sqlalchemy import func, select

from aggregator.plugins import load_plugins
from aggregator.runtime import Runtime
from aggregator.services.health import exposition
from aggregator.settings import Settings
from aggregator.storage.db import create_engine
from aggregator.storage.models import BalanceReading
from aggregator.storage.schema import upgrade
from aggregator.vault import Vault

from .test_postgres_workers import SCRIPT, pg_url, server  # noqa: F401 (fixtures)

pytestmark = pytest.mark.postgres


def _free_port() -> int:
    with socket.socket() as probe:
        probe.bind(("127.0.0.1", 0))
        return int(probe.getsockname()[1])


def _samples(body: str) -> dict[tuple[str, frozenset[tuple[str, str]]], float]:
    return {
        (sample.name, frozenset(sample.labels.items())): sample.value
        for family in text_string_to_metric_families(body)
        for sample in family.samples
    }


def _start_worker(
    tmp_path: Path, database_url: str, settings: Settings, provider: str, port: int
) -> subprocess.Popen[bytes]:
    events = tmp_path / "events.log"
    events.touch()
    return subprocess.Popen(
        [
            sys.executable,
            str(SCRIPT),
            "--database-url",
            database_url,
            "--data-dir",
            str(settings.data_dir),
            "--provider",
            provider,
            "--identity",
            "metrics-worker",
            "--events",
            str(events),
            "--metrics-port",
            str(port),
        ],
        stderr=open(tmp_path / "worker.err", "wb"),
    )


async def test_a_worker_serves_its_metrics_and_the_database_shows_the_cluster(
    tmp_path: Path,
    pg_url: str,  # noqa: F811
    server: ReferenceServer,  # noqa: F811
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
    async with Runtime(settings, registry=registry) as runtime:
        links = await bulk_links(runtime.provider("netbynet"), server.bulk("netbynet", 12))
        ids = await link_many(engine, vault, household, registry.provider("netbynet"), links)
    port = _free_port()
    process = _start_worker(tmp_path, pg_url, settings, server.url, port)
    try:
        deadline = time.monotonic() + 120
        while True:
            async with engine.connect() as conn:
                polled = await conn.scalar(
                    select(func.count(func.distinct(BalanceReading.account_id)))
                )
            if polled == len(ids):
                break
            assert process.poll() is None, (tmp_path / "worker.err").read_text()[-2000:]
            assert time.monotonic() < deadline, f"only {polled} accounts polled"
            await asyncio.sleep(0.2)
        async with httpx.AsyncClient() as http:
            for _ in range(50):  # the counter moves after the reading is committed
                worker = _samples((await http.get(f"http://127.0.0.1:{port}/metrics")).text)
                polls = worker.get(
                    (
                        "aggregator_polls_total",
                        frozenset({("operator", "netbynet"), ("status", "ok")}),
                    )
                )
                if polls == len(ids):
                    break
                await asyncio.sleep(0.1)
    finally:
        process.send_signal(signal.SIGTERM)
        process.wait(60)
    assert polls == len(ids)
    netbynet = frozenset({("operator", "netbynet")})
    assert worker[("aggregator_poll_duration_seconds_count", netbynet)] == len(ids)
    assert worker[("aggregator_scheduler_tick_age_seconds", frozenset())] < 60
    assert worker[("aggregator_breaker_state", netbynet | {("state", "closed")})] == 1
    assert worker[("aggregator_operator_requests_total", netbynet)] >= len(ids)
    assert (
        1
        <= worker[("aggregator_operator_requests_in_flight_peak", netbynet)]
        <= (worker[("aggregator_operator_concurrency_limit", netbynet)])
    )
    cluster = _samples((await exposition(engine)).decode())
    await engine.dispose()
    assert cluster[("aggregator_accounts", netbynet | {("status", "ok")})] == len(ids)
    assert cluster[("aggregator_accounts_claimed", netbynet)] == 0
    assert ("aggregator_polls_total", netbynet | {("status", "ok")}) not in cluster
    assert cluster[("aggregator_cluster_breaker_state", netbynet | {("state", "closed")})] == 1
