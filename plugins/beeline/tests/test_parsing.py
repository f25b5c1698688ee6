"""Beeline parsing on replies in the real shape (tests/payloads/, each citing its source in
``_source``: an unknown field the reading must ignore), and on replies the operator changed."""

from __future__ import annotations

import copy
import datetime as dt
import json
import re
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
    Unavailable,
)
from aggregator.core.models import AccountState, ChatAuthor, Money, PaymentKind, UsageUnit

PAYLOADS = Path(__file__).parent / "payloads"
NOW = dt.datetime(2024, 5, 20, 12, 0, tzinfo=dt.UTC)
MSK = dt.timedelta(hours=3)


def load(name: str) -> Any:
    return json.loads((PAYLOADS / f"{name}.json").read_text(encoding="utf-8"))


def test_every_payload_cites_its_source_and_has_meta() -> None:
    for path in sorted(PAYLOADS.glob("*.json")):
        payload = json.loads(path.read_text(encoding="utf-8"))
        source = payload["_source"]
        assert source.startswith(("proven: ", "assumed", "path proven: ", "seed")), path.name
        assert payload["meta"]["status"] in ("OK", "ERROR"), path.name


# -- login -------------------------------------------------------------------------------------
def test_auth_gives_the_token_and_the_temporary_flag() -> None:
    token, temporary = parsing.parse_auth(load("auth_ok"))
    assert token == "4f1c9a0e2b7d4c61a8e5f3b2d1c0a9e8"
    assert temporary is False
    assert parsing.parse_auth(load("auth_temp"))[1] is True
    assert parsing.parse_auth(load("auth_temp_as_text"))[1] is True


def test_an_offer_to_accept_is_recognised() -> None:
    offer = parsing.parse_offer(load("auth_offer"))
    assert offer is not None
    assert offer.url.endswith("1.0/offer/accept?subscriber=s-17")
    assert offer.token == "0ffe12345678abcd"
    assert parsing.parse_offer(load("auth_ok")) is None
    with pytest.raises(parsing.OfferToAccept):
        parsing.parse_auth(load("auth_offer"))


@pytest.mark.parametrize(
    ("name", "error"),
    [
        ("auth_wrong_password", InvalidCredentials),
        ("auth_unknown_login", InvalidCredentials),
        ("auth_locked", AccountLocked),
        ("token_expired", SessionExpired),
        ("too_many_requests", RateLimited),
        ("rejected", OperationRejected),
        ("prepaid_of_a_postpaid_number", OperationRejected),
    ],
)
def test_named_errors_map_onto_the_contract(name: str, error: type[Exception]) -> None:
    with pytest.raises(error):
        parsing.check_meta(load(name))


def test_a_refusal_keeps_the_operators_words_and_code() -> None:
    with pytest.raises(OperationRejected) as caught:
        parsing.check_meta(load("rejected"))
    assert caught.value.reason == "Недостаточно средств для подключения услуги"
    assert caught.value.code == "49999"


@pytest.mark.parametrize("message", ["Неверный логин или пароль", "token_not_found", "auth_error"])
def test_named_errors_are_read_case_insensitively_and_by_words(message: str) -> None:
    with pytest.raises((InvalidCredentials, SessionExpired)):
        parsing.check_meta({"meta": {"status": "ERROR", "code": 1, "message": message}})


def test_an_unnamed_error_is_the_operator_refusing_not_a_parse_error() -> None:
    with pytest.raises(OperationRejected):
        parsing.check_meta({"meta": {"status": "ERROR", "code": "99999", "message": None}})


def test_captcha_demand_carries_id_and_image_path() -> None:
    with pytest.raises(parsing.CaptchaRequired) as caught:
        parsing.parse_auth(load("auth_captcha"))
    assert caught.value.captcha_id == "c0ffee12"
    assert caught.value.image_path == "1.0/captcha/c0ffee12.png"
    assert caught.value.message == "Введите символы с картинки"


def test_a_captcha_demand_without_its_captcha_is_a_parse_error() -> None:
    with pytest.raises(ParseError):
        parsing.check_meta({"meta": {"status": "ERROR", "message": "CAPTCHA_REQUIRED"}})


@pytest.mark.parametrize(
    "payload", [None, [], "OK", 42, {"meta": None}, {"meta": {"status": "MAYBE"}}, {}]
)
def test_not_a_beeline_reply_is_a_parse_error(payload: Any) -> None:
    with pytest.raises(ParseError):
        parsing.check_meta(payload)


def test_parse_error_payload_is_redacted() -> None:
    payload = load("auth_ok")
    payload["token"] = "short"  # a changed API: no usable token
    payload["password"] = "hunter2-secret"
    with pytest.raises(ParseError) as caught:
        parsing.parse_auth(payload, secrets=["hunter2-secret"])
    assert "hunter2-secret" not in str(caught.value.payload)


def test_pass_reset_names_the_channel() -> None:
    assert parsing.parse_pass_reset(load("pass_reset")) == ("SMS", "")
    assert parsing.mask_phone("9031234567") == "+7 903 ***-**-67"


# -- numbers, profile ----------------------------------------------------------------------------
def test_every_number_is_a_subaccount_the_default_first() -> None:
    subs = parsing.parse_subscribers(load("subscribers"))
    assert [s.id for s in subs] == ["9031234567", "9037654321", "0891234567", "9161112233"]
    assert subs[0].number == "+7 903 123-45-67"
    assert subs[1].label == "Дочь"
    assert subs[2].kind == "internet"
    assert subs[3].label == "" and subs[3].kind == "mobile"


def test_duplicate_numbers_are_listed_once() -> None:
    payload = load("subscribers")
    payload["subscribers"].append(payload["subscribers"][0])
    assert len(parsing.parse_subscribers(payload)) == 4


def test_contact_data_is_the_profile() -> None:
    profile = parsing.parse_contact_data(load("contact_data"), "9031234567")
    assert profile.full_name == "Иванов Иван Иванович"
    assert profile.address == "г. Москва, ул. Тверская, д. 1, кв. 5"
    assert profile.account_number == "387654321"
    assert profile.phone == "+79031234567"
    assert profile.email is None


def test_a_first_name_equal_to_the_login_is_no_name() -> None:
    payload = {"meta": {"status": "OK"}, "firstName": "9031234567"}
    assert parsing.parse_contact_data(payload, "9031234567").full_name is None


# -- balance -------------------------------------------------------------------------------------
def test_pay_type() -> None:
    assert parsing.parse_pay_type(load("pay_type_prepaid")) == "PREPAID"
    assert parsing.parse_pay_type(load("pay_type_postpaid")) == "POSTPAID"
    with pytest.raises(ParseError):
        parsing.parse_pay_type({"meta": {"status": "OK"}, "payType": "CREDIT"})


def test_prepaid_balance_in_roubles() -> None:
    balance = parsing.parse_balance(load("prepaid_balance"), "PREPAID", NOW)
    assert balance.amount == Money.rub("1234.56")
    assert balance.next_charge_date == dt.date(2024, 6, 1)
    assert balance.as_of == NOW


def test_a_balance_as_text_with_three_decimals_is_rounded_and_the_smart_date_read() -> None:
    balance = parsing.parse_balance(load("prepaid_balance_text"), "PREPAID", NOW)
    assert balance.amount == Money.rub("1234.57")
    assert balance.next_charge_date == dt.date(2024, 6, 1)


@pytest.mark.parametrize("value", [1234, "1234", 1234.0, "1 234,00"])
def test_integer_and_text_balances_are_read(value: Any) -> None:
    payload = load("prepaid_balance")
    payload["balance"] = value
    assert parsing.parse_balance(payload, "PREPAID", NOW).amount == Money.rub(1234)


def test_missing_optional_fields_still_give_a_balance() -> None:
    payload = {"meta": {"status": "OK", "code": 20000, "message": None}, "balance": 10}
    balance = parsing.parse_balance(payload, "PREPAID", NOW)
    assert balance.amount == Money.rub(10) and balance.next_charge_date is None


def test_the_placeholder_777_is_refused_as_a_transient_answer() -> None:
    with pytest.raises(Unavailable):
        parsing.parse_balance(load("prepaid_balance_777"), "PREPAID", NOW)


def test_postpaid_balance_has_credit_limit_and_next_charge() -> None:
    balance = parsing.parse_balance(load("postpaid_balance"), "POSTPAID", NOW)
    assert balance.amount == Money.rub("-120.50")
    assert balance.credit_limit == Money.rub(500)
    assert balance.next_charge_amount == Money.rub(650)


@pytest.mark.parametrize(
    "mutate",
    [
        lambda p: p.pop("balance"),
        lambda p: p.update(balance=True),
        lambda p: p.update(balance=None),
        lambda p: p.update(balance="много"),
        lambda p: p.update(balance=float("nan")),
        lambda p: p.update(currency="USD"),
        lambda p: p.update(nextBillingDate="завтра"),
        lambda p: p.pop("meta"),
    ],
    ids=["missing", "bool", "null", "words", "nan", "currency", "date", "no-meta"],
)
def test_a_balance_the_reading_cannot_have_is_a_parse_error(mutate: Any) -> None:
    payload = copy.deepcopy(load("prepaid_balance"))
    mutate(payload)
    with pytest.raises(ParseError):
        parsing.parse_balance(payload, "PREPAID", NOW)


# -- tariff, status ------------------------------------------------------------------------------
def test_price_plan_with_a_pending_change() -> None:
    current, pending, pending_from = parsing.parse_price_plan(load("price_plan"))
    assert (current.id, current.name) == ("bee-vse4", "ВСЁ за 400")
    assert current.price == Money.rub(400) and current.period == "month"
    assert pending is not None and pending.id == "bee-vse6" and pending.price == Money.rub(650)
    assert pending_from == dt.date(2024, 6, 1)


def test_a_daily_plan_without_its_soc() -> None:
    current, pending, _ = parsing.parse_price_plan(load("price_plan_daily"))
    assert current.id == "UP" and current.period == "day" and pending is None
    assert current.price == Money.rub("18.30")


def test_tariff_catalogue() -> None:
    catalogue = parsing.parse_tariff_catalogue(load("price_plan"), load("available_price_plans"))
    assert catalogue.current.id == "bee-vse4"
    assert [t.id for t in catalogue.available] == ["bee-vse4", "bee-vse6", "bee-up"]
    assert catalogue.pending_from == dt.date(2024, 6, 1)


def test_a_request_gives_its_id() -> None:
    assert parsing.parse_request_id(load("change_price_plan")) == ("3601453839", None)
    assert parsing.parse_request_id(load("service_activate"))[0] == "3601453840"


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


# -- services ------------------------------------------------------------------------------------
def test_services_connected_first_hidden_left_out() -> None:
    services = parsing.parse_services(load("service_list"), load("available_service_list"))
    assert [(s.id, s.enabled) for s in services] == [
        ("bee-kto", True),
        ("bee-trust", True),
        ("bee-music", False),
        ("bee-antiopred", False),
    ]
    kto, trust, music, anti = services
    assert kto.price == Money.rub(65) and kto.period == "month"
    assert trust.can_toggle is False and trust.price is None
    assert trust.description == "Кредит на 3 дня"  # the entityDesk spelling
    assert music.price == Money.rub(199)
    assert anti.period == "day"


def test_paid_subscriptions_are_services_that_can_only_be_removed() -> None:
    (horoscope, kind), (portal, portal_kind), (news, _) = parsing.parse_subscriptions(
        load("subscriptions")
    )
    assert horoscope.id == "subscription:sub-1001" and kind == "CONTENT"
    assert horoscope.enabled and horoscope.can_toggle
    assert horoscope.price == Money.rub(9) and horoscope.period == "day"
    assert horoscope.description == "Платная подписка: ООО «Контент-Медиа»"
    # an integer id, the web cabinet's title, a price as text with three decimals, no type
    assert portal.id == "subscription:2002" and portal.name == "Игровой портал"
    assert portal.price == Money.rub("30.56") and portal.period == "month"
    assert portal_kind == ""
    # no id: shown, but it cannot be removed from here
    assert news.can_toggle is False and news.price is None
    assert parsing.parse_subscriptions({"meta": {"status": "OK"}}) == []
    assert parsing.parse_request_id(load("subscription_remove"))[0] == "3601453901"


def test_a_subscriptions_error_is_the_operators_refusal() -> None:
    with pytest.raises(OperationRejected):
        parsing.parse_subscriptions(load("rejected"))


# -- remainders ----------------------------------------------------------------------------------
def test_prepaid_accumulators_in_contract_units_mms_and_unknown_kept() -> None:
    minutes, sms, mms, internet, roaming, points = parsing.parse_accumulators(load("accumulators"))
    assert minutes.unit is UsageUnit.SECONDS and minutes.rest == 18000
    assert minutes.name == "Минуты на все номера России"
    assert sms.unit is UsageUnit.SMS and sms.rest == 480 and sms.name == "SMS"
    assert mms.unit is UsageUnit.MMS and (mms.rest, mms.size) == (95, 100)
    assert internet.unit is UsageUnit.BYTES
    assert internet.rest == Decimal(10485760 * 1024) and internet.size == Decimal(20971520 * 1024)
    assert roaming.size is None and roaming.rest == Decimal("1024.5") * 1024
    assert points.unit is UsageUnit.UNKNOWN and points.raw_unit == "GIGAPOINTS"
    assert (points.rest, points.size, points.name) == (12, 40, "Баллы")


def test_postpaid_rests_in_contract_units() -> None:
    voice, sms, mms, internet, video = parsing.parse_rests(load("rests"))
    assert voice.unit is UsageUnit.SECONDS and (voice.rest, voice.size) == (250 * 60, 500 * 60)
    assert sms.unit is UsageUnit.SMS and sms.rest == 90
    assert mms.unit is UsageUnit.MMS and mms.rest == 7
    assert internet.unit is UsageUnit.BYTES and internet.rest == Decimal("2048.5") * 1024 * 1024
    assert video.unit is UsageUnit.UNKNOWN and video.raw_unit == "VIDEO_MINUTES"
    assert video.size is None


def test_unlimited_packages_are_marked_tethering_packages_stay_limited() -> None:
    unl, tether, calls = parsing.parse_accumulators(load("accumulators_unlimited"))
    assert unl.unlimited and unl.unit is UsageUnit.BYTES and unl.size is None
    assert unl.name == "Безлимит в 4G"
    # the full-speed tethering package of an unlimited tariff has a real rest and size
    assert not tether.unlimited and tether.rest == 5242880 * 1024
    assert tether.size == 10485760 * 1024
    assert calls.unlimited and calls.unit is UsageUnit.SECONDS and calls.size is None
    internet, tethering, voice = parsing.parse_rests(load("rests_unlimited"))
    assert internet.unlimited and internet.size is None
    assert not tethering.unlimited and tethering.size == 10240 * 1024 * 1024
    assert not voice.unlimited and voice.size == 300 * 60
    # the limited packages of the ordinary replies stay limited
    assert not any(r.unlimited for r in parsing.parse_accumulators(load("accumulators")))
    assert not any(r.unlimited for r in parsing.parse_rests(load("rests")))


def test_a_remainder_above_its_package_keeps_the_rest_drops_the_size() -> None:
    payload = {"meta": {"status": "OK"}, "accumulators": [{"unit": "SMS", "rest": 5, "size": 2}]}
    (sms,) = parsing.parse_accumulators(payload)
    assert sms.rest == 5 and sms.size is None


@pytest.mark.parametrize(
    "bad", [{"unit": "SMS"}, {"unit": "SMS", "rest": "много"}, {"rest": 5}, "SMS"]
)
def test_an_accumulator_without_what_it_needs_is_a_parse_error(bad: Any) -> None:
    with pytest.raises(ParseError):
        parsing.parse_accumulators({"meta": {"status": "OK"}, "accumulators": [bad]})


# -- payments, trusted payment, offers ---------------------------------------------------------
def test_payments_newest_first_failed_ones_left_out() -> None:
    payments = parsing.parse_payments(load("payments_history"))
    assert [p.amount for p in payments] == [Money.rub("300.50"), Money.rub(500)]
    cash, card = payments
    assert cash.kind is PaymentKind.PAYMENT
    assert cash.description == "Наличные — Салон связи билайн"
    assert card.description == "Банковская карта"  # "Проверить баланс..." is no place
    assert cash.at.utcoffset() == MSK
    assert len({p.id for p in payments}) == 2


def test_trust_payment_offer_sums_with_fees_within_the_limit() -> None:
    offer = parsing.parse_trust_payment(load("trust_payment"))
    assert offer.available and not offer.owed and offer.days == 3
    assert [(o.amount, o.fee) for o in offer.options] == [
        (Money.rub(50), Money.rub(0)),
        (Money.rub(100), Money.rub(10)),
        (Money.rub(300), Money.rub(25)),
    ]  # 500 is above maxSum: not offered
    assert offer.min_amount == Money.rub(50) and offer.max_amount == Money.rub(300)


def test_trust_payment_owed_has_debt_and_due_date() -> None:
    owed = parsing.parse_trust_payment(load("trust_payment_owed"))
    assert not owed.available and owed.owed
    assert owed.debt == Money.rub(110) and owed.due_date == dt.date(2024, 6, 4)
    assert owed.reason.startswith("Предыдущий")
    taken = parsing.parse_trust_taken(load("trust_payment_taken"), Decimal(100), owed)
    assert (taken.amount, taken.fee, taken.debt) == (Money.rub(100), Money.rub(10), Money.rub(110))
    assert taken.due_date == dt.date(2024, 6, 4) and taken.request_id == "123456"


def test_trust_payment_taken_without_debt_is_a_parse_error() -> None:
    bare = {"meta": {"status": "OK", "code": 20000, "message": None}, "requestId": 1}
    none_owed = parsing.parse_trust_payment(load("trust_payment"))
    with pytest.raises(ParseError):
        parsing.parse_trust_taken(bare, Decimal(100), none_owed)


def test_offers() -> None:
    (offer,) = parsing.parse_offers(load("offers"))
    assert offer.id == "501" and offer.kind == "offer"
    assert offer.published == dt.date(2024, 5, 19)


# -- chat ----------------------------------------------------------------------------------------
def test_chat_topics_are_the_two_beeline_topics() -> None:
    topics = parsing.parse_chat_topics(load("chat_topics"))
    assert [t.title for t in topics] == ["Общая консультация", "Вопрос по услугам"]


def test_chat_messages_with_authors() -> None:
    messages = parsing.parse_chat_messages(load("chat_message"))
    assert [m.author for m in messages] == [ChatAuthor.USER, ChatAuthor.BOT]
    agent = parsing.parse_chat_messages(load("chat_unseen"))[0]
    assert agent.author is ChatAuthor.AGENT
    assert agent.author_name == "Специалист Мария"


def test_a_shared_balance_names_its_contract() -> None:
    own = load("prepaid_balance")
    assert parsing.parse_shared_balance(own) is None
    shared = {**own, "sharedBalance": "true", "ban": 40012345}
    assert parsing.parse_shared_balance(shared) == "ban:40012345"
    assert parsing.parse_shared_balance({**own, "sharedBalance": True, "ban": None}) is None


# -- every endpoint the plugin calls has a reply in the real shape here ------------------------
# endpoint -> (payloads of its replies, the reader each goes through); a file endpoint names why
# it has none. A new endpoint in the plugin without a payload here fails the test below.
ENDPOINT_PAYLOADS: dict[str, tuple[tuple[str, ...], Any] | str] = {
    "2.0/auth/auth": (
        ("auth_ok", "auth_temp", "auth_temp_as_text"),
        lambda p: parsing.parse_auth(p),
    ),
    "1.0/passReset": (("pass_reset",), parsing.parse_pass_reset),
    "1.0/setting/changePassword": (("change_password",), parsing.check_meta),
    "1.0/sso/subscribers": (("subscribers",), parsing.parse_subscribers),
    "1.0/sso/contactData": (
        ("contact_data",),
        lambda p: parsing.parse_contact_data(p, "9031234567"),
    ),
    "1.0/info/payType": (("pay_type_prepaid", "pay_type_postpaid"), parsing.parse_pay_type),
    "1.0/info/prepaidBalance": (
        ("prepaid_balance", "prepaid_balance_text"),
        lambda p: parsing.parse_balance(p, "PREPAID", NOW),
    ),
    "1.0/info/postpaidBalance": (
        ("postpaid_balance",),
        lambda p: parsing.parse_balance(p, "POSTPAID", NOW),
    ),
    "1.0/info/pricePlan": (("price_plan", "price_plan_daily"), parsing.parse_price_plan),
    "1.0/info/pricePlanAvailableList": (
        ("available_price_plans",),
        lambda p: parsing.parse_tariff_catalogue(load("price_plan"), p),
    ),
    "request/changePricePlan": (("change_price_plan",), parsing.parse_request_id),
    "1.0/info/status": (("status_active", "status_suspended"), parsing.parse_status),
    "1.0/info/serviceList": (
        ("service_list",),
        lambda p: parsing.parse_services(p, load("available_service_list")),
    ),
    "1.0/info/serviceAvailableList": (
        ("available_service_list",),
        lambda p: parsing.parse_services(load("service_list"), p),
    ),
    "1.0/info/subscriptions": (("subscriptions",), parsing.parse_subscriptions),
    "1.0/request/subscription/remove": (("subscription_remove",), parsing.parse_request_id),
    "1.0/request/serviceActivate": (("service_activate",), parsing.parse_request_id),
    "1.0/request/serviceDeactivate": (("service_activate",), parsing.parse_request_id),
    "1.0/request/suspendRestore": (("suspend_restore",), parsing.parse_request_id),
    "1.0/info/accumulators": (
        ("accumulators", "accumulators_unlimited"),
        parsing.parse_accumulators,
    ),
    "1.0/info/rests": (("rests", "rests_unlimited"), parsing.parse_rests),
    "1.0/info/payments/history": (("payments_history",), parsing.parse_payments),
    "request/prepaidDetail": (("prepaid_detail",), parsing.parse_request_id),
    "1.0/request/requestAttachment": "a file (the report itself), no JSON",
    "1.0/info/targetedOffers": (("offers",), parsing.parse_offers),
    "1.0/info/trustPayment": (
        ("trust_payment", "trust_payment_owed"),
        parsing.parse_trust_payment,
    ),
    "1.0/request/trustPayment": (
        ("trust_payment_taken",),
        lambda p: parsing.parse_trust_taken(
            p, Decimal(100), parsing.parse_trust_payment(load("trust_payment_owed"))
        ),
    ),
    "1.0/chat/topics": (("chat_topics",), parsing.parse_chat_topics),
    "1.0/chat/history": (("chat_history",), parsing.parse_chat_messages),
    "1.0/chat/unseen": (("chat_unseen",), parsing.parse_chat_messages),
    "1.0/chat/message": (("chat_message",), parsing.parse_chat_messages),
}


def test_every_endpoint_the_plugin_calls_has_a_real_shape_reply_that_it_reads() -> None:
    import aggregator_beeline

    source = "".join(
        p.read_text(encoding="utf-8") for p in Path(aggregator_beeline.__file__).parent.glob("*.py")
    )
    called = set(re.findall(r'"((?:[12]\.0/|request/)[A-Za-z/]+)"', source))
    assert called <= set(ENDPOINT_PAYLOADS), sorted(called - set(ENDPOINT_PAYLOADS))
    for endpoint, entry in ENDPOINT_PAYLOADS.items():
        assert endpoint in called, f"{endpoint} is no longer called: drop it here"
        if isinstance(entry, str):
            continue
        names, reader = entry
        for name in names:
            assert load(name)["_source"], name
            reader(load(name))  # read without error: a reading or the right contract value
