"""Fixtures: the reference provider in-process (a fresh backend per test) and over loopback."""

from __future__ import annotations

import datetime as dt
from collections.abc import AsyncIterator, Iterator

import httpx
import pytest
import pytest_asyncio
from aggregator_reference import ReferenceProvider
from reference_provider.app import create_app
from reference_provider.backend import Backend
from reference_provider.domain import MSK
from reference_provider.testing import running_server

from aggregator import FlowRegistry, ProviderContext

PREFIX = "/reference/api/v1"


START = dt.datetime(2025, 1, 15, 12, 0, tzinfo=MSK)


@pytest.fixture
def backend() -> Backend:
    """A fresh backend, its billing clock frozen at 15 January 2025, noon."""
    return Backend(seed=1, clock_speed=0, start=START)


@pytest_asyncio.fixture
async def http(backend: Backend) -> AsyncIterator[httpx.AsyncClient]:
    app = create_app(backend=backend, sim=True)
    transport = httpx.ASGITransport(app=app)
    async with httpx.AsyncClient(transport=transport, base_url="http://127.0.0.1") as client:
        yield client


@pytest.fixture
def provider(http: httpx.AsyncClient) -> ReferenceProvider:
    context = ProviderContext(http=http, base_url=f"http://127.0.0.1{PREFIX}", flows=FlowRegistry())
    return ReferenceProvider(context)


@pytest.fixture(scope="module")
def server_url() -> Iterator[str]:
    """A real uvicorn server on loopback, shared by a module's tests."""
    with running_server(create_app(seed=1, sim=True, clock_speed=0)) as url:
        yield url
