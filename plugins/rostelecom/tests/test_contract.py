"""The contract kit (aggregator.testing) against the Rostelecom dialect on a loopback port, the
passport driven in the shared Chromium.

The backend hooks use the reference provider's simulation API over HTTP; the SSO challenge is
answered the way a person does it: the identity provider's login and consent pages, submitted
with httpx.
"""

from __future__ import annotations

import datetime as dt
from collections.abc import AsyncIterator, Awaitable, Callable
from typing import TYPE_CHECKING

import httpx
import pytest
from aggregator_rostelecom import RostelecomProvider

from aggregator import Challenge, Credentials, IdentifierKind, LoginScheme, SecretKind, Session
from aggregator.browser import SharedBrowser
from aggregator.testing import ContractBackend, ContractSuite, Fault

pytestmark = pytest.mark.browser

if TYPE_CHECKING:
    from conftest import LoopbackServer

SsoBrowser = Callable[..., Awaitable[str]]
PASSWORD = "Rostelecom2024"
_FAULTS = {Fault.UNAVAILABLE: "503", Fault.RATE_LIMITED: "429", Fault.MALFORMED: "malformed_json"}


class RostelecomBackend(ContractBackend):
    """The reference provider's Rostelecom dialect, driven through its simulation API."""

    def __init__(
        self,
        http: httpx.AsyncClient,
        server: str,
        sso_browser: SsoBrowser,
        browser: SharedBrowser,
    ) -> None:
        super().__init__(http, server + "/rostelecom", browser=browser)
        self.server = server
        self.sso_browser = sso_browser

    async def _sim(self, method: str, path: str, **kwargs: object) -> dict[str, object]:
        response = await self.http.request(method, self.server + "/sim" + path, **kwargs)  # type: ignore[arg-type]
        response.raise_for_status()
        data: dict[str, object] = response.json()
        return data

    async def credentials(self, scheme: LoginScheme) -> Credentials | None:
        if scheme.secret is SecretKind.SSO:
            return scheme.build_credentials(sso_provider="gosuslugi")
        if scheme.secret is SecretKind.PASSWORD:
            return scheme.build_credentials(
                "361000000001", PASSWORD, identifier_kind=IdentifierKind.ACCOUNT_NUMBER
            )
        if scheme.secret is SecretKind.EMAIL_CODE:
            return scheme.build_credentials(
                "ivan.smirnov@example.ru", identifier_kind=IdentifierKind.EMAIL
            )
        return scheme.build_credentials("+7 903 123-45-67", identifier_kind=IdentifierKind.PHONE)

    async def wrong_credentials(self, scheme: LoginScheme) -> Credentials | None:
        return scheme.build_credentials("smirnov.ivan", "Wrong-Pass-1", identifier_kind="login")

    async def today(self) -> dt.date:
        clock = await self._sim("GET", "/clock")
        return dt.date.fromisoformat(str(clock["today"]))

    async def captcha_answer(self, challenge: Challenge) -> str:
        found = await self._sim("GET", "/captcha", params={"operator": "rostelecom"})
        return str(found["answer"])

    async def read_code(self, challenge: Challenge) -> str:
        found = await self._sim("GET", "/outbox/last-code", params={"operator": "rostelecom"})
        return str(found["code"])

    async def complete_sso(self, challenge: Challenge) -> str:
        """The identity provider's login and consent pages, submitted with httpx."""
        assert challenge.url
        return await self.sso_browser(self.http, challenge.url, "ivan.smirnov")

    async def expire_session(self, session: Session) -> bool:
        await self._sim(
            "POST", "/sessions/expire", json={"operator": "rostelecom", "login": "smirnov.ivan"}
        )
        return True

    async def inject_fault(self, fault: Fault) -> bool:
        await self._sim(
            "POST",
            "/faults",
            json={
                "kind": _FAULTS[fault],
                "operator": "rostelecom",
                "path": "/rostelecom/lk/client-api",
                "retry_after": 5,
            },
        )
        return True

    async def aclose(self) -> None:
        await self._sim("DELETE", "/faults")
        await super().aclose()


class TestContractLoopback(ContractSuite):
    provider_class = RostelecomProvider
    preferred_scheme = "password"

    @pytest.fixture
    async def contract_backend(
        self, loopback: LoopbackServer, sso_browser: SsoBrowser, shared_browser: SharedBrowser
    ) -> AsyncIterator[RostelecomBackend]:
        async with httpx.AsyncClient(timeout=20) as http:
            yield RostelecomBackend(http, loopback.url, sso_browser, shared_browser)
