"""The shared browser pool: one Chromium per process, started lazily, a fresh context per login."""

from __future__ import annotations

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
