"""Billing rules: daily accrual, tariff change timing, suspension costs, negative balance."""

from __future__ import annotations

import datetime as dt

import pytest
from reference_provider.backend import Backend
from reference_provider.domain import InvalidInput, Rejected

from .conftest import START


def fresh(
    backend: Backend,
    operator: str = "reference",
    tariff: str = "ref-basic",
    balance: int = 10_000_00,
    kind: str = "mobile",
):  # type: ignore[no-untyped-def]
    sub = backend.create_subscriber(operator, f"t{backend.next_id()}", "Secret-1", "Тест")
    return backend.create_account(sub, kind=kind, tariff_id=tariff, balance=balance)  # type: ignore[arg-type]


def test_daily_fees_sum_to_the_monthly_fee(backend: Backend) -> None:
    acc = fresh(backend)
    backend.advance(days=16)  # 31 Jan
    before = backend.balance(acc)
    backend.advance(days=28)  # 1..28 Feb: exactly one monthly fee
    assert before - backend.balance(acc) == 300_00


def test_tariff_change_takes_effect_on_the_first_of_next_month(backend: Backend) -> None:
    acc = fresh(backend)
    change = backend.change_tariff(acc, "ref-plus")
    assert change.effective == dt.date(2025, 2, 1)
    backend.advance(days=16)  # 31 Jan
    assert backend.tariff_of(acc).id == "ref-basic"
    assert backend.pending_tariff(acc) is not None
    backend.advance(days=1)  # 1 Feb
    assert backend.tariff_of(acc).id == "ref-plus"
    assert backend.pending_tariff(acc) is None
    feb_first = [e for e in backend.ledger(acc) if e.day == dt.date(2025, 2, 1)]
    assert [e.amount for e in feb_first] == [-(550_00 * 1 // 28)]


def test_choosing_the_current_tariff_cancels_a_pending_change(backend: Backend) -> None:
    acc = fresh(backend)
    backend.change_tariff(acc, "ref-plus")
    backend.change_tariff(acc, "ref-basic")
    assert backend.pending_tariff(acc) is None
    with pytest.raises(Rejected):
        backend.change_tariff(acc, "ref-basic")


def test_archived_or_foreign_tariffs_are_refused(backend: Backend) -> None:
    acc = fresh(backend)
    with pytest.raises(Rejected):
        backend.change_tariff(acc, "ref-old")
    with pytest.raises(Rejected):
        backend.change_tariff(acc, "ref-home")  # an internet tariff on a mobile account


def test_negative_balance_blocks_and_a_top_up_unblocks(backend: Backend) -> None:
    acc = fresh(backend, balance=30_00)  # 300 ₽/month: ~9.68 ₽ a day
    assert backend.status(acc) == "active"
    backend.advance(days=3)
    assert backend.balance(acc) < 0
    assert backend.status(acc) == "blocked"
    debt = backend.balance(acc)
    backend.advance(days=10)
    assert backend.balance(acc) == debt  # nothing accrues while blocked
    backend.top_up(acc, 100_00)
    assert backend.status(acc) == "active"


def test_postpaid_credit_limit(backend: Backend) -> None:
    acc = backend.account_by_number("beeline", "9161112233")
    assert backend.balance(acc) < 0
    assert backend.status(acc) == "active"  # within the credit limit


def test_paid_service_is_charged_from_tomorrow(backend: Backend) -> None:
    acc = fresh(backend)
    backend.set_service(acc, "ref-kino", True)
    backend.advance(days=1)
    today = [e for e in backend.ledger(acc) if e.day == dt.date(2025, 1, 16)]
    assert sorted(e.description for e in today) == [
        "Абонентская плата: Базовый",
        "Услуга: Онлайн-кинотеатр",
    ]
    with pytest.raises(Rejected):
        backend.set_service(acc, "ref-kino", True)


def test_suspension_is_free_where_the_rule_says_so(backend: Backend) -> None:
    acc = fresh(backend, operator="beeline", tariff="bee-vse4")
    start = dt.date(2025, 1, 16)
    quote = backend.quote_suspension(acc, start, start + dt.timedelta(days=29))
    assert (quote.days, quote.free_days, quote.paid_days, quote.total) == (30, 30, 0, 0)
    backend.request_suspension(acc, start, start + dt.timedelta(days=29))
    before = backend.balance(acc)
    backend.advance(days=20)
    assert backend.status(acc) == "suspended"
    assert backend.balance(acc) == before


def test_netbynet_block_is_free_for_60_days_then_daily(backend: Backend) -> None:
    acc = fresh(backend, operator="netbynet", tariff="nbn-100", kind="internet")
    start = dt.date(2025, 1, 16)
    end = start + dt.timedelta(days=69)
    quote = backend.quote_suspension(acc, start, end)
    assert (quote.days, quote.free_days, quote.paid_days) == (70, 60, 10)
    assert quote.total == 10 * 5_00
    block = backend.request_suspension(acc, start, end)
    assert block.status(backend.now()) == "requested"  # NetByNet approves after 2 hours
    backend.advance(hours=2)
    assert block.status(backend.now()) == "scheduled"
    before = backend.balance(acc)
    backend.advance(days=60)  # 16 Jan .. 16 Mar: days 0..59 of the block: free
    assert backend.balance(acc) == before
    backend.advance(days=10)  # days 60..69: 5 ₽ each
    assert backend.balance(acc) == before - 10 * 5_00
    backend.advance(days=1)  # the block is over: the tariff again
    assert backend.status(acc) == "active"
    assert backend.balance(acc) < before - 10 * 5_00


def test_demo_netbynet_block_enters_its_paid_days(backend: Backend) -> None:
    acc = backend.account_by_number("netbynet", "10020031")  # blocked since 58 days ago
    before = backend.balance(acc)
    backend.advance(days=1)
    assert backend.balance(acc) == before
    backend.advance(days=1)
    assert backend.balance(acc) == before - 5_00


def test_suspension_limits_and_resume(backend: Backend) -> None:
    acc = fresh(backend)
    today = START.date()
    with pytest.raises(InvalidInput):
        backend.quote_suspension(acc, today - dt.timedelta(days=1), today)
    with pytest.raises(Rejected):
        backend.quote_suspension(acc, today, today + dt.timedelta(days=400))
    block = backend.request_suspension(acc, today, today + dt.timedelta(days=10))
    with pytest.raises(Rejected):
        backend.request_suspension(acc, today, today + dt.timedelta(days=5))
    backend.advance(days=2)
    assert backend.status(acc) == "suspended"
    backend.resume(acc)
    assert block.ended_on == dt.date(2025, 1, 17)
    backend.advance(days=1)
    assert backend.status(acc) == "active"
    with pytest.raises(Rejected):
        backend.resume(acc)


def test_autopay_tops_up_below_the_threshold(backend: Backend) -> None:
    acc = fresh(backend, balance=60_00)
    backend.set_autopay(acc, True, threshold=50_00, amount=300_00)
    backend.advance(days=2)
    autopays = [e for e in backend.ledger(acc) if e.kind == "autopay"]
    assert len(autopays) == 1
    assert autopays[0].amount == 300_00
    assert autopays[0].description.startswith("Автоплатёж с карты ****")


def test_top_up_limits(backend: Backend) -> None:
    acc = fresh(backend)
    with pytest.raises(InvalidInput):
        backend.top_up(acc, 0)
    with pytest.raises(InvalidInput):
        backend.top_up(acc, 200_000_00)


def test_usage_and_traffic_are_deterministic(backend: Backend) -> None:
    acc = backend.account_by_number("reference", "REF-0001")
    first = backend.usage(acc)
    again = Backend(seed=1, clock_speed=0, start=START)
    second = again.usage(again.account_by_number("reference", "REF-0001"))
    assert first == second
    assert {r.unit for r in first.remainders} == {"seconds", "sms", "bytes"}
    assert all(0 <= r.rest <= r.size for r in first.remainders)
    assert first.traffic.downloaded > first.traffic.uploaded > 0


def test_next_payment_covers_next_month(backend: Backend) -> None:
    acc = fresh(backend, balance=0)
    due, amount = backend.next_payment(acc)
    assert due == dt.date(2025, 2, 1)
    assert amount > 300_00


def test_demo_household_states(backend: Backend) -> None:
    states = {(a.operator, a.number): backend.status(a) for a in backend.accounts.values()}
    for operator in ("reference", "beeline", "rostelecom", "bashtel", "netbynet"):
        mine = {s for (op, _), s in states.items() if op == operator}
        assert {"active", "blocked", "suspended"} <= mine, operator
    assert backend.balance(backend.account_by_number("beeline", "9031234567")) == 412_50
