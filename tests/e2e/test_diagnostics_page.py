"""In a real browser: the account page's "Скачать диагностику" downloads a redacted HAR file, and
an account whose plugin failed (plugin_error) says what to do and where to report it.

The tests of this module run in order and share one browser page and one aggregator (its own,
not the journey's).
"""

from __future__ import annotations

import json
import re
from typing import Any

import pytest
from playwright.async_api import expect

from aggregator.plugins import load_plugins, report_url
from aggregator.testing.leaks import byte_forms

from .conftest import Sim, check_a11y, eventually

pytestmark = [
    pytest.mark.browser,
    pytest.mark.timeout(600),
    pytest.mark.skipif(
        "reference" not in load_plugins().providers, reason="the reference plugin is missing"
    ),
]

EMAIL = "kesha@example.ru"
PASSWORD = "Канарейка-2025-пароль"
OPERATOR_PASSWORD = "demo-password"  # the reference provider's demo subscriber "demo"


async def _account_id(page: Any) -> int:
    response = await page.request.get("/api/v1/accounts")
    accounts = (await response.json())["accounts"]
    assert len(accounts) == 1, accounts
    return int(accounts[0]["id"])


async def test_set_up_and_link_the_reference_account(page: Any, aggregator_url: str) -> None:
    await page.goto("/")
    await page.wait_for_url("**/setup")
    await page.get_by_label("Название семьи").fill("Канареевы")
    await page.get_by_label("Имя").fill("Кеша")
    await page.get_by_label("Электронная почта").fill(EMAIL)
    await page.get_by_label("Новый пароль").fill(PASSWORD)
    await page.get_by_label("Повторите пароль").fill(PASSWORD)
    await page.get_by_role("button", name="Создать учётную запись").click()
    await page.wait_for_url(f"{aggregator_url}/")
    await page.goto("/accounts/add/reference?scheme=password")
    await page.get_by_role("radio", name="Логин").check()
    await page.locator("#identifier").fill("demo")
    await page.get_by_label("Пароль").fill(OPERATOR_PASSWORD)
    await page.get_by_role("button", name="Продолжить").click()
    await expect(page.locator("input[name=subaccount]").first).to_be_visible()
    boxes = page.locator("input[name=subaccount]")
    for i in range(await boxes.count()):
        box = boxes.nth(i)
        label = await box.locator("xpath=..").inner_text()
        await (box.check() if "REF-0001" in label else box.uncheck())
    await page.get_by_role("button", name="Добавить").click()
    await page.wait_for_url(re.compile(r"/(\?linked=\d+|accounts/\d+\?linked=1)$"))


async def test_download_diagnostics_from_the_account_page(page: Any) -> None:
    account = await _account_id(page)
    await page.goto(f"/accounts/{account}")
    button = page.get_by_role("button", name="Скачать диагностику")
    await expect(button).to_be_visible()
    await check_a11y(page, "account-diagnostics")
    await page.get_by_label("Сначала войти заново").check()
    async with page.expect_download(timeout=120_000) as info:
        await button.click()
    download = await info.value
    assert download.suggested_filename.endswith(".har")
    content = open(await download.path(), "rb").read()  # noqa: ASYNC230, SIM115
    document = json.loads(content)
    log = document["log"]
    assert log["version"] == "1.2" and log["entries"]
    assert log["_aggregator"]["plugin"]["name"] == "aggregator-reference"
    assert [s["step"] for s in log["_aggregator"]["steps"]][:2] == ["login", "poll"]
    assert log["comment"].startswith("Redacted")
    for value in (OPERATOR_PASSWORD, "REF-0001", "Иван Петрович Смирнов"):
        for form, kind in byte_forms(value).items():
            assert form not in content, f"{value[:3]}… ({kind}) is in the downloaded file"


async def test_a_plugin_error_account_says_what_to_do(
    page: Any, sim: Sim, aggregator_url: str
) -> None:
    account = await _account_id(page)
    fault = await sim.call(
        "POST", "/faults", json={"kind": "malformed_json", "operator": "reference"}
    )
    try:
        await page.goto(f"/accounts/{account}")
        await page.get_by_role("button", name="Обновить сейчас").click()

        async def failed() -> bool:
            await page.goto(f"/accounts/{account}")
            return bool(await page.locator("#plugin-error-advice").count())

        assert await eventually(failed, attempts=20)
    finally:
        await sim.call("DELETE", "/faults")
    advice = page.locator("#plugin-error-advice")
    await expect(advice).to_contain_text("Скачайте диагностику")
    address = report_url(load_plugins(), "reference", aggregator_url)
    # The built-in plugins have no public tracker: their address is the dashboard's own page
    # saying how to take the diagnostics and whom to give them to.
    assert address == f"{aggregator_url}/help/report?plugin=reference"
    link = advice.get_by_role("link", name=address)
    await expect(link).to_have_attribute("href", address)
    await check_a11y(page, "account-plugin-error")
    await page.goto(address)
    await expect(page.get_by_role("heading", level=1)).to_have_text(
        "Как сообщить о сбое модуля оператора"
    )
    await expect(page.locator("main")).to_contain_text("accounts diagnose")
    await check_a11y(page, "report-help")
    assert fault["kind"] == "malformed_json"
