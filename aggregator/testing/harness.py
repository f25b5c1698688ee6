"""The harness that drives a provider against a backend: logins with challenges, operations.

:class:`ContractHarness` is what each contract test works with; plugin authors may also use it
in their own tests (``await harness.login()`` answers every challenge through the backend).
"""

from __future__ import annotations

from collections.abc import Awaitable
from typing import Any, TypeVar

from ..core.errors import AggregatorError
from ..core.flows import Challenge, ChallengeAnswer, ChallengeKind, Session
from ..core.login import Credentials, LoginScheme
from ..core.provider import Provider
from ..core.secret import Secret
from .backend import ContractBackend
from .checks import ContractViolation, check_challenge
from .leaks import LeakGuard, sensitive_values

__all__ = ["ContractHarness"]

T = TypeVar("T")
MAX_STEPS = 8


class ContractHarness:
    """A provider under test, its backend, and the leak guard of the running test."""

    def __init__(
        self,
        provider_class: type[Provider],
        backend: ContractBackend,
        guard: LeakGuard | None = None,
        *,
        preferred_scheme: str | None = None,
    ) -> None:
        self.provider_class = provider_class
        self.backend = backend
        self.guard = guard or LeakGuard()
        self.guard.add(backend.secrets())
        self.provider = provider_class(backend.context())
        self.preferred_scheme = preferred_scheme
        self.challenges: list[Challenge] = []

    def new_provider(self) -> Provider:
        """A fresh provider instance on the same backend (as in another process)."""
        return self.provider_class(self.backend.context())

    # -- login ---------------------------------------------------------------------------
    def schemes(self) -> list[LoginScheme]:
        schemes = list(self.provider_class.login_schemes)
        if self.preferred_scheme:
            schemes.sort(key=lambda s: s.id != self.preferred_scheme)
        return schemes

    async def credentials(self, scheme: LoginScheme | None = None) -> Credentials | None:
        """Valid credentials for ``scheme``, or for the first scheme the backend can log in."""
        for candidate in [scheme] if scheme else self.schemes():
            creds = await self.backend.credentials(candidate)
            if creds is not None:
                if creds.scheme != candidate.id:
                    raise ContractViolation(
                        f"backend.credentials({candidate.id!r}) built credentials for "
                        f"{creds.scheme!r}"
                    )
                self.guard.add(creds.secrets())
                return creds
        return None

    async def login(
        self, credentials: Credentials | None = None, *, provider: Provider | None = None
    ) -> Session:
        """Log in, answering every challenge through the backend; return the session."""
        if credentials is None:
            credentials = await self.credentials()
            if credentials is None:
                raise ContractViolation("the backend offers credentials for no login scheme")
        self.guard.add(credentials.secrets())
        provider = provider or self.provider
        result = await self.step(provider.start_login(credentials), "start_login")
        for _ in range(MAX_STEPS):
            if isinstance(result, Session):
                return self._check_session(result)
            if not isinstance(result, Challenge):
                raise ContractViolation(
                    f"login returned {type(result).__name__}, expected Session or Challenge"
                )
            challenge = result
            answer = await self.answer(challenge, "login")
            result = await self.step(provider.continue_login(challenge, answer), "continue_login")
        raise ContractViolation(f"login still asks questions after {MAX_STEPS} answers")

    def _check_session(self, session: Session) -> Session:
        if session.provider != self.provider_class.id:
            raise ContractViolation(
                f"session.provider is {session.provider!r}, expected {self.provider_class.id!r}"
            )
        try:
            Session.model_validate_json(session.model_dump_json())
        except Exception as exc:
            raise ContractViolation(f"the session data is not JSON-safe: {exc}") from None
        self.guard.add(sensitive_values(session.data))
        self.guard.remember("the session", session)
        return session

    async def answer(self, challenge: Challenge, where: str) -> ChallengeAnswer:
        """Check ``challenge`` and answer it through the backend's hooks."""
        check_challenge(challenge, self.provider_class, f"the {where} challenge {challenge.step!r}")
        self.challenges.append(challenge)
        self.guard.remember(f"the challenge {challenge.step!r}", challenge)
        backend = self.backend
        if challenge.kind is ChallengeKind.CAPTCHA:
            text = await backend.captcha_answer(challenge)
            self.guard.add(text)
            return ChallengeAnswer(text=Secret(text))
        if challenge.kind is ChallengeKind.CODE:
            text = await backend.read_code(challenge)
            self.guard.add(text)
            return ChallengeAnswer(text=Secret(text))
        if challenge.kind is ChallengeKind.SSO_REDIRECT:
            return ChallengeAnswer(callback_url=await backend.complete_sso(challenge))
        password = await backend.new_password(challenge)
        if challenge.password_policy is not None and challenge.password_policy.check(password):
            raise ContractViolation("backend.new_password broke the challenge's password policy")
        self.guard.add(password)
        return ChallengeAnswer(new_password=Secret(password))

    # -- operations ----------------------------------------------------------------------
    async def settle(self, result: object, session: Session, operation: str) -> object:
        """Confirm an operation's challenges (one-time codes) until it yields its result."""
        for _ in range(MAX_STEPS):
            if not isinstance(result, Challenge):
                return result
            challenge = result
            if challenge.operation is None:
                raise ContractViolation(
                    f"{operation} returned a challenge without ``operation`` set"
                )
            answer = await self.answer(challenge, operation)
            confirmed: object = await self.step(
                self.provider.confirm(session, challenge, answer), "confirm"
            )
            result = confirmed
        raise ContractViolation(f"{operation} still asks for confirmation after {MAX_STEPS}")

    async def step(self, call: Awaitable[T], where: str) -> T:
        """Await ``call``; remember any contract error for the leak check, then re-raise."""
        try:
            return await call
        except AggregatorError as exc:
            self.guard.remember(f"the {type(exc).__name__} from {where}", exc)
            raise

    async def expect(
        self, error: type[AggregatorError], call: Awaitable[Any], where: str
    ) -> AggregatorError:
        """``call`` must raise ``error`` (a subclass of it); return the exception."""
        try:
            result = await self.step(call, where)
        except error as exc:
            return exc
        except AggregatorError as exc:
            raise ContractViolation(
                f"{where} raised {type(exc).__name__} ({exc.key}), expected {error.__name__}"
            ) from exc
        raise ContractViolation(
            f"{where} returned {type(result).__name__}, expected it to raise {error.__name__}"
        )

    def check_leaks(self) -> None:
        """Fail when a secret appeared in a log line, an exception, a challenge or a session."""
        self.guard.check()

    async def aclose(self) -> None:
        await self.backend.aclose()
