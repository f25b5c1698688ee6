"""parsing.py on answers saved from the native dialect (tests/payloads/), and on changed ones."""

from __future__ import annotations

import copy
import datetime as dt
import json
from decimal import Decimal
from pathlib import Path
from typing import Any

import pytest
from aggregator_reference import parsing

from aggregator import ParseError
from aggregator.core.models import AccountState, ChatAuthor, PaymentKind, SuspensionState, UsageUnit

PAYLOADS = Path(__file__).parent / "payloads"


def load(name: str) -> Any:
    return json.loads((PAYLOADS / f"{name}.json").read_text(encoding="utf-8"))


def test_balance() -> None:
    b = parsing.balance(load("balance"))
    assert b.amount.amount == Decimal("850.00") and b.amount.currency == "RUB"
    assert b.as_of == dt.datetime(2025, 1, 15, 9, 0, tzinfo=dt.UTC)
    assert b.next_charge_date == dt.date(2025, 2, 1) and b.credit_limit is None


def test_poll_summary() -> None:
    poll = parsing.poll(load("account"))
    assert poll.state is AccountState.ACTIVE and poll.tariff_name == "Базовый"
    suspended = parsing.poll(load("account_suspended"))
    assert suspended.state is AccountState.SUSPENDED
    assert suspended.suspension_end == dt.date(2025, 2, 9)


def test_subaccounts() -> None:
    subs = parsing.subaccounts(load("accounts"))
    assert [(s.number, s.kind) for s in subs] == [
        ("REF-0001", "mobile"),
        ("REF-0002", "internet"),
        ("REF-0003", "tv"),
        ("REF-0004", "mobile"),
    ]
    assert subs[0].label == "Телефон Ивана"


def test_tariffs_services_and_changes() -> None:
    catalogue = parsing.tariff_catalogue(load("tariffs"))
    assert catalogue.current.id == "ref-basic" and catalogue.pending is None
    assert catalogue.current.price is not None
    assert catalogue.current.price.amount == Decimal("300.00")
    assert {t.id for t in catalogue.available} == {"ref-basic", "ref-plus"}
    services = parsing.services(load("services"))
    assert {s.id: s.enabled for s in services}["ref-antispam"] is True
    change = parsing.service_change(load("service_change"))
    assert change.service.id == "ref-notify" and change.service.enabled
    confirmed = parsing.operation_result(load("confirmed_tariff"))
    assert confirmed.operation == "change_tariff"
    assert confirmed.effective_date == dt.date(2025, 2, 1)


def test_suspension_and_quote() -> None:
    s = parsing.suspension(load("suspension"))
    assert s.state is SuspensionState.SUSPENDED and s.end == dt.date(2025, 2, 9)
    assert s.cost_rule is not None and s.cost_rule.free_days == 30
    q = parsing.quote(load("quote"))
    assert (q.days, q.free_days, q.paid_days, q.total.amount) == (60, 30, 30, Decimal("90.00"))


def test_chat() -> None:
    topics = parsing.chat_topics(load("chat_topics"))
    assert topics[0].title == "Общий вопрос"
    history = parsing.chat_messages(load("chat"))
    assert history[0].author is ChatAuthor.USER and history[1].author is ChatAuthor.BOT
    assert any(m.author is ChatAuthor.AGENT for m in history)
    sent = parsing.chat_messages(load("chat_send"))
    assert sent[1].text.startswith("Ваш тариф «Базовый»")


def test_payments_top_up_autopay() -> None:
    payments = parsing.payments(load("payments"))
    assert all(p.kind in (PaymentKind.PAYMENT, PaymentKind.CHARGE) for p in payments)
    assert all(p.amount.amount > 0 for p in payments)
    result = parsing.operation_result(load("confirmed_top_up"))
    assert result.details == {"balance": "950.00"}
    top_up = parsing.top_up(load("confirmed_top_up"))
    assert top_up.payment.amount.amount == Decimal("100.00")
    autopay = parsing.autopay(load("autopay"))
    assert autopay.enabled is False and autopay.card_mask and autopay.card_mask.startswith("****")


def test_usage_news_profile() -> None:
    usage = parsing.usage(load("usage"))
    assert {r.unit for r in usage.remainders} == {UsageUnit.SECONDS, UsageUnit.SMS, UsageUnit.BYTES}
    assert usage.traffic is not None and usage.traffic.downloaded_bytes > 0
    news = parsing.news(load("news"))
    assert {n.kind for n in news} == {"news", "offer", "maintenance"}
    profile = parsing.profile(load("profile"))
    assert profile.full_name == "Иван Петрович Смирнов" and profile.account_number == "REF-0001"


def _mutations(payload: dict[str, Any]) -> list[dict[str, Any]]:
    """The answer with the amount gone, with renamed keys, a null amount, not an object."""
    missing = copy.deepcopy(payload)
    del missing["amount"]
    renamed = {f"v2_{k}": v for k, v in payload.items()}
    garbled = copy.deepcopy(payload) | {"amount": "восемьсот"}
    return [missing, renamed, garbled, {"amount": None}, [], {}]


@pytest.mark.parametrize("index", range(6))
def test_a_changed_balance_is_a_parse_error_never_a_wrong_balance(index: int) -> None:
    payload = _mutations(load("balance"))[index]
    with pytest.raises(ParseError) as caught:
        parsing.balance(payload)
    assert caught.value.key == "parse"


def test_a_balance_in_another_spelling_is_read_not_refused() -> None:
    """The kit's tolerant rules: numbers as text or numbers, Moscow time, new fields, nulls."""
    variant = load("balance") | {
        "amount": 850.004,
        "as_of": "2025-01-15T12:00:00",
        "next_charge_amount": None,
        "loyalty": {"level": "gold"},
    }
    b = parsing.balance(variant)
    assert b.amount.amount == Decimal("850.00")
    assert b.as_of == dt.datetime(2025, 1, 15, 9, 0, tzinfo=dt.UTC)
    assert b.next_charge_amount is None
    unknown = parsing.poll(load("account") | {"state": "frozen-by-martians"})
    assert unknown.state is AccountState.UNKNOWN
    usage = load("usage")
    usage["remainders"].append({"name": "Литры", "unit": "litres", "rest": "1"})
    assert len(parsing.usage(usage).remainders) == 3


@pytest.mark.parametrize(
    ("function", "payload"),
    [
        (parsing.poll, {"balance": {}, "state": "active"}),
        (parsing.subaccounts, {"accounts": {"id": 1}}),
        (parsing.tariff_catalogue, {"current": {"id": "x"}}),
        (parsing.services, {"services": [{"id": "x"}]}),
        (parsing.suspension, {"state": "melted", "cost_rule": {}}),
        (parsing.quote, {"start": "soon"}),
        (
            parsing.chat_messages,
            {
                "messages": [
                    {
                        "id": "1",
                        "author": "martian",
                        "text": "",
                        "sent_at": "2025-01-01T00:00:00+03:00",
                    }
                ]
            },
        ),
        (parsing.payments, {"payments": [{"id": "1", "at": "x"}]}),
        (parsing.autopay, {"threshold": "1"}),
        (parsing.usage, {"remainders": [{"unit": "litres"}]}),
        (parsing.news, {"news": None}),
        (parsing.profile, None),
        (parsing.operation_result, {"message": "ok"}),
    ],
)
def test_every_parser_refuses_a_changed_answer(function: Any, payload: Any) -> None:
    with pytest.raises(ParseError):
        function(payload)


def test_parse_errors_carry_the_payload_redacted() -> None:
    login = load("login") | {"token": "secret-session-token-123"}
    with pytest.raises(ParseError) as caught:
        parsing.balance({**login, "phone": "9031234567"})
    payload = caught.value.payload
    assert payload is not None
    assert "secret-session-token-123" not in payload and "9031234567" not in payload
