"""Fixtures: the reference provider in-process (httpx.ASGITransport) and on a loopback port,
the shared Chromium for the passport, and a cookie session obtained without a browser.

Tests that are not marked ``browser`` get their cabinet session from :func:`http_login`: a
plain HTTP client doing what the passport's scripts do (the anti-robot cookie, the form from
``mergeConfig``), as AnyBalance's login.rt.js did, ending in the cookies the plugin keeps."""

from __future__ import annotations

import contextlib
import json
import re
import uuid
from collections.abc import AsyncIterator, Iterator
from dataclasses import dataclass
from typing import Any
from urllib.parse import parse_qs, urlencode, urljoin, urlsplit

import httpx
import pytest
import pytest_asyncio
from aggregator_rostelecom import RostelecomProvider
from litestar import Litestar
from reference_provider.app import create_app
from reference_provider.backend import Backend
from reference_provider.testing import running_server
from selectolax.lexbor import LexborHTMLParser as HTMLParser

from aggregator import FlowRegistry, ProviderContext, Session
from aggregator.browser import SharedBrowser

LOGIN = "smirnov.ivan"
PASSWORD = "Rostelecom2024"
IDP_PASSWORD = "sso-demo-2024"
IDP_LOGINS = {
    "gosuslugi": "ivan.smirnov",
    "tbank": "+79031234567",
    "vk": "ivan.smirnov@vk.com",
    "ok": "ivan.smirnov.ok",
    "mailru": "ivan.smirnov@mail.ru",
}


def _form(html: str, page_url: str) -> tuple[str, dict[str, str]]:
    """The first form of an HTML page: its absolute action and hidden inputs."""
    tree = HTMLParser(html)
    form = tree.css_first("form")
    assert form is not None, html[:500]
    hidden = {
        n.attributes["name"] or "": n.attributes.get("value") or ""
        for n in form.css("input[type=hidden]")
        if n.attributes.get("name")
    }
    return urljoin(page_url, form.attributes.get("action") or ""), hidden


async def follow_sso(
    browser: httpx.AsyncClient,
    url: str,
    username: str,
    password: str = IDP_PASSWORD,
    *,
    allow: bool = True,
) -> str:
    """What a person does in a browser: open the SSO URL, log in at the identity provider,
    consent, and follow the redirects back; return the callback URL (never opened)."""
    redirect_uri = parse_qs(urlsplit(url).query)["redirect_uri"][0]

    async def settle(response: httpx.Response) -> httpx.Response | str:
        while response.status_code in (301, 302, 303):
            location = urljoin(str(response.url), response.headers["location"])
            if location.startswith(redirect_uri):
                return location
            response = await browser.get(location)
        return response

    page = await settle(await pass_bot_check(browser, url))
    assert isinstance(page, httpx.Response) and page.status_code == 200, page
    action, hidden = _form(page.text, str(page.url))
    consent = await browser.post(
        action, data={**hidden, "username": username, "password": password}
    )
    assert consent.status_code == 200, consent.text[:300]
    action, hidden = _form(consent.text, str(consent.url))
    done = await settle(
        await browser.post(action, data={**hidden, "decision": "allow" if allow else "deny"})
    )
    assert isinstance(done, str), done
    return done


async def pass_bot_check(http: httpx.AsyncClient, url: str) -> httpx.Response:
    """Open a passport URL as a browser does: the anti-robot page's script sets its cookie and
    reloads."""
    response = await http.get(url)
    nonce = re.search(r'var n = "([0-9a-f]+)"', response.text)
    if response.status_code != 200 or nonce is None:
        return response
    path = re.search(r"path=([^;\"]+)", response.text)
    http.cookies.set("rt_bot_pass", nonce.group(1)[::-1], path=path.group(1) if path else "/")
    return await http.get(url)


def merge_config(html: str) -> dict[str, Any]:
    match = re.search(r"<script[^>]*>\s*mergeConfig\((\{.*?\})\);</script>", html, re.S)
    assert match, html[:400]
    return dict(json.loads(match.group(1)))


async def http_login(
    http: httpx.AsyncClient,
    base: str,
    username: str = LOGIN,
    password: str = PASSWORD,
    tab: str = "LOGIN",
) -> Session:
    """A cabinet session as the plugin keeps it, obtained with a plain HTTP client."""
    lk = f"{base}/lk"
    query = urlencode(
        {
            "response_type": "code",
            "scope": "openid",
            "client_id": "lk_b2c",
            "redirect_uri": f"{lk}/sso-auth/?redirect={lk}/",
            "state": '{"uuid":"' + str(uuid.uuid4()) + '"}',
        }
    )
    async with httpx.AsyncClient(transport=http._transport, timeout=10) as browser:
        page = await pass_bot_check(
            browser, f"{base}/passport/auth/realms/b2c/protocol/openid-connect/auth?{query}"
        )
        action = merge_config(page.text)["url"]["loginAction"]
        page = await browser.post(action, data={"address": "", "standard_auth_btn": ""})
        action = merge_config(page.text)["url"]["loginAction"]
        data = {"tab_type": tab, "username": username, "password": password, "rememberMe": "on"}
        done = await browser.post(action, data=data)
        assert done.status_code == 302, done.text[:300]
        landed = await browser.get(done.headers["location"])
        assert landed.status_code == 302, landed.text[:300]
        cookies = {c.name: c.value or "" for c in browser.cookies.jar if c.path.endswith("/lk/")}
    assert set(cookies) == {"SESSION", "CSRF-TOKEN"}, cookies
    return Session(provider="rostelecom", data={"cookies": cookies, "page_uuid": "P-1"})


@dataclass
class World:
    """One reference provider (frozen billing clock), a client reaching it, a provider."""

    backend: Backend
    http: httpx.AsyncClient
    base_url: str
    provider: RostelecomProvider

    def new_provider(self) -> RostelecomProvider:
        return RostelecomProvider(ProviderContext(http=self.http, base_url=self.base_url))


@pytest.fixture(scope="module")
def app() -> Litestar:
    """One app per test module; :meth:`Backend.reset` renews its world for every test."""
    return create_app(backend=Backend(seed=1, clock_speed=0), sim=True)


@pytest_asyncio.fixture
async def world(app: Litestar) -> AsyncIterator[World]:
    """A fresh demo world (frozen billing clock) reached in-process, and a provider."""
    backend = app.state.backend.reset()
    async with httpx.AsyncClient(
        transport=httpx.ASGITransport(app=app, client=("127.0.0.1", 50000)),
        base_url="http://127.0.0.1",
        timeout=5.0,
    ) as http:
        base = "http://127.0.0.1/rostelecom"
        provider = RostelecomProvider(
            ProviderContext(http=http, base_url=base, flows=FlowRegistry())
        )
        yield World(backend, http, base, provider)


@pytest.fixture
def sso_browser() -> object:
    """``await sso_browser(http, url, username, allow=True) -> callback_url`` (see follow_sso)."""

    async def complete(
        http: httpx.AsyncClient, url: str, username: str, *, allow: bool = True
    ) -> str:
        async with httpx.AsyncClient(
            transport=http._transport, timeout=10, follow_redirects=False
        ) as browser:
            return await follow_sso(browser, url, username, allow=allow)

    return complete


@dataclass
class LoopbackServer:
    backend: Backend
    url: str


@contextlib.contextmanager
def serve(backend: Backend) -> Iterator[LoopbackServer]:
    """The reference provider on a real uvicorn server on a free loopback port (a thread)."""
    with running_server(create_app(backend=backend, sim=True)) as url:
        yield LoopbackServer(backend, url)


@pytest.fixture(scope="module")
def loopback() -> Iterator[LoopbackServer]:
    with serve(Backend(seed=1, clock_speed=0)) as server:
        yield server


@pytest_asyncio.fixture
async def session(world: World) -> Session:
    return await http_login(world.http, world.base_url)


@pytest_asyncio.fixture(scope="session", loop_scope="session")
async def shared_browser() -> AsyncIterator[SharedBrowser]:
    browser = SharedBrowser()
    try:
        yield browser
    finally:
        await browser.aclose()
