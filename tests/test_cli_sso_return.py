"""The loopback address an SSO login's browser comes back to at a terminal (RFC 8252 7.3):
the first GET of the callback path is kept and answered with a page; anything else is not; it
answers while the event loop's thread is busy (the terminal's prompt blocks it)."""

from __future__ import annotations

import asyncio

import httpx

from aggregator.cli.login import _mentions
from aggregator.cli.sso_return import CALLBACK_PATH, LoopbackReturn


async def test_the_first_callback_is_kept_and_answered() -> None:
    async with LoopbackReturn() as catcher, httpx.AsyncClient() as http:
        assert catcher.url.startswith("http://127.0.0.1:") and catcher.url.endswith(CALLBACK_PATH)
        assert await catcher.wait(0.05) is None
        assert (
            await http.get(catcher.url.replace(CALLBACK_PATH, "/favicon.ico"))
        ).status_code == 404
        back = f"{catcher.url}?state=%7B%22uuid%22%3A%22A%22%7D&code=abc"
        page = await http.get(back)
        assert page.status_code == 200 and "терминал" in page.text and "terminal" in page.text
        assert page.headers["cache-control"] == "no-store"
        assert await catcher.wait(1) == back
        # Only the first one: a second caller gains nothing.
        assert (await http.get(f"{catcher.url}?code=other")).status_code == 404
        assert catcher.returned == back
        post = await http.post(catcher.url, content=b"x")
        assert post.status_code == 501  # only GET


async def test_a_silent_or_broken_connection_does_not_stop_it() -> None:
    async with LoopbackReturn() as catcher:
        host, port = catcher.url.split("//")[1].split("/")[0].split(":")
        _, writer = await asyncio.open_connection(host, int(port))
        writer.write(b"\xff\xfe garbage\r\n\r\n")
        await writer.drain()
        writer.close()
        async with httpx.AsyncClient() as http:
            assert (await http.get(catcher.url + "?code=1")).status_code == 200


def test_whether_a_login_url_sends_the_browser_back_here() -> None:
    here = "http://127.0.0.1:5555/sso/callback"
    once = "https://idp/auth?redirect_uri=http%3A%2F%2F127.0.0.1%3A5555%2Fsso%2Fcallback"
    twice = "https://idp/a?next=https%3A%2F%2Fx%2Fb%3Fredirect_uri%3Dhttp%253A%252F%252F127.0.0.1%253A5555%252Fsso%252Fcallback"
    assert _mentions(once, here) and _mentions(twice, here)
    assert not _mentions("https://idp/auth?redirect_uri=https%3A%2F%2Fdashboard%2Fcb", here)


async def test_it_answers_while_the_loop_is_blocked_by_a_prompt() -> None:
    async with LoopbackReturn() as catcher:
        # A plain blocking client, as a browser is while the terminal prompt blocks the loop.
        page = httpx.get(catcher.url + "?code=2&state=s", timeout=5)  # noqa: ASYNC210
        assert page.status_code == 200
        assert catcher.returned is not None and catcher.returned.endswith("?code=2&state=s")
