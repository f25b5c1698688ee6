"""Fixtures: a fresh backend with a frozen billing clock at a fixed date, and clients."""

from __future__ import annotations

import datetime as dt
from collections.abc import AsyncIterator

import httpx
import pytest
import pytest_asyncio
from reference_provider.app import create_app
from reference_provider.backend import Backend
from reference_provider.domain import MSK

START = dt.datetime(2025, 1, 15, 12, 0, tzinfo=MSK)
NATIVE = "/reference/api/v1"


@pytest.fixture
def backend() -> Backend:
    return Backend(seed=1, clock_speed=0, start=START)


@pytest_asyncio.fixture
async def client(backend: Backend) -> AsyncIterator[httpx.AsyncClient]:
    """An in-process client of the app with the sim API, as a loopback client."""
    transport = httpx.ASGITransport(app=create_app(backend=backend, sim=True))
    async with httpx.AsyncClient(transport=transport, base_url="http://127.0.0.1") as c:
        yield c


async def native_login(
    client: httpx.AsyncClient, login: str = "demo", password: str = "demo-password"
) -> dict[str, str]:
    r = await client.post(f"{NATIVE}/auth/login", json={"login": login, "password": password})
    assert r.status_code == 200, r.text
    return {"authorization": f"Bearer {r.json()['token']}"}
