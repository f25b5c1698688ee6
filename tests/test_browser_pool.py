"""The shared browser pool: one Chromium per process, started lazily, a fresh context per login."""

from __future__ import annotations

import asyncio

import pytest

from aggregator.browser import DEFAULT_ARGS, SharedBrowser

pytestmark = pytest.mark.browser


async def test_the_browser_starts_on_the_first_context_and_contexts_share_nothing() -> None:
    pool = SharedBrowser()
    assert not pool.running and pool.launches == 0  # nothing started by creating the pool
    first = await pool.new_context()
    second = await pool.new_context()
    try:
        assert pool.running and pool.launches == 1
        await first.add_cookies([{"name": "sid", "value": "one", "url": "http://127.0.0.1/"}])
        assert await second.cookies() == []  # a fresh context per login
        page = await first.new_page()
        assert await page.evaluate("navigator.language") == "ru-RU"
    finally:
        await first.close()
        await second.close()
        await pool.aclose()
    assert not pool.running
    await pool.aclose()  # idempotent


async def test_a_browser_that_died_is_started_again() -> None:
    pool = SharedBrowser()
    try:
        context = await pool.new_context()
        await context.close()
        assert pool._browser is not None
        await pool._browser.close()  # as if Chromium crashed
        assert not pool.running
        again = await pool.new_context()
        await again.close()
        assert pool.running and pool.launches == 2
    finally:
        await pool.aclose()


async def test_a_missing_chromium_is_an_error_at_the_first_login_not_at_start() -> None:
    pool = SharedBrowser(executable_path="/nonexistent/chromium")
    assert "stopped" in repr(pool)
    with pytest.raises(Exception, match="nonexistent"):
        await pool.new_context()
    assert not pool.running


def test_the_flags_suit_a_headless_container() -> None:
    assert {"--no-sandbox", "--disable-gpu", "--disable-quic"} <= set(DEFAULT_ARGS)


async def test_the_browser_closes_when_idle_and_starts_again_for_the_next_login() -> None:
    pool = SharedBrowser(idle_s=0.5)
    try:
        first = await pool.new_context()
        await asyncio.sleep(0.8)
        assert pool.running, "a context is open: the browser must stay"
        page = await first.new_page()
        await page.set_content("<p>login</p>")
        await first.close()
        assert pool.open_contexts == 0
        await asyncio.sleep(0.2)
        assert pool.running, "closed before its idle time"
        for _ in range(50):
            if not pool.running:
                break
            await asyncio.sleep(0.1)
        assert not pool.running and pool.idle_closes == 1 and pool.launches == 1
        again = await pool.new_context()  # the next login
        assert pool.running and pool.launches == 2
        page = await again.new_page()
        await page.set_content("<p>again</p>")
        assert await page.text_content("p") == "again"
        await again.close()
    finally:
        await pool.aclose()
    assert not pool.running


async def test_a_login_during_the_idle_wait_keeps_the_browser() -> None:
    pool = SharedBrowser(idle_s=0.6)
    try:
        context = await pool.new_context()
        await context.close()
        await asyncio.sleep(0.3)
        second = await pool.new_context()  # before the idle time ran out
        await asyncio.sleep(0.6)
        assert pool.running and pool.launches == 1 and pool.idle_closes == 0
        await second.close()
    finally:
        await pool.aclose()


def test_idle_time_setting_has_a_range() -> None:
    from pydantic import ValidationError

    from aggregator.settings import Settings

    assert Settings(browser_idle_s=60).browser_idle_s == 60
    for bad in (0, 1, 10**6):
        with pytest.raises(ValidationError, match="browser_idle_s"):
            Settings(browser_idle_s=bad)
