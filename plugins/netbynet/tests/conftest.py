"""Fixtures of the netbynet plugin tests: the reference provider in-process and on loopback."""

from __future__ import annotations

import datetime as dt
import itertools
from collections.abc import AsyncIterator, Iterator
from dataclasses import dataclass

import httpx
import pytest
import pytest_asyncio
from aggregator_netbynet.provider import LOGIN_SCHEME, NetbynetProvider
from reference_provider.app import create_app
from reference_provider.backend import Backend
from reference_provider.domain.models import Account
from reference_provider.testing import serving

from aggregator import Credentials, ProviderContext, Session

START = dt.datetime(2024, 6, 15, 12, 0)  # Moscow time
PASSWORD = "Canary-Pass-1"
ORIGIN = "http://127.0.0.1"
_serial = itertools.count(1)


@dataclass
class Customer:
    contract: str
    password: str
    region: str
    phone: str
    account: Account

    def credentials(self, password: str | None = None, region: str | None = None) -> Credentials:
        return LOGIN_SCHEME.build_credentials(
            self.contract, password or self.password, extras={"region": region or self.region}
        )


def new_customer(
    backend: Backend,
    *,
    balance: int = 800_00,
    region: str = "voronezh",
    policy: str | None = "never",
    bonus: int | None = None,
    temp_password: bool = False,
) -> Customer:
    """A netbynet subscriber of its own, so that tests never share state."""
    n = next(_serial)
    contract = f"7{n:08d}"
    phone = f"916{n:07d}"
    sub = backend.create_subscriber(
        "netbynet",
        contract,
        PASSWORD,
        "Тест Тестович Тестов",
        phone=phone,
        email=f"nbn{n}@example.ru",
        region=region,
        captcha_policy=policy,
        temp_password=temp_password,
    )
    account = backend.create_account(
        sub,
        kind="internet",
        tariff_id="nbn-300",
        balance=balance,
        bonus=bonus,
        opened=backend.clock.today() - dt.timedelta(days=75),
        address=f"Воронеж, ул. Тестовая, д. {n}",
    )
    backend.set_balance(account, balance)
    return Customer(contract, PASSWORD, region, phone, account)


@pytest.fixture(scope="module")
def backend() -> Backend:
    """One backend (and app) per module; tests stay apart with a customer each."""
    return Backend(seed=5, clock_speed=0, start=START, demo=False)


@pytest.fixture(autouse=True)
def _no_fault_outlives_its_test(backend: Backend) -> Iterator[None]:
    yield
    backend.faults.clear()


@pytest.fixture(scope="module")
def app(backend: Backend):
    return create_app(backend=backend, sim=True)


@pytest_asyncio.fixture(scope="module", loop_scope="session")
async def live_server(app) -> AsyncIterator[str]:
    """The reference provider on a free loopback port; yields its origin."""
    async with serving(app) as url:
        yield url


@pytest_asyncio.fixture(params=["asgi", "loopback"])
async def where(
    request: pytest.FixtureRequest, app, live_server: str
) -> AsyncIterator[tuple[httpx.AsyncClient, str]]:
    """The plugin's HTTP client and the operator's base URL: in-process, then on loopback."""
    if request.param == "asgi":
        async with httpx.AsyncClient(transport=httpx.ASGITransport(app=app)) as client:
            yield client, f"{ORIGIN}/netbynet"
    else:
        async with httpx.AsyncClient(timeout=10) as client:
            yield client, f"{live_server}/netbynet"


@pytest.fixture
def http(where: tuple[httpx.AsyncClient, str]) -> httpx.AsyncClient:
    return where[0]


@pytest.fixture
def provider(where: tuple[httpx.AsyncClient, str]) -> NetbynetProvider:
    client, base_url = where
    return NetbynetProvider(ProviderContext(http=client, base_url=base_url))


@pytest.fixture
def customer(backend: Backend) -> Customer:
    return new_customer(backend)


@pytest_asyncio.fixture
async def session(provider: NetbynetProvider, customer: Customer) -> Session:
    result = await provider.start_login(customer.credentials())
    assert isinstance(result, Session)
    return result
