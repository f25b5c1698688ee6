"""The run-out forecast: average daily spend over recent weeks, and the next charge."""

from __future__ import annotations

import datetime as dt
from decimal import Decimal

from aggregator.alerts.forecast import (
    SpendHistory,
    charge_dates,
    days_left,
    forecast,
    projection,
)

T0 = dt.datetime(2024, 5, 1, 12, tzinfo=dt.UTC)


def hourly(start_minor: int, per_day_minor: int, days: int) -> list[tuple[dt.datetime, int]]:
    return [
        (T0 + dt.timedelta(hours=h), start_minor - per_day_minor * h // 24)
        for h in range(days * 24 + 1)
    ]


def test_no_average_before_a_day_of_watching() -> None:
    history = SpendHistory.from_readings(
        [*hourly(100_00, 24_00, 0), (T0 + dt.timedelta(hours=5), 95_00)]
    )
    assert history.average_daily_minor() is None
    assert forecast(history, Decimal("95"), T0.date()).days_left is None


def test_average_daily_spend_and_days_left() -> None:
    history = SpendHistory.from_readings(hourly(500_00, 20_00, 7))
    average = history.average_daily_minor()
    assert average is not None and abs(average - 20_00) < 1
    outlook = forecast(history, Decimal("45.20"), (T0 + dt.timedelta(days=7)).date())
    assert outlook.days_left == 2
    assert outlook.daily_spend == Decimal("20.00")
    assert outlook.runs_out_on == (T0 + dt.timedelta(days=9)).date()


def test_top_ups_are_not_spending() -> None:
    readings = hourly(100_00, 10_00, 3)
    last_at, last = readings[-1]
    readings.append((last_at + dt.timedelta(hours=1), last + 500_00))  # a top-up
    history = SpendHistory.from_readings(readings)
    average = history.average_daily_minor()
    assert average is not None and average < 11_00


def test_old_days_leave_the_window() -> None:
    history = SpendHistory.from_readings(hourly(10_000_00, 100_00, 40))
    assert len(history.days) <= 30
    assert min(history.days) >= (T0 + dt.timedelta(days=40 - 29)).date().isoformat()


def test_survives_a_round_trip_and_a_damaged_cache() -> None:
    history = SpendHistory.from_readings(hourly(500_00, 20_00, 3))
    again = SpendHistory.from_json(history.to_json())
    assert again == history
    assert SpendHistory.from_json({"first_at": "garbage"}) == SpendHistory()
    assert SpendHistory.from_json(None) == SpendHistory()


def test_older_readings_are_ignored() -> None:
    history = SpendHistory()
    history.add(T0, 100_00)
    history.add(T0 - dt.timedelta(hours=1), 200_00)
    assert history.last_minor == 100_00


def test_next_charge_shortens_the_forecast() -> None:
    today = dt.date(2024, 5, 1)
    # 300 ₽ with 10 ₽ a day would last 30 days, but a 290 ₽ fee is due in 5 days.
    assert days_left(Decimal("300"), Decimal("10"), today) == 30
    assert days_left(Decimal("300"), Decimal("10"), today, dt.date(2024, 5, 6), Decimal("290")) == 5
    # Enough for the charge: the fee still leaves on its day, the rest lasts 15 more days.
    assert (
        days_left(Decimal("300"), Decimal("10"), today, dt.date(2024, 5, 6), Decimal("100")) == 20
    )
    # Only the charge is known.
    assert days_left(Decimal("50"), None, today, dt.date(2024, 5, 3), Decimal("100")) == 2
    assert days_left(Decimal("50"), None, today) is None
    assert days_left(Decimal("0"), None, today) == 0
    assert days_left(Decimal("-5"), Decimal("1"), today) == 0


def test_the_monthly_fee_leaves_on_its_day_every_month() -> None:
    today = dt.date(2024, 5, 1)
    # 1 000 ₽, nothing spent between fees, 300 ₽ on the 6th: 700, 400, 100, then not enough.
    assert days_left(Decimal("1000"), None, today, dt.date(2024, 5, 6), Decimal("300")) == 97
    assert today + dt.timedelta(days=97) == dt.date(2024, 8, 6)
    # A fee on the 31st is taken on the last day of shorter months.
    assert charge_dates(dt.date(2024, 1, 31), dt.date(2024, 4, 30)) == [
        dt.date(2024, 1, 31),
        dt.date(2024, 2, 29),
        dt.date(2024, 3, 31),
        dt.date(2024, 4, 30),
    ]
    # Covered for longer than the horizon: no number.
    assert days_left(Decimal("100000"), None, today, dt.date(2024, 5, 6), Decimal("1")) is None


def test_the_fee_is_not_counted_twice() -> None:
    """A day that paid the monthly fee counts only its running costs in the average."""
    history = SpendHistory()
    balance = 1000_00
    for day in range(14):
        history.add(T0 + dt.timedelta(days=day), balance)
        balance -= 10_00 + (300_00 if day == 5 else 0)
    history.add(T0 + dt.timedelta(days=14), balance)
    with_fee = history.average_daily_minor()
    running = history.average_daily_minor(300_00)
    assert with_fee is not None and running is not None
    assert round(running) == 10_00 and round(with_fee) > 30_00
    # The forecast knows the fee: 10 ₽ a day until the next fee of 300 ₽ in 10 days.
    today = (T0 + dt.timedelta(days=14)).date()
    outlook = forecast(
        history, Decimal("560"), today, today + dt.timedelta(days=10), Decimal("300")
    )
    assert outlook.daily_spend == Decimal("10.00")
    assert outlook.days_left == 10 + 16  # 460 left after 10 days, 160 after the fee


def test_the_line_steps_down_on_the_charge_date() -> None:
    today = dt.date(2024, 5, 1)
    points = projection(
        Decimal("300"), Decimal("10"), today, dt.date(2024, 5, 6), Decimal("100"), days=30
    )
    assert points[0] == (0.0, Decimal("300"))
    assert (4.99, Decimal("250")) in points and (5.0, Decimal("150")) in points
    assert points[-1] == (20.0, Decimal(0))  # the same day days_left gives
    assert [day for day, _ in points] == sorted(day for day, _ in points)
    # A fee the balance cannot cover stops the service on its day.
    stop = projection(Decimal("50"), None, today, dt.date(2024, 5, 3), Decimal("100"))
    assert stop[-1] == (2.0, Decimal(0))
    # Lasting past the chart: cut at its edge at the value the walk has then.
    long = projection(Decimal("1000"), Decimal("10"), today, days=30)
    assert long == [(0.0, Decimal("1000")), (30.0, Decimal("700"))]
