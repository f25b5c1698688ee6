"""Tuning of the poller that is not a user setting (defaults suit a household and 10,000
accounts alike). Tests and benchmarks pass their own :class:`PollingOptions`."""

from __future__ import annotations

from dataclasses import dataclass

__all__ = ["PollingOptions"]


@dataclass(frozen=True)
class PollingOptions:
    # How often the scheduler's tick looks for due accounts (a finished batch also asks for
    # the next tick at once, so a backlog does not wait for the interval).
    tick_interval_s: float = 5.0
    # /healthz reports the process not ready when its last tick is older than this (None:
    # three intervals, at least a minute).
    tick_stale_s: float | None = None
    # Poll batches running at once per operator in one process, and accounts per batch.
    jobs_per_operator: int = 4
    max_batch: int = 100
    # A claimed account is reserved for this long; a poller killed mid-poll frees it then.
    lease_s: float = 600.0
    # One poll (re-login included) may take this long before it counts as a timeout.
    poll_timeout_s: float = 90.0
    # The most polls this process runs at once, over every operator (``aggregator worker
    # --concurrency``); None: as many as the operators' limits allow.
    max_polls: int | None = None
    # The operators' limits shared through the database (aggregator.polling.cluster): how
    # often a process renews and rebalances its share, and how long a share outlives a
    # process killed with kill -9.
    ledger_interval_s: float = 0.5
    ledger_lease_s: float = 10.0
    # Circuit breaker per operator.
    breaker_threshold: int = 5
    breaker_cooldown_s: float = 30.0
    breaker_max_cooldown_s: float = 600.0
    # Results are committed in groups of up to this many (one transaction each).
    write_batch: int = 200
    # Override the minimum interval between two polls of an account (None: the larger of
    # settings.min_poll_interval_s and the operator's min_poll_interval). Tests only.
    min_interval_s: float | None = None
    # The outbox: how often pending mail is looked at, how many per round.
    outbox_interval_s: float = 10.0
    outbox_batch: int = 20
    outbox_lease_s: float = 120.0
    reminders_interval_s: float = 60.0
    # Run the outbox sender and the reminder sweep in this process.
    send_mail: bool = True
    # Start the embedded SMTP sink when settings.smtp_host is unset.
    start_sink: bool = True
    # On stop, how long running poll jobs and the mail sender may take to finish.
    stop_timeout_s: float = 15.0
