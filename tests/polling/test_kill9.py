"""kill -9 during polling, 20 times: nothing committed is lost, the database stays sound, no
scheduler state is left behind (the claims are the only schedule), polling resumes, and an
alert opened just before a kill is mailed exactly once after the restart.

The poller runs as its own process (tests/polling/poller_process.py: the embedded
PollingService, its APScheduler tick, claims in SQLite) against the reference provider on
loopback (another process) and mails to a real aiosmtpd server in this process.
"""

from __future__ import annotations

import asyncio
import contextlib
import os
import random
import signal
import sqlite3
import subprocess
import sys
import time
from collections.abc import Callable, Iterator
from pathlib import Path

import pytest
from reference_provider.testing import ReferenceServer, free_port
from reference_provider.testing.aggregator_env import (
    bulk_links,
    create_household,
    link_many,
    provider_urls,
)

from aggregator.alerts.sink import MailSink
from aggregator.plugins import load_plugins
from aggregator.runtime import Runtime
from aggregator.settings import Settings
from aggregator.storage.db import create_engine
from aggregator.storage.schema import upgrade
from aggregator.vault import Vault

pytestmark = pytest.mark.slow

SCRIPT = Path(__file__).with_name("poller_process.py")
ROUNDS = 20
OPERATORS = {"reference": 12, "netbynet": 6, "rostelecom": 6, "beeline": 6}


class Zygote:
    """poller_process.py --zygote: forks one poller process per life (imports done once)."""

    def __init__(self, data_dir: Path, provider: str, sink_port: int) -> None:
        self.data_dir = data_dir
        self.process = subprocess.Popen(
            [
                sys.executable,
                str(SCRIPT),
                "--zygote",
                "--data-dir",
                str(data_dir),
                "--provider",
                provider,
                "--sink-port",
                str(sink_port),
            ],
            stdin=subprocess.PIPE,
            stdout=subprocess.PIPE,
            stderr=open(data_dir / "poller.log", "ab"),  # noqa: SIM115
            env={**os.environ, "PYTHONUNBUFFERED": "1"},
            text=True,
        )
        self.lives = 0
        self.children: list[int] = []

    def ask(self, command: str) -> str:
        assert self.process.stdin is not None and self.process.stdout is not None
        self.process.stdin.write(command + "\n")
        self.process.stdin.flush()
        return self.process.stdout.readline().strip()

    def spawn(self) -> Poller:
        self.lives += 1
        events = self.data_dir / f"events-{self.lives}.log"
        answer = self.ask(f"spawn {self.lives}")
        assert answer.startswith("PID "), answer
        self.children.append(int(answer.split()[1]))
        return Poller(self, self.children[-1], events)

    def close(self) -> None:
        """Stop the zygote, and the poller a failed test left running (its child, not reaped
        yet, so the pid is still ours)."""
        for pid in self.children:
            with contextlib.suppress(ProcessLookupError):
                os.kill(pid, signal.SIGKILL)
        assert self.process.stdin is not None
        self.process.stdin.close()
        try:
            self.process.wait(30)
        except subprocess.TimeoutExpired:
            self.process.kill()


class Poller:
    """One life of the poller: a process forked by the zygote; what it reported."""

    def __init__(self, zygote: Zygote, pid: int, events: Path) -> None:
        self.zygote = zygote
        self.pid = pid
        self.events = events
        self.committed: set[int] = set()
        self.commits = 0
        self.queued = 0
        self._offset = 0

    def read(self) -> None:
        if not self.events.exists():
            return
        with open(self.events, "rb") as handle:
            handle.seek(self._offset)
            data = handle.read()
        complete = data[: data.rfind(b"\n") + 1]
        self._offset += len(complete)
        for line in complete.decode().splitlines():
            word, _, rest = line.partition(" ")
            if word == "COMMIT":
                self.committed.update(int(x) for x in rest.split())
                self.commits += 1
            elif word == "QUEUED":
                self.queued += int(rest)

    def alive(self) -> bool:
        return Path(f"/proc/{self.pid}").exists()

    def wait_for(self, condition: Callable[[], bool], timeout: float = 60.0) -> None:
        deadline = time.monotonic() + timeout
        while True:
            self.read()
            if condition():
                return
            if not self.alive():
                raise AssertionError(f"poller {self.pid} died")
            if time.monotonic() > deadline:
                raise AssertionError("the poller did not get there in time")
            time.sleep(0.02)

    def kill9(self) -> None:
        assert self.zygote.ask(f"kill {self.pid}") == f"DEAD {self.pid}"
        self.zygote.children.remove(self.pid)
        self.read()  # lines written before the kill

    def stop(self) -> None:
        assert self.zygote.ask(f"term {self.pid}") == f"DEAD {self.pid}"
        self.zygote.children.remove(self.pid)
        self.read()


@pytest.fixture(scope="module")
def server() -> Iterator[ReferenceServer]:
    with ReferenceServer(clock_speed=0) as server:
        yield server


SCHEDULER_TABLES = {"schedules", "jobs", "tasks", "job_results", "apscheduler_jobs"}


def db_state(path: Path) -> tuple[str, set[int], set[str], dict[str, int]]:
    with sqlite3.connect(path) as db:
        integrity = db.execute("PRAGMA integrity_check").fetchone()[0]
        readings = {row[0] for row in db.execute("SELECT id FROM balance_readings")}
        tables = {row[0] for row in db.execute("SELECT name FROM sqlite_master WHERE type='table'")}
        outbox = dict(db.execute("SELECT status, count(*) FROM outbox GROUP BY status").fetchall())
    return integrity, readings, tables, outbox


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
        household = await create_household(
            engine, users=[("ivan@example.ru", "ru")], poll_interval_s=1
        )
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
    zygote = Zygote(data_dir, server.url, sink.port)
    with sink, contextlib.closing(zygote):
        for round_ in range(ROUNDS):
            low = round_ % 2 == 0  # every other round an alert opens just before the kill
            if low:
                operator, number = numbers[round_ // 2]
                server.set_balance(operator, number, "12.34")
            poller = zygote.spawn()
            try:
                if low:
                    poller.wait_for(lambda p=poller: p.queued > 0)
                    alerts_opened += 1
                    mails_then = sink.store.count()
                else:
                    poller.wait_for(lambda p=poller: p.commits >= 1)
                    time.sleep(rng.uniform(0.0, 0.5))  # a random moment of the cycle
            finally:
                poller.kill9()
            if low:
                mailed_before_kill += sink.store.count() - mails_then
            assert poller.commits > 0, "polling resumed after the restart"
            committed |= poller.committed
            integrity, readings, tables, _ = db_state(database)
            assert integrity == "ok"
            assert committed <= readings, f"lost {sorted(committed - readings)[:10]}"
            assert not tables & SCHEDULER_TABLES

        # A last, graceful life sends whatever the kills left in the outbox.
        poller = zygote.spawn()
        try:
            poller.wait_for(lambda: db_state(database)[3].keys() <= {"sent"}, timeout=60)
            poller.wait_for(lambda p=poller: p.commits >= 1)
        finally:
            poller.stop()
        committed |= poller.committed

    integrity, readings, tables, outbox = db_state(database)
    assert integrity == "ok" and committed <= readings
    assert not tables & SCHEDULER_TABLES
    assert outbox == {"sent": alerts_opened}
    mails = sink.store.list()
    assert len(mails) == alerts_opened  # exactly one e-mail per alert
    assert len({m.subject for m in mails}) == alerts_opened
    # Every resend is detected: a delivery the server saw twice was recorded as a resend (a
    # kill between recording the attempt and the server's accept is a recorded resend the
    # server saw once, hence >=).
    with sqlite3.connect(database) as db:
        recorded_resends = db.execute("SELECT coalesce(sum(resends), 0) FROM outbox").fetchone()[0]
        unrecorded = db.execute("SELECT count(*) FROM outbox WHERE message_id IS NULL").fetchone()
    assert unrecorded[0] == 0
    assert sink.deliveries == alerts_opened + sink.duplicates
    assert recorded_resends >= sink.duplicates
    print(
        f"\n{ROUNDS} kills: {len(committed)} committed readings all present; "
        f"{alerts_opened} alerts, {mailed_before_kill} mailed before their kill, "
        f"{sink.deliveries} SMTP deliveries ({sink.duplicates} resends shown once, "
        f"{recorded_resends} resends recorded)"
    )
