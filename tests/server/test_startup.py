"""Start-up refuses, in one line, a database it cannot use or an unsafe key file; a fresh
SQLite file gets its schema. The API docs page is served from local assets only."""

from __future__ import annotations

import os
import re
from pathlib import Path

from sqlalchemy import text

from aggregator.server.integration import preflight
from aggregator.storage.db import create_engine
from aggregator.storage.schema import current_revision, head_revision

from .conftest import Harness, make_settings


async def test_a_fresh_sqlite_file_gets_its_schema(tmp_path: Path) -> None:
    settings = make_settings(tmp_path)
    assert await preflight(settings) is None
    engine = create_engine(settings.resolved_database_url)
    try:
        assert await current_revision(engine) == head_revision()
    finally:
        await engine.dispose()


async def test_a_database_of_a_newer_aggregator_is_refused(tmp_path: Path) -> None:
    settings = make_settings(tmp_path)
    assert await preflight(settings) is None
    engine = create_engine(settings.resolved_database_url)
    async with engine.begin() as connection:
        await connection.execute(text("UPDATE alembic_version SET version_num = 'ffff9999'"))
    await engine.dispose()
    problem = await preflight(settings)
    assert problem is not None and "\n" not in problem
    assert "newer" in problem


async def test_a_foreign_database_is_not_touched(tmp_path: Path) -> None:
    settings = make_settings(tmp_path)
    settings.data_dir.mkdir(parents=True)
    engine = create_engine(settings.resolved_database_url)
    async with engine.begin() as connection:
        await connection.execute(text("CREATE TABLE precious (id INTEGER)"))
    await engine.dispose()
    problem = await preflight(settings)
    assert problem is not None and "aggregator db upgrade" in problem


async def test_a_key_file_readable_by_others_is_refused(tmp_path: Path) -> None:
    settings = make_settings(tmp_path)
    assert await preflight(settings) is None
    os.chmod(settings.resolved_key_file, 0o644)
    problem = await preflight(settings)
    assert problem is not None and str(settings.resolved_key_file) in problem


async def test_api_docs_use_local_assets(signed_in: Harness) -> None:
    page = await signed_in.client.get("/api/schema")
    assert page.status_code == 200
    sources = re.findall(r'(?:src|href)="([^"]+)"', page.text)
    assert any("/static/vendor/swagger-ui/swagger-ui-bundle.js" in s for s in sources)
    # local assets only: every link is a path on this server or an in-page anchor (the skip link)
    assert all(s.startswith(("/", "#")) for s in sources), sources
    schema = (await signed_in.client.get("/api/schema/openapi.json")).json()
    assert schema["openapi"].startswith("3.1")
    paths = set(schema["paths"])
    for path in (
        "/api/v1/accounts",
        "/api/v1/accounts/{account_id}/readings",
        "/api/v1/accounts/{account_id}/tariff",
        "/api/v1/alerts",
        "/api/v1/outbox",
        "/api/v1/accounts/{account_id}/chat",
        "/api/v1/accounts/{account_id}/reports",
        "/api/v1/accounts/{account_id}/suspension",
    ):
        assert path in paths, path
    assert not any(p.startswith("/accounts") or p == "/" for p in paths)  # pages stay out
