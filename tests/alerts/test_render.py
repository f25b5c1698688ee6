"""Alert e-mails: a subject that says it all, text and HTML parts, Russian and English."""

from __future__ import annotations

from aggregator.alerts.messages import AlertView
from aggregator.alerts.render import render_alert
from aggregator.alerts.rules import AlertKind

NB = "\u00a0"


def view(kind: AlertKind, **details: object) -> AlertView:
    return AlertView(
        kind=kind,
        account_id=42,
        provider_name="Билайн",
        number="+7 903 ***-**-67",
        label="Мама",
        details=details,
        link="http://127.0.0.1:8000/accounts/42",
        settings_link="http://127.0.0.1:8000/alerts",
    )


def test_low_balance_subject_says_it_all() -> None:
    mail = render_alert(
        view(
            AlertKind.LOW_BALANCE,
            amount_minor=4520,
            threshold_minor=10000,
            days_left=2,
            daily_spend_minor=2000,
            runs_out_on="2024-05-03",
            currency="RUB",
        ),
        "ru",
    )
    assert (
        mail.subject.replace(NB, " ")
        == "Билайн +7 903 ***-**-67: на счёте 45,20 ₽, хватит на 2 дня"
    )
    assert "\n" not in mail.subject
    text = mail.text.replace(NB, " ")
    assert "Баланс: 45,20 ₽ (порог уведомления 100,00 ₽)" in text
    assert "Средний расход: 20,00 ₽ в день" in text
    assert "хватит до 3 мая 2024" in text
    assert "http://127.0.0.1:8000/accounts/42" in text
    assert "Счёт: Мама" in text
    html = mail.html.replace(NB, " ")
    assert 'href="http://127.0.0.1:8000/accounts/42"' in html
    assert "45,20 ₽" in html and '<html lang="ru">' in html


def test_english_when_chosen() -> None:
    mail = render_alert(
        view(AlertKind.RUNS_OUT, amount_minor=4520, days_left=2, currency="RUB"), "en"
    )
    assert (
        mail.subject.replace(NB, " ")
        == "Билайн +7 903 ***-**-67: balance ₽45.20, enough for 2 days"
    )
    assert "Open the account" in mail.text
    assert mail.lang == "en"


def test_html_is_escaped() -> None:
    evil = AlertView(
        kind=AlertKind.NEEDS_LOGIN,
        account_id=1,
        provider_name="<script>x</script>",
        number="",
        label="<b>label</b>",
        details={},
        link="http://h/accounts/1",
        settings_link="http://h/alerts",
    )
    mail = render_alert(evil, "ru")
    assert "<script>" not in mail.html and "&lt;script&gt;" in mail.html
    assert "нужно войти заново" in mail.subject


def test_negative_balance_and_reminders() -> None:
    mail = render_alert(
        AlertView(
            kind=AlertKind.LOW_BALANCE,
            account_id=1,
            provider_name="Ростелеком",
            number="•••• 4567",
            label="",
            details={"amount_minor": -21000, "threshold_minor": 10000, "currency": "RUB"},
            link="l",
            settings_link="s",
            reminder=True,
        ),
        "ru",
    )
    assert (
        mail.subject.replace(NB, " ")
        == "Напоминание: Ростелеком •••• 4567: на счёте −210,00 ₽, пополните счёт"
    )


def test_suspension_ends() -> None:
    mail = render_alert(view(AlertKind.SUSPENSION_ENDS, end="2024-05-03", days_left=2), "ru")
    assert "заканчивается 3" in mail.subject and "2024" in mail.subject
    assert "Осталось 2" in mail.text
