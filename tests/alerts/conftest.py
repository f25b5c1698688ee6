"""Fixtures of the alert tests: an in-process reference provider, a migrated SQLite database,
and a real aiosmtpd server (the embedded mail sink) on a free loopback port."""

from __future__ import annotations

from collections.abc import AsyncIterator, Iterator
from pathlib import Path

import pytest
from reference_provider.testing.aggregator_env import InProcessEnv

from aggregator.alerts.sink import MailSink
from aggregator.plugins import PluginRegistry, load_plugins
from aggregator.polling import PollingOptions, PollingService

MANUAL = PollingOptions(send_mail=False, start_sink=False, min_interval_s=0)


@pytest.fixture(scope="session")
def registry() -> PluginRegistry:
    return load_plugins()


@pytest.fixture
async def env(tmp_path: Path, registry: PluginRegistry) -> AsyncIterator[InProcessEnv]:
    async with InProcessEnv(tmp_path / "data", registry, min_poll_interval_s=1) as env:
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
    """A polling service that polls only when told and leaves the outbox to the test."""
    async with PollingService(
        env.runtime, settings=env.settings, options=MANUAL, vault=env.vault, schedule=False
    ) as service:
        yield service
