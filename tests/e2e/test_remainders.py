"""Package remainders in a real browser: shown on the dashboard and the account page (with
their history chart), a "less than 1 GB" rule typed on the account page, and the alert
e-mail that arrives once when the traffic runs low (the reference provider's sim API uses the
package up), and not again on the next polls.

The tests of this module run in order and share one browser page and one aggregator.
"""

from __future__ import annotations

import re
from typing import Any

import pytest
from playwright.async_api import expect

from aggregator.plugins import load_plugins

from .conftest import Sim, check_a11y, eventually

pytestmark = [
    pytest.mark.browser,
    pytest.mark.timeout(600),
    pytest.mark.skipif("reference" not in load_plugins().providers, reason="no reference plugin"),
]

EMAIL = "olga@example.ru"
PASSWORD = "Остатки-2025-пароль"


async def _refresh(page: Any, account_id: int) -> None:
    await page.goto(f"/accounts/{account_id}")
    await page.get_by_role("button", name="Обновить сейчас").click()
    await page.wait_for_url(f"**/accounts/{account_id}")


async def _account_id(page: Any) -> int:
    response = await page.request.get("/api/v1/accounts")
    assert response.ok
    for account in (await response.json())["accounts"]:
        if account["number_masked"].endswith("01"):
            return int(account["id"])
    raise AssertionError("REF-0001 is not linked")


async def _data_mails(page: Any) -> int:
    await page.goto("/outbox")
    return int(await page.locator(".mails li").filter(has_text="интернета").count())


async def test_set_up_and_link_a_mobile_number(page: Any, aggregator_url: str, sim: Sim) -> None:
    await sim.call("PUT", "/accounts/reference/REF-0001/usage", json={"used": 0.5})
    await page.goto("/")
    await page.wait_for_url("**/setup")
    await page.get_by_label("Название семьи").fill("Петровы")
    await page.get_by_label("Имя").fill("Ольга")
    await page.get_by_label("Электронная почта").fill(EMAIL)
    await page.get_by_label("Новый пароль").fill(PASSWORD)
    await page.get_by_label("Повторите пароль").fill(PASSWORD)
    await page.get_by_role("button", name="Создать учётную запись").click()
    await page.wait_for_url(f"{aggregator_url}/")
    await page.goto("/accounts/add/reference?scheme=password")
    await page.get_by_role("radio", name="Логин").check()
    await page.locator("#identifier").fill("demo")
    await page.get_by_label("Пароль").fill("demo-password")
    await page.get_by_role("button", name="Продолжить").click()
    boxes = page.locator("input[name=subaccount]")
    await expect(boxes.first).to_be_visible()
    for i in range(await boxes.count()):
        box = boxes.nth(i)
        if "REF-0001" in await box.locator("xpath=..").inner_text():
            await box.check()
        else:
            await box.uncheck()
    await page.get_by_role("button", name="Добавить").click()
    await page.wait_for_url(re.compile(r"/(\?linked=\d+|accounts/\d+\?linked=1)$"))


async def test_remainders_on_the_dashboard_and_the_account_page(page: Any, sim: Sim) -> None:
    account_id = await _account_id(page)
    await _refresh(page, account_id)
    for _ in range(2):  # readings on three days: the remainder history chart
        await sim.advance(days=1)
        await _refresh(page, account_id)
    panel = page.locator("#remainders")
    await expect(panel.locator(".meters li[data-unit=bytes]")).to_contain_text(
        re.compile(r"осталось [\d,]+\sГБ из [\d,]+\sГБ")
    )
    await expect(panel.locator(".meters li[data-unit=seconds]")).to_contain_text("минут")
    # One package per unit: its meter says it all, no totals line repeats it.
    await expect(panel.locator(".remainder-total")).to_have_count(0)
    await expect(panel.locator("meter").first).to_be_visible()
    await expect(page.locator("#remainder-chart-bytes canvas").first).to_be_visible()
    await check_a11y(page, "account-remainders")
    await page.goto("/")
    card = page.locator(".card").first
    await expect(card.locator(".card-remainder[data-unit=bytes]")).to_contain_text("ГБ")
    assert not page.js_errors, page.js_errors


async def test_a_remainder_alert_fires_once_when_gb_run_low(page: Any, sim: Sim) -> None:
    account_id = await _account_id(page)
    await page.goto(f"/accounts/{account_id}")
    field = page.get_by_label("Сообщить, когда интернета меньше, ГБ")
    await field.fill("сто")  # a wrong value is named, nothing is saved
    await page.locator("#alerts").get_by_role("button", name="Сохранить").click()
    assert await _data_mails(page) == 0
    await page.goto(f"/accounts/{account_id}")
    await page.get_by_label("Сообщить, когда интернета меньше, ГБ").fill("1")
    await page.locator("#alerts").get_by_role("button", name="Сохранить").click()
    await page.wait_for_url(f"**/accounts/{account_id}?saved=alerts")
    await expect(page.get_by_label("Сообщить, когда интернета меньше, ГБ")).to_have_value("1")

    await _refresh(page, account_id)  # half the package left: nothing to say
    assert await _data_mails(page) == 0

    await sim.call("PUT", "/accounts/reference/REF-0001/usage", json={"used": 0.97})
    await _refresh(page, account_id)
    await expect(page.locator("#remainders .meters li[data-unit=bytes] .badge")).to_have_text(
        "мало"
    )
    assert await eventually(lambda: _data_mails(page), attempts=60)
    mail = page.locator(".mails li").filter(has_text="интернета").first
    await expect(mail).to_contain_text("осталось")
    await mail.locator("summary").click()
    await expect(mail.locator(".mail-body")).to_contain_text("Порог уведомления: 1")
    await expect(mail.locator(".mail-body")).to_contain_text(f"/accounts/{account_id}")

    for _ in range(2):  # still low on the next polls: no second e-mail
        await sim.call("PUT", "/accounts/reference/REF-0001/usage", json={"used": 0.99})
        await _refresh(page, account_id)
    await page.wait_for_timeout(1500)  # the outbox would have sent a second one by now
    assert await _data_mails(page) == 1
    await check_a11y(page, "outbox-remainder")


async def test_spending_by_month_and_a_payment_history_for_any_period(page: Any) -> None:
    account_id = await _account_id(page)
    await page.goto(f"/accounts/{account_id}")
    spending = page.locator("#spending-body")
    rows = spending.locator("table.spending-table tbody tr")
    await expect(rows).to_have_count(6)  # this month and five before it
    await expect(spending.locator("svg.bars rect")).to_have_count(6)
    await expect(spending.locator("tfoot")).to_contain_text("₽")
    # A longer period of the payment history, chosen in the section's own form.
    payments = page.locator("#payments-body")
    await expect(payments.locator("table").first).to_be_visible()
    before = await payments.locator("tbody tr").count()
    await payments.locator("#payments-start").fill("2020-01-01")
    await payments.get_by_role("button", name="Показать").click()
    await expect(payments.locator(".field-error")).to_contain_text("366")  # a year at most
    start = await payments.locator("#payments-end").input_value()
    year_ago = f"{int(start[:4]) - 1}{start[4:]}"
    await payments.locator("#payments-start").fill(year_ago)
    await payments.get_by_role("button", name="Показать").click()
    await expect(payments.locator(".field-error")).to_have_count(0)

    async def longer() -> bool:
        return int(await payments.locator("tbody tr").count()) > before

    assert await eventually(longer, attempts=40)
    await expect(payments.locator("#payments-start")).to_have_value(year_ago)
    await check_a11y(page, "account-spending")
    assert not page.js_errors, page.js_errors
