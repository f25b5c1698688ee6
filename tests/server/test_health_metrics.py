"""``/healthz`` and ``/metrics`` of a real dashboard (in-process, ``AsyncTestClient``).

The reference provider runs in-process; accounts are linked through the application layer and
polled by the dashboard's own embedded scheduler; ``/metrics`` is read with prometheus_client's
own parser, so a malformed exposition fails here as it would in Prometheus.
"""

from __future__ import annotations

import asyncio
import datetime as dt
from collections.abc import AsyncIterator
from pathlib import Path

import pytest
from litestar import Litestar
from litestar.testing import AsyncTestClient
from prometheus_client.parser import text_string_to_metric_families
from sqlalchemy import text

from aggregator.core.flows import Session
from aggregator.polling.options import PollingOptions
from aggregator.runtime import Runtime
from aggregator.server.app import create_app
from aggregator.server.context import ServerState
from aggregator.services import accounts as accounts_service
from aggregator.storage.models import Household, OutboxMessage, User, utcnow

from .conftest import Harness, Reference, make_settings

Samples = dict[tuple[str, tuple[tuple[str, str], ...]], float]


def parse(body: str) -> Samples:
    samples: Samples = {}
    for family in text_string_to_metric_families(body):
        for sample in family.samples:
            samples[(sample.name, tuple(sorted(sample.labels.items())))] = sample.value
    return samples


def value(samples: Samples, name: str, **labels: str) -> float:
    return samples[(name, tuple(sorted(labels.items())))]


async def test_healthz_is_public_json_and_ready_without_a_scheduler(harness: Harness) -> None:
    response = await harness.client.get("/healthz")
    assert response.status_code == 200
    assert response.headers["cache-control"] == "no-store"
    body = response.json()
    assert body["status"] == "ok"
    assert body["checks"]["database"]["ok"] is True
    assert body["checks"]["schema"]["ok"] is True
    assert body["checks"]["schema"]["revision"] == body["checks"]["schema"]["head"]
    assert "scheduler" not in body["checks"]  # this process does not poll


async def test_healthz_is_503_when_the_schema_is_not_at_head(harness: Harness) -> None:
    server: ServerState = harness.app.state.server
    assert server.engine is not None
    async with server.engine.begin() as conn:
        head = await conn.scalar(text("SELECT version_num FROM alembic_version"))
        await conn.execute(text("UPDATE alembic_version SET version_num = '0001'"))
    try:
        response = await harness.client.get("/healthz")
        assert response.status_code == 503
        body = response.json()
        assert body["status"] == "unavailable"
        assert body["checks"]["schema"] == {"ok": False, "revision": "0001", "head": head}
    finally:
        async with server.engine.begin() as conn:
            await conn.execute(
                text("UPDATE alembic_version SET version_num = :head"), {"head": head}
            )
    assert (await harness.client.get("/healthz")).status_code == 200


async def test_healthz_is_503_when_the_database_is_gone(harness: Harness) -> None:
    server: ServerState = harness.app.state.server
    engine = server.engine
    assert engine is not None
    # Point the server at a database file in a directory that does not exist.
    from aggregator.storage.db import create_engine

    broken = create_engine(f"sqlite+aiosqlite:///{harness.settings.data_dir}/missing/x.db")
    server.engine = broken
    try:
        response = await harness.client.get("/healthz")
        assert response.status_code == 503
        checks = response.json()["checks"]
        assert checks["database"]["ok"] is False
        assert "schema" not in checks
    finally:
        server.engine = engine
        await broken.dispose()


@pytest.fixture
async def polling_app(tmp_path: Path, ref: Reference) -> AsyncIterator[Harness]:
    """The dashboard with its embedded scheduler ticking every 0.1 s."""
    settings = make_settings(
        tmp_path, embedded_scheduler=True, mail_sink_port=_free_port(), min_poll_interval_s=0
    )
    options = PollingOptions(
        tick_interval_s=0.1, tick_stale_s=1.0, min_interval_s=0, start_sink=False
    )
    async with Runtime(settings, http=ref.http) as runtime:
        app = create_app(settings, runtime=runtime, polling_options=options)
        async with AsyncTestClient(app, base_url="http://127.0.0.1:8000") as client:
            yield Harness(app, client, settings, ref)


def _free_port() -> int:
    import socket

    with socket.socket() as probe:
        probe.bind(("127.0.0.1", 0))
        return int(probe.getsockname()[1])


async def _link_reference(app: Litestar, ref: Reference) -> int:
    """Link the demo login's accounts through the application layer; their count."""
    server: ServerState = app.state.server
    runtime = server.require_runtime()
    provider = runtime.provider("reference")
    credentials = (
        type(provider)
        .scheme("password")
        .build_credentials("demo", "demo-password", identifier_kind="login")
    )
    session = await provider.start_login(credentials)
    assert isinstance(session, Session)
    async with server.db() as db:
        household = Household(name="Ивановы")
        db.add(household)
        await db.flush()
        db.add(User(household_id=household.id, email="o@example.ru", password_hash="x"))
        found = await accounts_service.found_subaccounts(provider, session)
        linked = await accounts_service.link(
            db,
            server.require_vault(),
            provider,
            household_id=household.id,
            credentials=credentials,
            session=session,
            chosen=found,
        )
        db.add(
            OutboxMessage(
                household_id=household.id,
                dedupe_key="metrics-test",
                notifier="email",
                kind="low_balance",
                recipients=["o@example.ru"],
                subject="s",
                body_text="b",
                created_at=utcnow() - dt.timedelta(minutes=5),
                next_attempt_at=utcnow() + dt.timedelta(hours=1),
            )
        )
        await db.commit()
    return len(linked)


async def _metrics(client: AsyncTestClient[Litestar], **headers: str) -> Samples:
    response = await client.get("/metrics", headers=headers)
    assert response.status_code == 200, response.text
    assert response.headers["content-type"].startswith("text/plain; version=0.0.4")
    return parse(response.text)


async def test_metrics_show_polls_by_status_latency_outbox_and_breakers(
    polling_app: Harness,
) -> None:
    app, client = polling_app.app, polling_app.client
    before = await _metrics(client)
    assert value(before, "aggregator_outbox_oldest_pending_age_seconds") == 0.0
    assert not [key for key in before if key[0] == "aggregator_accounts"]

    count = await _link_reference(app, polling_app.ref)
    assert count >= 2
    server: ServerState = app.state.server
    server.polling.kick()
    samples: Samples = {}
    for _ in range(100):
        samples = await _metrics(client)
        if samples.get(
            ("aggregator_accounts", (("operator", "reference"), ("status", "ok")))
        ) == float(count):
            break
        await asyncio.sleep(0.1)
    assert value(samples, "aggregator_accounts", operator="reference", status="ok") == count
    assert value(samples, "aggregator_polls_total", operator="reference", status="ok") >= count
    assert value(samples, "aggregator_poll_duration_seconds_count", operator="reference") >= count
    assert value(samples, "aggregator_poll_duration_seconds_sum", operator="reference") > 0
    assert value(samples, "aggregator_breaker_state", operator="reference", state="closed") == 1
    assert value(samples, "aggregator_breaker_state", operator="reference", state="open") == 0
    assert value(samples, "aggregator_operator_requests_in_flight", operator="reference") == 0
    # (requests are counted by the per-operator clients; this test injects its own client)
    assert value(samples, "aggregator_operator_requests_total", operator="reference") >= 0
    assert value(samples, "aggregator_operator_concurrency_limit", operator="reference") >= 1
    # The breaker as every process shares it, from the database.
    assert (
        value(samples, "aggregator_cluster_breaker_state", operator="reference", state="closed")
        == 1
    )
    assert value(samples, "aggregator_last_success_timestamp_seconds", operator="reference") > (
        utcnow().timestamp() - 60
    )
    assert value(samples, "aggregator_outbox_messages", notifier="email", status="pending") >= 1
    assert value(samples, "aggregator_outbox_oldest_pending_age_seconds") >= 290
    assert value(samples, "aggregator_scheduler_tick_age_seconds") < 1.0
    assert value(samples, "aggregator_browser_running") == 0  # no browser login here
    assert ("aggregator_build_info", ()) not in samples  # it carries the version label
    assert any(name == "aggregator_build_info" for name, _ in samples)
    # Nothing in the exposition names a login, a number or a household.
    body = (await client.get("/metrics")).text
    assert "demo" not in body and "Ивановы" not in body and "example.ru" not in body


async def test_healthz_sees_a_stopped_scheduler(polling_app: Harness) -> None:
    client = polling_app.client
    for _ in range(50):
        response = await client.get("/healthz")
        if response.status_code == 200:
            break
        await asyncio.sleep(0.1)
    assert response.status_code == 200
    assert response.json()["checks"]["scheduler"]["ok"] is True
    server: ServerState = polling_app.app.state.server
    server.polling._stop_scheduler()  # a scheduler that died: no more ticks
    await asyncio.sleep(1.3)
    response = await client.get("/healthz")
    assert response.status_code == 503
    scheduler = response.json()["checks"]["scheduler"]
    assert scheduler["ok"] is False
    assert scheduler["tick_age_s"] > 1.0


async def test_metrics_token(tmp_path: Path, ref: Reference) -> None:
    settings = make_settings(tmp_path, metrics_token="s3cret-token")
    async with Runtime(settings, http=ref.http) as runtime:
        app = create_app(settings, runtime=runtime)
        async with AsyncTestClient(app, base_url="http://127.0.0.1:8000") as client:
            assert (await client.get("/metrics")).status_code == 401
            wrong = await client.get("/metrics", headers={"Authorization": "Bearer nope"})
            assert wrong.status_code == 401
            samples = await _metrics(client, Authorization="Bearer s3cret-token")
            assert any(
                name == "aggregator_outbox_oldest_pending_age_seconds" for name, _ in samples
            )
            assert (await client.get("/healthz")).status_code == 200  # probes stay open
