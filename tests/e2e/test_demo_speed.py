"""The journey at ``make demo``'s own clock speed (the billing clock 720 times faster than real
time), typed as a person types: every code after a human pause of 5 s. Login by SMS code, by
e-mail code and through Gosuslugi; a tariff change and a top-up confirmed by a code; a wrong
code, a resend and an expired step each recover without losing what was typed (in the login
wizard and in an operation's code box). axe-core at 1366 and 390 px on every state;
screenshots of the wizard at both widths.

The tests of this module run in order and share one browser page and one aggregator.
"""

from __future__ import annotations

import asyncio
import re
from collections.abc import Iterator
from typing import Any

import pytest
from playwright.async_api import expect

from aggregator.demo import CLOCK_SPEED
from aggregator.plugins import load_plugins

from .conftest import Sim, ThreadServer, check_a11y, free_port, screenshot

pytestmark = [
    pytest.mark.browser,
    pytest.mark.timeout(900),
    pytest.mark.skipif("reference" not in load_plugins().providers, reason="no reference plugin"),
]

EMAIL = "demo-speed@example.ru"
PASSWORD = "Демо-скорость-2025"
HUMAN_PAUSE_S = 5.0
RESEND_AFTER_S = 30


@pytest.fixture(scope="module")
def reference_url() -> Iterator[str]:
    """The reference provider as ``make demo`` runs it: billing at x720."""
    from reference_provider.app import create_app as create_reference_app

    app = create_reference_app(sim=True, clock_speed=CLOCK_SPEED)
    with ThreadServer(app, free_port()) as url:
        yield url


async def human() -> None:
    """A person reads the SMS on the phone and types it."""
    await asyncio.sleep(HUMAN_PAUSE_S)


async def check_both(page: Any, name: str) -> None:
    """axe at the desktop width and at a phone's."""
    await page.set_viewport_size({"width": 1366, "height": 900})
    await check_a11y(page, f"{name}-1366")
    await page.set_viewport_size({"width": 390, "height": 844})
    await check_a11y(page, f"{name}-390")
    await page.set_viewport_size({"width": 1366, "height": 900})


async def _continue(page: Any) -> None:
    await page.get_by_role("button", name="Продолжить").click()


async def _add_numbers(page: Any) -> None:
    boxes = page.locator("input[name=subaccount]")
    await expect(boxes.first).to_be_visible()
    if await page.locator("input[name=subaccount]:checked").count() == 0:
        await boxes.first.check()  # every number is already linked: renew the first
    await check_both(page, "speed-wizard-choose")
    await page.get_by_role("button", name="Добавить").click()
    await page.wait_for_url(re.compile(r"/(\?linked=\d+|accounts/\d+\?linked=1)$"))


async def test_sign_up(page: Any, aggregator_url: str) -> None:
    await page.goto("/")
    await page.wait_for_url("**/setup")
    await page.get_by_label("Название семьи").fill("Смирновы")
    await page.get_by_label("Имя").fill("Иван")
    await page.get_by_label("Электронная почта").fill(EMAIL)
    await page.get_by_label("Новый пароль").fill(PASSWORD)
    await page.get_by_label("Повторите пароль").fill(PASSWORD)
    await page.get_by_role("button", name="Создать учётную запись").click()
    await page.wait_for_url(f"{aggregator_url}/")


async def test_sms_code_wrong_then_resent_then_right(page: Any, sim: Sim) -> None:
    await page.goto("/accounts/add/reference?scheme=sms_code")
    await page.get_by_role("radio", name="Телефон").check()
    await page.locator("#identifier").fill("+7 (903) 123-45-67")
    await page.get_by_label("Название").fill("Семья")
    await _continue(page)
    await expect(page.get_by_text("отправил код в SMS")).to_be_visible()
    resend = page.get_by_role("button", name="Отправить код ещё раз")
    await expect(resend).to_be_disabled()  # the operator's countdown
    await check_both(page, "speed-wizard-code")
    for width, name in ((1366, "wizard-code-ru"), (390, "wizard-code-ru-mobile")):
        await page.set_viewport_size({"width": width, "height": 900})
        await screenshot(page, name)
    await page.set_viewport_size({"width": 1366, "height": 900})
    await human()
    code = page.get_by_role("textbox", name="Код", exact=True)
    await code.fill("000000")
    await _continue(page)
    await expect(page.get_by_text("Оператор не принял код.")).to_be_visible()
    await expect(page.get_by_text("Логин или пароль")).to_have_count(0)
    await expect(code).to_have_value("000000")  # the digits typed stay, to correct
    await expect(code).to_have_attribute("aria-invalid", "true")
    await check_both(page, "speed-wizard-code-wrong")
    await expect(resend).to_be_enabled(timeout=(RESEND_AFTER_S + 5) * 1000)
    await resend.click()
    await expect(page.get_by_text("Новый код отправлен")).to_be_visible()
    await human()
    await code.fill(await sim.last_code("reference"))
    await _continue(page)
    await _add_numbers(page)


async def test_email_code_expired_then_resent(page: Any, sim: Sim) -> None:
    await page.goto("/accounts/add/reference?scheme=email_code")
    await page.locator("#identifier").fill("demo")
    await _continue(page)
    await expect(page.get_by_text("отправил код на почту")).to_be_visible()
    await human()
    stale = await sim.last_code("reference")
    # Five real minutes pass (at x720 that is 60 billing hours): the code has expired.
    await sim.advance(minutes=5 * CLOCK_SPEED + 1)
    code = page.get_by_role("textbox", name="Код", exact=True)
    await code.fill(stale)
    await _continue(page)
    await expect(page.get_by_text("Срок действия кода истёк")).to_be_visible()
    await check_both(page, "speed-wizard-code-expired")
    resend = page.get_by_role("button", name="Отправить код ещё раз")
    await expect(resend).to_be_enabled(timeout=(RESEND_AFTER_S + 5) * 1000)
    await resend.click()
    await human()
    await code.fill(await sim.last_code("reference"))
    await _continue(page)
    await _add_numbers(page)


def _age_operator_steps(app: Any) -> None:
    """Every login step the reference plugin keeps has outlived its time limit (what ten
    minutes at the phone would do)."""
    flows = app.state.server.require_runtime().provider("reference").context.flows
    for entry in list(flows._entries.values()):
        entry.deadline = 0.0


async def test_an_expired_step_starts_again_with_the_fields_filled(
    page: Any, sim: Sim, aggregator_app: Any
) -> None:
    # A login from a new device asks for a captcha; the person comes back to it too late.
    await page.goto("/accounts/add/reference?scheme=password")
    await page.get_by_role("radio", name="Логин").check()
    await page.locator("#identifier").fill("captcha")
    await page.get_by_label("Пароль").fill("demo-password")
    await page.get_by_label("Название").fill("Бабушка")
    await _continue(page)
    await expect(page.locator("img.captcha")).to_be_visible()
    await human()
    _age_operator_steps(aggregator_app)
    await page.get_by_role("textbox", name="Символы с картинки").fill(
        await sim.captcha("reference")
    )
    await _continue(page)
    await expect(page.get_by_text("Шаг входа устарел")).to_be_visible()
    await expect(page.locator("#identifier")).to_have_value("captcha")
    await expect(page.get_by_label("Название")).to_have_value("Бабушка")
    await check_both(page, "speed-wizard-step-expired")
    await page.get_by_label("Пароль").fill("demo-password")  # a password is never sent back
    await _continue(page)  # the same login again
    await expect(page.locator("img.captcha")).to_be_visible()
    await human()
    await page.get_by_role("textbox", name="Символы с картинки").fill(
        await sim.captcha("reference")
    )
    await _continue(page)
    await page.wait_for_url(re.compile(r"/(\?linked=\d+|accounts/\d+\?linked=1)$"))


async def test_gosuslugi_at_a_person_s_pace(page: Any) -> None:
    await page.goto("/accounts/add/reference?scheme=sso")
    await page.get_by_role("button", name="Госуслуги").click()
    await check_both(page, "speed-wizard-sso")
    await page.get_by_role("link", name=re.compile("Войти через Госуслуги")).click()
    await human()
    await page.locator("#username").fill("ivan.smirnov")
    await page.locator("#password").fill("sso-demo-2024")
    await page.locator("#login").click()
    await human()
    await page.locator("#allow").click()
    await _add_numbers(page)


@pytest.mark.skipif("rostelecom" not in load_plugins().providers, reason="no rostelecom plugin")
async def test_rostelecom_through_gosuslugi_at_a_person_s_pace(page: Any) -> None:
    """The round trip the issue saw expire: Rostelecom's passport, Gosuslugi and back."""
    await page.goto("/accounts/add/rostelecom?scheme=sso")
    await page.get_by_role("button", name="Госуслуги").click()
    await page.get_by_role("link", name=re.compile("Войти через Госуслуги")).click()
    await human()
    await page.locator("#username").fill("ivan.smirnov")
    await page.locator("#password").fill("sso-demo-2024")
    await page.locator("#login").click()
    await human()
    await page.locator("#allow").click()
    await _add_numbers(page)


async def test_cancel_keeps_what_was_typed(page: Any) -> None:
    await page.goto("/accounts/add/reference?scheme=sms_code")
    await page.get_by_role("radio", name="Телефон").check()
    await page.locator("#identifier").fill("+7 (903) 123-45-67")
    await page.get_by_label("Название").fill("Дача")
    await _continue(page)
    await page.get_by_role("button", name="Отмена").click()
    await expect(page.locator("#identifier")).to_have_value("+7 (903) 123-45-67")
    await expect(page.get_by_label("Название")).to_have_value("Дача")
    await check_both(page, "speed-wizard-cancelled")
    await screenshot(page, "wizard-form-ru-filled")


async def _account_page(page: Any) -> None:
    await page.goto("/")
    await page.locator(".card").filter(has_text="•••• 01").first.get_by_role("link").first.click()
    await page.wait_for_url(re.compile(r"/accounts/\d+$"))


async def test_tariff_change_confirmed_by_code(page: Any, sim: Sim) -> None:
    await _account_page(page)
    tariffs = page.locator("#tariffs-body")
    await tariffs.get_by_role("link", name=re.compile("Перейти")).first.click()
    await tariffs.get_by_role("button", name="Подтвердить смену").click()
    await expect(tariffs.get_by_text("отправил код в SMS")).to_be_visible()
    await check_both(page, "speed-account-code")
    await human()
    code = tariffs.get_by_role("textbox", name="Код")
    await code.fill("000000")  # a wrong code: said, kept in its box, the operation still open
    await tariffs.get_by_role("button", name="Подтвердить", exact=True).click()
    await expect(tariffs.get_by_text("Оператор не принял код.")).to_be_visible()
    await expect(code).to_have_value("000000")
    await check_both(page, "speed-account-code-wrong")
    resend = tariffs.get_by_role("button", name="Отправить код ещё раз")
    await expect(resend).to_be_enabled(timeout=(RESEND_AFTER_S + 5) * 1000)
    await resend.click()
    await expect(tariffs.get_by_text("Новый код отправлен")).to_be_visible()
    await human()
    await code.fill(await sim.last_code("reference"))
    await tariffs.get_by_role("button", name="Подтвердить", exact=True).click()
    await expect(tariffs.get_by_text("Заявка на смену тарифа принята")).to_be_visible()


async def test_top_up_confirmed_by_code(page: Any, sim: Sim) -> None:
    await _account_page(page)
    payments = page.locator("#payments-body")
    amount = payments.locator("input[id^=topup-]")
    await amount.fill("сто")
    await payments.get_by_role("button", name="Пополнить счёт").click()
    await expect(payments.get_by_text("Нужна сумма в рублях цифрами")).to_be_visible()
    await expect(amount).to_have_value("сто")
    await expect(amount).to_have_attribute("aria-invalid", "true")
    await check_both(page, "speed-top-up-invalid")
    await amount.fill("150,50")
    await payments.get_by_role("button", name="Пополнить счёт").click()
    await expect(payments.get_by_text("отправил код")).to_be_visible()
    await human()
    await payments.get_by_role("textbox", name="Код").fill(await sim.last_code("reference"))
    await payments.get_by_role("button", name="Подтвердить", exact=True).click()
    await expect(payments.get_by_text("150,50")).to_be_visible()
    assert not page.js_errors, page.js_errors
