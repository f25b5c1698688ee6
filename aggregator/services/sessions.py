"""Operator sessions: the one silent re-login path, shared by the poller and the dashboard.

When an operator says a stored session is gone, the aggregator logs in again *silently* with
the stored credentials, when the login scheme allows it. Both the scheduled poller and a
person's click on the dashboard (an operation, a section) come here, so both obey the same
rules:

- **one login at a time per operator login** (:class:`LoginGuard`): every account sharing a
  login waits on one lock, and a login that just succeeded hands its fresh session to the
  siblings instead of logging in again;
- **the session belongs to the login**: its accounts take turns using it
  (:meth:`LoginGuard.use_lock`) with the newest one (:meth:`SessionKeeper.current_session`: a
  session a sibling renewed or obtained, else the stored one), and a renewed session is stored
  for all of them at once (:func:`aggregator.accounts.store_login_session`);
- **a refused login is remembered** for the whole login (wrong password, locked account, an
  answer we could not read): nothing tries the stored password again until a person links it
  anew (real operators lock accounts after a few wrong passwords), including refusals another
  process saw (``refused_in_db``);
- **the per-operator limit and breaker** (:class:`~aggregator.polling.breaker.OperatorGates`):
  the poller holds its operator's gate for the whole poll; the dashboard enters the same gate
  through :meth:`SessionKeeper.gate`, which also refuses at once while the breaker is open;
- **a time limit** on the whole call, re-login included.

A login that asks a question only a person can answer raises :class:`ChallengeMet`. Each
process has one :class:`SessionKeeper` per :class:`~aggregator.runtime.Runtime`
(:func:`keeper_for`): the poller registers the one it builds, the dashboard uses it.
"""

from __future__ import annotations

import asyncio
import logging
import time
import weakref
from collections.abc import AsyncIterator, Awaitable, Callable
from contextlib import asynccontextmanager
from dataclasses import dataclass, field
from typing import TYPE_CHECKING

from ..accounts import open_credentials, open_session
from ..core.errors import TemporaryError, Timeout, Unavailable
from ..core.flows import Challenge, Session
from ..polling.breaker import OperatorGate, OperatorGates
from ..polling.models import LoginTarget
from ..vault import VaultError

if TYPE_CHECKING:
    from ..core.provider import Provider
    from ..polling.login_lease import LoginLeases
    from ..polling.status import Failure
    from ..runtime import Runtime
    from ..storage.models import LinkedAccount
    from ..vault import Vault

__all__ = [
    "ChallengeMet",
    "LoginFailed",
    "LoginGuard",
    "LoginTarget",
    "NoCredentials",
    "RefusedBefore",
    "SessionKeeper",
    "Unreadable",
    "keeper_for",
    "register_keeper",
    "registered_keeper",
]

log = logging.getLogger(__name__)

LoginKey = tuple[str, int, str]  # provider id, household id, login key
DEFAULT_TIMEOUT_S = 90.0


# -- what a silent login can end in, besides a session -----------------------------------------


class Unreadable(Exception):
    """The sealed credentials (or session) do not open with the vault's keys."""


class NoCredentials(Exception):
    """No credentials are stored for this account."""


class ChallengeMet(Exception):
    """The operator asked a question only a person can answer."""

    def __init__(self, challenge: Challenge) -> None:
        super().__init__(challenge.kind.value)
        self.challenge = challenge


class RefusedBefore(Exception):
    """This login was refused before (or cannot log in silently): do not try again."""

    def __init__(self, failure: Failure) -> None:
        super().__init__(failure.key)
        self.failure = failure


class LoginFailed(Exception):
    """The login itself raised ``cause`` (refused, temporary, unreadable)."""

    def __init__(self, cause: BaseException) -> None:
        super().__init__(type(cause).__name__)
        self.cause = cause


@dataclass
class _LoginMemory:
    session: Session | None = None
    at: float = 0.0
    refused: Failure | None = None


@dataclass
class LoginGuard:
    """Per login (all accounts sharing it): one silent login at a time, and its outcome.

    ``refused_in_db`` asks the database whether another process already saw this login
    refused (set by :class:`~aggregator.polling.store.ResultStore`).
    """

    share_for_s: float = 60.0
    refused_in_db: Callable[[LoginTarget], Awaitable[Failure | None]] | None = None
    # The cluster-wide turn of a login whose accounts share its session (another process may
    # poll a sibling): set by the polling service (aggregator.polling.login_lease).
    cluster: LoginLeases | None = None
    _locks: dict[LoginKey, asyncio.Lock] = field(default_factory=dict)
    _memory: dict[LoginKey, _LoginMemory] = field(default_factory=dict)
    _use_locks: dict[LoginKey, asyncio.Lock] = field(default_factory=dict)

    @staticmethod
    def key(account: LoginTarget) -> LoginKey:
        return (account.provider_id, account.household_id, account.login_key)

    def lock(self, account: LoginTarget) -> asyncio.Lock:
        return self._locks.setdefault(self.key(account), asyncio.Lock())

    def memory(self, account: LoginTarget) -> _LoginMemory:
        return self._memory.setdefault(self.key(account), _LoginMemory())

    def use_lock(self, account: LoginTarget) -> asyncio.Lock:
        """Held while a call uses the login's session: the accounts of one login take turns,
        so an operator that rotates its tokens never sees the same token twice."""
        return self._use_locks.setdefault(self.key(account), asyncio.Lock())

    def forget(self, account: LoginTarget) -> None:
        """The user linked this login again: a refusal no longer holds."""
        self._memory.pop(self.key(account), None)


class SessionKeeper:
    """The operator gates, the login guard and the silent re-login of one process."""

    def __init__(
        self,
        vault: Vault,
        gates: OperatorGates,
        guard: LoginGuard | None = None,
        *,
        timeout_s: float = DEFAULT_TIMEOUT_S,
    ) -> None:
        self.vault = vault
        self.gates = gates
        self.guard = guard or LoginGuard()
        self.timeout_s = timeout_s
        # How many logins each account attempted in this process (tests and metrics).
        self.login_attempts: dict[int, int] = {}

    def stored_session(self, row: LinkedAccount) -> Session | None:
        """The account's sealed session, None when there is none; :class:`Unreadable`."""
        try:
            return open_session(self.vault, row)
        except VaultError:
            raise Unreadable from None

    def current_session(self, account: LoginTarget, row: LinkedAccount) -> Session | None:
        """The login's newest session in this process (a sibling refreshed or logged in),
        else the stored one."""
        memory = self.guard.memory(account)
        if memory.session is not None:
            return memory.session
        return self.stored_session(row)

    def forget_session(self, account: LoginTarget, session: Session) -> None:
        """The operator dropped ``session``: it is handed to no sibling any more."""
        memory = self.guard.memory(account)
        if memory.session is session:
            memory.session = None

    def remember_session(self, account: LoginTarget, session: Session) -> None:
        """A session the operator renewed: the login's siblings use it from now on."""
        memory = self.guard.memory(account)
        memory.session = session
        memory.at = time.monotonic()

    async def relogin(
        self,
        provider: Provider,
        cls: type[Provider],
        account: LoginTarget,
        row: LinkedAccount,
        *,
        started: float,
        secrets: list[str] | None = None,
    ) -> Session:
        """Log ``account`` in again with its stored credentials; the caller holds the gate.

        ``started`` (``time.monotonic()`` when the caller began) lets a session another
        account of the same login obtained since then be handed over instead of a second
        login. Credentials' secrets are appended to ``secrets`` (for redaction). Raises
        :class:`RefusedBefore`, :class:`NoCredentials`, :class:`Unreadable`,
        :class:`ChallengeMet` or :class:`LoginFailed`.
        """
        from ..polling.status import Failure
        from ..storage.models import AccountStatus

        try:
            scheme = cls.scheme(account.login_scheme)
        except ValueError:
            scheme = None
        if scheme is not None and not scheme.silent_relogin:
            raise RefusedBefore(
                Failure(
                    AccountStatus.NEEDS_LOGIN, "auth.session_expired", {"silent_relogin": False}
                )
            )
        memory = self.guard.memory(account)
        async with self.guard.lock(account):
            if memory.refused is not None:
                raise RefusedBefore(memory.refused)
            if (
                memory.session is not None
                and memory.at >= started - 1.0
                and time.monotonic() - memory.at <= self.guard.share_for_s
            ):
                return memory.session
            if self.guard.refused_in_db is not None:
                refused = await self.guard.refused_in_db(account)
                if refused is not None:
                    memory.refused = refused
                    raise RefusedBefore(refused)
            try:
                credentials = open_credentials(self.vault, row)
            except LookupError:
                raise NoCredentials from None
            except VaultError:
                raise Unreadable from None
            if secrets is not None:
                secrets.extend(credentials.secrets())
            self.login_attempts[account.id] = self.login_attempts.get(account.id, 0) + 1
            log.info("account %s: session expired, logging in again", account.id)
            try:
                answer = await provider.start_login(credentials)
            except asyncio.CancelledError:
                raise
            except Exception as exc:
                raise LoginFailed(exc) from None
            if isinstance(answer, Challenge):
                raise ChallengeMet(answer)
            memory.session = answer
            memory.at = time.monotonic()
            return answer

    def remember_refusal(self, account: LoginTarget, failure: Failure) -> None:
        """No more silent logins for this login until it is linked again."""
        self.guard.memory(account).refused = failure

    @asynccontextmanager
    async def gate(self, provider_id: str) -> AsyncIterator[OperatorGate]:
        """Run a call to the operator inside its gate, as the poller does: refused at once
        while the breaker is open, at most the operator's concurrency at a time, within the
        time limit; temporary failures count towards the breaker."""
        gate = self.gates[provider_id]
        if not gate.breaker.allow():
            raise Unavailable(f"{provider_id}: paused after repeated failures")
        async with gate.semaphore:
            gate.in_flight += 1
            try:
                async with asyncio.timeout(self.timeout_s):
                    yield gate
            except TimeoutError:
                gate.breaker.record_failure()
                raise Timeout(f"{provider_id}: no answer in {self.timeout_s:.0f} s") from None
            except TemporaryError:
                gate.breaker.record_failure()
                raise
            else:
                gate.breaker.record_success()
            finally:
                gate.in_flight -= 1


_KEEPERS: weakref.WeakKeyDictionary[Runtime, SessionKeeper] = weakref.WeakKeyDictionary()


def register_keeper(runtime: Runtime, keeper: SessionKeeper) -> None:
    """Make ``keeper`` the one every part of this process uses with ``runtime``."""
    _KEEPERS[runtime] = keeper


def registered_keeper(runtime: Runtime) -> SessionKeeper | None:
    """The keeper registered for ``runtime`` (the poller's), if any."""
    return _KEEPERS.get(runtime)


def keeper_for(runtime: Runtime, vault: Vault) -> SessionKeeper:
    """The process's keeper for ``runtime`` (the poller's, or one with default limits)."""
    keeper = _KEEPERS.get(runtime)
    if keeper is None:
        from ..polling.options import PollingOptions

        options = PollingOptions()
        keeper = SessionKeeper(
            vault,
            OperatorGates(
                lambda operator: runtime.politeness.limits(operator).concurrency,
                threshold=options.breaker_threshold,
                cooldown_s=options.breaker_cooldown_s,
                max_cooldown_s=options.breaker_max_cooldown_s,
            ),
            timeout_s=options.poll_timeout_s,
        )
        _KEEPERS[runtime] = keeper
    return keeper
