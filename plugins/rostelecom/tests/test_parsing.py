"""Rostelecom parsing on saved real-shape payloads (tests/payloads/, each with its ``_source``:
the independent client, path and line that shows the shape, or "assumed")."""

from __future__ import annotations

import datetime as dt
import json
import re
from decimal import Decimal
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
from aggregator.core.models import AccountState, Money, PaymentKind, SuspensionState, UsageUnit

PAYLOADS = Path(__file__).parent / "payloads"
NOW = dt.datetime(2024, 5, 20, 9, 0, tzinfo=dt.UTC)


def load(name: str) -> Any:
    return json.loads((PAYLOADS / f"{name}.json").read_text(encoding="utf-8"))


def page(name: str) -> str:
    return (PAYLOADS / f"{name}.html").read_text(encoding="utf-8")


# -- passport pages ------------------------------------------------------------------------


def test_the_first_screen_config() -> None:
    config = parsing.parse_merge_config(page("passport_start"))
    assert config is not None and config["step"] == "start"
    assert config["url"]["loginAction"].startswith("https://b2c.passport.rt.ru/")
    assert config["captchaId"] is None
    assert parsing.parse_page_message(page("passport_start")) is None


def test_a_captcha_in_the_config() -> None:
    config = parsing.parse_merge_config(page("passport_captcha"))
    assert config is not None
    assert (config["captchaId"], config["captchaUrl"]) == (
        "3f1c2a",
        "https://b2c.passport.rt.ru/captcha",
    )
    message = parsing.parse_page_message(page("passport_captcha"))
    assert message is not None and message.code == "captcha_required"


def test_feedback_becomes_the_contract_error() -> None:
    message = parsing.parse_page_message(page("passport_wrong_password"))
    assert message is not None and message.summary == "Неверный логин или пароль"
    assert isinstance(parsing.login_error(message), InvalidCredentials)
    locked = parsing.PageMessage("Учётная запись заблокирована до 12:00", "account_locked")
    assert isinstance(parsing.login_error(locked), AccountLocked)


def test_a_page_without_config() -> None:
    assert parsing.parse_merge_config("<html><body>Технические работы</body></html>") is None


# -- client-api ------------------------------------------------------------------------------


def test_accounts_with_integer_service_types() -> None:
    infos = parsing.parse_accounts(load("get_accounts"))
    assert [i.subaccount.id for i in infos] == ["2068", "2533", "2692"]
    flat = infos[0]
    assert flat.subaccount.number == "361 000 000 001" and flat.subaccount.kind == "bundle"
    # equipment rent (type 6) is no service of its own
    assert [(s.service_id, s.kind) for s in flat.services] == [
        ("206801", "internet"),
        ("206802", "tv"),
    ]
    assert infos[1].subaccount.kind == "mobile"
    assert infos[2].services == () and infos[2].subaccount.kind == "other"


def test_a_balance_split_over_sub_accounts() -> None:
    balance = parsing.parse_balance(load("balance_split"), NOW)
    assert balance.amount == Money.rub("1540.00")  # 1000.00 + "540.00"; a null part skipped


def test_a_balance_in_kopecks_as_text() -> None:
    balance = parsing.parse_balance(load("balance_text"), NOW, bonus=Money.rub(350))
    assert balance.amount == Money.rub("-210.00") and balance.bonus == Money.rub(350)
    assert balance.next_charge_date == dt.date(2027, 1, 1)
    assert balance.next_charge_amount == Money.rub("1426.12")


@pytest.mark.parametrize(
    "mutate",
    [
        lambda p: p.update(balance=12.5),
        lambda p: p.update(balance="двенадцать"),
        lambda p: p.update(balance=None),
    ],
)
def test_a_balance_that_is_no_kopecks_is_a_parse_error(mutate: Any) -> None:
    payload = load("balance_text")
    mutate(payload)
    with pytest.raises(ParseError):
        parsing.parse_balance(payload, NOW)


def test_tariff_names_per_service_without_placeholders() -> None:
    assert parsing.parse_tariff_names(load("tariff_names")) == {
        "206801": "Интернет + ТВ",
        "253301": "Мобильный Оптимальный",
    }


def test_service_states_including_operator_blocks() -> None:
    blocked = parsing.parse_service_info(load("service_info_operator_block"))
    assert blocked.state is AccountState.BLOCKED and blocked.status == "OPERATOR_BLOCK"
    voluntary = parsing.parse_service_info(load("service_info_voluntary"))
    assert voluntary.state is AccountState.SUSPENDED
    assert voluntary.block_end == dt.date(2027, 1, 13)
    unknown = parsing.parse_service_info(load("service_info_unknown"))
    assert unknown.state is AccountState.UNKNOWN
    state, _ = parsing.account_state([voluntary, blocked])
    assert state is AccountState.BLOCKED  # the gravest
    assert parsing.account_state([voluntary]) == (AccountState.SUSPENDED, dt.date(2027, 1, 13))
    for status, words in parsing.STATUS_TEXT.items():
        assert status in parsing.SERVICE_STATUS and words


def test_mobile_package_remainders() -> None:
    rests = {r.unit: r for r in parsing.parse_service_tariff(load("service_tariff_mvno"))}
    assert set(rests) == {UsageUnit.SECONDS, UsageUnit.SMS, UsageUnit.BYTES}
    assert rests[UsageUnit.SECONDS].rest == Decimal(549 * 60)
    assert rests[UsageUnit.SMS].size == Decimal(100)
    assert rests[UsageUnit.BYTES].rest == (Decimal("22.87") * (1 << 30)).quantize(Decimal(1))


def test_the_bonus_programme() -> None:
    status = parsing.parse_fpl_status(load("fpl_status"))
    assert status.points == Decimal(350) and status.level == "Стандартный"
    assert parsing.parse_fpl_status(load("fpl_missing")).points is None
    assert parsing.parse_fpl_status(load("fpl_unavailable")).points is None
    with pytest.raises(SessionExpired):
        parsing.parse_fpl_status(load("check_session_lost"))


def test_the_profile() -> None:
    profile = parsing.parse_profile(load("profile"), account_number="361 000 000 001")
    assert profile.full_name == "Смирнов Иван Петрович"
    assert profile.phone == "9031234567" and profile.email == "ivan.smirnov@example.ru"


def test_tariffs_with_a_pending_change() -> None:
    catalogue = parsing.parse_tariffs(load("available_tariffs"))
    assert catalogue.current.id == "rt-combo" and catalogue.current.price == Money.rub(1100)
    assert [t.id for t in catalogue.available] == ["rt-inet100", "rt-inet500", "rt-combo"]


def test_chat_replies() -> None:
    messages = parsing.parse_chat(
        {
            "isError": False,
            "messages": [
                {
                    "messageId": 7,
                    "author": "CLIENT",
                    "text": "Привет",
                    "date": "2025-01-15T12:00:00",
                },
                {
                    "messageId": "8",
                    "author": "OPERATOR",
                    "authorName": "Мария",
                    "text": "Да",
                    "date": "2025-01-15T12:05:00+03:00",
                    "attachments": [],
                },
            ],
        }
    )
    assert [m.id for m in messages] == ["7", "8"]
    assert messages[0].sent_at.utcoffset() == dt.timedelta(hours=3)
    assert messages[1].author_name == "Мария"


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


def test_autopay_promotions_notifications() -> None:
    autopay = parsing.parse_autopay(load("autopay"))
    assert autopay.enabled is False
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
    with pytest.raises(OperationRejected) as caught:
        parsing.check_api(load("api_error"))
    assert "<a" not in caught.value.reason and "службу поддержки" in caught.value.reason
    with pytest.raises(ParseError):
        parsing.check_api({"isError": True, "errorCode": "SOMETHING_ELSE"})
    with pytest.raises(ParseError):
        parsing.check_api(["not", "an", "object"])


def test_every_real_shape_payload_cites_its_source() -> None:
    """Each reply says where its shape comes from: an independent client (repository, path and
    line), the seed article, or assumed (DIALECTS.md section 9 says the same per endpoint)."""
    for path in PAYLOADS.glob("*.json"):
        data = json.loads(path.read_text(encoding="utf-8"))
        assert "isError" in data or "isSessionLost" in data, path.name
        source = data.get("_source")
        assert source, path.name
        text = " ".join(source) if isinstance(source, list) else str(source)
        cited = re.search(r"(any-balance-providers|mbplugin|AwardWallet).* L?\d+", text)
        assert cited or "seed" in text or "assumed" in text, path.name


# -- read tolerantly: what the cabinet may add or spell differently ---------------------------


def _noisy(value: Any) -> Any:
    """The same reply with fields the cabinet added since (at the top and in every list item;
    null, nested, a number), the keys of the maps it holds (tariff names by id) untouched."""
    if isinstance(value, list):
        return [_noisy(v) for v in value]
    if isinstance(value, dict):
        inner = {k: _noisy(v) if isinstance(v, list) else v for k, v in value.items()}
        return inner | {"uiHint2027": {"x": [1, None]}, "deprecatedFlag": None, "promoId": 17}
    return value


def _stringly(value: Any) -> Any:
    """Every integer as text (the cabinet's replies mix ``17`` and ``"17"``)."""
    if isinstance(value, bool):
        return value
    if isinstance(value, int):
        return str(value)
    if isinstance(value, list):
        return [_stringly(v) for v in value]
    if isinstance(value, dict):
        return {k: _stringly(v) for k, v in value.items()}
    return value


READINGS: list[tuple[str, Any]] = [
    ("get_accounts", parsing.parse_accounts),
    ("balance_split", lambda p: parsing.parse_balance(p, NOW)),
    ("balance_text", lambda p: parsing.parse_balance(p, NOW)),
    ("tariff_names", parsing.parse_tariff_names),
    ("service_info_operator_block", parsing.parse_service_info),
    ("service_info_voluntary", parsing.parse_service_info),
    ("service_tariff_mvno", parsing.parse_service_tariff),
    ("fpl_status", parsing.parse_fpl_status),
    ("profile", lambda p: parsing.parse_profile(p, account_number="361 000 000 001")),
    ("available_tariffs", parsing.parse_tariffs),
    ("options", parsing.parse_options),
    ("payments", parsing.parse_payments),
    ("voluntary_block_active", parsing.parse_block),
    ("autopay", parsing.parse_autopay),
    ("promotions", parsing.parse_promotions),
    ("change_tariff_confirm", parsing.parse_confirm_request),
]


@pytest.mark.parametrize(("name", "read"), READINGS, ids=[n for n, _ in READINGS])
def test_new_fields_and_numbers_as_text_read_the_same(name: str, read: Any) -> None:
    payload = load(name)
    expected = read(payload)
    assert read(_noisy(payload)) == expected
    assert read(_stringly(payload)) == expected
