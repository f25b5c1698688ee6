"""Linking a Rostelecom ID in the web wizard by every way its passport offers, in a real browser.

The reference provider's ``rostelecom`` dialect is the real shape: the passport and the cabinet
as two hosts, the anti-robot page, the first screen, the JavaScript-built form with its tabs, a
one-time code from the first screen, the ``sso-auth`` redirect and the cookie session. The
server drives the passport in its own shared Chromium; SSO is a round trip through this test's
browser (out to the identity provider's pages, back to the dashboard's callback).

Each path links the same ID (Иван Смирнов: four accounts), so every test also shows that another
login reaching the same accounts keeps one row per account. One aggregator, one reference
provider and one browser page serve the whole module; the tests run in order. The captcha, the
SMS code, Gosuslugi again after the session is lost, and the bonus/profile/chat on the account
page are in ``test_journey.py``; here: each identifier tab, each code channel, each SSO, and
an SMS-confirmed payment on the account page.
"""

from __future__ import annotations

import re
from typing import Any

import pytest
from playwright.async_api import expect

from aggregator.plugins import load_plugins

from .conftest import Sim

pytestmark = [
    pytest.mark.browser,
    pytest.mark.timeout(600),
    pytest.mark.skipif(
        "rostelecom" not in load_plugins().providers, reason="the rostelecom plugin is missing"
    ),
]

EMAIL = "olga@example.ru"
PASSWORD = "Семья-2025-пароль"
RT_PASSWORD = "Rostelecom2024"  # the reference provider's demo ID
IDP_PASSWORD = "sso-demo-2024"
NUMBERS = ("000 000 001", "000 000 002", "000 000 003", "000 000 004")


async def _start(page: Any, scheme: str) -> None:
    await page.goto(f"/accounts/add/rostelecom?scheme={scheme}")
    await expect(page.locator("h1")).to_be_visible()


async def _continue(page: Any) -> None:
    await page.get_by_role("button", name="Продолжить").click()


async def _link_all_four(page: Any) -> None:
    """The choice step lists the ID's four accounts; all of them are linked."""
    boxes = page.locator("input[name=subaccount]")
    await expect(boxes.first).to_be_visible()
    await expect(boxes).to_have_count(len(NUMBERS))
    choice = await page.locator("form").filter(has=boxes.first).inner_text()
    assert all(n in choice for n in NUMBERS), choice
    for i in range(await boxes.count()):
        await boxes.nth(i).check()
    await page.get_by_role("button", name="Добавить").click()
    await page.wait_for_url(re.compile(r"/(\?linked=\d+|accounts/\d+\?linked=1)$"))


async def _rostelecom_rows(page: Any) -> list[str]:
    response = await page.request.get("/api/v1/accounts")
    assert response.ok
    return sorted(
        a["number_masked"]
        for a in (await response.json())["accounts"]
        if a["provider_id"] == "rostelecom"
    )


async def test_a_household_to_link_into(page: Any, aggregator_url: str) -> None:
    await page.goto("/")
    await page.wait_for_url("**/setup")
    await page.get_by_label("Название семьи").fill("Смирновы")
    await page.get_by_label("Имя").fill("Ольга")
    await page.get_by_label("Электронная почта").fill(EMAIL)
    await page.get_by_label("Новый пароль").fill(PASSWORD)
    await page.get_by_label("Повторите пароль").fill(PASSWORD)
    await page.get_by_role("button", name="Создать учётную запись").click()
    await page.wait_for_url(f"{aggregator_url}/")


@pytest.mark.parametrize(
    ("tab", "identifier"),
    [
        ("Телефон", "+7 903 123-45-67"),
        ("Электронная почта", "ivan.smirnov@example.ru"),
        ("Логин", "smirnov.ivan"),
        ("Лицевой счёт", "3610 0000 0001"),
    ],
    ids=["phone", "email", "login", "account_number"],
)
async def test_password_by_each_identifier_kind(page: Any, tab: str, identifier: str) -> None:
    await _start(page, "password")
    await page.get_by_role("radio", name=tab).check()
    await page.locator("#identifier").fill(identifier)
    await page.get_by_label("Пароль").fill(RT_PASSWORD)
    await _continue(page)
    await _link_all_four(page)
    assert len(await _rostelecom_rows(page)) == len(NUMBERS)  # one row per account


@pytest.mark.parametrize(
    ("scheme", "identifier", "where"),
    [
        ("sms_code", "8 (903) 123-45-67", "отправил код в SMS"),
        ("email_code", "ivan.smirnov@example.ru", "отправил код на почту"),
    ],
    ids=["sms", "email"],
)
async def test_a_one_time_code_from_the_first_screen(
    page: Any, sim: Sim, scheme: str, identifier: str, where: str
) -> None:
    await _start(page, scheme)
    await page.locator("#identifier").fill(identifier)
    await _continue(page)
    await expect(page.get_by_text(where)).to_be_visible()
    # A wrong code first: the passport says so and the person types it again.
    await page.get_by_role("textbox", name="Код", exact=True).fill("000000")
    await _continue(page)
    await expect(page.get_by_text("Неверный или просроченный код")).to_be_visible()
    await page.get_by_role("textbox", name="Код", exact=True).fill(
        await sim.last_code("rostelecom")
    )
    await _continue(page)
    await _link_all_four(page)
    assert len(await _rostelecom_rows(page)) == len(NUMBERS)


@pytest.mark.parametrize(
    ("idp", "button", "username"),
    [
        ("gosuslugi", "Госуслуги", "ivan.smirnov"),
        ("tbank", "Т-Банк", "+79031234567"),
        ("vk", "VK ID", "ivan.smirnov@vk.com"),
        ("ok", "Одноклассники", "ivan.smirnov.ok"),
        ("mailru", "Mail.ru", "ivan.smirnov@mail.ru"),
    ],
    ids=["gosuslugi", "tbank", "vk", "ok", "mailru"],
)
async def test_sso_round_trip_through_each_identity_provider(
    page: Any, idp: str, button: str, username: str
) -> None:
    await _start(page, "sso")
    await page.get_by_role("button", name=button, exact=True).click()
    go = page.get_by_role("link", name=re.compile("Войти через " + re.escape(button)))
    assert f"kc_idp_hint={idp}" in (await go.get_attribute("href") or "")
    await go.click()
    # The passport sends the browser on to the identity provider's own login page.
    await expect(page.locator("#username")).to_be_visible()
    assert f"/idp/{idp}/" in page.url
    await page.locator("#username").fill(username)
    await page.locator("#password").fill(IDP_PASSWORD)
    await page.locator("#login").click()
    await page.locator("#allow").click()
    # Back at the dashboard's callback: the server hands the code to the cabinet's sso-auth
    # page in its Chromium, which opens the cookie session.
    await _link_all_four(page)
    assert len(await _rostelecom_rows(page)) == len(NUMBERS)


async def test_every_path_reached_the_same_four_accounts(page: Any) -> None:
    rows = await _rostelecom_rows(page)
    assert len(rows) == len(NUMBERS), rows
    await page.goto("/")
    await expect(page.locator(".card").filter(has_text="Ростелеком")).to_have_count(len(NUMBERS))


async def test_an_sms_confirmed_top_up_on_the_account_page(page: Any, sim: Sim) -> None:
    response = await page.request.get("/api/v1/accounts")
    account_id = next(
        a["id"]
        for a in (await response.json())["accounts"]
        if a["provider_id"] == "rostelecom" and a["number_masked"].endswith("0004")
    )
    await page.goto(f"/accounts/{account_id}")
    payments = page.locator("#payments-body")
    await payments.locator("input[id^=topup-]").fill("300")
    await payments.get_by_role("button", name="Пополнить счёт").click()
    # Money on a wire format the plugin only assumed: asked once more, then the SMS code.
    await page.get_by_role("button", name="Да, выполнить").click()
    await expect(page.get_by_text("отправил код в SMS")).to_be_visible()
    await page.get_by_role("textbox", name="Код").fill(
        await sim.last_code("rostelecom", purpose="top_up")
    )
    await page.get_by_role("button", name="Подтвердить", exact=True).click()
    await expect(page.get_by_text("Платёж принят")).to_be_visible()
    assert not page.js_errors, page.js_errors
