"""The aggregator's contract kit against the bashtel provider (browser login, on loopback)."""

from __future__ import annotations

import datetime as dt
from collections.abc import AsyncIterator

import httpx
import pytest
import pytest_asyncio
from aggregator_bashtel.provider import BashtelProvider
from reference_provider.backend import Backend

from aggregator import Challenge, Credentials, LoginScheme, Session
from aggregator.browser import SharedBrowser
from aggregator.testing import ContractBackend, ContractSuite, Fault

from .conftest import new_customer

pytestmark = pytest.mark.browser

_FAULTS = {Fault.UNAVAILABLE: "503", Fault.RATE_LIMITED: "429", Fault.MALFORMED: "changed_html"}


class ReferenceBashtel(ContractBackend):
    """The reference provider's bashtel dialect on loopback, one fresh customer per test."""

    def __init__(
        self, http: httpx.AsyncClient, origin: str, backend: Backend, browser: SharedBrowser
    ) -> None:
        super().__init__(http, f"{origin}/bashtel", browser=browser)
        self.reference = backend
        self.customer = new_customer(backend)

    async def credentials(self, scheme: LoginScheme) -> Credentials | None:
        return self.customer.credentials()

    async def wrong_credentials(self, scheme: LoginScheme) -> Credentials | None:
        return self.customer.credentials(password="Not-The-Password-1")

    async def today(self) -> dt.date:
        return self.reference.clock.today()

    async def captcha_answer(self, challenge: Challenge) -> str:
        return self.reference.captcha_answer("bashtel")

    async def read_code(self, challenge: Challenge) -> str:
        return self.reference.last_code("bashtel", purpose=challenge.operation)

    async def expire_session(self, session: Session) -> bool:
        self.reference.expire_sessions(operator="bashtel")
        return True

    async def inject_fault(self, fault: Fault) -> bool:
        self.reference.faults.add(_FAULTS[fault], operator="bashtel", retry_after=5)
        return True


class TestBashtelContract(ContractSuite):
    provider_class = BashtelProvider
    suspension_days = 14  # Bashtel blocks for 7 to 90 days

    @pytest_asyncio.fixture
    async def contract_backend(
        self, live_server: str, backend: Backend, shared_browser: SharedBrowser
    ) -> AsyncIterator[ContractBackend]:
        async with httpx.AsyncClient(timeout=10) as http:
            yield ReferenceBashtel(http, live_server, backend, shared_browser)
