"""In a real browser: "Забыли пароль?" in the add-account wizard.

Rostelecom: the passport's reset form driven in the server's Chromium (captcha relayed to the
person, the code from the e-mail, a new password checked against the 8-20 Aa1 policy before it
is sent), then the login with the new password and the choice of numbers: linking goes on.
Answers come from the reference provider's sim API. The tests of this module run in order and
share one browser page and one aggregator (its own).
"""

from __future__ import annotations

import re
from typing import Any

import pytest
from playwright.async_api import expect

from aggregator.plugins import load_plugins

from .conftest import Sim, check_a11y

INSTALLED = set(load_plugins().providers)

pytestmark = [
    pytest.mark.browser,
    pytest.mark.timeout(600),
    pytest.mark.skipif("rostelecom" not in INSTALLED, reason="the rostelecom plugin is missing"),
]

EMAIL = "nina@example.ru"
PASSWORD = "Синица-2025-пароль"


async def _continue(page: Any) -> None:
    await page.get_by_role("button", name="Продолжить").click()


async def test_set_up(page: Any, aggregator_url: str) -> None:
    await page.goto("/")
    await page.wait_for_url("**/setup")
    await page.get_by_label("Название семьи").fill("Синицыны")
    await page.get_by_label("Имя").fill("Нина")
    await page.get_by_label("Электронная почта").fill(EMAIL)
    await page.get_by_label("Новый пароль").fill(PASSWORD)
    await page.get_by_label("Повторите пароль").fill(PASSWORD)
    await page.get_by_role("button", name="Создать учётную запись").click()
    await page.wait_for_url(f"{aggregator_url}/")


async def test_rostelecom_recovery_through_captcha_and_code_then_linking_goes_on(
    page: Any, sim: Sim
) -> None:
    await page.goto("/accounts/add/rostelecom?scheme=password")
    await page.get_by_role("link", name="Забыли пароль?").click()
    await expect(page.get_by_role("heading", name="Восстановление пароля")).to_be_visible()
    await check_a11y(page, "recover-form")
    await page.get_by_role("radio", name="Электронная почта").first.check()
    await page.locator("#identifier").fill("anna.petrova@example.ru")
    await page.get_by_role("radio", name="Электронная почта").last.check()  # the code by e-mail
    await _continue(page)

    # The passport's reset form wants the characters of its picture.
    await expect(page.locator("img.captcha")).to_be_visible()
    await page.get_by_role("textbox", name="Символы с картинки").fill("zzzz")
    await _continue(page)
    await expect(page.locator("img.captcha")).to_be_visible()  # wrong: a new picture
    await expect(page.get_by_text("Неверно введены символы")).to_be_visible()
    await page.get_by_role("textbox", name="Символы с картинки").fill(
        await sim.captcha("rostelecom")
    )
    await _continue(page)

    # The code went to the e-mail.
    await expect(page.get_by_text("на почту an***@example.ru")).to_be_visible()
    code = await sim.last_code("rostelecom", purpose="password_reset")
    await page.get_by_role("textbox", name="Код", exact=True).fill(code)
    await _continue(page)

    # A new password that breaks the operator's rules is refused here, before sending.
    await expect(page.locator("#new_password")).to_be_visible()
    await expect(page.get_by_text("От 8 до 20 символов")).to_be_visible()
    await page.locator("#new_password").fill("petrova")
    await page.locator("#new_password_confirm").fill("petrova")
    await _continue(page)
    await expect(page.locator(".alert-error")).to_contain_text("заглав")
    await page.locator("#new_password").fill("Petrova2026x")
    await page.locator("#new_password_confirm").fill("Petrova2026y")
    await _continue(page)
    await expect(page.locator(".alert-error")).to_be_visible()  # typed differently
    await page.locator("#new_password").fill("Petrova2026x")
    await page.locator("#new_password_confirm").fill("Petrova2026x")
    await _continue(page)

    # The password is set; the login with it goes on (a new device may get a captcha).
    if await page.locator("img.captcha").count():
        await expect(page.get_by_text("Пароль изменён")).to_be_visible()
        await page.get_by_role("textbox", name="Символы с картинки").fill(
            await sim.captcha("rostelecom")
        )
        await _continue(page)
    if "/flows/" in page.url:
        await expect(page.locator("input[name=subaccount]").first).to_be_visible()
        await page.get_by_role("button", name="Добавить").click()
    await page.wait_for_url(re.compile(r"/(\?linked=\d+|accounts/\d+\?linked=1)$"))
    response = await page.request.get("/api/v1/accounts")
    operators = {a["provider_id"] for a in (await response.json())["accounts"]}
    assert operators == {"rostelecom"}


async def test_the_new_password_is_the_one_the_operator_keeps(page: Any, sim: Sim) -> None:
    # The old password no longer logs in; the new one does (linking the same ID again).
    await page.goto("/accounts/add/rostelecom?scheme=password")
    await page.get_by_role("radio", name="Электронная почта").check()
    await page.locator("#identifier").fill("anna.petrova@example.ru")
    await page.get_by_label("Пароль").fill("Petrova2024")
    await _continue(page)
    if await page.locator("img.captcha").count():
        await page.get_by_role("textbox", name="Символы с картинки").fill(
            await sim.captcha("rostelecom")
        )
        await _continue(page)
    await expect(page.locator(".alert-error")).to_be_visible()
    assert "/flows/" not in page.url or await page.locator("img.captcha").count() == 0
