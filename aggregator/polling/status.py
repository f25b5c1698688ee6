"""What a failed poll means for the account: its status, error key and stored details.

The contract's error tree is sorted by what the caller should do; this module is the one
place that turns it into an :class:`~aggregator.storage.models.AccountStatus`:

=====================================  ==============  =========================================
raised by the provider                 status          what happens next
=====================================  ==============  =========================================
TemporaryError (Unavailable, Timeout)  stale           last reading kept; capped backoff
RateLimited                            stale           backoff, never before ``retry_after``
AuthError, or a login Challenge        needs_login     polling paused, no login until re-linked
OperationRejected                      operator_error  polled again at the normal interval
a sealed secret does not open (no key)  secret_unreadable  tried again with backoff; no e-mail
ParseError, NotSupported               plugin_error    the redacted payload kept in last_error
anything else (a plugin bug)           plugin_error    ``plugin.crash`` with the exception type
=====================================  ==============  =========================================

Nothing here keeps a secret: details come from ``to_dict()`` of the contract errors (their
payloads are redacted) and every string is passed through :func:`~aggregator.core.errors.redact`
with the session and credential values of the poll as known secrets.
"""

from __future__ import annotations

import asyncio
from collections.abc import Iterable
from dataclasses import dataclass, field
from typing import Any

from ..core.errors import (
    AggregatorError,
    AuthError,
    NotSupported,
    OperationRejected,
    ParseError,
    RateLimited,
    TemporaryError,
    redact,
)
from ..core.flows import Challenge
from ..storage.models import AccountStatus
from ..transport import map_exception

__all__ = [
    "CHALLENGE_KEY",
    "CRASH_KEY",
    "MISSING_PLUGIN_KEY",
    "PAUSED_STATUSES",
    "POLLABLE_STATUSES",
    "UNREADABLE_SECRET_KEY",
    "Failure",
    "challenge_failure",
    "classify",
]

CHALLENGE_KEY = "auth.challenge_required"
"""A silent re-login met a captcha, a code or an SSO step: only a person can answer."""
CRASH_KEY = "plugin.crash"
"""The plugin raised something outside the error tree: a bug in the plugin."""
MISSING_PLUGIN_KEY = "plugin.missing"
"""No installed plugin provides the account's operator."""
UNREADABLE_SECRET_KEY = "auth.secret_unreadable"
"""The sealed credentials or session cannot be opened (a missing key): status
``secret_unreadable``, polled again with backoff until the key returns."""
NO_CREDENTIALS_KEY = "auth.no_credentials"
"""The session expired and no credentials are stored to log in again silently."""

POLLABLE_STATUSES: tuple[str, ...] = (
    AccountStatus.NEW.value,
    AccountStatus.OK.value,
    AccountStatus.STALE.value,
    AccountStatus.OPERATOR_ERROR.value,
    AccountStatus.PLUGIN_ERROR.value,
    AccountStatus.SECRET_UNREADABLE.value,
)
"""Statuses the scheduler polls; ``needs_login`` waits for a person."""
PAUSED_STATUSES: tuple[str, ...] = (AccountStatus.NEEDS_LOGIN.value,)


@dataclass(frozen=True)
class Failure:
    """A failed poll, classified."""

    status: AccountStatus
    key: str
    details: dict[str, Any] = field(default_factory=dict)
    retry_after: float | None = None
    # A temporary failure: backoff, and it counts against the operator's circuit breaker.
    temporary: bool = False
    # The login itself was refused: every account sharing this login pauses too.
    login_refused: bool = False

    def last_error(self) -> dict[str, Any]:
        return {"key": self.key, **self.details}


def _clean(value: Any, secrets: Iterable[str]) -> Any:
    if isinstance(value, str):
        return redact(value, secrets)
    if isinstance(value, dict):
        return {str(k): _clean(v, secrets) for k, v in value.items()}
    if isinstance(value, list | tuple):
        return [_clean(v, secrets) for v in value]
    return value


def challenge_failure(challenge: Challenge) -> Failure:
    return Failure(
        AccountStatus.NEEDS_LOGIN,
        CHALLENGE_KEY,
        {"challenge": challenge.kind.value, "step": challenge.step},
    )


def classify(
    exc: BaseException, secrets: Iterable[str] = (), *, during_login: bool = False
) -> Failure:
    """The :class:`Failure` for an exception raised while polling (never raises itself)."""
    secrets = [s for s in secrets if s]
    if isinstance(exc, asyncio.TimeoutError | TimeoutError):
        return Failure(AccountStatus.STALE, "temporary.timeout", temporary=True)
    mapped = exc if isinstance(exc, AggregatorError) else map_exception(exc)
    if mapped is None:
        return Failure(
            AccountStatus.PLUGIN_ERROR,
            CRASH_KEY,
            {"type": type(exc).__name__, "message": redact(str(exc), secrets)[:500]},
        )
    details: dict[str, Any] = _clean(
        {k: v for k, v in mapped.to_dict().items() if k != "key"}, secrets
    )
    if isinstance(mapped, AuthError):
        return Failure(AccountStatus.NEEDS_LOGIN, mapped.key, details, login_refused=during_login)
    if isinstance(mapped, RateLimited):
        return Failure(
            AccountStatus.STALE,
            mapped.key,
            details,
            retry_after=mapped.retry_after,
            temporary=True,
        )
    if isinstance(mapped, TemporaryError):
        return Failure(AccountStatus.STALE, mapped.key, details, temporary=True)
    if isinstance(mapped, OperationRejected):
        return Failure(AccountStatus.OPERATOR_ERROR, mapped.key, details)
    if isinstance(mapped, ParseError | NotSupported):
        return Failure(AccountStatus.PLUGIN_ERROR, mapped.key, details)
    return Failure(AccountStatus.PLUGIN_ERROR, mapped.key or CRASH_KEY, details)
