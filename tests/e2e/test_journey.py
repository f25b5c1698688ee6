"""The whole journey in a real browser: first account, linking an account of every operator
through its real login steps (captcha, SMS code, SSO, new password: answers read from the
reference provider's sim API), balances and charts, a tariff change confirmed by a code, a
service toggle, a suspension, the support chat with the bot and the agent, PDF and XLSX
reports, an alert threshold and the e-mail it sends. axe-core checks every page.

The tests of this module run in order and share one browser page and one aggregator.
"""

from __future__ import annotations

import io
import re
from typing import Any

import anyio
import openpyxl
import pypdf
import pytest
from playwright.async_api import expect

from aggregator.plugins import load_plugins

from .conftest import Sim, check_a11y, eventually, screenshot

pytestmark = [pytest.mark.browser, pytest.mark.timeout(600)]

EMAIL = "ivan@example.ru"
PASSWORD = "Семья-2025-пароль"
INSTALLED = set(load_plugins().providers)


def needs(operator: str) -> Any:
    return pytest.mark.skipif(operator not in INSTALLED, reason=f"the {operator} plugin is missing")


async def _start_login(page: Any, operator: str, scheme: str) -> None:
    await page.goto(f"/accounts/add/{operator}?scheme={scheme}")
    await expect(page.locator("h1")).to_be_visible()


async def _choose_numbers(page: Any, *numbers: str) -> None:
    """On the choice step tick exactly ``numbers`` (all when none given), then add."""
    await expect(page.locator("input[name=subaccount]").first).to_be_visible()
    if numbers:
        boxes = page.locator("input[name=subaccount]")
        for i in range(await boxes.count()):
            box = boxes.nth(i)
            label = await box.locator("xpath=..").inner_text()
            if any(n in label for n in numbers):
                await box.check()
            else:
                await box.uncheck()
    await check_a11y(page, "wizard-choose")
    await page.get_by_role("button", name="Добавить").click()


async def _continue(page: Any) -> None:
    await page.get_by_role("button", name="Продолжить").click()


async def _linked(page: Any) -> None:
    """After a link the dashboard (several numbers) or the account page (one) shows."""
    await page.wait_for_url(re.compile(r"/(\?linked=\d+|accounts/\d+\?linked=1)$"))


async def test_first_account_and_sign_in(page: Any, aggregator_url: str) -> None:
    await page.goto("/")
    await page.wait_for_url("**/setup")
    await check_a11y(page, "setup")
    await page.get_by_label("Название семьи").fill("Смирновы")
    await page.get_by_label("Имя").fill("Иван")
    await page.get_by_label("Электронная почта").fill(EMAIL)
    await page.get_by_label("Новый пароль").fill(PASSWORD)
    await page.get_by_label("Повторите пароль").fill(PASSWORD)
    await page.get_by_role("button", name="Создать учётную запись").click()
    await page.wait_for_url(f"{aggregator_url}/")
    await expect(page.get_by_role("heading", name="Счетов пока нет")).to_be_visible()
    await check_a11y(page, "dashboard-empty")
    # Sign out and in again: the session cookie is Secure + HttpOnly and still works here.
    await page.get_by_role("button", name="Выйти").click()
    await page.wait_for_url("**/login")
    await check_a11y(page, "login")
    await page.get_by_label("Электронная почта").fill(EMAIL)
    await page.get_by_label("Пароль").fill(PASSWORD)
    await page.get_by_role("button", name="Войти").click()
    await page.wait_for_url(f"{aggregator_url}/")
    cookies = {c["name"]: c for c in await page.context.cookies()}
    session = cookies["__Host-agg_session"]
    assert session["httpOnly"] and session["secure"] and session["sameSite"] == "Lax"


@needs("reference")
async def test_link_reference_by_every_login_path(page: Any, sim: Sim) -> None:
    # Password, then the choice of numbers.
    await page.goto("/accounts/add")
    await check_a11y(page, "add-account")
    await _start_login(page, "reference", "password")
    await check_a11y(page, "wizard-form")
    await screenshot(page, "wizard-form-ru")
    await page.get_by_role("radio", name="Логин").check()
    await page.locator("#identifier").fill("demo")
    await page.get_by_label("Пароль").fill("demo-password")
    await page.get_by_label("Название").fill("Смирновы")
    await _continue(page)
    await _choose_numbers(page, "REF-0001", "REF-0002")
    await _linked(page)

    # A captcha on a login from a new device.
    await _start_login(page, "reference", "password")
    await page.locator("#identifier").fill("captcha")
    await page.get_by_label("Пароль").fill("demo-password")
    await _continue(page)
    await expect(page.locator("img.captcha")).to_be_visible()
    await check_a11y(page, "wizard-captcha")
    await screenshot(page, "wizard-captcha-ru")
    await page.get_by_role("textbox", name="Символы с картинки").fill(
        await sim.captcha("reference")
    )
    await _continue(page)
    await _linked(page)

    # A one-time code by SMS, naming the masked destination.
    await _start_login(page, "reference", "sms_code")
    await page.get_by_role("radio", name="Телефон").check()
    await page.locator("#identifier").fill("+7 (903) 123-45-67")
    await _continue(page)
    await expect(page.get_by_text("отправил код в SMS")).to_be_visible()
    await check_a11y(page, "wizard-code")
    await page.get_by_role("textbox", name="Код", exact=True).fill(await sim.last_code("reference"))
    await _continue(page)
    await _choose_numbers(page, "REF-0003")
    await _linked(page)

    # SSO: out to the identity provider's pages and back to the dashboard's callback.
    await _start_login(page, "reference", "sso")
    await page.get_by_role("button", name="Госуслуги").click()
    await check_a11y(page, "wizard-sso")
    await page.get_by_role("link", name=re.compile("Войти через Госуслуги")).click()
    await page.locator("#username").fill("ivan.smirnov")
    await page.locator("#password").fill("sso-demo-2024")
    await page.locator("#login").click()
    await page.locator("#allow").click()
    await expect(page.locator("input[name=subaccount]").first).to_be_visible()
    await _choose_numbers(page, "REF-0004")
    await _linked(page)

    # A temporary password that must be replaced.
    await _start_login(page, "reference", "password")
    await page.locator("#identifier").fill("newbie")
    await page.get_by_label("Пароль").fill("temp-123456")
    await _continue(page)
    await expect(page.locator("#new_password")).to_be_visible()
    await check_a11y(page, "wizard-new-password")
    await page.locator("#new_password").fill("Permanent-2025")
    await page.locator("#new_password_confirm").fill("Permanent-2025")
    await _continue(page)
    await _linked(page)

    await page.goto("/")
    await expect(page.locator(".card")).to_have_count(6)


@needs("beeline")
async def test_link_beeline_with_a_temporary_password_by_sms(page: Any, sim: Sim) -> None:
    # A login without a password: a temporary one by SMS, then a permanent one.
    await _start_login(page, "beeline", "sms_password")
    await page.locator("#identifier").fill("8 905 222-33-44")
    await _continue(page)
    await expect(page.get_by_text("отправил код в SMS")).to_be_visible()
    await page.get_by_role("textbox", name="Код", exact=True).fill(await sim.last_code("beeline"))
    await _continue(page)
    await expect(page.locator("#new_password")).to_be_visible()
    await page.locator("#new_password").fill("Beeline-New-2025")
    await page.locator("#new_password_confirm").fill("Beeline-New-2025")
    await _continue(page)
    await _linked(page)
    # A login holding several numbers: each chosen one becomes its own card.
    await _start_login(page, "beeline", "password")
    await page.locator("#identifier").fill("+7 (903) 123-45-67")
    await page.get_by_label("Пароль").fill("Beeline-2024")
    await _continue(page)
    await _choose_numbers(page, "903 123", "903 765")
    await _linked(page)


@needs("rostelecom")
async def test_link_rostelecom_through_sso(page: Any) -> None:
    await _start_login(page, "rostelecom", "sso")
    await page.get_by_role("button", name="Госуслуги").click()
    await page.get_by_role("link", name=re.compile("Войти через Госуслуги")).click()
    await page.locator("#username").fill("ivan.smirnov")
    await page.locator("#password").fill("sso-demo-2024")
    await page.locator("#login").click()
    await page.locator("#allow").click()
    await _choose_numbers(page, "000 000 001", "000 000 003")
    await _linked(page)


@needs("rostelecom")
async def test_link_rostelecom_through_its_passport(page: Any, sim: Sim) -> None:
    # The passport driven in the server's Chromium: the 12-digit account number's tab.
    await _start_login(page, "rostelecom", "password")
    # The identifier's keyboard follows the kind chosen (a phone keypad only for a phone).
    for kind, keyboard in (("Электронная почта", "email"), ("Лицевой счёт", "numeric")):
        await page.get_by_role("radio", name=kind).check()
        await expect(page.locator("#identifier")).to_have_attribute("inputmode", keyboard)
    await page.locator("#identifier").fill("3610 0000 0001")
    await page.get_by_label("Пароль").fill("Rostelecom2024")
    await _continue(page)
    await _choose_numbers(page, "000 000 002")
    await _linked(page)

    # A one-time code sent from the passport's first screen.
    await _start_login(page, "rostelecom", "sms_code")
    await page.locator("#identifier").fill("+7 903 123-45-67")
    await _continue(page)
    await page.get_by_role("textbox", name="Код", exact=True).fill(
        await sim.last_code("rostelecom")
    )
    await _continue(page)
    await _choose_numbers(page, "000 000 004")
    await _linked(page)

    # The passport's captcha, relayed to the person (a login from a new device).
    await _start_login(page, "rostelecom", "password")
    await page.get_by_role("radio", name="Электронная почта").check()
    await page.locator("#identifier").fill("anna.petrova@example.ru")
    await page.get_by_label("Пароль").fill("Petrova2024")
    await _continue(page)
    await expect(page.locator("img.captcha")).to_be_visible()
    await page.get_by_role("textbox", name="Символы с картинки").fill(
        await sim.captcha("rostelecom")
    )
    await _continue(page)
    if "/flows/" in page.url:
        await _choose_numbers(page)
    await _linked(page)

    # The bonus, the profile and the chat on the account page.
    account_id = await _account_id(page, "rostelecom", "001")

    async def polled() -> bool:
        return any(a["id"] == account_id and a["bonus"] is not None for a in await _accounts(page))

    assert await eventually(polled, attempts=120)
    await page.goto(f"/accounts/{account_id}")
    await expect(page.locator("#account-bonus")).to_have_text(re.compile("350"))
    await expect(page.get_by_text("Смирнов Иван Петрович")).to_be_visible(timeout=30_000)
    await expect(page.get_by_role("heading", name="Чат с поддержкой")).to_be_visible()


@needs("bashtel")
async def test_link_bashtel_with_its_captcha(page: Any, sim: Sim) -> None:
    await _start_login(page, "bashtel", "password")
    await page.locator("#identifier").fill("smirnov_ufa")
    await page.get_by_label("Пароль").fill("Bashtel-2024")
    await page.locator("#extra_account_last3").fill("123")
    await _continue(page)
    await expect(page.locator("img.captcha")).to_be_visible()
    await page.get_by_role("textbox", name="Символы с картинки").fill(await sim.captcha("bashtel"))
    await _continue(page)
    if "/flows/" in page.url:
        await _choose_numbers(page, "0274000123")
    await _linked(page)


@needs("netbynet")
async def test_link_netbynet_by_contract_and_region(page: Any) -> None:
    await _start_login(page, "netbynet", "contract")
    await page.locator("#identifier").fill("500100200")
    await page.get_by_label("Пароль").fill("Netbynet-2024")
    await page.locator("#extra_region").select_option("moscow")
    await _continue(page)
    if "/flows/" in page.url:
        await _choose_numbers(page)
    await _linked(page)


async def _accounts(page: Any) -> list[dict[str, Any]]:
    response = await page.request.get("/api/v1/accounts")
    assert response.ok
    return list((await response.json())["accounts"])


async def _account_id(page: Any, provider: str, number_end: str) -> int:
    for account in await _accounts(page):
        if account["provider_id"] == provider and account["number_masked"].endswith(number_end):
            return int(account["id"])
    raise AssertionError(f"no {provider} account ending {number_end}")


async def test_dashboard_shows_balances_and_charts(page: Any, sim: Sim) -> None:
    # Every linked account is polled by the embedded scheduler; three more days of readings
    # (the billing clock advanced, "refresh now" pressed) make the history charts.
    async def all_polled() -> bool:
        return all(a["balance"] is not None for a in await _accounts(page))

    assert await eventually(all_polled, attempts=120)
    account_id = await _account_id(page, "reference", "01")
    for _ in range(3):
        await sim.advance(days=1)
        await page.goto("/")
        await page.get_by_role("button", name="Обновить все").click()
        await expect(page.get_by_text("Балансы обновлены.")).to_be_visible()
    await page.goto(f"/accounts/{account_id}")
    await page.get_by_role("button", name="Обновить сейчас").click()
    await page.wait_for_url(f"**/accounts/{account_id}")
    await page.goto("/")
    cards = page.locator(".card")
    assert await cards.count() >= 6
    await expect(page.locator(".summary-value").first).to_contain_text("₽")
    await expect(page.locator(".card svg.spark").first).to_be_visible()
    await expect(page.locator(".badge-danger").first).to_be_visible()  # REF-0004 is blocked
    await check_a11y(page, "dashboard")
    await page.goto(f"/accounts/{account_id}")
    await expect(page.locator("#balance-chart canvas").first).to_be_visible()
    await expect(page.locator("#tariffs-body .option").first).to_be_visible()
    await check_a11y(page, "account")
    assert not page.js_errors, page.js_errors


@needs("rostelecom")
async def test_log_in_again_where_only_a_person_can(page: Any) -> None:
    # Three billing days later the Rostelecom SSO session is gone, and an SSO login cannot be
    # repeated silently: the card says so, and "log in again" goes through Gosuslugi again.
    # (361 000 000 003 was linked through SSO; the others by password, code and captcha.)
    await page.goto("/")
    card = (
        page.locator(".card")
        .filter(has_text="Ростелеком")
        .filter(has_text="0003")
        .filter(has_text="Войти снова")
    )
    await expect(card.first).to_be_visible()
    await card.first.get_by_role("link", name=re.compile("Войти снова")).click()
    await page.wait_for_url(re.compile(r"/accounts/\d+/relogin$"))
    await check_a11y(page, "relogin")
    await page.get_by_role("button", name="Госуслуги").click()
    await page.get_by_role("link", name=re.compile("Войти через Госуслуги")).click()
    await page.locator("#username").fill("ivan.smirnov")
    await page.locator("#password").fill("sso-demo-2024")
    await page.locator("#login").click()
    await page.locator("#allow").click()
    await page.wait_for_url(re.compile(r"/accounts/\d+\?relogin=1$"))
    await expect(page.locator(".account-head .badge")).not_to_have_text("Войдите снова")


async def test_change_tariff_with_a_confirmation_code(page: Any, sim: Sim) -> None:
    account_id = await _account_id(page, "reference", "01")
    await page.goto(f"/accounts/{account_id}")
    tariffs = page.locator("#tariffs-body")
    await tariffs.get_by_role("link", name=re.compile("Перейти")).first.click()
    await expect(tariffs.get_by_text("Сменить тариф")).to_be_visible()
    await check_a11y(page, "account-tariff-confirm")
    await tariffs.get_by_role("button", name="Подтвердить смену").click()
    await expect(tariffs.get_by_text("отправил код в SMS")).to_be_visible()
    await check_a11y(page, "account-code")
    await tariffs.get_by_role("textbox", name="Код").fill(await sim.last_code("reference"))
    await tariffs.get_by_role("button", name="Подтвердить").click()
    await expect(tariffs.get_by_text("Заявка на смену тарифа принята")).to_be_visible()
    await expect(tariffs.get_by_text("Вступает в силу")).to_be_visible()


async def test_toggle_a_service(page: Any) -> None:
    services = page.locator("#services-body")
    switch = services.get_by_role("switch").first
    before = await switch.get_attribute("aria-checked")
    await switch.click()
    after = "false" if before == "true" else "true"
    await expect(services.get_by_role("switch").first).to_have_attribute("aria-checked", after)
    await check_a11y(page, "account-services")


async def test_request_a_suspension_seeing_its_cost_first(page: Any) -> None:
    block = page.locator("#suspension-body")
    await block.get_by_role("button", name="Рассчитать стоимость").click()
    await expect(block.get_by_text("Итого")).to_be_visible()
    await expect(block.locator(".confirm-box strong")).to_contain_text("₽")
    await check_a11y(page, "account-suspension-quote")
    await block.get_by_role("button", name="Заблокировать").click()
    await expect(block.get_by_text("Заявка на блокировку принята")).to_be_visible()


async def test_chat_with_the_bot_and_the_agent(page: Any, sim: Sim) -> None:
    chat = page.locator("#chat-body")
    await expect(chat.get_by_label("Сообщение")).to_be_visible()
    await chat.get_by_label("Сообщение").fill("Какой у меня баланс?")
    await chat.get_by_role("button", name="Отправить").click()
    await expect(chat.locator(".msg-user").last).to_contain_text("Какой у меня баланс?")
    await expect(chat.locator(".msg-bot").last).to_be_visible()
    await chat.get_by_label("Сообщение").fill("Можно ли перенести договор на соседа?")
    await chat.get_by_role("button", name="Отправить").click()
    await expect(chat.locator(".msg-user").last).to_contain_text("перенести договор")
    agents = await chat.locator(".msg-agent").count()
    await sim.advance(minutes=30)
    # The chat log polls every few seconds: the specialist's answer arrives by itself.
    await expect(chat.locator(".msg-agent")).to_have_count(agents + 1, timeout=30_000)
    await check_a11y(page, "account-chat")


async def test_download_pdf_and_xlsx_reports(page: Any) -> None:
    reports = page.locator("#reports")
    await reports.get_by_label("PDF").check()
    async with page.expect_download() as pdf_info:
        await reports.get_by_role("button", name="Скачать").click()
    pdf = await (await pdf_info.value).path()
    assert len(pypdf.PdfReader(str(pdf)).pages) >= 1
    await reports.get_by_label("XLSX").check()
    async with page.expect_download() as xlsx_info:
        await reports.get_by_role("button", name="Скачать").click()
    xlsx = await (await xlsx_info.value).path()
    workbook = openpyxl.load_workbook(io.BytesIO(await anyio.Path(xlsx).read_bytes()))
    assert workbook.active is not None and workbook.active.max_row >= 1


async def test_screenshots_in_russian_and_english(page: Any) -> None:
    """The dashboard, the account page and the wizard at 1366 and 390 px, in both languages."""
    account_id = await _account_id(page, "reference", "01")
    for lang, switch in (("ru", None), ("en", "EN")):
        if switch:
            await page.goto("/")
            await page.get_by_role("button", name=switch).click()
            await expect(page.locator("html")).to_have_attribute("lang", lang)
        for width, suffix in ((1366, ""), (390, "-mobile")):
            await page.set_viewport_size({"width": width, "height": 900 if width > 400 else 844})
            await page.goto("/")
            await check_a11y(page, f"dashboard-{lang}{suffix}")
            await screenshot(page, f"dashboard-{lang}{suffix}")
            menu = page.locator(".mainnav a")
            for i in range(await menu.count()):  # every menu item shows, at a phone's width too
                await expect(menu.nth(i)).to_be_in_viewport()
            await page.goto(f"/accounts/{account_id}")
            await expect(page.locator("#balance-chart canvas").first).to_be_visible()
            await expect(page.locator("#tariffs-body .option").first).to_be_visible()
            await expect(page.locator("#chat-body .chat").first).to_be_visible()
            await check_a11y(page, f"account-{lang}{suffix}")
            await screenshot(page, f"account-{lang}{suffix}")
            if width < 400:  # the in-page navigation stays at the top of a phone's screen
                await page.locator("#chat").scroll_into_view_if_needed()
                box = await page.locator("[data-section-nav]").bounding_box()
                assert box is not None and box["y"] < 2, box
            await page.goto("/accounts/add/reference?scheme=password")
            await check_a11y(page, f"wizard-{lang}{suffix}")
            await screenshot(page, f"wizard-form-{lang}{suffix}")
    await page.goto("/")
    await page.get_by_role("button", name="RU").click()
    await expect(page.locator("html")).to_have_attribute("lang", "ru")
    await page.set_viewport_size({"width": 1280, "height": 900})


async def test_threshold_brings_the_alert_email(page: Any) -> None:
    await page.goto("/settings/alerts")
    await check_a11y(page, "alerts")
    await screenshot(page, "alerts-ru")
    await page.get_by_label("Порог, ₽").fill("1000")
    await page.get_by_role("button", name="Сохранить").click()
    await expect(page.get_by_text("Сохранено.")).to_be_visible()
    account_id = await _account_id(page, "reference", "01")
    await page.goto(f"/accounts/{account_id}")
    await page.get_by_role("button", name="Обновить сейчас").click()
    await page.wait_for_url(f"**/accounts/{account_id}")

    async def mail_arrived() -> bool:
        await page.goto("/outbox")
        return await page.locator(".mails li").filter(has_text="•••• 01").count() > 0

    assert await eventually(mail_arrived, attempts=60)
    await check_a11y(page, "outbox")
    await screenshot(page, "outbox-ru")
    mail = page.locator(".mails li").filter(has_text="•••• 01").first
    await mail.locator("summary").click()
    await expect(mail.locator(".mail-body")).to_contain_text(f"/accounts/{account_id}")


OTHER_PAGES = [
    ("/accounts/add", "add-account"),
    ("/settings/alerts", "alerts"),
    ("/outbox", "outbox"),
    ("/members", "members"),
    ("/settings", "settings"),
    ("/settings/channels", "channels"),
    ("/settings/tokens", "tokens"),
    ("/plugins", "plugins"),
]


async def test_other_pages_are_accessible(page: Any) -> None:
    """Every page of the menu and of settings at the desktop width and at a phone's."""
    for width, suffix in ((1366, ""), (390, "-mobile")):
        await page.set_viewport_size({"width": width, "height": 900 if width > 400 else 844})
        for path, name in OTHER_PAGES:
            await page.goto(path)
            await check_a11y(page, f"{name}{suffix}")
        await page.goto("/api/schema")
        await expect(page.locator(".swagger-ui .opblock").first).to_be_visible()
        await check_a11y(page, f"api-docs{suffix}")
        # Opened, an operation (its parameters and responses tables) passes too.
        await page.locator(".swagger-ui .opblock-summary-control").first.click()
        await expect(page.locator(".swagger-ui .opblock-body").first).to_be_visible()
        await check_a11y(page, f"api-docs-open{suffix}")
        await screenshot(page, f"api-docs{suffix}")
    await page.set_viewport_size({"width": 1280, "height": 900})
    await page.goto("/members")
    await page.get_by_label("Электронная почта").fill("anna@example.ru")
    await page.get_by_role("button", name="Создать приглашение").click()
    await expect(page.locator("#invite-link")).to_have_value(re.compile("/invite/"))
    await check_a11y(page, "members-invited")
    assert not page.js_errors, page.js_errors
