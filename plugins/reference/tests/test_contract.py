"""The contract kit (aggregator.testing) against the reference plugin: in-process and over a
real uvicorn server on loopback. The sim API answers every challenge (captcha, code, SSO)."""

from __future__ import annotations

import datetime as dt
from collections.abc import AsyncIterator

import httpx
import pytest_asyncio
from aggregator_reference import ReferenceProvider
from reference_provider.app import create_app
from reference_provider.backend import Backend

from aggregator import Challenge, Credentials, LoginScheme, Session
from aggregator.testing import ContractBackend, ContractSuite, Fault

PREFIX = "/reference/api/v1"
IDP_USERS = {
    "gosuslugi": "ivan.smirnov",
    "tbank": "+79031234567",
    "vk": "ivan.smirnov@vk.com",
    "ok": "ivan.smirnov.ok",
    "mailru": "ivan.smirnov@mail.ru",
}
FAULTS = {
    Fault.UNAVAILABLE: {"kind": "503"},
    Fault.RATE_LIMITED: {"kind": "429", "retry_after": 7},
    Fault.MALFORMED: {"kind": "malformed_json"},
}


class ReferenceBackend(ContractBackend):
    """Answers through the simulation API, so it works in-process and over loopback alike.

    The password login is the ``captcha`` subscriber: a new device gets a captcha, so the
    captcha challenge is exercised by every password login of the kit."""

    def __init__(self, http: httpx.AsyncClient, root: str) -> None:
        super().__init__(http, f"{root}{PREFIX}")
        self.root = root

    async def _sim(self, method: str, path: str, **kwargs: object) -> dict[str, object]:
        response = await self.http.request(method, f"{self.root}/sim{path}", **kwargs)  # type: ignore[arg-type]
        response.raise_for_status()
        return response.json()  # type: ignore[no-any-return]

    async def credentials(self, scheme: LoginScheme) -> Credentials | None:
        if scheme.id == "sso":
            return scheme.build_credentials(sso_provider="gosuslugi")
        if scheme.id == "password":
            return scheme.build_credentials("captcha", "demo-password")
        return scheme.build_credentials("demo")

    async def wrong_credentials(self, scheme: LoginScheme) -> Credentials | None:
        return scheme.build_credentials("demo", "Wrong-password-1")

    async def today(self) -> dt.date:
        clock = await self._sim("GET", "/clock")
        return dt.date.fromisoformat(str(clock["today"]))

    async def captcha_answer(self, challenge: Challenge) -> str:
        found = await self._sim(
            "GET", "/captcha", params={"captcha_id": challenge.state["captcha_id"]}
        )
        return str(found["answer"])

    async def read_code(self, challenge: Challenge) -> str:
        found = await self._sim("GET", "/outbox/last-code", params={"operator": "reference"})
        return str(found["code"])

    async def complete_sso(self, challenge: Challenge) -> str:
        assert challenge.sso_provider is not None
        found = await self._sim(
            "POST",
            "/idp/complete",
            json={
                "authorize_url": challenge.url,
                "username": IDP_USERS[challenge.sso_provider],
                "password": "sso-demo-2024",
            },
        )
        return str(found["callback_url"])

    async def expire_session(self, session: Session) -> bool:
        await self._sim("POST", "/sessions/expire", json={"operator": "reference"})
        return True

    async def inject_fault(self, fault: Fault) -> bool:
        await self._sim("POST", "/faults", json={"operator": "reference", **FAULTS[fault]})
        return True

    async def aclose(self) -> None:
        await self._sim("DELETE", "/faults")
        await super().aclose()


class TestContractInProcess(ContractSuite):
    provider_class = ReferenceProvider
    preferred_scheme = "password"

    @pytest_asyncio.fixture
    async def contract_backend(self) -> AsyncIterator[ReferenceBackend]:
        app = create_app(backend=Backend(seed=1, clock_speed=0), sim=True)
        transport = httpx.ASGITransport(app=app)
        async with httpx.AsyncClient(transport=transport) as http:
            yield ReferenceBackend(http, "http://127.0.0.1")


class TestContractLoopback(ContractSuite):
    provider_class = ReferenceProvider
    preferred_scheme = "password"

    @pytest_asyncio.fixture
    async def contract_backend(self, server_url: str) -> AsyncIterator[ReferenceBackend]:
        async with httpx.AsyncClient(timeout=10) as http:
            yield ReferenceBackend(http, server_url)
