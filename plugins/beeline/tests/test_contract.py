"""The contract kit (aggregator.testing) against the Beeline dialect: in-process and loopback.

The backend hooks go through the reference provider's simulation API over HTTP, so the same
class serves the in-process app (httpx.ASGITransport) and a real server on a loopback port.
"""

from __future__ import annotations

import datetime as dt
from collections.abc import AsyncIterator
from typing import TYPE_CHECKING

import httpx
import pytest
from aggregator_beeline import BeelineProvider
from litestar import Litestar
from reference_provider.app import create_app
from reference_provider.backend import Backend

from aggregator import Challenge, Credentials, LoginScheme, Session
from aggregator.testing import ContractBackend, ContractSuite, Fault

if TYPE_CHECKING:
    from conftest import LoopbackServer

LOGIN = "9031234567"
PASSWORD = "Beeline-2024"
NO_PASSWORD_LOGIN = "9052223344"
_FAULTS = {Fault.UNAVAILABLE: "503", Fault.RATE_LIMITED: "429", Fault.MALFORMED: "malformed_json"}


class BeelineBackend(ContractBackend):
    """The reference provider's Beeline dialect, driven through its simulation API."""

    def __init__(self, http: httpx.AsyncClient, server: str) -> None:
        super().__init__(http, server + "/beeline")
        self.server = server

    async def _sim(self, method: str, path: str, **kwargs: object) -> dict[str, object]:
        response = await self.http.request(method, self.server + "/sim" + path, **kwargs)  # type: ignore[arg-type]
        response.raise_for_status()
        data: dict[str, object] = response.json()
        return data

    async def credentials(self, scheme: LoginScheme) -> Credentials | None:
        if scheme.id == "password":
            return scheme.build_credentials("+7 (903) 123-45-67", PASSWORD)
        return scheme.build_credentials(NO_PASSWORD_LOGIN)

    async def wrong_credentials(self, scheme: LoginScheme) -> Credentials | None:
        return scheme.build_credentials(LOGIN, "Not-the-password-1")

    async def today(self) -> dt.date:
        clock = await self._sim("GET", "/clock")
        return dt.date.fromisoformat(str(clock["today"]))

    async def captcha_answer(self, challenge: Challenge) -> str:
        found = await self._sim("GET", "/captcha", params={"operator": "beeline"})
        return str(found["answer"])

    async def read_code(self, challenge: Challenge) -> str:
        found = await self._sim(
            "GET", "/outbox/last-code", params={"operator": "beeline", "destination": None}
        )
        return str(found["code"])

    async def expire_session(self, session: Session) -> bool:
        await self._sim("POST", "/sessions/expire", json={"operator": "beeline", "login": LOGIN})
        return True

    async def inject_fault(self, fault: Fault) -> bool:
        await self._sim(
            "POST",
            "/faults",
            json={
                "kind": _FAULTS[fault],
                "operator": "beeline",
                "path": "/beeline/api/1.0/info",
                "retry_after": 5,
            },
        )
        return True

    async def aclose(self) -> None:
        await self._sim("DELETE", "/faults")
        await super().aclose()


@pytest.fixture(scope="module")
def inprocess_app() -> Litestar:
    """One app for the in-process suite (building one costs more than the tests it serves)."""
    return create_app(backend=Backend(seed=1, clock_speed=0), sim=True)


class TestContractInProcess(ContractSuite):
    provider_class = BeelineProvider
    preferred_scheme = "password"

    @pytest.fixture
    async def contract_backend(self, inprocess_app: Litestar) -> AsyncIterator[BeelineBackend]:
        transport = httpx.ASGITransport(app=inprocess_app, client=("127.0.0.1", 50000))
        async with httpx.AsyncClient(transport=transport, timeout=5) as http:
            yield BeelineBackend(http, "http://127.0.0.1")


class TestContractLoopback(ContractSuite):
    provider_class = BeelineProvider
    preferred_scheme = "password"
    # one server for the module: a second trusted payment on the same number is refused
    skip_capabilities = {
        "take_trusted_payment": "checked in-process (one trusted payment at a time)"
    }

    @pytest.fixture
    async def contract_backend(self, loopback: LoopbackServer) -> AsyncIterator[BeelineBackend]:
        async with httpx.AsyncClient(timeout=10) as http:
            yield BeelineBackend(http, loopback.url)
