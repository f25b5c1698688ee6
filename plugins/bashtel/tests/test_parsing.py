"""The Bashtel page parsers on saved pages of the cabinet (payloads/, see its README)."""

from __future__ import annotations

import datetime as dt
import re
from decimal import Decimal
from pathlib import Path

import pytest
from aggregator_bashtel import parsing

from aggregator import MOSCOW_TZ, ParseError, parse_amount
from aggregator.core.models import (
    AccountState,
    BonusPoints,
    ChatAuthor,
    Money,
    PaymentKind,
    SuspensionState,
)

PAYLOADS = Path(__file__).parent / "payloads"
MSK = MOSCOW_TZ


def page(name: str) -> str:
    return (PAYLOADS / name).read_text(encoding="utf-8")


@pytest.mark.parametrize(
    ("text", "amount"),
    [
        ("620,00 ₽", "620.00"),
        ("1\u00a0234,56\u00a0₽", "1234.56"),
        ("-95,00 ₽", "-95.00"),
        ("−45,20 руб.", "-45.20"),
        ("12 345 678,9", "12345678.90"),
        ("0,00", "0.00"),
        ("15", "15.00"),
    ],
)
def test_money_is_read_exactly(text: str, amount: str) -> None:
    """The cabinet prints money the Russian way; the aggregator's kit reads it."""
    assert parse_amount(text) == Decimal(amount)


@pytest.mark.parametrize("text", ["", "abc", "1,2,3 ₽", "12 34,00", "$ 10", "1.234.567.00"])
def test_money_that_is_not_money_is_refused(text: str) -> None:
    with pytest.raises(ParseError):
        parse_amount(text)


def test_cabinet_gives_balance_tariff_and_state() -> None:
    state = parsing.parse_cabinet(page("cabinet.html"))
    assert state.balance.amount.amount == Decimal("620.00")
    assert state.balance.as_of == dt.datetime(2024, 6, 15, 12, 0, tzinfo=MSK)
    assert state.balance.next_charge_date == dt.date(2024, 7, 1)
    assert state.balance.next_charge_amount is not None
    assert state.balance.next_charge_amount.amount == Decimal("953.50")
    assert state.account_number == "0274000123"
    assert state.tariff_name == "Летай Интернет + ТВ"
    assert state.state is AccountState.ACTIVE
    assert state.suspension_end is None
    assert state.full_name == "Иван Петрович Смирнов"
    # «Важные сообщения»: the maintenance notice, with its news item's id
    (notice,) = state.notices
    assert (notice.id, notice.title, notice.kind) == (
        "bashtel-news-2",
        "Плановые работы в Уфе",
        "maintenance",
    )


def test_cabinet_of_a_suspended_account_gives_the_end_of_the_block() -> None:
    state = parsing.parse_cabinet(page("cabinet_suspended.html"))
    assert state.state is AccountState.SUSPENDED
    assert state.suspension_end == dt.date(2024, 7, 15)
    assert state.balance.amount.amount == Decimal("200.00")


def test_cabinet_of_a_blocked_account_gives_a_negative_balance() -> None:
    state = parsing.parse_cabinet(page("cabinet_blocked.html"))
    assert state.state is AccountState.BLOCKED
    assert state.balance.amount.amount == Decimal("-95.00")


def test_changed_markup_is_a_parse_error_with_the_page_redacted() -> None:
    html = page("cabinet_changed.html")
    token = re.search(r'name="csrf_token" value="([^"]+)"', html)
    assert token is not None
    with pytest.raises(ParseError) as caught:
        parsing.parse_cabinet(html)
    assert caught.value.payload is not None
    assert token.group(1) not in caught.value.payload
    assert "0274000321" not in caught.value.payload  # long digit runs are masked


def test_a_truncated_page_is_refused_even_when_the_balance_is_in_it() -> None:
    html = page("cabinet_truncated.html")
    with pytest.raises(ParseError, match="incomplete"):
        parsing.parse_cabinet(html)


def test_a_page_without_the_balance_is_a_parse_error() -> None:
    html = page("cabinet.html").replace('id="balance"', 'id="saldo"')
    with pytest.raises(ParseError, match="#balance"):
        parsing.parse_cabinet(html)


def test_a_balance_that_is_not_money_is_a_parse_error() -> None:
    html = re.sub(r'(id="balance"[^>]*>)[^<]+', r"\1уточняется", page("cabinet.html"))
    assert "уточняется" in html
    with pytest.raises(ParseError):
        parsing.parse_cabinet(html)


def test_an_unknown_status_is_unknown_not_an_error() -> None:
    html = page("cabinet.html").replace(">Активен<", ">На проверке<")
    assert parsing.parse_cabinet(html).state is AccountState.UNKNOWN


def test_detail_page_gives_the_period_and_the_download_links() -> None:
    detail = parsing.parse_detail(page("detail.html"))
    assert (detail.period_start, detail.period_end) == (dt.date(2024, 5, 1), dt.date(2024, 5, 31))
    assert detail.periods[:2] == ["2024-06", "2024-05"]
    assert detail.pdf_href == "/bashtel/detail/export?period=2024-05&format=pdf"
    assert detail.xlsx_href.endswith("format=xlsx")
    assert detail.charged == Decimal("-1049.00")
    assert detail.paid == Decimal("1020.00")


def test_tariffs_give_current_catalogue_and_the_change_ordered() -> None:
    catalogue = parsing.parse_tariffs(page("tariff.html"))
    assert catalogue.current.id == "bt-combo"
    assert catalogue.current.price is not None
    assert catalogue.current.price.amount == Decimal("850.00")
    assert [t.id for t in catalogue.available] == ["bt-inet60", "bt-inet200", "bt-combo"]
    assert catalogue.pending is None

    pending = parsing.parse_tariffs(page("tariff_pending.html"))
    assert pending.pending is not None
    assert pending.pending.id == "bt-inet200"
    assert pending.pending_from == dt.date(2024, 7, 1)


def test_flashed_messages_are_read_with_their_kind() -> None:
    assert parsing.flashes(page("tariff_rejected.html")) == [
        ("error", "Этот тариф недоступен для подключения")
    ]
    kind, text = parsing.flashes(page("tariff_pending.html"))[0]
    assert kind == "success"
    assert "01.07.2024" in text


def test_services_give_state_and_price() -> None:
    services = {s.id: s for s in parsing.parse_services(page("services.html"))}
    assert services["bt-tvplus"].enabled
    assert not services["bt-ip"].enabled
    assert services["bt-ip"].price is not None
    assert services["bt-ip"].price.amount == Decimal("150.00")
    assert services["bt-parent"].price is not None
    assert services["bt-parent"].price.amount == Decimal("0.00")
    assert all(s.can_toggle for s in services.values())
    changed = {s.id: s for s in parsing.parse_services(page("services_changed.html"))}
    assert changed["bt-ip"].enabled


def test_block_pages_give_state_dates_and_rule() -> None:
    none = parsing.parse_block(page("block.html"))
    assert none.state is SuspensionState.ACTIVE
    assert none.start is None
    assert none.max_days == 90
    assert none.cost_rule is not None
    assert none.cost_rule.free_days is None
    assert "абонентская плата не начисляется" in none.cost_rule.description

    requested = parsing.parse_block(page("block_requested.html"))
    assert requested.state is SuspensionState.REQUESTED
    assert (requested.start, requested.end) == (dt.date(2024, 7, 1), dt.date(2024, 7, 20))

    active = parsing.parse_block(page("block_active.html"))
    assert active.state is SuspensionState.SUSPENDED
    assert active.end == dt.date(2024, 7, 15)


def test_block_quote_gives_the_cost_before_confirming() -> None:
    quote = parsing.parse_block_quote(page("block_quote.html"))
    assert (quote.start, quote.end) == (dt.date(2024, 7, 1), dt.date(2024, 7, 20))
    assert (quote.days, quote.free_days, quote.paid_days) == (20, 20, 0)
    assert quote.total.amount == Decimal("0.00")
    form = parsing.form(page("block_quote.html"), "#block-confirm-form")
    assert form.fields["start"] == "2024-07-01"
    assert form.fields["end"] == "2024-07-20"
    assert form.fields["csrf_token"]


def test_a_quote_whose_days_do_not_add_up_is_refused() -> None:
    html = page("block_quote.html").replace(
        '<dd id="quote-paid-days">0</dd>', '<dd id="quote-paid-days">3</dd>'
    )
    with pytest.raises(ParseError, match="add up"):
        parsing.parse_block_quote(html)


def test_payments_are_money_in_with_their_times() -> None:
    payments = parsing.parse_payments(page("payments.html"))
    assert len(payments) == 4
    first = payments[0]
    assert first.id == "3297"
    assert first.at == dt.datetime(2024, 6, 2, 9, 49, tzinfo=MSK)
    assert first.amount.amount == Decimal("930.00")
    assert first.kind is PaymentKind.PAYMENT


def test_pay_confirmation_page_names_where_the_code_went() -> None:
    confirm = parsing.parse_pay_confirm(page("pay_confirm.html"))
    assert confirm.amount == Decimal("500.00")
    assert confirm.masked_destination == "+7 937 ***-**-67"
    assert confirm.channel == "sms"
    assert confirm.code_length == 6
    assert confirm.error is None
    form = parsing.form(page("pay_confirm.html"), "#pay-confirm-form")
    assert form.action == "/bashtel/pay/confirm"
    assert form.fields["ticket"]


def test_traffic_gives_bytes_over_the_period() -> None:
    traffic = parsing.parse_traffic(page("traffic.html"))
    assert (traffic.period_start, traffic.period_end) == (dt.date(2024, 6, 1), dt.date(2024, 6, 15))
    assert traffic.downloaded_bytes == 32575959408
    assert traffic.uploaded_bytes == 4653708486


def test_speed_test_before_and_after_measuring() -> None:
    assert parsing.parse_speedtest(page("speedtest_empty.html")).down_mbps is None
    result = parsing.parse_speedtest(page("speedtest.html"))
    assert result.tariff_mbps == 200
    assert result.down_mbps == Decimal("180.5")
    assert result.up_mbps == Decimal("164.0")
    assert result.ping_ms == 10


def test_support_page_gives_topics_and_the_conversation() -> None:
    topics, messages = parsing.parse_chat(page("support.html"))
    assert [t.id for t in topics] == ["support", "quality", "billing"]
    assert topics[1].title == "Жалоба на качество связи"
    assert len(messages) == 7
    assert messages[0].author is ChatAuthor.USER
    assert messages[0].text == "Как узнать баланс?"
    assert messages[-1].author is ChatAuthor.AGENT
    assert messages[-1].author_name == "Анна"


def test_news_gives_kinds_and_dates() -> None:
    news = parsing.parse_news(page("news.html"))
    assert [n.kind for n in news] == ["maintenance", "news", "offer"]
    assert news[0].published == dt.date(2024, 6, 18)
    assert news[0].title == "Плановые работы в Уфе"


def test_profile() -> None:
    profile = parsing.parse_profile(page("profile.html"))
    assert profile.full_name == "Иван Петрович Смирнов"
    assert profile.account_number == "0274000123"
    assert profile.phone == "+7 (937) 123-45-67"
    assert profile.email == "ivan.smirnov@example.ru"


@pytest.mark.parametrize(
    ("name", "captcha", "error"),
    [
        ("login_captcha.html", True, None),
        ("login_invalid.html", True, "invalid_credentials"),
        ("login_wrong_captcha.html", True, "captcha"),
        ("login_known_device.html", False, None),
        ("login_expired.html", False, None),
    ],
)
def test_login_page_says_whether_it_wants_a_captcha_and_why_it_came_back(
    name: str, captcha: bool, error: str | None
) -> None:
    form = parsing.parse_login_page(page(name))
    assert form.captcha is captcha
    assert form.error == error
    if captcha:
        assert form.captcha_src is not None
        assert form.captcha_src.startswith("/bashtel/captcha/")
    assert parsing.is_login_page(page(name))


def test_login_form_fields_include_the_csrf_token() -> None:
    form = parsing.form(page("login_captcha.html"), "#login-form")
    assert form.method == "post"
    assert set(form.fields) >= {"csrf_token", "form_id", "login", "ls3", "captcha_id"}


def test_error_pages_are_recognised() -> None:
    assert parsing.parse_error_page(page("error_404.html")) == "Такой страницы в кабинете нет."
    assert parsing.parse_error_page(page("csrf_error.html")) is not None
    assert parsing.parse_error_page(page("cabinet.html")) is None
    assert not parsing.is_login_page(page("cabinet.html"))


@pytest.mark.parametrize(
    ("name", "parse"),
    [
        ("tariff.html", parsing.parse_tariffs),
        ("services.html", parsing.parse_services),
        ("block.html", parsing.parse_block),
        ("payments.html", parsing.parse_payments),
        ("traffic.html", parsing.parse_traffic),
        ("support.html", parsing.parse_chat),
        ("news.html", parsing.parse_news),
        ("profile.html", parsing.parse_profile),
        ("detail.html", parsing.parse_detail),
    ],
)
def test_every_page_with_renamed_markup_is_a_parse_error(name: str, parse: object) -> None:
    html = re.sub(r'\b(id|class)="([^"]*)"', r'\1="v2-\2"', page(name))
    with pytest.raises(ParseError):
        parse(html)  # type: ignore[operator]


@pytest.mark.parametrize(
    ("text", "bonus"),
    [
        ("350,00 ₽", Money.rub("350.00")),
        ("1 250 баллов", BonusPoints(points=1250)),
        ("1\u00a0250,5 балла", BonusPoints(points=Decimal("1250.5"))),
        ("21 балл", BonusPoints(points=21)),
    ],
)
def test_a_bonus_in_points_stays_points_roubles_stay_money(
    text: str, bonus: Money | BonusPoints
) -> None:
    assert parsing._bonus(text, "<html></html>") == bonus


def test_a_bonus_in_points_without_a_number_is_a_parse_error() -> None:
    with pytest.raises(ParseError):
        parsing._bonus("баллы", "<html></html>")
