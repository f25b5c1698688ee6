"""The aggregator's contract kit against the netbynet provider, in-process and on loopback."""

from __future__ import annotations

import datetime as dt
import logging
from collections.abc import AsyncIterator

import httpx
import pytest_asyncio
from aggregator_netbynet.provider import NetbynetProvider
from reference_provider.backend import Backend

from aggregator import (
    Challenge,
    Credentials,
    LoginScheme,
    RecoveryRequest,
    RecoveryScheme,
    Session,
)
from aggregator.testing import ContractBackend, ContractSuite, Fault

from .conftest import new_customer

_FAULTS = {Fault.UNAVAILABLE: "503", Fault.RATE_LIMITED: "429", Fault.MALFORMED: "changed_html"}


class ReferenceNetbynet(ContractBackend):
    """The reference provider's netbynet dialect; one fresh customer (with a captcha) per test."""

    def __init__(self, http: httpx.AsyncClient, base_url: str, backend: Backend) -> None:
        super().__init__(http, base_url)
        self.reference = backend
        self.customer = new_customer(backend, policy="new_device")

    async def credentials(self, scheme: LoginScheme) -> Credentials | None:
        return self.customer.credentials()

    async def recovery_request(self, scheme: RecoveryScheme) -> RecoveryRequest | None:
        # A customer of its own: the recovery changes its password.
        other = new_customer(self.reference, policy="never")
        return scheme.build_request(
            other.phone,
            extras={
                "region": other.region,
                "account_number": other.account.number,
                "contract": other.contract,
            },
            channel="sms",
        )

    async def read_code(self, challenge: Challenge) -> str:
        return self.reference.last_code("netbynet", None, "password_reset")

    async def wrong_credentials(self, scheme: LoginScheme) -> Credentials | None:
        return self.customer.credentials(password="Not-The-Password-1")

    async def today(self) -> dt.date:
        return self.reference.clock.today()

    async def captcha_answer(self, challenge: Challenge) -> str:
        return self.reference.captcha_answer("netbynet")

    async def expire_session(self, session: Session) -> bool:
        self.reference.expire_sessions(subscriber_id=self.customer.account.subscriber_id)
        return True

    async def inject_fault(self, fault: Fault) -> bool:
        self.reference.faults.add(_FAULTS[fault], operator="netbynet", retry_after=5)
        return True


class TestNetbynetContract(ContractSuite):
    provider_class = NetbynetProvider

    @pytest_asyncio.fixture(params=["asgi", "loopback"])
    async def contract_backend(
        self, request, app, live_server: str, backend: Backend
    ) -> AsyncIterator[ContractBackend]:
        if request.param == "asgi":
            transport = httpx.ASGITransport(app=app)
            async with httpx.AsyncClient(transport=transport) as http:
                yield ReferenceNetbynet(http, "http://127.0.0.1/netbynet", backend)
        else:
            # httpcore's DEBUG trace prints raw response headers, Set-Cookie included: the
            # session cookie of any cookie-based operator. The aggregator keeps httpcore at
            # INFO or above (see the report of this plugin); the suite checks what remains.
            httpcore_log = logging.getLogger("httpcore")
            level = httpcore_log.level
            httpcore_log.setLevel(logging.INFO)
            try:
                async with httpx.AsyncClient(timeout=10) as http:
                    yield ReferenceNetbynet(http, f"{live_server}/netbynet", backend)
            finally:
                httpcore_log.setLevel(level)
