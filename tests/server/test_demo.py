"""The demo's preparation: a household, an account at every operator through real logins,
the draining account, and the same result on a second run (idempotent)."""

from __future__ import annotations

from pathlib import Path

import pytest
from reference_provider.app import create_app as create_reference_app
from reference_provider.testing import running_server
from sqlalchemy import func, select

from aggregator import demo
from aggregator.plugins import load_plugins
from aggregator.settings import Settings
from aggregator.storage.db import create_engine, session_factory
from aggregator.storage.models import AlertRule, Household, LinkedAccount, User

DEFAULT = "http://127.0.0.1:8081"


async def _counts(settings: Settings) -> tuple[int, int, int, int]:
    engine = create_engine(settings.resolved_database_url)
    try:
        async with session_factory(engine)() as db:
            values = []
            for model in (Household, User, LinkedAccount, AlertRule):
                values.append(int(await db.scalar(select(func.count()).select_from(model)) or 0))
            return tuple(values)  # type: ignore[return-value]
    finally:
        await engine.dispose()


async def test_prepare_links_every_operator_and_is_idempotent(
    tmp_path: Path, monkeypatch: pytest.MonkeyPatch
) -> None:
    # Bashtel logs in through Chromium: the browser journey covers it; here the others.
    logins = tuple(login for login in demo.DEMO_LOGINS if login.provider != "bashtel")
    monkeypatch.setattr(demo, "DEMO_LOGINS", logins)
    with running_server(create_reference_app(sim=True, clock_speed=0)) as base:
        urls = {
            pid: cls.default_base_url.replace(DEFAULT, base)
            for pid, cls in load_plugins().providers.items()
        }
        settings = demo.demo_settings(
            Settings(data_dir=tmp_path, provider_urls=urls, vault_key=None, key_file=None)
        )
        assert settings.data_dir == tmp_path / "demo"
        first = await demo.prepare(settings, base)
        counts = await _counts(settings)
        second = await demo.prepare(settings, base)
        assert await _counts(settings) == counts
    installed = set(load_plugins().providers) - {"bashtel"}
    for provider in installed:
        assert any(line.startswith(f"{provider}: ") and "linked" in line for line in first)
    assert first == second
    households, users, accounts, rules = counts
    assert (households, users, rules) == (1, 1, 1)
    assert accounts >= len(installed)


async def test_demo_banner_points_to_the_crib_sheet(tmp_path: Path) -> None:
    """In the demo every page says where the fake operator's codes and captcha answers are."""
    from litestar.testing import AsyncTestClient

    from aggregator.server.app import create_app

    from .conftest import make_settings

    settings = make_settings(tmp_path)
    plain = create_app(settings)
    with_demo = create_app(settings, demo_reference_url="http://127.0.0.1:8081/")
    async with AsyncTestClient(with_demo, base_url="http://127.0.0.1:8000") as client:
        page = (await client.get("/login")).text
    assert 'href="http://127.0.0.1:8081/sim/demo"' in page and "Коды из SMS" in page
    async with AsyncTestClient(plain, base_url="http://127.0.0.1:8000") as client:
        assert "/sim/demo" not in (await client.get("/login")).text
