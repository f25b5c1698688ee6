"""Forms validate in place: the field is marked, the message says what is expected, nothing
typed is lost; numbers accept Russian formatting; the API answers 422 naming the field."""

from __future__ import annotations

import datetime as dt
import re

import pytest
from sqlalchemy import select, update

from aggregator.server.forms import FieldInvalid, parse_int, parse_roubles
from aggregator.storage.models import AlertRule, Household

from .conftest import PASSWORD, Harness
from .test_journey_reference import _link_demo


@pytest.mark.parametrize(
    ("typed", "kopecks"),
    [
        ("150", 150_00),
        ("150,50", 150_50),
        ("150.5", 150_50),
        ("1 234,56 ₽", 1234_56),
        ("1\u00a0234,56\u00a0₽", 1234_56),
        ("  99 руб.", 99_00),
        ("", None),
    ],
)
def test_roubles_as_people_type_them(typed: str, kopecks: int | None) -> None:
    assert parse_roubles(typed, "threshold") == kopecks


@pytest.mark.parametrize("typed", ["сто рублей", "1,2,3", "12,345", "-5", "1e3x", "15 000 000"])
def test_roubles_that_are_not_a_sum_name_the_field(typed: str) -> None:
    with pytest.raises(FieldInvalid) as problem:
        parse_roubles(typed, "threshold")
    assert problem.value.field == "threshold" and problem.value.status_code == 422


def test_whole_numbers() -> None:
    assert parse_int(" 15 ", "days", 1, 60) == 15
    with pytest.raises(FieldInvalid, match="days"):
        parse_int("0", "days", 1, 60)


async def test_alert_settings_keep_everything_typed_on_a_wrong_field(signed_in: Harness) -> None:
    h = signed_in
    await h.page("/settings/alerts")
    form = {
        "low_balance_enabled": "on",
        "threshold": "сто рублей",
        "margin": "5,50",
        "days": "7",
        "recipients": "mama@example.ru\nпапа",
        "lang": "ru",
    }
    bad = await h.post("/settings/alerts", form)
    assert bad.status_code == 400
    page = bad.text
    assert 'id="threshold" name="threshold" inputmode="decimal" value="сто рублей"' in page
    assert 'aria-invalid="true" aria-describedby="threshold-error threshold-hint"' in page
    assert "Нужна сумма в рублях цифрами, например 150 или 150,50." in page
    assert "не похоже на адрес: «папа»" in page and 'value="5,50"' in page
    assert "mama@example.ru\nпапа</textarea>" in page
    async with h.app.state.server.db() as db:
        assert list(await db.scalars(select(AlertRule))) == []  # nothing half-saved

    form.update(threshold="1 234,56 ₽", recipients="mama@example.ru")
    assert (await h.post("/settings/alerts", form)).status_code in (302, 303)
    saved = await h.page("/settings/alerts")
    assert 'value="1234,56"' in saved.text and 'value="5,50"' in saved.text


async def test_household_remainder_thresholds_are_saved_and_shown(signed_in: Harness) -> None:
    h = signed_in
    await h.page("/settings/alerts")
    form = {"data_gb": "много", "minutes": "30", "lang": "ru"}
    bad = await h.post("/settings/alerts", form)
    assert bad.status_code == 400 and 'value="много"' in bad.text
    assert "Нужно число гигабайт больше нуля" in bad.text
    form["data_gb"] = "1,5"
    assert (await h.post("/settings/alerts", form)).status_code in (302, 303)
    async with h.app.state.server.db() as db:
        rules = {r.kind: r for r in await db.scalars(select(AlertRule))}
    assert rules["low_data"].enabled and rules["low_data"].threshold_units == 3 * 2**29
    assert rules["low_minutes"].enabled and rules["low_minutes"].threshold_units == 30 * 60
    saved = await h.page("/settings/alerts")
    assert 'id="data_gb" name="data_gb" inputmode="decimal" value="1,5"' in saved.text
    assert 'id="minutes" name="minutes" inputmode="numeric" value="30"' in saved.text
    form.update(data_gb="", minutes="")  # emptied: off again
    assert (await h.post("/settings/alerts", form)).status_code in (302, 303)
    async with h.app.state.server.db() as db:
        rules = {r.kind: r for r in await db.scalars(select(AlertRule))}
    assert not rules["low_data"].enabled and not rules["low_minutes"].enabled


async def test_settings_save_in_the_demo_with_a_poll_under_a_minute(signed_in: Harness) -> None:
    h = signed_in
    async with h.app.state.server.db() as db:
        await db.execute(update(Household).values(poll_interval_s=20))
        await db.commit()
    page = await h.page("/settings")
    assert 'value="0"' not in page.text and "каждые 20 с" in page.text
    form = {"display_name": "Иван", "household_name": "Смирновы", "poll_interval_min": ""}
    assert (await h.post("/settings", form)).status_code in (302, 303)
    async with h.app.state.server.db() as db:
        assert (await db.scalar(select(Household.poll_interval_s))) == 20
    bad = await h.post("/settings", {**form, "poll_interval_min": "2", "display_name": "Ваня"})
    assert bad.status_code == 400
    assert "Целое число от 5 до 1440." in bad.text and 'value="Ваня"' in bad.text
    assert 'value="2"' in bad.text


async def test_api_answers_422_naming_the_field(signed_in: Harness) -> None:
    h = signed_in
    current = (await h.api("GET", "/alerts")).json()
    response = await h.api("PUT", "/alerts", json={**current, "threshold": "сто рублей"})
    assert response.status_code == 422, response.text
    error = response.json()["error"]
    assert error["key"] == "http.invalid"
    assert "threshold" in str(error["detail"])


async def test_suspension_keeps_the_dates_typed_and_says_what_is_wrong(signed_in: Harness) -> None:
    h = signed_in
    account_id = await _link_demo(h)
    quote = f"/accounts/{account_id}/suspension/quote"
    backwards = await h.htmx("GET", quote, {"start": "2030-02-15", "end": "2030-01-01"})
    assert backwards.status_code == 400
    # The whole section comes back (not just the quote box), the dates as typed.
    assert backwards.headers["HX-Retarget"] == "#suspension-body"
    assert 'value="2030-02-15"' in backwards.text and 'value="2030-01-01"' in backwards.text
    assert 'id="susp-end-error"' in backwards.text
    assert "Конец не может быть раньше начала." in backwards.text
    assert 'aria-invalid="true" aria-describedby="susp-end-error"' in backwards.text

    typo = await h.htmx("GET", quote, {"start": "31.13.2030", "end": "15.02.2030"})
    assert typo.status_code == 400 and 'value="31.13.2030"' in typo.text
    assert "Дата в виде ДД.ММ.ГГГГ или ГГГГ-ММ-ДД." in typo.text
    russian = await h.htmx("GET", quote, {"start": "01.01.2030", "end": "15.02.2030"})
    assert russian.status_code == 200 and "Итого" in russian.text

    too_long = await h.htmx(
        "POST",
        f"/accounts/{account_id}/suspension",
        {"start": "2030-01-01", "end": "2032-01-01"},
    )
    assert too_long.status_code == 400 and "Не длиннее 366 дней подряд." in too_long.text

    api = await h.api(
        "POST",
        f"/accounts/{account_id}/suspension",
        json={"start": "2030-02-15", "end": "2030-01-01"},
    )
    assert api.status_code == 422, api.text
    assert api.json()["error"]["detail"][0]["field"] == "end"


async def test_invitation_keeps_the_address_typed(signed_in: Harness) -> None:
    h = signed_in
    await h.page("/members")
    bad = await h.post("/members/invite", {"email": "бабушка на даче"})
    assert bad.status_code == 400
    assert 'value="бабушка на даче"' in bad.text
    assert 'aria-invalid="true" aria-describedby="invite-email-error"' in bad.text
    assert "Проверьте адрес электронной почты." in bad.text
    taken = await h.post("/members/invite", {"email": "owner@example.ru"})
    assert taken.status_code == 400 and "уже есть учётная запись" in taken.text
    good = await h.post("/members/invite", {"email": "babushka@example.ru"})
    assert good.status_code == 200 and "/invite/" in good.text


async def test_account_alerts_keep_everything_typed(signed_in: Harness) -> None:
    h = signed_in
    account_id = await _link_demo(h)
    await h.page(f"/accounts/{account_id}")
    bad = await h.post(f"/accounts/{account_id}/alerts", {"threshold": "сто рублей", "days": "99"})
    assert bad.status_code == 400
    assert 'value="сто рублей"' in bad.text and 'value="99"' in bad.text
    assert 'aria-describedby="acc-threshold-error acc-threshold-hint"' in bad.text
    assert "Нужна сумма в рублях цифрами" in bad.text and "Целое число от 1 до 60." in bad.text
    async with h.app.state.server.db() as db:
        assert list(await db.scalars(select(AlertRule))) == []  # nothing half-saved
    saved = await h.post(f"/accounts/{account_id}/alerts", {"threshold": "1 234,56 ₽", "days": "5"})
    assert saved.status_code in (302, 303)
    page = await h.page(saved.headers["location"])
    assert 'value="1234,56"' in page.text and 'value="5"' in page.text
    assert "Сохранено" in page.text


def test_identifier_hints_and_examples_agree() -> None:
    """An identifier's example is one its own check accepts, and its hint gives no example of
    its own (the form shows the example apart, for the kind chosen)."""
    from aggregator.plugins import load_plugins

    registry = load_plugins()
    seen = 0
    for provider_id, cls in registry.providers.items():
        for scheme in cls.login_schemes:
            for spec in scheme.identifiers:
                if spec.example:
                    spec.normalise(spec.example)  # raises if the example breaks its own rule
                    seen += 1
                for hint in (spec.hint_ru, spec.hint_en):
                    assert "например" not in hint.lower() and "e.g." not in hint, (
                        provider_id,
                        hint,
                    )
    assert seen >= 10


async def test_the_wizard_shows_the_chosen_kinds_hint_only(signed_in: Harness) -> None:
    h = signed_in
    page = await h.page("/accounts/add/rostelecom?scheme=password")
    hint = re.search(r'<p class="hint" id="identifier-hint"[^>]*>([^<]*)</p>', page.text)
    assert hint is not None
    assert hint.group(1).startswith("Мобильный номер") and "123456789012" not in hint.group(1)
    assert hint.group(1).count("Например") == 1
    assert 'data-hint="12 цифр лицевого счёта. Например: 123456789012"' in page.text


async def test_report_dates_keep_what_was_typed(signed_in: Harness) -> None:
    h = signed_in
    account_id = await _link_demo(h)
    report = f"/accounts/{account_id}/report"
    backwards = await h.client.get(report, params={"start": "2030-02-15", "end": "2030-01-01"})
    assert backwards.status_code == 400
    text = backwards.text  # the account page again, the dates as typed, the field marked
    assert 'value="2030-02-15"' in text and 'value="2030-01-01"' in text
    assert 'aria-invalid="true" aria-describedby="report-end-error"' in text
    assert "Конец не может быть раньше начала." in text
    assert "Не сохранено" not in text  # the alert settings form below says nothing
    typo = await h.client.get(report, params={"start": "31.13.2030", "end": "15.02.2030"})
    assert typo.status_code == 400 and 'value="31.13.2030"' in typo.text
    assert 'aria-describedby="report-start-error"' in typo.text
    page = await h.page(f"/accounts/{account_id}")
    start = re.search(r'id="report-start" type="date" name="start" value="([^"]+)"', page.text)
    end = re.search(r'id="report-end" type="date" name="end" value="([^"]+)"', page.text)
    assert start is not None and end is not None
    day = dt.date.fromisoformat(start.group(1)).strftime("%d.%m.%Y")  # Russian order works too
    good = await h.client.get(report, params={"start": day, "end": end.group(1), "format": "xlsx"})
    assert good.status_code == 200, good.text[:300]
    assert "spreadsheet" in good.headers["content-type"]


async def test_password_change_marks_the_field(signed_in: Harness) -> None:
    h = signed_in
    await h.page("/settings")
    wrong = await h.post(
        "/settings/password",
        {"current_password": "не тот", "new_password": "x" * 12, "new_password_confirm": "x" * 12},
    )
    assert wrong.status_code == 400
    assert 'aria-invalid="true" aria-describedby="current_password-error"' in wrong.text
    assert "Текущий пароль неверен." in wrong.text
    mismatch = await h.post(
        "/settings/password",
        {"current_password": PASSWORD, "new_password": "y" * 12, "new_password_confirm": "z" * 12},
    )
    assert mismatch.status_code == 400
    assert 'aria-invalid="true" aria-describedby="new_password_confirm-error"' in mismatch.text
    assert "y" * 12 not in mismatch.text  # a password is never sent back


async def test_token_name_is_asked_at_its_field(signed_in: Harness) -> None:
    h = signed_in
    await h.page("/settings/tokens")
    blank = await h.post("/settings/tokens", {"name": "   ", "scope": "write"})
    assert blank.status_code == 400
    assert 'aria-invalid="true" aria-describedby="token-name-error token-name-hint"' in blank.text
    assert "Назовите токен" in blank.text and 'value="write" checked' in blank.text


async def test_autopay_sums_keep_what_was_typed(signed_in: Harness) -> None:
    h = signed_in
    account_id = await _link_demo(h)
    section = await h.htmx("GET", f"/accounts/{account_id}/payments")
    assert f'id="ap-threshold-{account_id}"' in section.text
    bad = await h.htmx(
        "POST",
        f"/accounts/{account_id}/autopay",
        {"enabled": "1", "threshold": "сто", "amount": "1 234,56 ₽"},
    )
    assert bad.status_code == 400  # the section again, the sums as typed, the wrong one marked
    assert 'value="сто" aria-invalid="true"' in bad.text
    assert f'aria-describedby="ap-threshold-{account_id}-error"' in bad.text
    assert 'value="1 234,56 ₽">' in bad.text and "Нужна сумма в рублях цифрами" in bad.text
    good = await h.htmx(
        "POST",
        f"/accounts/{account_id}/autopay",
        {"enabled": "1", "threshold": "150,50", "amount": "1 234,56 ₽"},
    )
    assert good.status_code == 200, good.text[:500]


async def test_the_wizard_says_at_the_field_what_is_wrong(signed_in: Harness) -> None:
    h = signed_in
    await h.page("/accounts/add/reference?scheme=sms_code")
    form = {"scheme": "sms_code", "identifier_kind": "phone", "identifier": "12-34"}
    form["label"] = "Дача"
    bad = await h.post("/accounts/add/reference", form)
    assert bad.status_code == 400
    text = bad.text  # in the page's language, at the field, nothing typed lost
    assert 'value="12-34"' in text and 'value="Дача"' in text
    assert 'aria-invalid="true" aria-describedby="identifier-error identifier-hint"' in text
    assert "Российский номер телефона: 10 цифр" in text and "must be" not in text
    await h.page("/accounts/add/reference?scheme=password")
    blank = await h.post(
        "/accounts/add/reference",
        {"scheme": "password", "identifier_kind": "login", "identifier": "demo", "password": ""},
    )
    assert blank.status_code == 400 and 'aria-describedby="password-error"' in blank.text
    assert "Введите пароль от кабинета оператора." in blank.text and 'value="demo"' in blank.text


async def test_a_login_without_a_password_does_not_speak_of_one(signed_in: Harness) -> None:
    h = signed_in
    code = await h.page("/accounts/add/reference?scheme=sms_code")
    assert "Пароль не хранится" in code.text and "Пароль хранится только" not in code.text
    password = await h.page("/accounts/add/reference?scheme=password")
    assert "Пароль хранится только в зашифрованном виде" in password.text
