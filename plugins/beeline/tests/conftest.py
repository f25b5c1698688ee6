"""Fixtures: the reference provider in-process (httpx.ASGITransport) and on a loopback port."""

from __future__ import annotations

import contextlib
from collections.abc import AsyncIterator, Iterator
from dataclasses import dataclass

import httpx
import pytest
import pytest_asyncio
from aggregator_beeline import BeelineProvider
from litestar import Litestar
from reference_provider.app import create_app
from reference_provider.backend import Backend
from reference_provider.testing import running_server

from aggregator import FlowRegistry, ProviderContext

LOGIN = "9031234567"
PASSWORD = "Beeline-2024"
NO_PASSWORD_LOGIN = "9052223344"


@dataclass
class World:
    """One reference provider (frozen billing clock), a client reaching it, a provider."""

    backend: Backend
    http: httpx.AsyncClient
    base_url: str
    provider: BeelineProvider

    def new_provider(self) -> BeelineProvider:
        return BeelineProvider(ProviderContext(http=self.http, base_url=self.base_url))


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
        base = "http://127.0.0.1/beeline"
        provider = BeelineProvider(ProviderContext(http=http, base_url=base, flows=FlowRegistry()))
        yield World(backend, http, base, provider)


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
