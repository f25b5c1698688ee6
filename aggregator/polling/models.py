"""The values the poller passes around: a claimed account, a poll's record, its outcome."""

from __future__ import annotations

import datetime as dt
from dataclasses import dataclass, field
from decimal import Decimal
from typing import Any, Protocol

from ..core.flows import Session
from ..core.models import PollResult
from .status import Failure

__all__ = ["ClaimedAccount", "LoginTarget", "PollOutcome", "PollRecord"]


class LoginTarget(Protocol):
    """What identifies an account's login: a claimed account or a linked-account row."""

    @property
    def id(self) -> int: ...
    @property
    def household_id(self) -> int: ...
    @property
    def provider_id(self) -> str: ...
    @property
    def login_key(self) -> str: ...
    @property
    def login_scheme(self) -> str: ...


@dataclass(frozen=True)
class ClaimedAccount:
    """A snapshot of one ``linked_accounts`` row, reserved for this poll by ``claim``."""

    id: int
    household_id: int
    provider_id: str
    login_scheme: str
    login_key: str
    subaccount_id: str
    label: str
    number_masked: str
    status: str
    last_error_key: str | None
    consecutive_failures: int
    poll_interval_s: int | None
    household_interval_s: int | None
    credentials_sealed: bytes | None = field(repr=False)
    session_sealed: bytes | None = field(repr=False)
    spend_history: dict[str, Any] | None
    suspension_end: dt.date | None
    claim: str
    # The voluntary block we asked for ("requested", "scheduled", ...) and its dates: a poll
    # that finds it in force tells the household it was approved (a notice, once).
    suspension_state: str | None = None
    suspension_start: dt.date | None = None
    suspension_planned_end: dt.date | None = None
    # How many accounts the operator login has (this one included), read with the claim: a
    # login with siblings takes turns across the cluster (aggregator.polling.login_lease).
    siblings: int | None = None


@dataclass
class PollRecord:
    """What one poll produced, before it is written."""

    account: ClaimedAccount
    at: dt.datetime  # when the poll finished (real time)
    next_due_at: dt.datetime | None
    result: PollResult | None = None
    failure: Failure | None = None
    # A session to seal and store (a silent re-login or refreshed cookies), else None.
    new_session: Session | None = field(default=None, repr=False)
    login_attempted: bool = False
    # The breaker was open: no request went out, the failure count stays.
    skipped: bool = False

    @property
    def status(self) -> str:
        from ..storage.models import AccountStatus

        return self.failure.status.value if self.failure else AccountStatus.OK.value

    @property
    def error_key(self) -> str | None:
        return self.failure.key if self.failure else None


@dataclass(frozen=True)
class PollOutcome:
    """One row of ``aggregator poll``: what happened to one account."""

    account_id: int
    provider_id: str
    label: str
    status: str
    balance: Decimal | None
    error_key: str | None
    currency: str = "RUB"
    as_of: dt.datetime | None = None
    number_masked: str = ""
