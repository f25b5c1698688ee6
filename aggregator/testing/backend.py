"""The backend side of the contract suite: how the provider reaches a test backend, and hooks.

A plugin author subclasses :class:`ContractBackend` for the backend the plugin's tests run
against (the reference provider in-process through ``httpx.ASGITransport``, a real server on
loopback, or a tiny fake) and implements the hooks that backend can honour. A hook left as it is
makes the suite *skip* the checks that need it, with the reason, except the challenge hooks: a
challenge the backend cannot answer fails the login test, because the provider really asked.
"""

from __future__ import annotations

import datetime as dt
import secrets
import string
from enum import StrEnum
from typing import TYPE_CHECKING, Any

from ..core.flows import Challenge, FlowRegistry, Session
from ..core.login import Credentials, LoginScheme
from ..core.provider import BrowserPool, Capability, Provider, ProviderContext
from ..core.recovery import RecoveryRequest, RecoveryScheme

if TYPE_CHECKING:
    import httpx

__all__ = ["ContractBackend", "Fault", "Unanswerable"]


class Fault(StrEnum):
    """Faults the suite asks a backend to inject before the next balance call."""

    UNAVAILABLE = "unavailable"  # answer 5xx: the provider must raise Unavailable
    RATE_LIMITED = "rate_limited"  # answer 429 with Retry-After: RateLimited(retry_after=...)
    MALFORMED = "malformed"  # a body of the wrong shape (bad JSON, changed HTML): ParseError


class Unanswerable(AssertionError):
    """The provider returned a challenge the backend has no hook for."""


class ContractBackend:
    """What the contract suite needs from the backend a provider talks to.

    :param http: the client the provider uses (``httpx.AsyncClient(transport=ASGITransport(app))``
        for an in-process app, a plain client for a server on loopback).
    :param base_url: the operator's base URL on that backend.
    :param browser: a browser pool, for providers that log in through a real browser.
    """

    def __init__(
        self,
        http: httpx.AsyncClient,
        base_url: str,
        *,
        browser: BrowserPool | None = None,
        settings: dict[str, Any] | None = None,
    ) -> None:
        self.http = http
        self.base_url = base_url.rstrip("/")
        self.browser = browser
        self.settings = settings or {}
        self.flows = FlowRegistry()

    def context(self) -> ProviderContext:
        """The context the provider under test is created with."""
        return ProviderContext(
            http=self.http,
            base_url=self.base_url,
            flows=self.flows,
            browser=self.browser,
            settings=dict(self.settings),
        )

    async def aclose(self) -> None:
        """Release live flows (browser pages). The suite calls it after every test."""
        await self.flows.aclose()

    # -- accounts ------------------------------------------------------------------------
    async def credentials(self, scheme: LoginScheme) -> Credentials | None:
        """Valid credentials for ``scheme`` (build them with ``scheme.build_credentials``).

        ``None`` means this backend cannot log in with that scheme: its login test is skipped.
        """
        return None

    async def recovery_request(self, scheme: RecoveryScheme) -> RecoveryRequest | None:
        """A password recovery to run for ``scheme`` (build it with ``scheme.build_request``),
        or ``None`` to skip. It changes that login's password: give a login of its own, not
        the one the other checks log in with."""
        return None

    async def wrong_credentials(self, scheme: LoginScheme) -> Credentials | None:
        """Credentials with a wrong password for an existing login, or ``None`` to skip."""
        return None

    async def account(self, provider: Provider, session: Session) -> str:
        """The account the capability checks use: the first subaccount, or ``""`` without any."""
        if provider.has(Capability.SUBACCOUNTS):
            found = await provider.subaccounts(session)
            if found:
                return found[0].id
        return ""

    async def today(self) -> dt.date:
        """The backend's current date (a simulated billing clock may run ahead of the real one)."""
        return dt.datetime.now(dt.UTC).date()

    def secrets(self) -> list[str]:
        """Further values that must never leak (besides passwords, codes and session tokens)."""
        return []

    # -- challenges (called when the provider returns one) -------------------------------
    async def captcha_answer(self, challenge: Challenge) -> str:
        """The characters of the captcha picture in ``challenge.image``."""
        raise Unanswerable(f"the backend cannot answer the captcha of step {challenge.step!r}")

    async def read_code(self, challenge: Challenge) -> str:
        """The one-time code the backend sent to ``challenge.masked_destination``."""
        raise Unanswerable(f"the backend cannot read the code of step {challenge.step!r}")

    async def complete_sso(self, challenge: Challenge) -> str:
        """Log in at the identity provider behind ``challenge.url``; return the callback URL."""
        raise Unanswerable(f"the backend cannot complete the SSO of step {challenge.step!r}")

    async def new_password(self, challenge: Challenge) -> str:
        """A new password obeying ``challenge.password_policy`` (a random compliant one)."""
        policy = challenge.password_policy
        length = 12
        if policy is not None:
            length = max(policy.min_length, min(policy.max_length, 12))
        alphabet = string.ascii_letters + string.digits
        while True:
            body = "".join(secrets.choice(alphabet) for _ in range(max(length - 3, 0)))
            candidate = ("Aa7" + body)[: max(length, 3)]
            if policy is None or not policy.check(candidate):
                return candidate

    # -- faults (return False when this backend cannot do it: the check is skipped) ----------
    async def expire_session(self, session: Session) -> bool:
        """Make ``session`` invalid at the backend, so the next call raises SessionExpired."""
        return False

    async def inject_fault(self, fault: Fault) -> bool:
        """Make the provider's next requests (until the next login) meet ``fault``."""
        return False
