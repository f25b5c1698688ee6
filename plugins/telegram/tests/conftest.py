"""Fixtures of the Telegram plugin's tests: the fake Bot API on loopback (a real HTTP server in
a thread), the aggregator in-process with the reference provider, a real aiosmtpd sink."""

from __future__ import annotations

import asyncio
import contextlib
from collections.abc import AsyncIterator, Awaitable, Callable, Iterator
from dataclasses import dataclass
from pathlib import Path
from typing import Any, cast

import pytest
from aggregator_telegram import TelegramNotifier
from aggregator_telegram.fake import FakeBotApi
from reference_provider.testing import running_server
from reference_provider.testing.aggregator_env import InProcessEnv
from sqlalchemy import Table, insert
from sqlalchemy.ext.asyncio import async_sessionmaker

from aggregator.alerts.channels import ChannelStore
from aggregator.alerts.outbox import OutboxSender
from aggregator.alerts.sink import MailSink
from aggregator.plugins import PluginRegistry, load_plugins
from aggregator.polling import PollingOptions, PollingService
from aggregator.polling.service import notifier_instances
from aggregator.services import channels as channel_service
from aggregator.storage.models import AlertRule

TOKEN = "123456789:AAE-household-bot-token-xyz"
MANUAL = PollingOptions(send_mail=False, start_sink=False, min_interval_s=0)
rules_t = cast(Table, AlertRule.__table__)


@pytest.fixture(scope="session")
def registry() -> PluginRegistry:
    registry = load_plugins()
    assert "telegram" in registry.notifiers, registry.failures
    return registry


@pytest.fixture
def fake() -> FakeBotApi:
    fake = FakeBotApi()
    fake.add_bot(TOKEN)
    return fake


@pytest.fixture
def fake_url(fake: FakeBotApi) -> Iterator[str]:
    with running_server(fake.app) as url:
        yield url


@pytest.fixture
async def env(
    tmp_path: Path, registry: PluginRegistry, fake_url: str
) -> AsyncIterator[InProcessEnv]:
    async with InProcessEnv(
        tmp_path / "data", registry, min_poll_interval_s=1, notifier_urls={"telegram": fake_url}
    ) as env:
        yield env


@pytest.fixture
def sink(env: InProcessEnv) -> Iterator[MailSink]:
    sink = MailSink(env.settings.data_dir / "mail", port=env.settings.mail_sink_port)
    sink.start()
    try:
        yield sink
    finally:
        sink.stop()


@pytest.fixture
async def service(env: InProcessEnv) -> AsyncIterator[PollingService]:
    async with PollingService(
        env.runtime, settings=env.settings, options=MANUAL, vault=env.vault, schedule=False
    ) as service:
        yield service


@dataclass
class Bot:
    """The aggregator's Telegram side in a test: hub, sender, the notifier's loop."""

    env: InProcessEnv
    fake: FakeBotApi
    hub: ChannelStore
    sender: OutboxSender
    notifier: TelegramNotifier

    def sessions(self) -> async_sessionmaker[Any]:
        return async_sessionmaker(self.env.engine, expire_on_commit=False)

    async def set_up(self, household_id: int, token: str = TOKEN) -> None:
        async with self.sessions()() as db:
            await channel_service.save_channel_settings(
                db,
                self.env.vault,
                self.env.registry,
                household_id,
                "telegram",
                {"bot_token": token},
            )

    async def code(self, household_id: int, lang: str = "ru", user_id: int | None = None) -> str:
        async with self.sessions()() as db:
            made = await channel_service.create_link_code(
                db, self.env.registry, household_id, "telegram", user_id=user_id, lang=lang
            )
        return made.code

    async def link_chat(
        self, household_id: int, chat_id: int, lang: str = "ru", token: str = TOKEN
    ) -> None:
        """The person's way: a code from the dashboard, ``/start CODE`` to the bot."""
        code = await self.code(household_id, lang)
        replies = len(self.fake.sent(chat_id))
        self.fake.user_says(token, chat_id, f"/start {code}", language_code=lang)
        await until(lambda: self._linked(household_id, chat_id))
        await until(lambda: len(self.fake.sent(chat_id)) > replies)  # the bot's welcome

    async def _linked(self, household_id: int, chat_id: int) -> bool:
        found = await self.hub.recipient("telegram", household_id, str(chat_id))
        return found is not None and found.active

    async def send(self) -> Any:
        return await self.sender.send_due()


async def until(
    check: Callable[[], Awaitable[bool] | bool], within_s: float = 15.0, step: float = 0.05
) -> None:
    deadline = asyncio.get_running_loop().time() + within_s
    while True:
        result = check()
        if not isinstance(result, bool):
            result = await result
        if result:
            return
        if asyncio.get_running_loop().time() > deadline:
            raise AssertionError("timed out waiting")
        await asyncio.sleep(step)


@pytest.fixture
async def bot(
    env: InProcessEnv, service: PollingService, fake: FakeBotApi, monkeypatch: pytest.MonkeyPatch
) -> AsyncIterator[Bot]:
    monkeypatch.setattr(TelegramNotifier, "refresh_s", 0.1)
    monkeypatch.setattr(TelegramNotifier, "long_poll_s", 1)
    monkeypatch.setattr(TelegramNotifier, "chat_interval_s", 0.05)
    hub = ChannelStore(env.engine, env.vault, env.registry, env.settings.dashboard_url)
    notifiers = notifier_instances(env.runtime, env.settings)
    telegram = notifiers["telegram"]
    assert isinstance(telegram, TelegramNotifier)
    sender = OutboxSender(service.engine, notifiers, channels=hub)
    task = asyncio.create_task(telegram.run(hub))
    try:
        yield Bot(env, fake, hub, sender, telegram)
    finally:
        task.cancel()
        with contextlib.suppress(asyncio.CancelledError):
            await task
        await telegram.aclose()


async def only_low_balance(
    env: InProcessEnv, household_id: int, channels: list[str] | None = None
) -> None:
    """Rules: low balance below 100 ₽ on ``channels`` (None: every channel set up)."""
    rows = [
        {
            "household_id": household_id,
            "kind": kind,
            "enabled": kind == "low_balance",
            "threshold_minor": 100_00 if kind == "low_balance" else None,
            "margin_minor": 20_00 if kind == "low_balance" else None,
            "recipients": [],
            "channels": channels,
        }
        for kind in ("low_balance", "runs_out", "needs_login", "suspension_ends")
    ]
    async with env.engine.begin() as conn:
        await conn.execute(insert(rules_t), rows)
