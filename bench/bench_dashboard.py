"""Dashboard latency: 1,000 accounts with a year of daily readings each.

Measures, in one run and against the same SQLite database:

- ``GET /`` (the dashboard page: session, queries, badges, forecast, 1,000 cards rendered),
- ``GET /api/v1/accounts`` (the same data as JSON),
- a *bare* Litestar handler running the same three queries (accounts, the latest reading of
  each, the daily history of the last 30 days) and returning the rows as JSON, nothing else.

Every app is called in-process through ``httpx.ASGITransport`` (no sockets: the figures are the
apps' own cost), requests one after another, after a warm-up. Prints p50/p95 per target and the
ratio of each p95 to the bare handler's (goal: at most 2x), at the full size and at 1/10 of it.

    .venv/bin/python bench/bench_dashboard.py [--accounts 1000] [--days 365] [--requests 40]
"""

from __future__ import annotations

import argparse
import asyncio
import datetime as dt
import logging
import random
import sys
import tempfile
import time
from pathlib import Path
from typing import Any

import httpx
from litestar import Litestar, get
from sqlalchemy import String, cast, func, insert, select, update
from sqlalchemy.ext.asyncio import AsyncEngine

from aggregator.alerts.forecast import SpendHistory
from aggregator.runtime import Runtime
from aggregator.server.app import create_app
from aggregator.server.security import create_web_session
from aggregator.services.dashboard import SPARK_DAYS
from aggregator.settings import Settings
from aggregator.storage.db import create_engine, session_factory
from aggregator.storage.models import BalanceReading, Household, LinkedAccount, User
from aggregator.storage.schema import upgrade

PROVIDERS = ("reference", "beeline", "rostelecom", "bashtel", "netbynet")


async def populate(engine: AsyncEngine, accounts: int, days: int) -> tuple[int, int]:
    """A household with ``accounts`` accounts and ``days`` daily readings each."""
    rng = random.Random(7)
    sessions = session_factory(engine)
    async with sessions() as db:
        household = Household(name="bench")
        db.add(household)
        await db.flush()
        user = User(
            household_id=household.id,
            email="bench@example.ru",
            password_hash="x",
            role="owner",
        )
        db.add(user)
        await db.flush()
        rows = [
            {
                "household_id": household.id,
                "provider_id": PROVIDERS[i % len(PROVIDERS)],
                "login_scheme": "password",
                "login_key": f"key-{i // 3}",
                "subaccount_id": str(i),
                "label": f"Счёт {i}",
                "number_masked": f"+7 903 ***-**-{i % 100:02d}",
                "kind": "mobile",
                "status": "ok",
                "tariff_name": "Базовый",
                "operator_state": "active",
            }
            for i in range(accounts)
        ]
        await db.execute(insert(LinkedAccount), rows)
        ids = list(
            await db.scalars(
                select(LinkedAccount.id).where(LinkedAccount.household_id == household.id)
            )
        )
        now = dt.datetime.now(dt.UTC).replace(hour=6, minute=0, second=0, microsecond=0)
        batch: list[dict[str, Any]] = []
        spend: dict[int, dict[str, Any]] = {}
        for account_id in ids:
            balance = rng.randint(50_00, 3000_00)
            history = SpendHistory()  # what the poller keeps next to each reading
            for day in range(days, 0, -1):
                balance -= rng.randint(0, 40_00)
                if balance < 0 and rng.random() < 0.3:
                    balance += 1000_00
                at = now - dt.timedelta(days=day - 1)
                history.add(at, balance)
                batch.append(
                    {"account_id": account_id, "at": at, "amount_minor": balance, "currency": "RUB"}
                )
            spend[account_id] = history.to_json()
            if len(batch) >= 50_000:
                await db.execute(insert(BalanceReading), batch)
                batch.clear()
        if batch:
            await db.execute(insert(BalanceReading), batch)
        await db.execute(
            update(LinkedAccount),
            [{"id": i, "spend_history": h} for i, h in spend.items()],
        )
        token = await create_web_session(db, user.id)
        await db.commit()
        count = await db.scalar(select(func.count()).select_from(BalanceReading))
    return int(count or 0), user.household_id, token  # type: ignore[return-value]


def bare_app(engine: AsyncEngine, household_id: int) -> Litestar:
    """The baseline: the same three queries, rows straight to JSON, no session, no template."""
    sessions = session_factory(engine)

    @get("/rows")
    async def rows() -> dict[str, Any]:
        async with sessions() as db:
            accounts = (
                await db.execute(
                    select(
                        LinkedAccount.id,
                        LinkedAccount.provider_id,
                        LinkedAccount.label,
                        LinkedAccount.number_masked,
                        LinkedAccount.kind,
                        LinkedAccount.status,
                        LinkedAccount.last_error_key,
                        LinkedAccount.tariff_name,
                        LinkedAccount.operator_state,
                        LinkedAccount.suspension_end,
                        LinkedAccount.last_success_at,
                        # the stored JSON as it is: the baseline does not interpret it
                        cast(LinkedAccount.spend_history, String),
                    )
                    .where(LinkedAccount.household_id == household_id)
                    .order_by(LinkedAccount.id)
                )
            ).all()
            latest_id = (
                select(BalanceReading.id)
                .where(BalanceReading.account_id == LinkedAccount.id)
                .order_by(BalanceReading.at.desc(), BalanceReading.id.desc())
                .limit(1)
                .correlate(LinkedAccount)
                .scalar_subquery()
            )
            latest_ids = (
                select(latest_id.label("rid"))
                .select_from(LinkedAccount)
                .where(LinkedAccount.household_id == household_id)
                .subquery()
            )
            latest = (
                await db.execute(
                    select(
                        BalanceReading.account_id,
                        BalanceReading.amount_minor,
                        BalanceReading.currency,
                        BalanceReading.at,
                        BalanceReading.credit_limit_minor,
                        BalanceReading.next_charge_date,
                        BalanceReading.next_charge_minor,
                    ).join(latest_ids, BalanceReading.id == latest_ids.c.rid)
                )
            ).all()
            newest = max((r.at for r in latest), default=dt.datetime.now(dt.UTC))
            cutoff = max(dt.datetime.now(dt.UTC), newest) - dt.timedelta(days=SPARK_DAYS)
            day = func.date(BalanceReading.at)
            household_ids = select(LinkedAccount.id).where(
                LinkedAccount.household_id == household_id
            )
            history = (
                await db.execute(
                    select(
                        BalanceReading.account_id,
                        day.label("day"),
                        func.avg(BalanceReading.amount_minor),
                    )
                    .where(
                        BalanceReading.account_id.in_(household_ids),
                        BalanceReading.at >= cutoff,
                    )
                    .group_by(BalanceReading.account_id, day)
                    .order_by(BalanceReading.account_id, day)
                )
            ).all()
        return {
            "accounts": [tuple(r) for r in accounts],
            "latest": [tuple(r) for r in latest],
            "history": [tuple(r) for r in history],
        }

    return Litestar([rows], debug=False)


async def measure(client: httpx.AsyncClient, path: str, n: int, warmup: int = 3) -> list[float]:
    for _ in range(warmup):
        response = await client.get(path)
        response.raise_for_status()
    timings: list[float] = []
    for _ in range(n):
        start = time.perf_counter()
        response = await client.get(path)
        timings.append(time.perf_counter() - start)
        response.raise_for_status()
    return timings


def pct(values: list[float], q: float) -> float:
    ordered = sorted(values)
    index = min(len(ordered) - 1, max(0, round(q * (len(ordered) - 1))))
    return ordered[index] * 1000


async def run(accounts: int, days: int, requests: int) -> list[tuple[str, float, float, int]]:
    for name in ("httpx", "alembic"):
        logging.getLogger(name).setLevel(logging.WARNING)
    with tempfile.TemporaryDirectory() as tmp:
        settings = Settings(
            data_dir=Path(tmp),
            database_url=None,
            key_file=None,
            vault_key=None,
            secure_cookies=False,
            embedded_scheduler=False,
        )
        engine = create_engine(settings.resolved_database_url)
        await upgrade(engine)
        readings, household_id, token = await populate(engine, accounts, days)
        assert readings == accounts * days
        runtime = Runtime(settings)
        app = create_app(settings, runtime=runtime)
        bare = bare_app(engine, household_id)
        results: list[tuple[str, float, float, int]] = []
        async with (
            app.lifespan(),
            httpx.AsyncClient(
                transport=httpx.ASGITransport(app=app),
                base_url="http://127.0.0.1",
                cookies={"agg_session": token},
            ) as client,
            httpx.AsyncClient(
                transport=httpx.ASGITransport(app=bare), base_url="http://127.0.0.1"
            ) as bare_client,
        ):
            sizes = {
                "bare handler (same rows)": len((await bare_client.get("/rows")).content),
                "GET / (dashboard page)": len((await client.get("/")).content),
                "GET /api/v1/accounts": len((await client.get("/api/v1/accounts")).content),
            }
            # Interleave the targets so a noisy neighbour hurts them alike.
            timings: dict[str, list[float]] = {name: [] for name in sizes}
            rounds = 8
            for _ in range(rounds):
                timings["bare handler (same rows)"] += await measure(
                    bare_client, "/rows", requests // rounds
                )
                timings["GET / (dashboard page)"] += await measure(client, "/", requests // rounds)
                timings["GET /api/v1/accounts"] += await measure(
                    client, "/api/v1/accounts", requests // rounds
                )
            for name, values in timings.items():
                results.append((name, pct(values, 0.5), pct(values, 0.95), sizes[name]))
        await runtime.aclose()
        await engine.dispose()
    return results


def table(accounts: int, days: int, results: list[tuple[str, float, float, int]]) -> str:
    bare_p95 = results[0][2]
    lines = [
        f"\n{accounts} accounts x {days} daily readings ({accounts * days:,} rows)",
        f"{'target':<28} {'p50 ms':>9} {'p95 ms':>9} {'p95 / bare':>11} {'bytes':>10}",
    ]
    for name, p50, p95, size in results:
        lines.append(f"{name:<28} {p50:>9.1f} {p95:>9.1f} {p95 / bare_p95:>10.2f}x {size:>10,}")
    return "\n".join(lines)


def main(argv: list[str] | None = None) -> int:
    parser = argparse.ArgumentParser(description=__doc__.split("\n\n")[0])
    parser.add_argument("--accounts", type=int, default=1000)
    parser.add_argument("--days", type=int, default=365)
    parser.add_argument(
        "--requests", type=int, default=48, help="per target at the full size (x5 at 1/10)"
    )
    args = parser.parse_args(argv)
    worst = 0.0
    for accounts, requests in (
        (args.accounts // 10, args.requests * 5),
        (args.accounts, args.requests),
    ):
        results = asyncio.run(run(accounts, args.days, requests))
        print(table(accounts, args.days, results), flush=True)
        bare = results[0][2]
        worst = max(worst, *(p95 / bare for _, _, p95, _ in results[1:]))
    print(f"\nworst p95 ratio: {worst:.2f}x (goal: at most 2x)")
    return 0


if __name__ == "__main__":
    sys.exit(main())
