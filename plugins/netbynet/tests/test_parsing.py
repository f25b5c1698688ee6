"""The NetByNet reply parsers on replies in the real shape (payloads/, each citing its source in
``_source``: an unknown field the reading must ignore)."""

from __future__ import annotations

import copy
import datetime as dt
import json
from decimal import Decimal
from pathlib import Path
from typing import Any

import pytest
from aggregator_netbynet import parsing

from aggregator import (
    AccountLocked,
    InvalidCredentials,
    OperationRejected,
    ParseError,
    SessionExpired,
    Unavailable,
)
from aggregator.core.models import (
    AccountState,
    BonusPoints,
    ChatAuthor,
    NoticeKind,
    PaymentKind,
    SuspensionState,
    maintenance_notices,
)

PAYLOADS = Path(__file__).parent / "payloads"
MSK = dt.timezone(dt.timedelta(hours=3))


def reply(name: str) -> Any:
    return json.loads((PAYLOADS / name).read_text(encoding="utf-8"))


def test_balance_with_bonus_and_next_payment() -> None:
    balance = parsing.parse_balance(reply("get_balance.json"), reply("get_balance_details.json"))
    assert balance.amount.amount == Decimal("900.00")
    # the points of the bonus account, not roubles
    assert balance.bonus == BonusPoints(points=Decimal("120.00"))
    assert balance.next_charge_amount is not None
    assert balance.next_charge_amount.amount == Decimal("450.00")
    assert balance.next_charge_date == dt.date(2024, 7, 1)


def test_a_bonus_balance_of_minus_one_means_no_bonus() -> None:
    balance = parsing.parse_balance(
        reply("get_balance.json"), reply("get_balance_details_no_bonus.json")
    )
    assert balance.bonus is None


def test_a_negative_balance_is_kept_negative() -> None:
    balance = parsing.parse_balance(
        reply("get_balance_negative.json"), reply("get_balance_details_no_bonus.json")
    )
    assert balance.amount.amount == Decimal("-40.00")


@pytest.mark.parametrize("value", [0.1, 1234.56, 99999.99, 0.07, 1e-2, "1234.56", 900, "900,5"])
def test_money_is_exact_for_numbers_and_text(value: Any) -> None:
    payload = {"accountBalance": value}
    details = {"bonusBalance": -1}
    amount = parsing.parse_balance(payload, details).amount.amount
    expected = Decimal(str(value).replace(",", ".")).quantize(Decimal("0.01"))
    assert amount == expected


def test_more_than_two_decimals_is_rounded_not_refused() -> None:
    amount = parsing.parse_balance({"accountBalance": 12.345}, {}).amount.amount
    assert amount == Decimal("12.35")


def test_missing_optional_details_still_give_a_balance() -> None:
    balance = parsing.parse_balance(reply("get_balance.json"), {})
    assert balance.bonus is None and balance.next_charge_date is None


@pytest.mark.parametrize(
    "mutate",
    [
        lambda d: d.pop("accountBalance"),
        lambda d: d.update(accountBalance="много"),
        lambda d: d.update(accountBalance=None),
        lambda d: d.update(accountBalance=True),
        lambda d: d.update(accountBalance=[900]),
        lambda d: d.update(resultCode="много"),
    ],
)
def test_a_balance_reply_without_a_balance_is_a_parse_error(mutate: Any) -> None:
    payload = copy.deepcopy(reply("get_balance.json"))
    mutate(payload)
    with pytest.raises(ParseError):
        parsing.parse_balance(payload, reply("get_balance_details.json"))


@pytest.mark.parametrize(
    ("code", "state"),
    [(0, AccountState.ACTIVE), (2, AccountState.BLOCKED), (1002, AccountState.BLOCKED),
     (3, AccountState.SUSPENDED), (1003, AccountState.SUSPENDED), (4, AccountState.CLOSED),
     (1, AccountState.UNKNOWN), (77, AccountState.UNKNOWN), ("3", AccountState.SUSPENDED)],
)  # fmt: skip
def test_the_status_code_of_get_balance(code: Any, state: AccountState) -> None:
    assert parsing.parse_state({"accountBalance": 1, "statusCode": code}) is state
    assert parsing.parse_state({"accountBalance": 1}) is None


def test_renamed_keys_are_a_parse_error_with_the_payload_redacted() -> None:
    renamed = {f"v3_{k}": v for k, v in reply("get_profile_info.json").items()}
    with pytest.raises(ParseError) as caught:
        parsing.parse_profile(renamed)
    assert caught.value.payload is not None
    assert "500100200" not in caught.value.payload  # long digit runs are masked


@pytest.mark.parametrize(
    ("name", "error"),
    [
        ("not_authorized.json", SessionExpired),
        ("not_found.json", OperationRejected),
        ("change_tariff_rejected.json", OperationRejected),
        ("voluntary_block_unconfirmed.json", OperationRejected),
        ("password_recovery_not_found.json", OperationRejected),
        ("login_invalid.json", SessionExpired),  # outside the login: log in again
        ("login_captcha.json", SessionExpired),
    ],
)
def test_result_codes_become_contract_errors(name: str, error: type[Exception]) -> None:
    with pytest.raises(error):
        parsing.check_result(reply(name))


def test_an_internal_error_code_is_unavailable() -> None:
    with pytest.raises(Unavailable):
        parsing.check_result({"resultCode": 99, "resultText": "Внутренняя ошибка"})


def test_an_unknown_result_code_is_the_operator_refusing_in_its_words() -> None:
    with pytest.raises(OperationRejected) as caught:
        parsing.check_result({"resultCode": 77, "resultText": "Сервис недоступен"})
    assert caught.value.reason == "Сервис недоступен" and caught.value.code == "77"


def test_a_success_names_no_result_code() -> None:
    assert parsing.check_result({}) == {}
    assert parsing.check_result({"resultCode": None, "x": 1}) == {"resultCode": None, "x": 1}
    assert parsing.check_result({"resultCode": 0}) == {"resultCode": 0}


@pytest.mark.parametrize(
    ("name", "outcome"),
    [
        ("login_ok.json", "ok"),
        ("login_captcha.json", "captcha"),
        ("login_captcha_flag.json", "captcha"),
        ("login_captcha_code_as_text.json", "captcha"),
        ("login_invalid.json", "invalid"),
        ("login_locked.json", "locked"),
    ],
)
def test_login_replies(name: str, outcome: str) -> None:
    login = parsing.parse_login(reply(name))
    assert login.outcome == outcome
    assert login.need_change_password is False


def test_a_login_that_needs_a_new_password_says_so() -> None:
    assert parsing.parse_login(reply("login_ok_change_password.json")).need_change_password


def test_login_failures_become_auth_errors() -> None:
    with pytest.raises(InvalidCredentials):
        parsing.raise_login_failure(parsing.parse_login(reply("login_invalid.json")))
    with pytest.raises(AccountLocked):
        parsing.raise_login_failure(parsing.parse_login(reply("login_locked.json")))


def test_a_login_refused_for_a_bad_request_is_rejected() -> None:
    with pytest.raises(OperationRejected):
        parsing.parse_login(reply("login_bad_request.json"))


@pytest.mark.parametrize("payload", [None, [], "OK", 42])
def test_not_an_object_is_a_parse_error(payload: Any) -> None:
    with pytest.raises(ParseError):
        parsing.parse_login(payload)


def test_every_payload_cites_its_source() -> None:
    for path in sorted(PAYLOADS.glob("*.json")):
        source = json.loads(path.read_text(encoding="utf-8"))["_source"]
        assert source.startswith(("proven: ", "path proven: ", "assumed")), path.name


@pytest.mark.parametrize(
    ("name", "state", "end"),
    [
        ("get_internet_accounts_details.json", AccountState.ACTIVE, None),
        ("get_internet_accounts_details_suspended.json", AccountState.SUSPENDED, "2024-07-15"),
        ("get_internet_accounts_details_blocked.json", AccountState.BLOCKED, None),
    ],
)
def test_internet_accounts_give_tariff_and_status(
    name: str, state: AccountState, end: str | None
) -> None:
    [account] = parsing.parse_internet_accounts(reply(name))
    assert account.state is state
    assert account.block_end == (dt.date.fromisoformat(end) if end else None)
    assert account.tariff.name.startswith("Wifire")
    assert account.status_name


def test_an_account_list_that_is_empty_is_a_parse_error() -> None:
    with pytest.raises(ParseError):
        parsing.parse_internet_accounts({"internetAccounts": []})


def test_profile_v1_and_v2() -> None:
    profile = parsing.parse_profile(reply("get_profile_info.json"))
    assert profile.full_name == "Иван Петрович Смирнов"
    assert profile.contract_number == "500100200"  # v1: number
    assert profile.account_number == "10020030"  # v1: id, the account recovery asks for
    assert profile.phone == "+79031234567"
    assert profile.address == "Москва, ул. Лесная, д. 5, кв. 12"
    v2 = parsing.parse_profile(reply("profile_v2.json"))
    assert (v2.full_name, v2.contract_number, v2.account_number, v2.email) == (
        "Иван Петрович Смирнов",
        "500100200",
        None,  # this v2 reply has no accountNumber
        None,
    )


def test_tariffs_and_a_scheduled_change() -> None:
    catalogue = parsing.parse_tariffs(reply("get_tariffs.json"))
    assert catalogue.current.id == "nbn-300"
    assert [t.id for t in catalogue.available] == ["nbn-100", "nbn-300", "nbn-tv"]
    assert catalogue.pending is None
    scheduled = parsing.parse_tariffs(reply("get_tariffs_scheduled.json"))
    assert scheduled.pending is not None and scheduled.pending.id == "nbn-100"
    assert scheduled.pending_from == dt.date(2024, 7, 1)
    change = parsing.parse_tariff_change(reply("change_tariff.json"))
    assert change.tariff.id == "nbn-100"
    assert change.effective_date == dt.date(2024, 7, 1)


def test_services() -> None:
    services = {s.id: s for s in parsing.parse_services(reply("get_services.json"))}
    assert services["nbn-ip"].enabled
    assert services["nbn-ip"].price is not None
    assert services["nbn-ip"].price.amount == Decimal("150.00")
    changed = {s.id: s for s in parsing.parse_services(reply("change_service.json"))}
    assert changed["nbn-mobile"].enabled


def test_payments_and_charges_together_newest_first() -> None:
    rows = parsing.parse_payments(reply("get_payments.json"), reply("get_charges.json"))
    assert len(rows) == 4 + 13
    assert rows == sorted(rows, key=lambda p: p.at, reverse=True)
    payments = [p for p in rows if p.kind is PaymentKind.PAYMENT]
    charges = [p for p in rows if p.kind is PaymentKind.CHARGE]
    assert len(payments) == 4 and len(charges) == 13
    assert payments[0].id == "p4085"
    assert payments[0].amount.amount == Decimal("820.00")
    assert payments[0].at == dt.datetime(2024, 6, 1, 10, 5, tzinfo=MSK)
    assert all(p.amount.amount > 0 for p in rows)


def test_top_up_reply() -> None:
    result = parsing.parse_top_up(reply("pay.json"))
    assert result.payment.amount.amount == Decimal("500.50")
    assert result.balance is not None and result.balance.amount == Decimal("1400.50")


def test_autopay() -> None:
    off = parsing.parse_autopay(reply("autopay.json"))
    assert off.enabled is False and off.threshold is None
    on = parsing.parse_autopay(reply("set_autopay.json"))
    assert on.enabled
    assert on.threshold is not None and on.threshold.amount == Decimal("100.00")
    assert on.amount is not None and on.amount.amount == Decimal("500.00")
    assert on.card_mask is not None and on.card_mask.startswith("****")


def test_voluntary_block_states_and_the_60_free_days() -> None:
    none = parsing.parse_block(reply("voluntary_block_none.json"))
    assert none.state is SuspensionState.ACTIVE
    assert none.cost_rule is not None and none.cost_rule.free_days == 60
    assert none.cost_rule.daily_fee is not None
    assert none.cost_rule.daily_fee.amount == Decimal("5.00")
    assert none.max_days == 180
    requested = parsing.parse_block(reply("voluntary_block_requested.json"))
    assert requested.state is SuspensionState.REQUESTED
    assert (requested.start, requested.end) == (dt.date(2024, 7, 1), dt.date(2024, 9, 28))
    active = parsing.parse_block(reply("voluntary_block_active.json"))
    assert active.state is SuspensionState.SUSPENDED


def test_block_quote_shows_the_cost_before_confirming() -> None:
    quote = parsing.parse_block_quote(reply("voluntary_block_calculate.json"))
    assert (quote.days, quote.free_days, quote.paid_days) == (90, 60, 30)
    assert quote.total.amount == Decimal("150.00")


def test_a_quote_that_does_not_add_up_is_a_parse_error() -> None:
    payload = {**reply("voluntary_block_calculate.json"), "paidDays": 31}
    with pytest.raises(ParseError):
        parsing.parse_block_quote(payload)


def test_support_requests_and_the_bots_reply() -> None:
    assert parsing.parse_chat(reply("requests.json")) == []
    topics = parsing.parse_topics(reply("request_topics.json"))
    assert [t.id for t in topics] == ["support", "billing"]
    replies = parsing.parse_request_sent(reply("request_sent.json"))
    assert [m.author for m in replies] == [ChatAuthor.BOT]
    assert replies[0].text == "Ваш баланс: 1\u00a0400,50\u00a0₽."
    history = parsing.parse_chat(reply("request_sent.json"))
    assert [m.author for m in history] == [ChatAuthor.USER, ChatAuthor.BOT]
    assert history[0].topic_id == "billing"


def test_promotions_are_news_and_offers() -> None:
    items = parsing.parse_promotions(reply("get_promotions.json"))
    assert {i.kind for i in items} == {"offer", "news", "maintenance"}
    assert items[0].title == "Мобильный интернет Wifire"
    assert items[0].published == dt.date(2024, 6, 10)
    # the works announced become a maintenance notice (mailed once); older ones are history
    (notice,) = maintenance_notices(items, dt.date(2024, 6, 15))
    assert notice.kind is NoticeKind.MAINTENANCE and notice.id == "maintenance:netbynet-news-3"
    assert maintenance_notices(items, dt.date(2024, 6, 24)) == []


def test_notifications_say_the_block_request_was_received_then_approved() -> None:
    items = parsing.parse_notifications(reply("notifications.json"))
    assert [i.title.split()[-1] for i in items] == ["одобрена", "принята"]
    assert items[0].published == dt.date(2024, 6, 15)
    assert all(i.kind == "news" for i in items)


# -- every endpoint the plugin calls has a reply in the real shape here ------------------------
# endpoint -> (payloads of its replies, the reader each goes through); a file endpoint names why
# it has none. A new endpoint in the plugin without a payload here fails the test below.
ENDPOINT_PAYLOADS: dict[str, tuple[tuple[str, ...], Any] | str] = {
    "v1/get-way": (("get_way",), parsing.check_result),
    "v3/login": (
        ("login_ok", "login_ok_change_password", "login_captcha", "login_captcha_flag"),
        parsing.parse_login,
    ),
    "v2/captcha-challenge": "the captcha picture (PNG), no JSON",
    "v1/change-password": (("change_password",), parsing.check_result),
    "v1/password-recovery": (("password_recovery",), parsing.check_result),
    "v1/password-recovery/complete": (("password_recovery_complete",), parsing.check_result),
    "v1/get-balance": (
        ("get_balance", "get_balance_negative"),
        lambda p: parsing.parse_balance(p, reply("get_balance_details.json")),
    ),
    "v2/get-balance-details": (
        ("get_balance_details", "get_balance_details_no_bonus"),
        lambda p: parsing.parse_balance(reply("get_balance.json"), p),
    ),
    "v2/get-internet-accounts-details": (
        (
            "get_internet_accounts_details",
            "get_internet_accounts_details_blocked",
            "get_internet_accounts_details_suspended",
        ),
        parsing.parse_internet_accounts,
    ),
    "v2/get-profile-info": (("profile_v2", "get_profile_info"), parsing.parse_profile),
    "v1/get-tariffs": (("get_tariffs", "get_tariffs_scheduled"), parsing.parse_tariffs),
    "v1/change-tariff": (("change_tariff",), parsing.parse_tariff_change),
    "v1/get-services": (("get_services",), parsing.parse_services),
    "v1/change-service": (("change_service",), parsing.check_result),
    "v1/voluntary-block": (
        ("voluntary_block_none", "voluntary_block_requested", "voluntary_block_active"),
        parsing.parse_block,
    ),
    "v1/voluntary-block/calculate": (("voluntary_block_calculate",), parsing.parse_block_quote),
    "v1/voluntary-block/cancel": (("voluntary_block_none",), parsing.parse_block),
    "v1/request-topics": (("request_topics",), parsing.parse_topics),
    "v1/requests": (("requests", "request_sent"), parsing.parse_chat),
    "v1/get-payments": (
        ("get_payments",),
        lambda p: parsing.parse_payments(p, reply("get_charges.json")),
    ),
    "v1/get-charges": (
        ("get_charges",),
        lambda p: parsing.parse_payments(reply("get_payments.json"), p),
    ),
    "v1/pay": (("pay",), parsing.parse_top_up),
    "v1/autopay": (("autopay", "set_autopay"), parsing.parse_autopay),
    "v1/get-promotions": (("get_promotions",), parsing.parse_promotions),
    "v1/notifications": (("notifications",), parsing.parse_notifications),
}


def test_every_endpoint_the_plugin_calls_has_a_real_shape_reply_that_it_reads() -> None:
    import re

    import aggregator_netbynet

    source = "".join(
        p.read_text(encoding="utf-8")
        for p in Path(aggregator_netbynet.__file__).parent.glob("*.py")
    )
    called = set(re.findall(r'"(v[0-9]/[a-z0-9/-]+)"', source))
    assert called <= set(ENDPOINT_PAYLOADS), sorted(called - set(ENDPOINT_PAYLOADS))
    for endpoint, entry in ENDPOINT_PAYLOADS.items():
        assert endpoint in called, f"{endpoint} is no longer called: drop it here"
        if isinstance(entry, str):
            continue
        names, reader = entry
        for name in names:
            assert reply(f"{name}.json")["_source"], name
            reader(reply(f"{name}.json"))
