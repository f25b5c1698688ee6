"""Rostelecom parsing on saved payloads (tests/payloads/): passport HTML and client-api JSON."""

from __future__ import annotations

import copy
import datetime as dt
import json
from pathlib import Path
from typing import Any

import pytest
from aggregator_rostelecom import parsing

from aggregator import (
    AccountLocked,
    InvalidCredentials,
    OperationRejected,
    ParseError,
    SessionExpired,
)
from aggregator.core.models import AccountState, Money, PaymentKind, SuspensionState

PAYLOADS = Path(__file__).parent / "payloads"
PAGE_URL = "https://b2c.passport.rt.ru/rostelecom/passport/auth/realms/b2c/protocol/x"
NOW = dt.datetime(2024, 5, 20, 9, 0, tzinfo=dt.UTC)


def load(name: str) -> Any:
    return json.loads((PAYLOADS / f"{name}.json").read_text(encoding="utf-8"))


def page(name: str) -> str:
    return (PAYLOADS / f"{name}.html").read_text(encoding="utf-8")


# -- passport pages ------------------------------------------------------------------------


def test_login_page_forms_tabs_and_sso_buttons() -> None:
    parsed = parsing.parse_login_page(page("login_page"), PAGE_URL)
    assert "/login-actions/authenticate?session_code=" in parsed.password_action
    assert parsed.otp_action is not None and "/login-actions/otp-request" in parsed.otp_action
    assert parsed.tabs == ["PHONE", "EMAIL", "LOGIN", "LS"]
    assert set(parsed.sso) == {"gosuslugi", "tbank", "vk", "ok", "mailru"}
    assert parsed.captcha_id is None and parsed.error_code is None


def test_login_page_with_an_error() -> None:
    parsed = parsing.parse_login_page(page("login_page_error"), PAGE_URL)
    assert parsed.error_code == "invalid_credentials"
    assert parsed.error_text == "Неверный логин или пароль"
    assert isinstance(parsing.login_error(parsed.error_code, parsed.error_text), InvalidCredentials)


def test_login_page_demanding_a_captcha() -> None:
    parsed = parsing.parse_login_page(page("login_page_captcha"), PAGE_URL)
    assert parsed.captcha_id
    assert parsed.captcha_image is not None and parsed.captcha_image.endswith(".png")
    assert parsed.captcha_image.startswith("https://")
    otp = parsing.parse_login_page(page("login_page_captcha_otp"), PAGE_URL)
    assert otp.captcha_id and otp.captcha_image


def test_locked_account() -> None:
    parsed = parsing.parse_login_page(page("login_page_locked"), PAGE_URL)
    assert parsed.error_code == "account_locked"
    assert isinstance(parsing.login_error(parsed.error_code, parsed.error_text), AccountLocked)


def test_otp_page() -> None:
    otp = parsing.parse_otp_page(page("otp_page"), PAGE_URL)
    assert "/login-actions/otp-verify" in otp.action
    assert otp.destination == "+7 903 ***-**-67" and otp.channel == "sms"
    assert otp.code_length == 6 and otp.error_code is None
    wrong = parsing.parse_otp_page(page("otp_page_error"), PAGE_URL)
    assert wrong.error_code == "code_invalid"


def test_changed_markup_is_a_parse_error_with_inputs_blanked() -> None:
    html = page("login_page").replace('id="kc-form-login"', 'id="v2-kc-form-login"')
    html = html.replace('name="username" value=""', 'name="username" value="9031234567"')
    with pytest.raises(ParseError) as caught:
        parsing.parse_login_page(html, PAGE_URL)
    assert caught.value.payload is not None and "9031234567" not in caught.value.payload
    with pytest.raises(ParseError):
        parsing.parse_otp_page(page("login_page"), PAGE_URL)
    with pytest.raises(ParseError):
        parsing.parse_login_page("<html><body>502 Bad Gateway</body></html>", PAGE_URL)


def test_a_form_that_lost_its_password_field_is_a_parse_error() -> None:
    html = page("login_page").replace('name="password"', 'name="pwd"')
    with pytest.raises(ParseError):
        parsing.parse_login_page(html, PAGE_URL)


# -- client-api ---------------------------------------------------------------------------


def test_every_account_becomes_a_subaccount() -> None:
    subs = parsing.parse_accounts(load("get_accounts"))
    assert [s.number for s in subs] == [
        "361 000 000 001",
        "361 000 000 002",
        "361 000 000 003",
        "361 000 000 004",
    ]
    assert [s.kind for s in subs] == ["bundle", "landline", "mobile", "internet"]
    assert subs[0].id == "2072" and subs[0].label == "Квартира"


def test_balance_is_kopecks() -> None:
    balance = parsing.parse_balance(load("balance"), NOW)
    assert balance.amount == Money.rub("1540.00")
    assert balance.next_charge_date == dt.date(2024, 6, 1)
    assert balance.next_charge_amount == Money.rub("423.16")
    assert parsing.parse_balance(load("balance_negative"), NOW).amount == Money.rub("-210.00")


@pytest.mark.parametrize(
    "mutate",
    [
        lambda p: p.update(balance=1540.0),  # roubles as a float: never stored as a balance
        lambda p: p.update(balance="154000"),
        lambda p: p.update(balance=True),
        lambda p: p.update(balance=None),
        lambda p: p.pop("balance"),
        lambda p: p.update(balance=10**13),
        lambda p: p.update(currency="USD"),
        lambda p: p.update(nextChargeDate="скоро"),
        lambda p: p.update(isError="no"),
    ],
    ids=["float", "string", "bool", "null", "missing", "huge", "currency", "date", "flag"],
)
def test_a_balance_that_is_not_integer_kopecks_is_a_parse_error(mutate: Any) -> None:
    payload = copy.deepcopy(load("balance"))
    mutate(payload)
    with pytest.raises(ParseError):
        parsing.parse_balance(payload, NOW)


def test_renamed_keys_are_a_parse_error() -> None:
    renamed = {f"v2_{k}": v for k, v in load("balance").items()}
    with pytest.raises(ParseError):
        parsing.parse_balance(renamed, NOW)


def test_bonus_in_kopecks() -> None:
    assert parsing.parse_bonus(load("bonus")) == Money.rub(350)
    assert parsing.parse_bonus({"isError": False, "bonusBalance": None}) is None


def test_service_statuses() -> None:
    state, end, tariff = parsing.parse_service_info(load("service_info_connected"))
    assert state is AccountState.ACTIVE and end is None and tariff == "Интернет + ТВ"
    state, end, _ = parsing.parse_service_info(load("service_info_voluntary_blocked"))
    assert state is AccountState.SUSPENDED and end == dt.date(2024, 6, 29)
    assert parsing.parse_service_info(load("service_info_blocked"))[0] is AccountState.BLOCKED
    odd = {"isError": False, "status": "SOMETHING_NEW"}
    assert parsing.parse_service_info(odd)[0] is AccountState.UNKNOWN


def test_a_voluntary_block_without_its_end_is_a_parse_error() -> None:
    payload = load("service_info_voluntary_blocked")
    payload["voluntaryBlockEndDate"] = None
    with pytest.raises(ParseError):
        parsing.parse_service_info(payload)


def test_poll_result() -> None:
    balance = parsing.parse_balance(load("balance"), NOW)
    poll = parsing.parse_poll(balance, load("service_info_voluntary_blocked"))
    assert poll.state is AccountState.SUSPENDED and poll.suspension_end == dt.date(2024, 6, 29)


def test_tariffs_with_a_pending_change() -> None:
    catalogue = parsing.parse_tariffs(load("tariff_name_pending"), load("available_tariffs"))
    assert catalogue.current.id == "rt-combo"
    assert catalogue.current.price == Money.rub(1100)
    assert catalogue.pending is not None and catalogue.pending.id == "rt-inet500"
    assert catalogue.pending_from == dt.date(2024, 6, 1)
    assert [t.id for t in catalogue.available] == ["rt-inet100", "rt-inet500", "rt-combo"]


def test_options_are_services_with_kopeck_prices() -> None:
    options = {o.id: o for o in parsing.parse_options(load("options"))}
    assert options["rt-wink"].enabled and options["rt-wink"].price == Money.rub(349)
    assert not options["rt-router"].can_toggle
    assert parsing.parse_option(load("change_option_done")["option"]).enabled is False


def test_confirmation_request_and_results() -> None:
    request = parsing.parse_confirm_request(load("change_tariff_confirm"))
    assert request is not None and request.confirm_id
    assert request.masked_destination == "+7 903 ***-**-67" and request.code_length == 6
    assert parsing.parse_confirm_request({"isError": False, "message": "ok"}) is None
    done, message, effective, _ = parsing.parse_confirm_result(load("confirm_done"))
    assert done and effective == dt.date(2024, 6, 1) and "Технологичный 500" in message
    done, message, _, left = parsing.parse_confirm_result(load("confirm_wrong_code"))
    assert not done and left == 2
    exhausted = {**load("confirm_wrong_code"), "attemptsLeft": 0}
    with pytest.raises(OperationRejected):
        parsing.parse_confirm_result(exhausted)


def test_voluntary_block_and_its_cost() -> None:
    active = parsing.parse_block(load("voluntary_block_active"))
    assert active.state is SuspensionState.SUSPENDED
    assert active.start == dt.date(2024, 5, 10) and active.end == dt.date(2024, 6, 29)
    assert active.cost_rule is not None and active.cost_rule.free_days == 90
    assert active.cost_rule.daily_fee == Money.rub(2)
    none = parsing.parse_block(load("voluntary_block_none"))
    assert none.state is SuspensionState.ACTIVE and none.start is None
    quote = parsing.parse_block_quote(load("voluntary_block_cost"))
    assert (quote.days, quote.free_days, quote.paid_days) == (100, 90, 10)
    assert quote.total == Money.rub(20)


def test_inconsistent_quote_is_a_parse_error() -> None:
    payload = load("voluntary_block_cost")
    payload["paidDays"] = 3
    with pytest.raises(ParseError):
        parsing.parse_block_quote(payload)


def test_payments_and_charges() -> None:
    payments = parsing.parse_payments(load("payments"))
    assert payments == sorted(payments, key=lambda p: p.at, reverse=True)
    kinds = {p.kind for p in payments}
    assert kinds == {PaymentKind.PAYMENT, PaymentKind.CHARGE}
    assert all(p.amount.amount > 0 for p in payments)


def test_autopay_profile_promotions_notifications() -> None:
    autopay = parsing.parse_autopay(load("autopay"))
    assert autopay.enabled is False
    profile = parsing.parse_profile(load("profile"))
    assert profile.full_name == "Иван Петрович Смирнов" and profile.phone == "+79031234567"
    news = parsing.parse_promotions(load("promotions"))
    assert {n.kind for n in news} == {"news", "offer", "maintenance"}
    assert parsing.parse_notifications(load("notifications")) == {
        "sms": True,
        "email": True,
        "push": False,
    }


def test_errors() -> None:
    with pytest.raises(SessionExpired):
        parsing.check_api(load("session_lost"))
    with pytest.raises(SessionExpired):
        parsing.check_api(load("check_session_lost"))
    with pytest.raises(OperationRejected) as caught:
        parsing.check_api(load("not_found"))
    assert caught.value.reason == "Лицевой счёт не найден"
    with pytest.raises(ParseError):
        parsing.check_api({"isError": True, "errorCode": "SOMETHING_ELSE"})
    with pytest.raises(ParseError):
        parsing.check_api(["not", "an", "object"])


def test_token_reply() -> None:
    data = parsing.parse_token(
        {
            "access_token": "a" * 40,
            "refresh_token": "r" * 40,
            "token_type": "Bearer",
            "expires_in": 600,
        }
    )
    assert data["access_token"] == "a" * 40 and data["refresh_token"] == "r" * 40
    assert data["expires_at"] > NOW.timestamp()
    with pytest.raises(SessionExpired):
        parsing.parse_token({"error": "invalid_grant"})
    with pytest.raises(InvalidCredentials):
        parsing.parse_token({"error": "invalid_client"})
    with pytest.raises(ParseError) as caught:
        parsing.parse_token({"access_token": "secret-token-value", "token_type": "Bearer"})
    assert "secret-token-value" not in str(caught.value.payload)


def test_every_saved_json_payload_has_the_error_flag() -> None:
    for path in PAYLOADS.glob("*.json"):
        assert "isError" in json.loads(path.read_text(encoding="utf-8")), path.name
