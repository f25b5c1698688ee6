"""kill -9 during polling, 20 times: nothing committed is lost, the database stays sound,
the schedule is never duplicated, polling resumes, and an alert opened just before a kill is
mailed exactly once after the restart.

The poller runs as its own process (tests/polling/poller_process.py: the embedded
PollingService, APScheduler on SQLite) against the reference provider on loopback (another
process) and mails to a real aiosmtpd server in this process.
"""

from __future__ import annotations

import asyncio
import os
import random
import selectors
import signal
import sqlite3
import subprocess
import sys
import time
from collections.abc import Iterator
from pathlib import Path

import pytest

from aggregator.alerts.sink import MailSink
from aggregator.plugins import load_plugins
from aggregator.polling.harness import (
    ReferenceServer,
    bulk_links,
    create_household,
    free_port,
    link_many,
    provider_urls,
)
from aggregator.runtime import Runtime
from aggregator.settings import Settings
from aggregator.storage.db import create_engine
from aggregator.storage.schema import upgrade
from aggregator.vault import Vault

pytestmark = pytest.mark.slow

SCRIPT = Path(__file__).with_name("poller_process.py")
ROUNDS = 20
OPERATORS = {"reference": 12, "netbynet": 6, "rostelecom": 6, "beeline": 6}


class Poller:
    """One life of the poller process; collects what it reported."""

    def __init__(self, data_dir: Path, provider: str, sink_port: int) -> None:
        self.process = subprocess.Popen(
            [
                sys.executable,
                str(SCRIPT),
                "--data-dir",
                str(data_dir),
                "--provider",
                provider,
                "--sink-port",
                str(sink_port),
            ],
            stdout=subprocess.PIPE,
            stderr=open(data_dir / "poller.log", "ab"),  # noqa: SIM115
            env={**os.environ, "PYTHONUNBUFFERED": "1"},
        )
        self.committed: set[int] = set()
        self.commits = 0
        self.queued = 0
        self._buffer = b""
        assert self.process.stdout is not None
        os.set_blocking(self.process.stdout.fileno(), False)

    def read(self, timeout: float) -> None:
        assert self.process.stdout is not None
        with selectors.DefaultSelector() as selector:
            selector.register(self.process.stdout, selectors.EVENT_READ)
            if not selector.select(timeout):
                return
        chunk = self.process.stdout.read() or b""
        self._buffer += chunk
        *lines, self._buffer = self._buffer.split(b"\n")
        for line in lines:
            word, _, rest = line.decode().partition(" ")
            if word == "COMMIT":
                self.committed.update(int(x) for x in rest.split())
                self.commits += 1
            elif word == "QUEUED":
                self.queued += int(rest)

    def wait_for(self, condition: object, timeout: float = 30.0) -> None:
        deadline = time.monotonic() + timeout
        while not condition():  # type: ignore[operator]
            if self.process.poll() is not None:
                raise AssertionError(f"the poller exited with {self.process.returncode}")
            if time.monotonic() > deadline:
                raise AssertionError("the poller did not get there in time")
            self.read(0.05)

    def kill9(self) -> None:
        self.process.send_signal(signal.SIGKILL)
        self.process.wait(10)
        self.read(0)  # lines written before the kill

    def stop(self) -> None:
        self.process.send_signal(signal.SIGTERM)
        self.process.wait(30)
        self.read(0)


@pytest.fixture(scope="module")
def server() -> Iterator[ReferenceServer]:
    with ReferenceServer(clock_speed=0) as server:
        yield server


def db_state(path: Path) -> tuple[str, set[int], list[str], dict[str, int]]:
    with sqlite3.connect(path) as db:
        integrity = db.execute("PRAGMA integrity_check").fetchone()[0]
        readings = {row[0] for row in db.execute("SELECT id FROM balance_readings")}
        schedules = [row[0] for row in db.execute("SELECT id FROM schedules")]
        outbox = dict(db.execute("SELECT status, count(*) FROM outbox GROUP BY status").fetchall())
    return integrity, readings, schedules, outbox


def test_kill9_during_polling_loses_nothing(tmp_path: Path, server: ReferenceServer) -> None:
    data_dir = tmp_path / "data"
    data_dir.mkdir()
    sink = MailSink(data_dir / "mail", port=free_port())
    registry = load_plugins()
    settings = Settings(data_dir=data_dir, provider_urls=provider_urls(registry, server.url))
    numbers: list[tuple[str, str]] = []

    async def setup() -> None:
        engine = create_engine(settings.resolved_database_url)
        await upgrade(engine)
        vault = Vault.from_settings(settings)
        household = await create_household(engine, users=[("ivan@example.ru", "ru")])
        async with Runtime(settings, registry=registry) as runtime:
            for operator, count in OPERATORS.items():
                items = server.bulk(operator, count, balance="900.00")
                links = await bulk_links(runtime.provider(operator), items)
                await link_many(engine, vault, household, registry.provider(operator), links)
                numbers.extend((operator, item["number"]) for item in items)
        await engine.dispose()

    asyncio.run(setup())
    database = data_dir / "aggregator.db"
    committed: set[int] = set()
    alerts_opened = 0
    mailed_before_kill = 0
    rng = random.Random(20240501)
    with sink:
        for round_ in range(ROUNDS):
            low = round_ % 2 == 0  # every other round an alert opens just before the kill
            if low:
                operator, number = numbers[round_ // 2]
                server.set_balance(operator, number, "12.34")
            poller = Poller(data_dir, server.url, sink.port)
            try:
                if low:
                    poller.wait_for(lambda p=poller: p.queued > 0)
                    alerts_opened += 1
                    mails_then = sink.store.count()
                else:
                    poller.wait_for(lambda p=poller: p.commits >= 2)
                    poller.read(rng.uniform(0.0, 0.4))  # a random moment of the cycle
            finally:
                poller.kill9()
            if low:
                mailed_before_kill += sink.store.count() - mails_then
            assert poller.commits > 0, "polling resumed after the restart"
            committed |= poller.committed
            integrity, readings, schedules, _ = db_state(database)
            assert integrity == "ok"
            assert committed <= readings, f"lost {sorted(committed - readings)[:10]}"
            assert schedules == ["aggregator.poll-dispatch"]

        # A last, graceful life sends whatever the kills left in the outbox.
        poller = Poller(data_dir, server.url, sink.port)
        try:
            poller.wait_for(lambda: db_state(database)[3].keys() <= {"sent"}, timeout=60)
            poller.wait_for(lambda p=poller: p.commits >= 1)
        finally:
            poller.stop()
        committed |= poller.committed

    integrity, readings, schedules, outbox = db_state(database)
    assert integrity == "ok" and committed <= readings
    assert schedules == ["aggregator.poll-dispatch"]
    assert outbox == {"sent": alerts_opened}
    mails = sink.store.list()
    assert len(mails) == alerts_opened  # exactly one e-mail per alert
    assert len({m.subject for m in mails}) == alerts_opened
    print(
        f"\n{ROUNDS} kills: {len(committed)} committed readings all present; "
        f"{alerts_opened} alerts, {mailed_before_kill} mailed before their kill, "
        f"{sink.deliveries} SMTP deliveries ({sink.duplicates} resends shown once)"
    )
