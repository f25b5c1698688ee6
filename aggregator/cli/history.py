"""``aggregator spending``, ``payments``, ``traffic`` and ``usage``: what the account page's
usage and payment sections show, for any period the operator allows (at most a year), through
the same application layer (:mod:`aggregator.services.spending`, ``AccountOperations``).

Without ``--from``/``--to`` each takes the page's default period: spending the last six
months, payments the last 90 days, traffic this month; "today" is the household's (or the
operator's, when its clock runs ahead).
"""

from __future__ import annotations

import datetime as dt
from typing import TYPE_CHECKING, Annotated

import typer

from .app import app
from .base import print_json
from .operator import AccountArg, JsonOption, Operating, parse_day, read

if TYPE_CHECKING:
    from ..core.models import Money

FromOption = Annotated[
    str | None, typer.Option("--from", help="С / first day, YYYY-MM-DD (default: see --help).")
]
ToOption = Annotated[str | None, typer.Option("--to", help="По / last day (default: today).")]


async def _household_zone(work: Operating) -> tuple[str, dt.tzinfo]:
    from ..services.accounts import the_household, zone

    household = await the_household(work.db, work.account.household_id)
    return household.timezone, zone(household.timezone)


async def _period(
    work: Operating, start: str | None, end: str | None, default_start: str
) -> tuple[dt.date, dt.date, dt.tzinfo]:
    """The period asked for, or the default one ending today."""
    from ..services.accounts import operator_today

    name, tz = await _household_zone(work)
    last = (
        parse_day(end, "--to")
        if end is not None
        else await operator_today(work.db, work.account.id, name)
    )
    if start is not None:
        return parse_day(start, "--from"), last, tz
    if default_start == "months":
        first = (last.replace(day=1) - dt.timedelta(days=150)).replace(day=1)
    elif default_start == "month":
        first = last.replace(day=1)
    else:
        first = last - dt.timedelta(days=90)
    return first, last, tz


def _money(minor: int | None, currency: str) -> str:
    from ..core.money import from_minor
    from ..i18n import format_money

    if minor is None:
        return "—"
    return format_money(from_minor(minor, currency), currency, "ru")


def _amount(value: Money) -> str:
    from ..i18n import format_money

    return format_money(value.amount, value.currency, "ru")


def _table(title: str, columns: tuple[str, ...], rows: list[tuple[str, ...]]) -> None:
    from rich.table import Table

    from .base import console

    table = Table(title=title)
    for column in columns:
        table.add_column(column)
    for row in rows:
        table.add_row(*row)
    console().print(table)


@app.command("spending")
def spending(
    account_id: AccountArg,
    start: FromOption = None,
    end: ToOption = None,
    as_json: JsonOption = False,
) -> None:
    """Расходы по месяцам / Spending by month (default: the last six months)."""
    from ..services.spending import Spending, account_spending

    async def fetch(work: Operating) -> Spending:
        first, last, tz = await _period(work, start, end, "months")
        return await account_spending(work.db, work.ops, work.account, first, last, tz)

    found = read(account_id, fetch)
    cur = found.currency
    if as_json:
        print_json(
            {
                "start": found.start.isoformat(),
                "end": found.end.isoformat(),
                "currency": cur,
                "months": [
                    {
                        "month": m.month.strftime("%Y-%m"),
                        "spent_minor": m.spent_minor,
                        "paid_in_minor": m.paid_in_minor,
                        "end_balance_minor": m.end_balance_minor,
                        "source": m.source,
                    }
                    for m in found.months
                ],
                "total_spent_minor": found.total_spent_minor,
                "total_paid_in_minor": found.total_paid_in_minor,
            }
        )
        return
    _table(
        f"Расходы по месяцам / spending by month: {found.start} — {found.end}",
        ("месяц / month", "расход / spent", "пополнения / paid in", "баланс / balance"),
        [
            (
                m.month.strftime("%m.%Y"),
                _money(m.spent_minor, cur),
                _money(m.paid_in_minor, cur),
                _money(m.end_balance_minor, cur),
            )
            for m in found.months
        ],
    )
    typer.echo(
        f"Итого / total: {_money(found.total_spent_minor, cur)}; "
        f"пополнения / paid in: {_money(found.total_paid_in_minor, cur)}"
    )


@app.command("payments")
def payments(
    account_id: AccountArg,
    start: FromOption = None,
    end: ToOption = None,
    as_json: JsonOption = False,
) -> None:
    """Платежи и списания за период / Payments and charges (default: the last 90 days)."""
    from ..core.models import Payment

    async def fetch(work: Operating) -> list[Payment]:
        first, last, _ = await _period(work, start, end, "days")
        return await work.ops.payments(work.db, work.account, first, last)

    found = sorted(read(account_id, fetch), key=lambda p: p.at, reverse=True)
    if as_json:
        print_json([p.model_dump(mode="json") for p in found])
        return
    _table(
        "Платежи / payments",
        ("дата / date", "сумма / amount", "вид / kind", "описание / description"),
        [(f"{p.at:%d.%m.%Y %H:%M}", _amount(p.amount), p.kind.value, p.description) for p in found],
    )


@app.command("traffic")
def traffic(
    account_id: AccountArg,
    start: FromOption = None,
    end: ToOption = None,
    as_json: JsonOption = False,
) -> None:
    """Трафик за период / Traffic downloaded and uploaded (default: this month)."""
    from ..core.models import TrafficStats

    async def fetch(work: Operating) -> TrafficStats:
        first, last, _ = await _period(work, start, end, "month")
        return await work.ops.traffic(work.db, work.account, first, last)

    found = read(account_id, fetch)
    if as_json:
        print_json(found.model_dump(mode="json"))
        return
    from ..i18n import format_bytes

    typer.echo(
        f"{found.period_start:%d.%m.%Y} — {found.period_end:%d.%m.%Y}: "
        f"получено / downloaded {format_bytes(found.downloaded_bytes, 'ru')}, "
        f"отправлено / uploaded {format_bytes(found.uploaded_bytes, 'ru')}"
    )
