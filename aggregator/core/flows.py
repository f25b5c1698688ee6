"""Login and confirmation flows: a step returns a result or a :class:`Challenge`.

``start_login(scheme, credentials) -> Session | Challenge`` and
``continue_login(challenge, answer) -> Session | Challenge``. Operations the operator protects
with a one-time code (tariff change, payment, a paid service) return a ``Challenge`` the same
way and are finished by ``confirm(session, challenge, answer)``.

A challenge carries serialisable plugin state in ``state``. State that cannot be serialised
(a live browser page waiting for a captcha answer) stays in a :class:`FlowRegistry` under
``flow_id`` with a time limit; an answer that comes too late raises ``FlowExpired``.
"""

from __future__ import annotations

import asyncio
import contextlib
import datetime as dt
import secrets
import time
from collections.abc import Awaitable, Callable
from dataclasses import dataclass, field
from enum import StrEnum
from typing import Any

from pydantic import ConfigDict, Field

from .errors import FlowExpired
from .login import PasswordPolicy, SsoProvider
from .models import Model
from .secret import Secret

__all__ = [
    "Challenge",
    "ChallengeAnswer",
    "ChallengeKind",
    "FlowRegistry",
    "Session",
    "utcnow",
]


def utcnow() -> dt.datetime:
    return dt.datetime.now(dt.UTC)


class Session(Model):
    """An operator session after a successful login: tokens or cookies in ``data``.

    ``data`` is JSON-safe and is sealed before it is stored; it never shows in ``repr``.
    Providers may update it (fresh cookies) by returning a new session from
    :meth:`Provider.refreshed_session`; the poller re-seals it when it changed.
    """

    model_config = ConfigDict(frozen=False, extra="forbid")

    provider: str
    data: dict[str, Any] = Field(default_factory=dict, repr=False)
    created_at: dt.datetime = Field(default_factory=utcnow)
    expires_at: dt.datetime | None = None

    def secrets(self) -> list[str]:
        """Every string value in ``data``, for redaction."""
        out: list[str] = []

        def walk(value: Any) -> None:
            if isinstance(value, str) and len(value) >= 6:
                out.append(value)
            elif isinstance(value, dict):
                for v in value.values():
                    walk(v)
            elif isinstance(value, list):
                for v in value:
                    walk(v)

        walk(self.data)
        return out


class ChallengeKind(StrEnum):
    CAPTCHA = "captcha"  # type the characters of ``image``
    CODE = "code"  # a one-time code went to ``masked_destination`` by ``channel``
    SSO_REDIRECT = "sso_redirect"  # open ``url``; answer with the callback URL
    NEW_PASSWORD = "new_password"  # set a permanent password obeying ``password_policy``


class Challenge(Model):
    """A question only a person can answer, returned instead of a result."""

    model_config = ConfigDict(frozen=True, extra="forbid", arbitrary_types_allowed=True)

    kind: ChallengeKind
    provider: str
    step: str  # the plugin's own name for this step ("captcha", "sms_code", ...)
    flow_id: str = Field(default_factory=lambda: secrets.token_urlsafe(16))
    expires_at: dt.datetime = Field(default_factory=lambda: utcnow() + dt.timedelta(minutes=10))
    state: dict[str, Any] = Field(default_factory=dict, repr=False)
    operation: str | None = None  # for confirmations: "change_tariff", "top_up", ...
    image: bytes | None = Field(default=None, repr=False)  # captcha picture
    image_type: str = "image/png"
    channel: str | None = None  # "sms" or "email"
    masked_destination: str | None = None  # "+7 903 ***-**-67"
    code_length: int | None = None
    url: str | None = None  # SSO: where to send the user
    sso_provider: SsoProvider | None = None
    password_policy: PasswordPolicy | None = None
    message: str = ""  # the operator's own prompt, if any
    # CODE: when the code was sent, and after how many seconds the operator lets a person ask
    # for a new one (``Provider.resend_code``); None: the operator offers no resend.
    sent_at: dt.datetime = Field(default_factory=utcnow)
    resend_after_s: int | None = None

    @property
    def expired(self) -> bool:
        return utcnow() >= self.expires_at

    def resend_wait(self, now: dt.datetime | None = None) -> int | None:
        """Seconds until a new code may be asked for (0: now); None when there is no resend."""
        if self.resend_after_s is None:
            return None
        ready = self.sent_at + dt.timedelta(seconds=self.resend_after_s)
        return max(0, int(((ready - (now or utcnow())).total_seconds()) + 0.999))


class ChallengeAnswer(Model):
    """A person's answer: the captcha text or code, a new password, or the SSO callback URL."""

    model_config = ConfigDict(frozen=True, extra="forbid", arbitrary_types_allowed=True)

    text: Secret | None = None
    new_password: Secret | None = None
    callback_url: str | None = Field(default=None, repr=False)


@dataclass
class _Entry:
    value: Any
    deadline: float
    on_expire: Callable[[Any], Awaitable[None]] | None


@dataclass
class FlowRegistry:
    """Live state of unfinished flows (a browser page), each with a time limit.

    One per process; entries vanish on expiry, and ``on_expire`` releases what they hold.
    """

    default_ttl: float = 600.0
    _entries: dict[str, _Entry] = field(default_factory=dict)

    def put(
        self,
        flow_id: str,
        value: Any,
        ttl: float | None = None,
        on_expire: Callable[[Any], Awaitable[None]] | None = None,
    ) -> None:
        deadline = time.monotonic() + (ttl if ttl is not None else self.default_ttl)
        self._entries[flow_id] = _Entry(value, deadline, on_expire)

    async def take(self, flow_id: str) -> Any:
        """Remove and return the live state of ``flow_id``, or raise ``FlowExpired``."""
        await self.sweep()
        entry = self._entries.pop(flow_id, None)
        if entry is None:
            raise FlowExpired("this step is no longer open; start again")
        return entry.value

    def __contains__(self, flow_id: object) -> bool:
        entry = self._entries.get(str(flow_id))
        return entry is not None and entry.deadline > time.monotonic()

    def __len__(self) -> int:
        return len(self._entries)

    async def sweep(self) -> None:
        """Drop expired entries, releasing what they hold."""
        now = time.monotonic()
        for key in [k for k, e in self._entries.items() if e.deadline <= now]:
            await self._release(self._entries.pop(key))

    async def aclose(self) -> None:
        entries, self._entries = list(self._entries.values()), {}
        for entry in entries:
            await self._release(entry)

    @staticmethod
    async def _release(entry: _Entry) -> None:
        if entry.on_expire is not None:
            with contextlib.suppress(Exception):
                await asyncio.wait_for(entry.on_expire(entry.value), timeout=10)
