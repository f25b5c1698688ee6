"""One poll of one account: open the sealed session, ask the provider, classify the answer.

No database here: :class:`Poller` turns a :class:`~.models.ClaimedAccount` into a
:class:`~.models.PollRecord`, which :mod:`.store` writes. The rules:

- the stored session is opened and ``provider.poll(session, subaccount)`` is called;
- on ``SessionExpired`` (or no session) the poller logs in again *silently* through the one
  re-login path of :mod:`aggregator.services.sessions` (shared with the dashboard): once,
  under a lock shared by every account of the same login (a sibling that just logged in
  hands over its fresh session). A :class:`~aggregator.core.flows.Challenge` means only a
  person can log in: ``needs_login``;
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
from collections.abc import Callable
from dataclasses import dataclass, field

from ..core.errors import AccountLocked, InvalidCredentials, SessionExpired
from ..core.flows import Session
from ..core.models import PollResult
from ..core.provider import Provider
from ..runtime import Runtime
from ..services.sessions import (
    ChallengeMet,
    LoginFailed,
    LoginGuard,
    NoCredentials,
    RefusedBefore,
    SessionKeeper,
    Unreadable,
    register_keeper,
)
from ..settings import Settings
from ..storage.models import AccountStatus, LinkedAccount, utcnow
from ..vault import Vault
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

REFUSED_KEYS = (InvalidCredentials.key, AccountLocked.key)


@dataclass
class _PollState:
    started: float
    secrets: list[str] = field(default_factory=list)
    login_attempted: bool = False
    new_session: Session | None = None
    session_stored: bool = False  # stored for the login already, under its cluster lease


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
            lambda operator: runtime.politeness.limits(operator).concurrency,
            threshold=options.breaker_threshold,
            cooldown_s=options.breaker_cooldown_s,
            max_cooldown_s=options.breaker_max_cooldown_s,
        )
        self.guard = guard or LoginGuard()
        self.uniform = uniform
        # The one silent re-login path, shared with the dashboard of this process.
        self.sessions = SessionKeeper(
            vault, self.gates, self.guard, timeout_s=options.poll_timeout_s
        )
        register_keeper(runtime, self.sessions)

    @property
    def login_attempts(self) -> dict[int, int]:
        """How many logins each account attempted in this process (tests and metrics)."""
        return self.sessions.login_attempts

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
            except ChallengeMet as met:
                failure = challenge_failure(met.challenge)
            except RefusedBefore as refused:
                failure = refused.failure
            except Unreadable:
                failure = Failure(AccountStatus.SECRET_UNREADABLE, UNREADABLE_SECRET_KEY)
            except NoCredentials:
                failure = Failure(AccountStatus.NEEDS_LOGIN, NO_CREDENTIALS_KEY)
            except LoginFailed as failed:
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
        stored = state.session_stored or record.failure is not None
        record.new_session = None if stored else state.new_session
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
        # The session belongs to the login: its accounts take turns with the newest one, in
        # this process (use_lock) and, when the login has siblings, across the cluster.
        async with self.sessions.guard.use_lock(account):
            cluster = self.sessions.guard.cluster
            if cluster is None or not await cluster.shared(account):
                return await self._poll_with(provider, cls, account, row, state)
            async with cluster.hold(account):
                # Under the lease the database holds the login's newest session (a sibling in
                # another process may have renewed it since this account was claimed).
                row.session_sealed = await cluster.stored_session(account.id)
                self.sessions.guard.memory(account).session = None
                try:
                    return await self._poll_with(provider, cls, account, row, state)
                finally:
                    # Stored before the lease is given back (a poll that failed after a fresh
                    # login keeps that session too): the next holder reads the newest one.
                    if state.new_session is not None:
                        await cluster.store(account, state.new_session)
                        state.session_stored = True

    async def _poll_with(
        self,
        provider: Provider,
        cls: type[Provider],
        account: ClaimedAccount,
        row: LinkedAccount,
        state: _PollState,
    ) -> PollResult:
        """One poll with the login's newest session; a silent re-login when it is gone."""
        session = self.sessions.current_session(account, row)
        if session is not None:
            state.secrets.extend(session.secrets())
            try:
                result = await provider.poll(session, account.subaccount_id)
            except SessionExpired:
                self.sessions.forget_session(account, session)
            else:
                self._refreshed(provider, account, session, state)
                return result
        session = await self._relogin(provider, cls, account, row, state)
        state.new_session = session
        state.secrets.extend(session.secrets())
        result = await provider.poll(session, account.subaccount_id)
        self._refreshed(provider, account, session, state)
        return result

    def _refreshed(
        self, provider: Provider, account: ClaimedAccount, session: Session, state: _PollState
    ) -> None:
        refreshed = provider.refreshed_session(session)
        if refreshed is not None:
            state.new_session = refreshed
            self.sessions.remember_session(account, refreshed)

    async def _relogin(
        self,
        provider: Provider,
        cls: type[Provider],
        account: ClaimedAccount,
        row: LinkedAccount,
        state: _PollState,
    ) -> Session:
        state.login_attempted = True
        return await self.sessions.relogin(
            provider, cls, account, row, started=state.started, secrets=state.secrets
        )
