"""One poll of one account: open the sealed session, ask the provider, classify the answer.

No database here: :class:`Poller` turns a :class:`~.models.ClaimedAccount` into a
:class:`~.models.PollRecord`, which :mod:`.store` writes. The rules:

- the stored session is opened and ``provider.poll(session, subaccount)`` is called;
- on ``SessionExpired`` (or no session) the poller logs in again *silently* when the login
  scheme allows it and credentials are stored: once, under a lock shared by every account of
  the same login (a sibling that just logged in hands over its fresh session). A
  :class:`~aggregator.core.flows.Challenge` means only a person can log in: ``needs_login``;
- a refused login (wrong password, locked account) is remembered for the whole login: no
  account of it tries again until the user links it anew (real operators lock accounts after
  a few wrong passwords);
- every request runs inside the operator's :class:`~.breaker.OperatorGate` (a concurrency
  limit and a circuit breaker) and under an overall time limit;
- any exception is classified (:mod:`.status`); none escapes, the worker never crashes.
"""

from __future__ import annotations

import asyncio
import datetime as dt
import logging
import random
import time
from collections.abc import Awaitable, Callable
from dataclasses import dataclass, field

from ..accounts import open_credentials, open_session
from ..core.errors import AccountLocked, InvalidCredentials, SessionExpired
from ..core.flows import Challenge, Session
from ..core.models import PollResult
from ..core.provider import Provider
from ..runtime import Runtime
from ..settings import Settings
from ..storage.models import AccountStatus, LinkedAccount, utcnow
from ..vault import Vault, VaultError
from .backoff import effective_interval, next_after_failure, next_after_success
from .breaker import OperatorGates
from .models import ClaimedAccount, PollRecord
from .options import PollingOptions
from .status import (
    MISSING_PLUGIN_KEY,
    NO_CREDENTIALS_KEY,
    UNREADABLE_SECRET_KEY,
    Failure,
    challenge_failure,
    classify,
)

__all__ = ["LoginGuard", "Poller"]

log = logging.getLogger(__name__)

LoginKey = tuple[str, int, str]  # provider id, household id, login key
REFUSED_KEYS = (InvalidCredentials.key, AccountLocked.key)


@dataclass
class _LoginMemory:
    session: Session | None = None
    at: float = 0.0
    refused: Failure | None = None


@dataclass
class LoginGuard:
    """Per login (all accounts sharing it): one silent login at a time, and its outcome.

    ``refused_in_db`` asks the database whether another process already saw this login
    refused (set by :class:`~.store.ResultStore`).
    """

    share_for_s: float = 60.0
    refused_in_db: Callable[[ClaimedAccount], Awaitable[Failure | None]] | None = None
    _locks: dict[LoginKey, asyncio.Lock] = field(default_factory=dict)
    _memory: dict[LoginKey, _LoginMemory] = field(default_factory=dict)

    @staticmethod
    def key(account: ClaimedAccount) -> LoginKey:
        return (account.provider_id, account.household_id, account.login_key)

    def lock(self, account: ClaimedAccount) -> asyncio.Lock:
        return self._locks.setdefault(self.key(account), asyncio.Lock())

    def memory(self, account: ClaimedAccount) -> _LoginMemory:
        return self._memory.setdefault(self.key(account), _LoginMemory())

    def forget(self, account: ClaimedAccount) -> None:
        """The user linked this login again: a refusal no longer holds."""
        self._memory.pop(self.key(account), None)


class _Unreadable(Exception):
    pass


class _NoCredentials(Exception):
    pass


class _ChallengeMet(Exception):
    def __init__(self, challenge: Challenge) -> None:
        super().__init__(challenge.kind.value)
        self.challenge = challenge


class _RefusedBefore(Exception):
    def __init__(self, failure: Failure) -> None:
        super().__init__(failure.key)
        self.failure = failure


class _LoginFailed(Exception):
    def __init__(self, cause: BaseException) -> None:
        super().__init__(type(cause).__name__)
        self.cause = cause


@dataclass
class _PollState:
    started: float
    secrets: list[str] = field(default_factory=list)
    login_attempted: bool = False
    new_session: Session | None = None


class Poller:
    """Polls accounts with the providers of a :class:`~aggregator.runtime.Runtime`."""

    def __init__(
        self,
        runtime: Runtime,
        vault: Vault,
        settings: Settings,
        options: PollingOptions,
        gates: OperatorGates | None = None,
        guard: LoginGuard | None = None,
        uniform: Callable[[float, float], float] = random.uniform,
    ) -> None:
        self.runtime = runtime
        self.vault = vault
        self.settings = settings
        self.options = options
        self.gates = gates or OperatorGates(
            settings.per_operator_concurrency,
            threshold=options.breaker_threshold,
            cooldown_s=options.breaker_cooldown_s,
            max_cooldown_s=options.breaker_max_cooldown_s,
        )
        self.guard = guard or LoginGuard()
        self.uniform = uniform
        # How many logins each account attempted in this process (tests and metrics).
        self.login_attempts: dict[int, int] = {}

    # -- intervals -----------------------------------------------------------------------
    def minimum_interval(self, provider: type[Provider] | None) -> float:
        if self.options.min_interval_s is not None:
            return self.options.min_interval_s
        operator_min = provider.min_poll_interval.total_seconds() if provider else 0.0
        return max(float(self.settings.min_poll_interval_s), operator_min)

    def interval(self, account: ClaimedAccount, provider: type[Provider] | None) -> float:
        return effective_interval(
            account.poll_interval_s,
            account.household_interval_s,
            self.settings.poll_interval_s,
            self.minimum_interval(provider),
        )

    # -- the poll ------------------------------------------------------------------------
    async def poll(self, account: ClaimedAccount) -> PollRecord:
        """Poll one account; never raises (except cancellation)."""
        try:
            return await self._poll(account)
        except asyncio.CancelledError:
            raise
        except Exception as exc:  # a bug in this module: still a record, never a crash
            log.exception("poll of account %s failed unexpectedly", account.id)
            failure = classify(exc)
            return self._failed(account, None, failure)

    async def _poll(self, account: ClaimedAccount) -> PollRecord:
        try:
            cls = self.runtime.registry.provider(account.provider_id)
        except KeyError:
            missing = Failure(
                AccountStatus.PLUGIN_ERROR, MISSING_PLUGIN_KEY, {"provider": account.provider_id}
            )
            return self._failed(account, None, missing)
        gate = self.gates[account.provider_id]
        if not gate.breaker.allow():
            now = utcnow()
            wait = gate.breaker.retry_in() + self.uniform(0.0, max(1.0, gate.breaker.retry_in()))
            return PollRecord(
                account=account,
                at=now,
                next_due_at=now + dt.timedelta(seconds=wait),
                failure=Failure(
                    AccountStatus.STALE,
                    "temporary.unavailable",
                    {"circuit": "open"},
                    temporary=True,
                ),
                skipped=True,
            )
        provider = self.runtime.provider(account.provider_id)
        state = _PollState(started=time.monotonic())
        result: PollResult | None = None
        failure: Failure | None = None
        async with gate.semaphore:
            gate.in_flight += 1
            try:
                async with asyncio.timeout(self.options.poll_timeout_s):
                    result = await self._fetch(provider, cls, account, state)
            except _ChallengeMet as met:
                failure = challenge_failure(met.challenge)
            except _RefusedBefore as refused:
                failure = refused.failure
            except _Unreadable:
                failure = Failure(AccountStatus.SECRET_UNREADABLE, UNREADABLE_SECRET_KEY)
            except _NoCredentials:
                failure = Failure(AccountStatus.NEEDS_LOGIN, NO_CREDENTIALS_KEY)
            except _LoginFailed as failed:
                failure = classify(failed.cause, state.secrets, during_login=True)
                if not failure.temporary:
                    # Refused, or an answer we could not read (did the operator count a failed
                    # attempt?): no more silent logins for this login until it is linked again.
                    self.guard.memory(account).refused = failure
            except asyncio.CancelledError:
                raise
            except Exception as exc:
                failure = classify(exc, state.secrets)
                if isinstance(exc, InvalidCredentials | AccountLocked):
                    failure = Failure(
                        failure.status, failure.key, failure.details, login_refused=True
                    )
                    self.guard.memory(account).refused = failure
            finally:
                gate.in_flight -= 1
        if failure is None:
            gate.breaker.record_success()
        elif failure.temporary:
            if gate.breaker.record_failure():
                log.warning(
                    "operator %s: %d temporary failures in a row, pausing its polls for %.0f s",
                    account.provider_id,
                    gate.breaker.failures,
                    gate.breaker.retry_in(),
                )
        else:
            gate.breaker.record_neutral()
        if failure is not None:
            record = self._failed(account, cls, failure)
        else:
            assert result is not None
            now = utcnow()
            record = PollRecord(
                account=account,
                at=now,
                next_due_at=next_after_success(
                    now,
                    self.interval(account, cls),
                    self.settings.poll_jitter,
                    self.minimum_interval(cls),
                    self.uniform,
                ),
                result=result,
            )
        record.new_session = state.new_session if record.failure is None else None
        record.login_attempted = state.login_attempted
        return record

    def _failed(
        self, account: ClaimedAccount, cls: type[Provider] | None, failure: Failure
    ) -> PollRecord:
        now = utcnow()
        if failure.status is AccountStatus.NEEDS_LOGIN:
            next_due: dt.datetime | None = None  # paused until the user links again
        elif failure.temporary or failure.status is AccountStatus.SECRET_UNREADABLE:
            next_due = next_after_failure(
                now,
                account.consecutive_failures + 1,
                self.minimum_interval(cls),
                failure.retry_after,
                uniform=self.uniform,
            )
        else:
            next_due = next_after_success(
                now,
                self.interval(account, cls),
                self.settings.poll_jitter,
                self.minimum_interval(cls),
                self.uniform,
            )
        return PollRecord(account=account, at=now, next_due_at=next_due, failure=failure)

    async def _fetch(
        self,
        provider: Provider,
        cls: type[Provider],
        account: ClaimedAccount,
        state: _PollState,
    ) -> PollResult:
        row = LinkedAccount(
            id=account.id,
            session_sealed=account.session_sealed,
            credentials_sealed=account.credentials_sealed,
        )
        try:
            session = open_session(self.vault, row)
        except VaultError:
            raise _Unreadable from None
        if session is not None:
            state.secrets.extend(session.secrets())
            try:
                result = await provider.poll(session, account.subaccount_id)
            except SessionExpired:
                session = None
            else:
                refreshed = provider.refreshed_session(session)
                if refreshed is not None:
                    state.new_session = refreshed
                return result
        session = await self._relogin(provider, cls, account, row, state)
        state.new_session = session
        state.secrets.extend(session.secrets())
        result = await provider.poll(session, account.subaccount_id)
        refreshed = provider.refreshed_session(session)
        if refreshed is not None:
            state.new_session = refreshed
        return result

    async def _relogin(
        self,
        provider: Provider,
        cls: type[Provider],
        account: ClaimedAccount,
        row: LinkedAccount,
        state: _PollState,
    ) -> Session:
        try:
            scheme = cls.scheme(account.login_scheme)
        except ValueError:
            scheme = None
        if scheme is not None and not scheme.silent_relogin:
            raise _RefusedBefore(
                Failure(AccountStatus.NEEDS_LOGIN, SessionExpired.key, {"silent_relogin": False})
            )
        memory = self.guard.memory(account)
        async with self.guard.lock(account):
            if memory.refused is not None:
                raise _RefusedBefore(memory.refused)
            if (
                memory.session is not None
                and memory.at >= state.started - 1.0
                and time.monotonic() - memory.at <= self.guard.share_for_s
            ):
                return memory.session
            if self.guard.refused_in_db is not None:
                refused = await self.guard.refused_in_db(account)
                if refused is not None:
                    memory.refused = refused
                    raise _RefusedBefore(refused)
            try:
                credentials = open_credentials(self.vault, row)
            except LookupError:
                raise _NoCredentials from None
            except VaultError:
                raise _Unreadable from None
            state.secrets.extend(credentials.secrets())
            state.login_attempted = True
            self.login_attempts[account.id] = self.login_attempts.get(account.id, 0) + 1
            log.info("account %s: session expired, logging in again", account.id)
            try:
                answer = await provider.start_login(credentials)
            except asyncio.CancelledError:
                raise
            except Exception as exc:
                raise _LoginFailed(exc) from None
            if isinstance(answer, Challenge):
                raise _ChallengeMet(answer)
            memory.session = answer
            memory.at = time.monotonic()
            return answer
