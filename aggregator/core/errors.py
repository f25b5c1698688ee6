"""The one error tree of the aggregator. Every provider raises only these.

Sorted by what the caller should do::

    AggregatorError                 base; ``key`` is a stable message key the UI translates
    ├── AuthError                   ask a person to log in again; never retry by itself
    │   ├── InvalidCredentials      "auth.invalid_credentials": wrong login or password
    │   ├── SessionExpired          "auth.session_expired": the stored session is gone;
    │   │                           a silent re-login with stored credentials may fix it
    │   ├── AccountLocked           "auth.account_locked": too many failures at the operator
    │   ├── CodeRejected            "auth.code_rejected": a one-time code was wrong, expired or
    │   │                           used up; ``reason`` is the operator's words; ask again
    │   └── FlowExpired             "auth.flow_expired": the login or confirmation step timed out
    ├── TemporaryError              keep the last value, retry later with backoff
    │   ├── Unavailable             "temporary.unavailable": 5xx, connection refused or reset
    │   ├── Timeout                 "temporary.timeout": the operator did not answer in time
    │   └── RateLimited             "temporary.rate_limited": 429; honour ``retry_after``
    ├── OperationRejected           "operation.rejected": the operator said no; show ``reason``
    │   └── RecipientGone           "notify.recipient_gone": a notifier's recipient is gone for
    │                               good (bot blocked, chat deleted): disable it, do not retry
    ├── ParseError                  "parse": the operator changed its site or API; a plugin bug.
    │                               ``payload`` is redacted and cut short
    └── NotSupported                "not_supported": the provider lacks this capability

Messages never contain secrets: passwords, codes, tokens and cookies stay out of ``args``,
``str()`` and ``repr()`` (see :func:`redact`). Transport errors (httpx, Playwright) are mapped
onto this tree in one place, :mod:`aggregator.transport`.
"""

from __future__ import annotations

import json
import re
from collections.abc import Iterable, Mapping
from typing import Any, ClassVar

from .secret import scrub

__all__ = [
    "AccountLocked",
    "AggregatorError",
    "AuthError",
    "CodeRejected",
    "FlowExpired",
    "InvalidCredentials",
    "NotSupported",
    "OperationRejected",
    "ParseError",
    "RateLimited",
    "RecipientGone",
    "SessionExpired",
    "TemporaryError",
    "Timeout",
    "Unavailable",
    "redact",
]


class AggregatorError(Exception):
    """Base of every error a provider raises. ``key`` is stable; ``message`` is for logs."""

    key: ClassVar[str] = "error"

    def __init__(self, message: str = "", **details: Any) -> None:
        self.message = message or self.key
        self.details = details
        super().__init__(self.message)

    def __repr__(self) -> str:
        return f"{type(self).__name__}({self.message!r})"

    def to_dict(self) -> dict[str, Any]:
        """A JSON-safe description for storage and the API (no secrets by construction)."""
        return {"key": self.key, "message": self.message, **self.details}


class AuthError(AggregatorError):
    """A person must log in again. Never retried automatically (accounts get locked)."""

    key = "auth"


class InvalidCredentials(AuthError):
    """The operator refused the login or password."""

    key = "auth.invalid_credentials"


class SessionExpired(AuthError):
    """The stored operator session is no longer valid; a silent re-login may fix it."""

    key = "auth.session_expired"


class AccountLocked(AuthError):
    """The operator locked the account after repeated failures."""

    key = "auth.account_locked"


class CodeRejected(AuthError):
    """The operator did not accept a one-time code: wrong, expired or tried too often.

    The login or confirmation is still open: the person may type the code again or ask for a
    new one (``expired`` says the old one cannot work any more). ``reason`` is the operator's own
    words, shown as they are.
    """

    key = "auth.code_rejected"

    def __init__(self, reason: str = "", *, expired: bool = False) -> None:
        super().__init__(reason or "code rejected", reason=reason, expired=expired)
        self.reason = reason
        self.expired = expired


class FlowExpired(AuthError):
    """A login or confirmation step was answered too late (or its state is gone)."""

    key = "auth.flow_expired"


class TemporaryError(AggregatorError):
    """The operator is unreachable or overloaded: keep the last reading and retry later."""

    key = "temporary"


class Unavailable(TemporaryError):
    """5xx, connection refused or reset."""

    key = "temporary.unavailable"


class Timeout(TemporaryError):
    """The operator did not answer in time."""

    key = "temporary.timeout"


class RateLimited(TemporaryError):
    """The operator asked to slow down (429). ``retry_after`` is in seconds when known."""

    key = "temporary.rate_limited"

    def __init__(self, message: str = "", retry_after: float | None = None) -> None:
        super().__init__(message, retry_after=retry_after)
        self.retry_after = retry_after


class OperationRejected(AggregatorError):
    """The operator refused an operation; ``reason`` is the operator's own words."""

    key = "operation.rejected"

    def __init__(self, reason: str = "", code: str | None = None) -> None:
        super().__init__(reason or "rejected", reason=reason, code=code)
        self.reason = reason
        self.code = code


class RecipientGone(OperationRejected):
    """A notifier's recipient is gone for good (the bot was blocked, the chat deleted).

    The outbox disables that recipient (the household sees ``reason`` on the dashboard) and
    sends it nothing more until it is linked again.
    """

    key = "notify.recipient_gone"

    def __init__(self, address: str, reason: str = "") -> None:
        super().__init__(reason or "the recipient is gone")
        self.address = address


class ParseError(AggregatorError):
    """The operator's answer did not have the expected shape: the plugin needs fixing.

    ``payload`` holds the offending answer, redacted by :func:`redact` and cut short.
    """

    key = "parse"

    def __init__(self, message: str, payload: Any = None, secrets: Iterable[str] = ()) -> None:
        redacted = redact(payload, secrets) if payload is not None else None
        super().__init__(message, payload=redacted)
        self.payload = redacted


class NotSupported(AggregatorError):
    """The provider does not have this capability."""

    key = "not_supported"


_SENSITIVE_KEY = re.compile(
    r"pass|secret|token|cookie|session|auth|code|otp|captcha|card|cvv|csrf|sid", re.I
)
_DIGITS = re.compile(r"\d{7,}")
_MAX_PAYLOAD = 2000


def _redact_obj(value: Any) -> Any:
    if isinstance(value, Mapping):
        return {
            str(k): ("***" if _SENSITIVE_KEY.search(str(k)) else _redact_obj(v))
            for k, v in value.items()
        }
    if isinstance(value, list | tuple):
        return [_redact_obj(v) for v in value]
    if isinstance(value, str):
        return _DIGITS.sub(lambda m: m.group(0)[:2] + "*" * (len(m.group(0)) - 2), value)
    return value


_WORDS = _SENSITIVE_KEY.pattern
_JSONISH_PAIR = re.compile(rf'("[^"]*(?:{_WORDS})[^"]*"\s*:\s*)("[^"]*"?|[^,}}\s]+)', re.I)
_KEY_VALUE = re.compile(rf"(\b[\w-]*(?:{_WORDS})[\w-]*\s*[=:]\s*)[^\s&;,\"'<>]+", re.I)
_HTML_VALUE = re.compile(r'(value\s*=\s*")[^"]*(")', re.I)


def _redact_text(text: str) -> str:
    """Redact text that is not valid JSON: truncated JSON, HTML, query strings."""
    text = _JSONISH_PAIR.sub(r'\1"***"', text)
    text = _KEY_VALUE.sub(r"\1***", text)
    text = _HTML_VALUE.sub(r"\1***\2", text)
    return str(_redact_obj(text))


def redact(payload: Any, secrets: Iterable[str] = ()) -> str:
    """Make a payload safe to store in an error report.

    Values under sensitive keys (password, token, cookie, code, ...) become ``***``; long digit
    runs (phone and account numbers) are masked; every known secret value is removed; HTML
    input values are blanked; the result is cut to 2000 characters.
    """
    if isinstance(payload, bytes):
        payload = payload.decode("utf-8", errors="replace")
    if isinstance(payload, str):
        try:
            parsed = json.loads(payload)
        except ValueError:
            text = _redact_text(payload)
        else:
            text = json.dumps(_redact_obj(parsed), ensure_ascii=False)
    else:
        try:
            text = json.dumps(_redact_obj(payload), ensure_ascii=False, default=str)
        except (TypeError, ValueError):
            text = _redact_obj(repr(payload))
    for secret in secrets:
        if secret:
            text = text.replace(secret, "***")
    text = scrub(text)  # and every secret value this process holds
    if len(text) > _MAX_PAYLOAD:
        text = text[:_MAX_PAYLOAD] + "…"
    return text
