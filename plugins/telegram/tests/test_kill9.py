"""kill -9 while alerts go to Telegram: none is lost.

The sending side runs as its own process (sender_process.py: the PollingService's outbox
sender and the channel's loop) against the fake Bot API on loopback, which answers each
delivered message a little late: a kill in that window leaves a message delivered but not yet
marked sent. The process is killed (SIGKILL) at random moments, again and again, then left to
finish: every queued alert must have reached its chat (at least once; a resend after a kill is
the only way to see one twice), and every outbox row ends ``sent``.

The same approach as the mail test (tests/polling/test_kill9.py): a real process, a real kill,
the database and the receiving server as the witnesses.
"""

from __future__ import annotations

import asyncio
import json
import os
import random
import signal
import subprocess
import sys
import time
from pathlib import Path

import pytest
from aggregator_telegram.fake import FakeBotApi
from reference_provider.testing import free_port, running_server
from reference_provider.testing.aggregator_env import create_household
from sqlalchemy import func, insert, select

from aggregator.plugins import load_plugins
from aggregator.services import channels as channel_service
from aggregator.settings import Settings
from aggregator.storage.db import create_engine, session_factory
from aggregator.storage.models import NotifierRecipient, OutboxMessage, utcnow
from aggregator.storage.schema import upgrade
from aggregator.vault import Vault

from .conftest import TOKEN

pytestmark = pytest.mark.slow

SCRIPT = Path(__file__).with_name("sender_process.py")
CHATS = 6
ALERTS = 24
KILLS = 4


async def _prepare(settings: Settings) -> None:
    engine = create_engine(settings.resolved_database_url)
    try:
        await upgrade(engine)
        vault = Vault.from_settings(settings)
        registry = load_plugins()
        household = await create_household(engine, users=[("ivan@example.ru", "ru")])
        async with session_factory(engine)() as db:
            await channel_service.save_channel_settings(
                db, vault, registry, household, "telegram", {"bot_token": TOKEN}
            )
        now = utcnow()
        async with engine.begin() as conn:
            for chat in range(CHATS):
                await conn.execute(
                    insert(NotifierRecipient).values(
                        household_id=household,
                        notifier="telegram",
                        address=str(1000 + chat),
                        label=f"chat {chat}",
                        lang="ru",
                        status="active",
                        created_at=now,
                    )
                )
            await conn.execute(
                insert(OutboxMessage),
                [
                    {
                        "household_id": household,
                        "dedupe_key": f"telegram:test:{n}",
                        "notifier": "telegram",
                        "kind": "low_balance",
                        "recipients": [str(1000 + n % CHATS)],
                        "subject": f"alert-{n:03d}",
                        "body_text": "Деньги на счёте заканчиваются",
                        "body_html": "",
                        "lang": "ru",
                        "link": f"http://127.0.0.1:8000/accounts/{n}",
                        "status": "pending",
                        "attempts": 0,
                        "next_attempt_at": now,
                        "created_at": now,
                    }
                    for n in range(ALERTS)
                ],
            )
    finally:
        await engine.dispose()


async def _statuses(settings: Settings) -> dict[str, int]:
    engine = create_engine(settings.resolved_database_url)
    try:
        async with engine.connect() as conn:
            rows = await conn.execute(
                select(OutboxMessage.status, func.count()).group_by(OutboxMessage.status)
            )
            return {status: count for status, count in rows}
    finally:
        await engine.dispose()


def _start(data_dir: Path, url: str, sink_port: int) -> subprocess.Popen[str]:
    process = subprocess.Popen(
        [
            sys.executable,
            str(SCRIPT),
            "--data-dir",
            str(data_dir),
            "--notifier-urls",
            json.dumps({"telegram": url}),
            "--sink-port",
            str(sink_port),
        ],
        stdout=subprocess.PIPE,
        stderr=open(data_dir / "sender.log", "ab"),  # noqa: SIM115
        env={**os.environ, "PYTHONUNBUFFERED": "1"},
        text=True,
    )
    assert process.stdout is not None
    line = process.stdout.readline().strip()
    assert line == "STARTED", (line, (data_dir / "sender.log").read_text()[-2000:])
    return process


def test_kill9_while_sending_loses_no_alert(tmp_path: Path) -> None:
    data_dir = tmp_path / "data"
    data_dir.mkdir()
    fake = FakeBotApi(answer_delay_s=0.15)
    fake.add_bot(TOKEN)
    sink_port = free_port()
    rng = random.Random(18)
    with running_server(fake.app) as url:
        settings = Settings(data_dir=data_dir, notifier_urls={"telegram": url})
        asyncio.run(_prepare(settings))
        kills = 0
        for _ in range(KILLS):
            process = _start(data_dir, url, sink_port)
            time.sleep(rng.uniform(0.3, 1.5))
            process.send_signal(signal.SIGKILL)
            process.wait(10)
            kills += 1
        assert len({m.text for m in fake.sent()}) < ALERTS, "the kills came too late to matter"
        process = _start(data_dir, url, sink_port)
        try:
            deadline = time.monotonic() + 120
            while time.monotonic() < deadline:
                if asyncio.run(_statuses(settings)) == {"sent": ALERTS}:
                    break
                time.sleep(0.3)
        finally:
            process.send_signal(signal.SIGTERM)
            process.wait(30)
        assert asyncio.run(_statuses(settings)) == {"sent": ALERTS}
    delivered = [m for m in fake.sent() if "alert-" in m.text]
    by_alert: dict[str, list[str]] = {}
    for message in delivered:
        subject = message.text.split("</b>", 1)[0].removeprefix("<b>")
        by_alert.setdefault(subject, []).append(message.chat_id)
    assert sorted(by_alert) == [f"alert-{n:03d}" for n in range(ALERTS)]  # none lost
    for n in range(ALERTS):  # each reached its own chat
        assert set(by_alert[f"alert-{n:03d}"]) == {str(1000 + n % CHATS)}
    resent = len(delivered) - ALERTS
    assert 0 <= resent <= kills, (resent, kills)  # at most the one in flight per kill
