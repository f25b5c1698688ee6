"""The dashboard's queries on SQLite and PostgreSQL: newest reading, daily history, totals."""

from __future__ import annotations

import datetime as dt

from sqlalchemy.ext.asyncio import AsyncSession

from aggregator.services.dashboard import daily_history, get_account, household_dashboard
from aggregator.storage.models import BalanceReading, Household, LinkedAccount, utcnow


async def test_dashboard_reads_on_every_database(db: AsyncSession, household: Household) -> None:
    now = utcnow().replace(hour=12, minute=0, second=0, microsecond=0)
    account = LinkedAccount(
        household_id=household.id,
        provider_id="reference",
        login_scheme="password",
        login_key="k",
        label="phone",
        status="ok",
    )
    db.add(account)
    await db.flush()
    for day in range(40):  # two readings a day, 40 days, 10 ₽ spent a day
        for hour in (0, 6):
            db.add(
                BalanceReading(
                    account_id=account.id,
                    at=now - dt.timedelta(days=39 - day, hours=hour),
                    amount_minor=1000_00 - day * 10_00,
                )
            )
    await db.commit()
    board = await household_dashboard(db, household.id, now=now)
    (summary,) = board.accounts
    assert summary.balance_minor == 1000_00 - 39 * 10_00
    assert summary.balance_at == now
    assert 30 <= len(summary.history) <= 31  # one point per day of the last 30
    assert [v for _, v in summary.history] == sorted((v for _, v in summary.history), reverse=True)
    assert summary.days_left is not None and 55 <= summary.days_left <= 62  # ~10 ₽ a day
    assert board.totals == {"RUB": 610_00}
    history = await daily_history(db, account.id, 90, now=now)
    assert len(history) == 40 and history[0][0] < history[-1][0]
    assert (await get_account(db, household.id, account.id)).id == account.id
