"""Fixtures of the bashtel plugin tests: the reference provider in-process and on loopback.

Tests that do not need Chromium log in by posting the cabinet's form with plain httpx (what the
browser does) and build the :class:`~aggregator.Session` the plugin would; tests marked
``browser`` drive the real login through the shared Chromium against a uvicorn server on a free
loopback port (Playwright cannot reach an ASGITransport).
"""

from __future__ import annotations

import datetime as dt
import itertools
import re
from collections.abc import AsyncIterator, Iterator
from dataclasses import dataclass

import httpx
import pytest
import pytest_asyncio
from aggregator_bashtel.provider import LOGIN_SCHEME, BashtelProvider
from reference_provider.app import create_app
from reference_provider.backend import Backend
from reference_provider.domain.models import Account
from reference_provider.testing import serving

from aggregator import ProviderContext, Session
from aggregator.browser import SharedBrowser

START = dt.datetime(2024, 6, 15, 12, 0)  # Moscow time
PASSWORD = "Canary-Pass-1"
ORIGIN = "http://127.0.0.1"
_serial = itertools.count(1)


@dataclass
class Customer:
    login: str
    password: str
    last3: str
    account: Account

    def credentials(self, password: str | None = None, last3: str | None = None):
        return LOGIN_SCHEME.build_credentials(
            self.login,
            password or self.password,
            extras={"account_last3": last3 or self.last3},
        )


def new_customer(
    backend: Backend,
    *,
    balance: int = 600_00,
    kind: str = "bundle",
    tariff: str = "bt-combo",
    policy: str | None = None,
) -> Customer:
    """A bashtel subscriber of its own, so that tests never share state."""
    n = next(_serial)
    login = f"tester{n}_ufa"
    sub = backend.create_subscriber(
        "bashtel",
        login,
        PASSWORD,
        "Тест Тестович Тестов",
        phone=f"937{n:07d}",
        email=f"tester{n}@example.ru",
        region="Уфа",
        captcha_policy=policy,
    )
    account = backend.create_account(
        sub,
        kind=kind,  # type: ignore[arg-type]
        tariff_id=tariff,
        balance=balance,
        opened=backend.clock.today() - dt.timedelta(days=75),
        address=f"Уфа, ул. Тестовая, д. {n}",
    )
    backend.set_balance(account, balance)  # exact, after 75 days of fees
    return Customer(login, PASSWORD, account.number[-3:], account)


async def form_login(
    transport: httpx.AsyncBaseTransport, base_url: str, backend: Backend, customer: Customer
) -> Session:
    """Log in by posting the form with httpx (captcha answered from the backend)."""
    async with httpx.AsyncClient(transport=transport, follow_redirects=False) as client:
        html = (await client.get(f"{base_url}/login")).text
        fields = dict(re.findall(r'name="(csrf_token|captcha_id)" value="([^"]*)"', html))
        data = {**fields, "login": customer.login, "password": customer.password}
        data["ls3"] = customer.last3
        if "captcha_id" in fields:
            data["captcha"] = backend.captcha_answer(captcha_id=fields["captcha_id"])
        response = await client.post(f"{base_url}/login", data=data)
        assert response.status_code == 303, response.text
        cookies = {c.name: c.value or "" for c in client.cookies.jar}
        persistent = {c.name: float(c.expires) for c in client.cookies.jar if c.expires}
    data = {"cookies": cookies, "persistent": persistent, "login_key": customer.login}
    return Session(provider="bashtel", data=data)


@pytest.fixture(scope="module")
def backend() -> Backend:
    """One backend (and app) per test module: building the app costs ~0.3 s. Tests stay apart
    by each using a customer of its own; the clock only moves forward."""
    return Backend(seed=3, clock_speed=0, start=START, demo=False)


@pytest.fixture(autouse=True)
def _no_fault_outlives_its_test(backend: Backend) -> Iterator[None]:
    yield
    backend.faults.clear()


@pytest.fixture(scope="module")
def transport(backend: Backend) -> httpx.ASGITransport:
    return httpx.ASGITransport(app=create_app(backend=backend, sim=True))


@pytest_asyncio.fixture
async def http(transport: httpx.ASGITransport) -> AsyncIterator[httpx.AsyncClient]:
    async with httpx.AsyncClient(transport=transport, base_url=ORIGIN) as client:
        yield client


@pytest.fixture
def provider(http: httpx.AsyncClient) -> BashtelProvider:
    return BashtelProvider(ProviderContext(http=http, base_url=f"{ORIGIN}/bashtel"))


@pytest.fixture
def customer(backend: Backend) -> Customer:
    return new_customer(backend)


@pytest_asyncio.fixture
async def session(transport: httpx.ASGITransport, backend: Backend, customer: Customer) -> Session:
    return await form_login(transport, f"{ORIGIN}/bashtel", backend, customer)


# -- loopback and the browser -------------------------------------------------------------
@pytest_asyncio.fixture(scope="module", loop_scope="session")
async def live_server(backend: Backend) -> AsyncIterator[str]:
    """The reference provider on a free loopback port; yields its origin."""
    async with serving(create_app(backend=backend, sim=True)) as url:
        yield url


@pytest_asyncio.fixture(scope="session", loop_scope="session")
async def shared_browser() -> AsyncIterator[SharedBrowser]:
    browser = SharedBrowser()
    try:
        yield browser
    finally:
        await browser.aclose()
