"""``aggregator spending``, ``payments`` and ``traffic`` as a script runs them: the usage and
payment sections of the account page, for a chosen period, through the same services. The
real console script in subprocesses; the reference provider on a loopback server."""

from __future__ import annotations

import datetime as dt
from collections.abc import Iterator
from decimal import Decimal
from pathlib import Path
from zoneinfo import ZoneInfo

import pytest

from .test_cli_journey import Cli, ScriptedCodes

PASSWORD = "demo-password"


@pytest.fixture
def reference() -> Iterator[str]:
    try:
        from aggregator.plugins import load_plugins

        load_plugins(allow=["reference"], block=()).provider("reference")
        from reference_provider.app import create_app
        from reference_provider.testing import running_server
    except Exception as exc:
        pytest.skip(f"the reference plugin or provider is not available ({exc})")
    app = create_app(seed=1, sim=True, clock_speed=0)
    app.state.backend.rng = ScriptedCodes(1)
    with running_server(app) as url:
        yield f"{url}/reference/api/v1"


def _month(at: str) -> str:
    """The household's month of a moment (the demo household is in Moscow)."""
    return dt.datetime.fromisoformat(at).astimezone(ZoneInfo("Europe/Moscow")).strftime("%Y-%m")


def _minor(money: dict[str, str]) -> int:
    return int(Decimal(str(money["amount"])) * 100)


@pytest.mark.timeout(600)
def test_spending_payments_and_traffic_for_a_period(tmp_path: Path, reference: str) -> None:
    cli = Cli(tmp_path / "data", reference)
    cli.ok("db", "upgrade")
    cli.ok(
        "users", "create", "--email", "o@example.com", "--password-stdin", stdin="Owner-Pass-1\n"
    )
    cli.ok(
        "accounts", "add", "--no-interactive", "--provider", "reference", "--scheme", "password",
        "--identifier", "demo", "--password-stdin", "--all-subaccounts", stdin=PASSWORD + "\n",
    )  # fmt: skip
    accounts = cli.json("accounts", "list")
    account = str(next(a for a in accounts if a["label"] == "Телефон Ивана")["id"])
    cli.ok("poll", "--account", account)

    # What the card shows, from the stored reading: the package remainders.
    shown = cli.json("accounts", "show", account)
    assert shown["remainders"] and all(": " in r for r in shown["remainders"])
    assert "Остатки пакетов / package remainders" in cli.ok("accounts", "show", account)

    today = dt.date.today()
    first = (today.replace(day=1) - dt.timedelta(days=40)).replace(day=1)  # two months back
    period = ("--from", first.isoformat(), "--to", today.isoformat())

    # Payments of the period: the operator's history, newest first, every entry inside it.
    history = cli.json("payments", account, *period)
    assert history, "the demo account has a history"
    moments = [dt.datetime.fromisoformat(p["at"]) for p in history]
    assert moments == sorted(moments, reverse=True)
    assert all(first <= m.date() <= today + dt.timedelta(days=1) for m in moments)

    # Spending by month: three months listed; each month's spending is the charges of that
    # month in the same history (the operator lists charges), the top-ups its payments.
    spent = cli.json("spending", account, *period)
    months = [m["month"] for m in spent["months"]]
    assert len(months) == 3 and months[0] == first.strftime("%Y-%m")
    for month in spent["months"]:
        inside = [p for p in history if _month(p["at"]) == month["month"]]
        charges = sum(abs(_minor(p["amount"])) for p in inside if p["kind"] == "charge")
        paid_in = sum(abs(_minor(p["amount"])) for p in inside if p["kind"] == "payment")
        assert month["source"] == "charges"
        assert (month["spent_minor"], month["paid_in_minor"]) == (charges, paid_in)
    assert spent["total_spent_minor"] == sum(m["spent_minor"] for m in spent["months"])
    table = cli.ok("spending", account, *period)
    assert "₽" in table and "Итого / total" in table

    # Traffic over the same period, and a period longer than a year refused in one line.
    traffic = cli.json("traffic", account, *period)
    assert traffic["period_start"] == first.isoformat()
    assert traffic["downloaded_bytes"] > 0
    assert "получено / downloaded" in cli.ok("traffic", account)
    too_long = cli("traffic", account, "--from", "2020-01-01", "--to", today.isoformat())
    assert too_long.returncode == 1 and len(too_long.stderr.strip().splitlines()) == 1

    # Without a period: the page's defaults (90 days of payments, this month's traffic).
    assert cli.json("payments", account) is not None
    assert cli.json("traffic", account)["period_start"] == today.replace(day=1).isoformat()
