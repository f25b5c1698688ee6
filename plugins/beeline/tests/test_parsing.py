"""Beeline parsing on saved payloads (tests/payloads/), and on payloads the operator changed."""

from __future__ import annotations

import copy
import datetime as dt
import json
from decimal import Decimal
from pathlib import Path
from typing import Any

import pytest
from aggregator_beeline import parsing

from aggregator import (
    AccountLocked,
    InvalidCredentials,
    OperationRejected,
    ParseError,
    RateLimited,
    SessionExpired,
)
from aggregator.core.models import AccountState, ChatAuthor, Money, PaymentKind, UsageUnit

PAYLOADS = Path(__file__).parent / "payloads"
NOW = dt.datetime(2024, 5, 20, 12, 0, tzinfo=dt.UTC)


def load(name: str) -> Any:
    return json.loads((PAYLOADS / f"{name}.json").read_text(encoding="utf-8"))


def test_auth_returns_token_and_temp_flag() -> None:
    token, temporary = parsing.parse_auth(load("auth_ok"))
    assert token == "4f1c9a0e2b7d4c61a8e5f3b2d1c0a9e8"
    assert temporary is False
    assert parsing.parse_auth(load("auth_temp"))[1] is True


@pytest.mark.parametrize(
    ("name", "error"),
    [
        ("auth_wrong_password", InvalidCredentials),
        ("auth_locked", AccountLocked),
        ("token_expired", SessionExpired),
        ("rejected", OperationRejected),
    ],
)
def test_error_meta_maps_onto_the_contract(name: str, error: type[Exception]) -> None:
    with pytest.raises(error):
        parsing.check_meta(load(name))


def test_rejection_keeps_the_operators_words() -> None:
    with pytest.raises(OperationRejected) as caught:
        parsing.check_meta(load("rejected"))
    assert caught.value.reason == "Недостаточно средств для подключения услуги"


def test_captcha_demand_carries_id_and_image_path() -> None:
    with pytest.raises(parsing.CaptchaRequired) as caught:
        parsing.parse_auth(load("auth_captcha"))
    assert caught.value.captcha_id == "c0ffee12"
    assert caught.value.image_path == "1.0/captcha/c0ffee12.png"


def test_too_many_requests_meta_is_rate_limited() -> None:
    with pytest.raises(RateLimited):
        parsing.check_meta({"meta": {"status": "ERROR", "code": 20009, "message": "slow"}})


def test_pass_reset_gives_masked_number() -> None:
    assert parsing.parse_pass_reset(load("pass_reset")) == "+7 903 ***-**-67"
    assert parsing.mask_phone("9031234567") == "+7 903 ***-**-67"


def test_every_number_becomes_a_subaccount() -> None:
    subs = parsing.parse_subscribers(load("subscribers"))
    assert [s.id for s in subs] == ["9031234567", "9037654321", "0891234567"]
    assert subs[0].number == "+7 903 123-45-67"
    assert subs[1].label == "Дочь"
    assert subs[2].kind == "internet"


def test_duplicate_numbers_are_listed_once() -> None:
    payload = load("subscribers")
    payload["subscribers"].append(payload["subscribers"][0])
    assert len(parsing.parse_subscribers(payload)) == 3


def test_prepaid_balance_is_roubles_exactly() -> None:
    balance = parsing.parse_balance(load("prepaid_balance"), "PREPAID", NOW)
    assert balance.amount == Money.rub("1234.56")
    assert balance.next_charge_date == dt.date(2024, 6, 1)
    assert balance.as_of == NOW


def test_postpaid_balance_has_credit_limit_and_next_charge() -> None:
    balance = parsing.parse_balance(load("postpaid_balance"), "POSTPAID", NOW)
    assert balance.amount == Money.rub("-120.50")
    assert balance.credit_limit == Money.rub(500)
    assert balance.next_charge_amount == Money.rub(650)


def test_pay_type() -> None:
    assert parsing.parse_pay_type(load("pay_type_prepaid")) == "PREPAID"
    assert parsing.parse_pay_type(load("pay_type_postpaid")) == "POSTPAID"
    with pytest.raises(ParseError):
        parsing.parse_pay_type({"meta": {"status": "OK"}, "payType": "CREDIT"})


@pytest.mark.parametrize(
    "mutate",
    [
        lambda p: p.pop("balance"),
        lambda p: p.update(balance="1234.56"),
        lambda p: p.update(balance=True),
        lambda p: p.update(balance=None),
        lambda p: p.update(balance=12.345),
        lambda p: p.update(balance=float("nan")),
        lambda p: p.update(balance=1e12),
        lambda p: p.update(currency="USD"),
        lambda p: p.update(nextBillingDate="завтра"),
        lambda p: p.pop("meta"),
        lambda p: p.update(meta={"status": "MAYBE"}),
        lambda p: p.update(meta="OK"),
    ],
    ids=[
        "missing",
        "string",
        "bool",
        "null",
        "three-places",
        "nan",
        "implausible",
        "currency",
        "date",
        "no-meta",
        "unknown-status",
        "meta-not-object",
    ],
)
def test_changed_balance_is_a_parse_error_never_a_balance(mutate: Any) -> None:
    payload = copy.deepcopy(load("prepaid_balance"))
    mutate(payload)
    with pytest.raises(ParseError):
        parsing.parse_balance(payload, "PREPAID", NOW)


@pytest.mark.parametrize("payload", [None, [], "OK", 42, {"meta": None}])
def test_not_an_object_is_a_parse_error(payload: Any) -> None:
    with pytest.raises(ParseError):
        parsing.check_meta(payload)


def test_unknown_error_code_is_a_parse_error() -> None:
    with pytest.raises(ParseError):
        parsing.check_meta({"meta": {"status": "ERROR", "code": 99999, "message": "?"}})


def test_parse_error_payload_is_redacted() -> None:
    payload = load("auth_ok")
    payload["token"] = 12345  # a changed API: the token became a number
    payload["password"] = "hunter2-secret"
    with pytest.raises(ParseError) as caught:
        parsing.parse_auth(payload, secrets=["hunter2-secret"])
    text = str(caught.value.payload)
    assert "hunter2-secret" not in text and "12345" not in text
    assert '"token": "***"' in text and '"password": "***"' in text


def test_price_plan_with_a_pending_change() -> None:
    current, pending, pending_from = parsing.parse_price_plan(load("price_plan"))
    assert current.name == "ВСЁ за 400"
    assert current.id == "bee-vse4"
    assert current.price == Money.rub(400)
    assert pending is not None and pending.id == "bee-vse6"
    assert pending_from == dt.date(2024, 6, 1)


def test_tariff_catalogue() -> None:
    catalogue = parsing.parse_tariff_catalogue(load("price_plan"), load("available_price_plans"))
    assert catalogue.current.id == "bee-vse4"
    assert [t.id for t in catalogue.available] == ["bee-vse4", "bee-vse6", "bee-up"]
    assert catalogue.pending_from == dt.date(2024, 6, 1)


def test_status_letters() -> None:
    assert parsing.parse_status(load("status_active")) == (AccountState.ACTIVE, "Активен")
    assert parsing.parse_status(load("status_suspended"))[0] is AccountState.SUSPENDED
    unknown = {"meta": {"status": "OK"}, "status": "Z"}
    assert parsing.parse_status(unknown)[0] is AccountState.UNKNOWN


def test_poll_result() -> None:
    balance = parsing.parse_balance(load("prepaid_balance"), "PREPAID", NOW)
    result = parsing.parse_poll(balance, load("price_plan"), load("status_active"))
    assert result.tariff_name == "ВСЁ за 400"
    assert result.state is AccountState.ACTIVE


def test_services_connected_first_then_available() -> None:
    services = parsing.parse_services(load("service_list"), load("available_service_list"))
    assert [(s.id, s.enabled) for s in services] == [
        ("bee-kto", True),
        ("bee-trust", True),
        ("bee-music", False),
        ("bee-antiopred", False),
    ]
    assert services[1].can_toggle is False
    assert services[0].price == Money.rub(65) and services[0].period == "month"
    assert services[3].period == "day"


def test_accumulators_in_contract_units() -> None:
    remainders = parsing.parse_accumulators(load("accumulators"))
    minutes, sms, internet = remainders
    assert minutes.unit is UsageUnit.SECONDS and minutes.rest == 18000
    assert sms.unit is UsageUnit.SMS and sms.name == "SMS"
    assert internet.unit is UsageUnit.BYTES
    assert internet.rest == Decimal(10485760 * 1024)
    assert internet.size == Decimal(20971520 * 1024)


@pytest.mark.parametrize(
    "bad",
    [
        {"unit": "LITRES", "rest": 1, "size": 2},
        {"unit": "SMS", "rest": -1},
        {"unit": "SMS", "rest": 5, "size": 2},
    ],
)
def test_changed_accumulators_are_parse_errors(bad: dict[str, Any]) -> None:
    with pytest.raises(ParseError):
        parsing.parse_accumulators({"meta": {"status": "OK"}, "accumulators": [bad]})


def test_payments_newest_first() -> None:
    payments = parsing.parse_payments(load("payments_history"))
    assert [p.id for p in payments] == ["p-102", "p-101"]
    assert payments[0].amount == Money.rub("300.50")
    assert payments[0].kind is PaymentKind.PAYMENT
    assert payments[0].at.utcoffset() == dt.timedelta(hours=3)


def test_trust_payment_and_requests() -> None:
    assert parsing.parse_trust_payment(load("trust_payment")) == (True, Decimal(300))
    request_id, effective, message = parsing.parse_request(load("change_price_plan"))
    assert request_id == "r-77"
    assert effective == dt.date(2024, 6, 1)
    assert message == ""


def test_offers_profile() -> None:
    offers = parsing.parse_offers(load("offers"))
    assert offers[0].kind == "offer" and offers[0].published == dt.date(2024, 5, 19)
    profile = parsing.parse_profile(load("profile"))
    assert profile.full_name == "Иванов Иван Иванович"
    assert profile.phone == "+79031234567"


def test_chat_topics_are_the_two_beeline_topics() -> None:
    topics = parsing.parse_chat_topics(load("chat_topics"))
    assert [t.title for t in topics] == ["Общая консультация", "Вопрос по услугам"]


def test_chat_messages_with_authors() -> None:
    messages = parsing.parse_chat_messages(load("chat_message"))
    assert [m.author for m in messages] == [ChatAuthor.USER, ChatAuthor.BOT]
    agent = parsing.parse_chat_messages(load("chat_unseen"))[0]
    assert agent.author is ChatAuthor.AGENT
    assert agent.author_name == "Специалист Мария"


def test_every_saved_payload_is_valid_json_with_meta() -> None:
    for path in PAYLOADS.glob("*.json"):
        payload = json.loads(path.read_text(encoding="utf-8"))
        assert payload["meta"]["status"] in ("OK", "ERROR"), path.name
