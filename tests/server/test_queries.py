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


async def test_the_badge_agrees_with_the_forecast(db: AsyncSession, household: Household) -> None:
    """Under the threshold with weeks of money left is not "top up"; a fee due before the
    money lasts is, and the forecast counts the fee on its day."""
    from aggregator.storage.models import AlertRule

    now = utcnow().replace(hour=12, minute=0, second=0, microsecond=0)
    accounts = {}
    for label, fee in (("weeks", None), ("fee", 400_00)):
        account = LinkedAccount(
            household_id=household.id,
            provider_id="reference",
            login_scheme="password",
            login_key=label,
            label=label,
            status="ok",
        )
        db.add(account)
        await db.flush()
        accounts[label] = account.id
        for day in range(15):  # 10 ₽ a day, ending at 300 ₽
            db.add(
                BalanceReading(
                    account_id=account.id,
                    at=now - dt.timedelta(days=14 - day),
                    amount_minor=440_00 - day * 10_00,
                    next_charge_date=(now + dt.timedelta(days=5)).date() if fee else None,
                    next_charge_minor=fee,
                )
            )
    db.add(AlertRule(household_id=household.id, kind="low_balance", threshold_minor=500_00))
    db.add(AlertRule(household_id=household.id, kind="runs_out", days=7))
    await db.commit()
    board = await household_dashboard(db, household.id, now=now)
    summaries = {s.label: s for s in board.accounts}
    weeks, due = summaries["weeks"], summaries["fee"]
    assert weeks.days_left is not None and weeks.days_left >= 28
    assert weeks.badge == "below_threshold"  # not "top_up" next to "enough for 30 days"
    assert due.days_left == 5 and due.badge == "top_up"  # 250 ₽ left on the day of a 400 ₽ fee
    line = due.forecast_line(30)
    assert line[-1] == (5.0, 0)
