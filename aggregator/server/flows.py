"""Unfinished login and confirmation flows of the dashboard, kept server-side.

A :class:`~aggregator.core.flows.Challenge` (a captcha picture, a one-time code step, an SSO
redirect, a new-password step) and what it takes to continue it (the credentials typed so far,
the operation being confirmed) live in a per-process dict under a random *flow token*. The
token travels in the step's URL and is bound to the web session that started the flow; it is
useless from any other session, and it expires. Nothing of it goes into cookies or forms.
"""

from __future__ import annotations

import secrets
import time
from dataclasses import dataclass, field
from typing import Any, Literal

from ..core.flows import Challenge, Session
from ..core.login import Credentials
from ..core.models import Subaccount
from ..core.recovery import RecoveryRequest
from ..services.operations import OperationName

__all__ = ["FlowStore", "PendingFlow"]

Purpose = Literal["link", "relogin", "operation", "recover"]


@dataclass
class PendingFlow:
    token: str
    web_session: str  # the WebSession id that owns this flow
    household_id: int
    user_id: int
    purpose: Purpose
    provider_id: str
    scheme_id: str = ""
    challenge: Challenge | None = None
    credentials: Credentials | None = field(default=None, repr=False)
    label: str = ""
    values: dict[str, str] = field(default_factory=dict, repr=False)  # the login form as typed
    account_id: int | None = None  # relogin and operations
    operation: OperationName | None = None  # change_tariff, set_service, suspend, ...
    operation_args: dict[str, Any] = field(default_factory=dict)
    session: Session | None = field(default=None, repr=False)  # logged in, choosing subaccounts
    subaccounts: list[Subaccount] = field(default_factory=list)
    deadline: float = 0.0
    error_key: str | None = None  # the last step's error, shown on the next render
    error_text: str | None = None
    notice_key: str | None = None  # good news on the next render ("a new code was sent")
    # Password recovery ("recover"): what the first screen asked for (to start it again).
    recovery: RecoveryRequest | None = field(default=None, repr=False)

    @property
    def expired(self) -> bool:
        return time.monotonic() >= self.deadline


@dataclass
class FlowStore:
    ttl_s: float = 15 * 60
    max_per_session: int = 8
    _flows: dict[str, PendingFlow] = field(default_factory=dict)

    def start(
        self,
        *,
        web_session: str,
        household_id: int,
        user_id: int,
        purpose: Purpose,
        provider_id: str,
        **values: Any,
    ) -> PendingFlow:
        self.sweep()
        mine = [f for f in self._flows.values() if f.web_session == web_session]
        for old in sorted(mine, key=lambda f: f.deadline)[
            : max(0, len(mine) - self.max_per_session + 1)
        ]:
            self._flows.pop(old.token, None)
        flow = PendingFlow(
            token=secrets.token_urlsafe(24),
            web_session=web_session,
            household_id=household_id,
            user_id=user_id,
            purpose=purpose,
            provider_id=provider_id,
            deadline=time.monotonic() + self.ttl_s,
            **values,
        )
        self._flows[flow.token] = flow
        return flow

    def get(self, token: str, web_session: str) -> PendingFlow | None:
        """The live flow ``token`` of this web session, or None (unknown, foreign or expired)."""
        flow = self._flows.get(token)
        if flow is None:
            return None
        if flow.expired:
            self._flows.pop(token, None)
            return None
        if not secrets.compare_digest(flow.web_session, web_session):
            return None
        return flow

    def latest_sso(self, web_session: str) -> PendingFlow | None:
        """The newest open SSO step of this web session (the identity provider's callback)."""
        candidates = [
            f
            for f in self._flows.values()
            if f.web_session == web_session
            and not f.expired
            and f.challenge is not None
            and f.challenge.kind.value == "sso_redirect"
        ]
        return max(candidates, key=lambda f: f.deadline, default=None)

    def touch(self, flow: PendingFlow) -> None:
        flow.deadline = time.monotonic() + self.ttl_s

    def drop(self, token: str) -> None:
        flow = self._flows.pop(token, None)
        if flow is not None:
            flow.credentials = None
            flow.session = None

    def sweep(self) -> None:
        for token in [t for t, f in self._flows.items() if f.expired]:
            self.drop(token)

    def __len__(self) -> int:
        return len(self._flows)
