"""Intervals with jitter, capped backoff, the circuit breaker and the status of each error."""

from __future__ import annotations

import datetime as dt

import httpx
import pytest

from aggregator import (
    AccountLocked,
    Challenge,
    ChallengeKind,
    InvalidCredentials,
    OperationRejected,
    ParseError,
    RateLimited,
    SessionExpired,
    Timeout,
    Unavailable,
)
from aggregator.polling.backoff import (
    BACKOFF_CAP_S,
    backoff_delay,
    effective_interval,
    next_after_success,
)
from aggregator.polling.breaker import BreakerState, CircuitBreaker
from aggregator.polling.status import CRASH_KEY, challenge_failure, classify
from aggregator.storage.models import AccountStatus

NOW = dt.datetime(2024, 5, 1, tzinfo=dt.UTC)


def low(a: float, b: float) -> float:
    return a


def high(a: float, b: float) -> float:
    return b


def test_interval_prefers_account_then_household_and_respects_the_minimum() -> None:
    assert effective_interval(600, 3600, 7200, 300) == 600
    assert effective_interval(None, 3600, 7200, 300) == 3600
    assert effective_interval(None, None, 7200, 300) == 7200
    assert effective_interval(60, 3600, 7200, 300) == 300  # never below the minimum


def test_success_interval_has_jitter_within_bounds() -> None:
    assert next_after_success(NOW, 3600, 0.1, 300, low) == NOW + dt.timedelta(seconds=3240)
    assert next_after_success(NOW, 3600, 0.1, 300, high) == NOW + dt.timedelta(seconds=3960)
    assert next_after_success(NOW, 300, 0.5, 300, low) == NOW + dt.timedelta(seconds=300)


def test_backoff_doubles_is_capped_and_jittered() -> None:
    delays = [backoff_delay(n, 300, uniform=high) for n in range(1, 12)]
    assert delays[:4] == [300, 600, 1200, 2400]
    assert max(delays) == BACKOFF_CAP_S
    assert backoff_delay(3, 300, uniform=low) == 600  # equal jitter: half to all
    assert backoff_delay(1, 300, retry_after_s=900, uniform=high) == 900  # Retry-After wins
    assert backoff_delay(5, 300, retry_after_s=10, uniform=high) == 4800


def test_breaker_opens_half_opens_and_closes() -> None:
    now = [0.0]
    breaker = CircuitBreaker(threshold=3, cooldown_s=10, max_cooldown_s=40, clock=lambda: now[0])
    assert breaker.allow()
    assert not breaker.record_failure() and not breaker.record_failure()
    assert breaker.record_failure()
    assert breaker.state is BreakerState.OPEN and not breaker.allow()
    now[0] = 10.0
    assert breaker.state is BreakerState.HALF_OPEN
    assert breaker.allow() and not breaker.allow()  # exactly one probe
    assert breaker.record_failure()  # the probe failed: open for longer
    now[0] = 25.0
    assert not breaker.allow()
    now[0] = 30.0
    assert breaker.allow()
    breaker.record_success()
    assert breaker.state is BreakerState.CLOSED and breaker.allow()


def test_neutral_answer_closes_a_half_open_breaker() -> None:
    now = [0.0]
    breaker = CircuitBreaker(threshold=1, cooldown_s=5, clock=lambda: now[0])
    breaker.record_failure()
    now[0] = 6.0
    assert breaker.allow()
    breaker.record_neutral()
    assert breaker.state is BreakerState.CLOSED


@pytest.mark.parametrize(
    ("exc", "status", "key"),
    [
        (Unavailable("x"), AccountStatus.STALE, "temporary.unavailable"),
        (Timeout("x"), AccountStatus.STALE, "temporary.timeout"),
        (TimeoutError(), AccountStatus.STALE, "temporary.timeout"),
        (httpx.ConnectError("refused"), AccountStatus.STALE, "temporary.unavailable"),
        (httpx.ReadTimeout("slow"), AccountStatus.STALE, "temporary.timeout"),
        (InvalidCredentials("x"), AccountStatus.NEEDS_LOGIN, "auth.invalid_credentials"),
        (AccountLocked("x"), AccountStatus.NEEDS_LOGIN, "auth.account_locked"),
        (SessionExpired("x"), AccountStatus.NEEDS_LOGIN, "auth.session_expired"),
        (OperationRejected("no"), AccountStatus.OPERATOR_ERROR, "operation.rejected"),
        (ParseError("bad", payload="{}"), AccountStatus.PLUGIN_ERROR, "parse"),
        (KeyError("balance"), AccountStatus.PLUGIN_ERROR, CRASH_KEY),
    ],
)
def test_each_error_gets_its_status(exc: BaseException, status: AccountStatus, key: str) -> None:
    failure = classify(exc)
    assert failure.status is status
    assert failure.key == key


def test_rate_limit_keeps_retry_after() -> None:
    failure = classify(RateLimited("slow down", retry_after=42))
    assert failure.retry_after == 42 and failure.temporary


def test_details_never_keep_a_secret() -> None:
    secret = "hunter2-Secret"
    failure = classify(ParseError("bad", payload={"password": secret, "note": secret}), [secret])
    assert secret not in str(failure.last_error())
    crash = classify(ValueError(f"token {secret} broke"), [secret])
    assert secret not in str(crash.last_error())
    assert crash.last_error()["type"] == "ValueError"


def test_login_refusal_is_marked() -> None:
    assert classify(InvalidCredentials("x"), during_login=True).login_refused
    assert not classify(Unavailable("x"), during_login=True).login_refused


def test_challenge_means_needs_login() -> None:
    challenge = Challenge(kind=ChallengeKind.CAPTCHA, provider="x", step="captcha")
    failure = challenge_failure(challenge)
    assert failure.status is AccountStatus.NEEDS_LOGIN
    assert failure.details["challenge"] == "captcha"
