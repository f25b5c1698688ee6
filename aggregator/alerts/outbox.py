"""The durable outbox: alert messages leave after their transaction committed.

Rows are written by :mod:`.episodes` in the reading's transaction. :class:`OutboxSender`
then, in any process:

1. *claims* due rows atomically (one ``UPDATE ... RETURNING``; ``FOR UPDATE SKIP LOCKED`` on
   PostgreSQL, an immediate transaction on SQLite): status ``sending``, attempts + 1, and a
   lease in ``next_attempt_at``, so two senders never take the same row and a sender killed
   mid-send frees it when the lease ends;
2. hands each to its notifier (``Notifier.send``), with the household's channel settings
   (:mod:`.channels`) for a plugin's channel; a recipient no longer linked fails the row;
3. marks it ``sent`` in its own transaction, or ``pending`` again with a capped, jittered
   backoff after a :class:`~aggregator.core.errors.TemporaryError` (the SMTP server is down:
   mail is delayed, never lost; after :class:`~aggregator.core.errors.RateLimited` with
   ``retry_after``, exactly that much later), or ``failed`` after a permanent refusal
   (:class:`~aggregator.core.errors.RecipientGone` also disables that recipient).

Before step 2 the sender records, in its own commit, the row's ``Message-ID`` and the
moment of the attempt (``attempted_at``); writing the outcome clears ``attempted_at``.

What remains at-least-once, and why: SMTP has no idempotent submit. Between the server's
``250`` to the DATA and our commit of ``sent`` there is a window (milliseconds) in which a
crash leaves the server holding the message while our row still says ``sending``. Asking the
server afterwards is impossible (SMTP cannot query what it accepted), so after the lease the
row is sent again, with the same ``Message-ID``. That resend is *detected*: the claim finds
``attempted_at`` still set, counts it in ``resends`` and logs a warning naming the Message-ID.
The embedded sink and most mail clients show one message per Message-ID; a plain mailbox may
show both. The alternative, at-most-once (mark ``sent`` before the send), would lose an alert
on a crash, which is worse for a warning that the internet is about to be cut.
"""

from __future__ import annotations

import asyncio
import datetime as dt
import logging
import random
from collections.abc import Callable, Mapping
from dataclasses import dataclass
from typing import TYPE_CHECKING, Any, cast

from sqlalchemy import Table, case, select, update
from sqlalchemy.ext.asyncio import AsyncEngine

if TYPE_CHECKING:
    from .channels import ChannelStore

from ..core.errors import AggregatorError, RateLimited, RecipientGone, TemporaryError
from ..core.notify import Notification, Notifier
from ..storage.models import OutboxMessage, utcnow
from ..storage.transactions import transaction

__all__ = ["OutboxSender", "SendReport", "outbox_backoff", "outbox_message_id"]

log = logging.getLogger(__name__)

outbox_t = cast(Table, OutboxMessage.__table__)

MISSING_NOTIFIER_RETRY = dt.timedelta(hours=1)


def outbox_message_id(row_id: int, dedupe_key: str, sender: str) -> str:
    """The ``Message-ID`` of one outbox row (what :class:`OutboxSender` records and sends)."""
    from .email import message_id_for

    return message_id_for(f"o{row_id}.{dedupe_key}", sender)


def outbox_backoff(
    attempts: int,
    base_s: float = 10.0,
    cap_s: float = 900.0,
    uniform: Callable[[float, float], float] = random.uniform,
) -> float:
    """Seconds before the next try after ``attempts`` failed ones: 10 s doubling to 15 min."""
    delay = min(cap_s, base_s * 2.0 ** min(max(attempts - 1, 0), 20))
    return float(delay / 2 + uniform(0.0, delay / 2))


@dataclass
class SendReport:
    sent: int = 0
    retried: int = 0
    failed: int = 0

    def __iadd__(self, other: SendReport) -> SendReport:
        self.sent += other.sent
        self.retried += other.retried
        self.failed += other.failed
        return self


class OutboxSender:
    """Sends due outbox rows through the registered notifiers."""

    def __init__(
        self,
        engine: AsyncEngine,
        notifiers: Mapping[str, Notifier],
        *,
        batch: int = 20,
        lease_s: float = 120.0,
        send_timeout_s: float = 60.0,
        clock: Callable[[], dt.datetime] = utcnow,
        uniform: Callable[[float, float], float] = random.uniform,
        mail_from: str = "aggregator@localhost",
        channels: ChannelStore | None = None,
    ) -> None:
        self.engine = engine
        self.mail_from = mail_from  # the domain of the Message-IDs (settings.smtp_from)
        self.notifiers = dict(notifiers)
        self.channels = channels
        self.batch = batch
        self.lease = dt.timedelta(seconds=lease_s)
        self.send_timeout_s = send_timeout_s
        self.clock = clock
        self.uniform = uniform

    async def claim(self, limit: int | None = None) -> list[Any]:
        now = self.clock()
        due = (
            select(outbox_t.c.id)
            .where(
                outbox_t.c.status.in_(("pending", "sending")),
                outbox_t.c.next_attempt_at <= now,
            )
            .order_by(outbox_t.c.next_attempt_at, outbox_t.c.id)
            .limit(limit or self.batch)
        )
        if self.engine.dialect.name == "postgresql":
            due = due.with_for_update(skip_locked=True)
        statement = (
            update(outbox_t)
            .where(outbox_t.c.id.in_(due.scalar_subquery()))
            .values(
                status="sending",
                attempts=outbox_t.c.attempts + 1,
                next_attempt_at=now + self.lease,
                # an attempt whose outcome was never written: what follows is a resend
                resends=outbox_t.c.resends
                + case((outbox_t.c.attempted_at.is_not(None), 1), else_=0),
            )
            .returning(*outbox_t.c)
        )
        async with transaction(self.engine) as conn:
            rows = (await conn.execute(statement)).all()
        return sorted(rows, key=lambda row: row.id)

    async def send_due(self, stop: asyncio.Event | None = None) -> SendReport:
        """Send everything due now, batch after batch; return what happened.

        ``stop`` set: finish the message in hand, give the rest of the batch back, return.
        """
        report = SendReport()
        while stop is None or not stop.is_set():
            rows = await self.claim()
            if not rows:
                return report
            for index, row in enumerate(rows):
                if stop is not None and stop.is_set():
                    await self._give_back([r.id for r in rows[index:]])
                    return report
                report += await self._send_one(row)
        return report

    async def _give_back(self, ids: list[int]) -> None:
        async with transaction(self.engine) as conn:
            await conn.execute(
                update(outbox_t)
                .where(outbox_t.c.id.in_(ids), outbox_t.c.status == "sending")
                .values(
                    status="pending", next_attempt_at=self.clock(), attempts=outbox_t.c.attempts - 1
                )
            )

    async def _send_one(self, row: Any) -> SendReport:
        notifier = self.notifiers.get(row.notifier)
        if notifier is None:
            await self._mark(
                row.id,
                status="pending",
                next_attempt_at=self.clock() + MISSING_NOTIFIER_RETRY,
                last_error=f"notifier {row.notifier!r} is not installed",
            )
            return SendReport(retried=1)
        options: dict[str, Any] = {}
        cls = type(notifier)
        if cls.fields or cls.links_recipients:
            # A household's channel: its settings, and a recipient that is still linked.
            problem = None
            found = None
            if self.channels is not None:
                found = await self.channels.options(row.household_id, row.notifier)
            if found is None:
                problem = f"{row.notifier} is not set up in this household"
            elif cls.links_recipients:
                recipients = list(row.recipients or [])
                linked = None
                if self.channels is not None and recipients:
                    linked = await self.channels.recipient(
                        row.notifier, row.household_id, recipients[0]
                    )
                if linked is None or not linked.active:
                    problem = "the recipient is no longer linked"
            if problem is not None:
                await self._mark(row.id, status="failed", last_error=problem)
                return SendReport(failed=1)
            options = found or {}
        message_id = row.message_id or outbox_message_id(row.id, row.dedupe_key, self.mail_from)
        if row.attempted_at is not None:
            log.warning(
                "outbox %s: the attempt of %s ended without a recorded outcome (a crash?); "
                "sending it again with the same Message-ID %s (resend %s)",
                row.id,
                row.attempted_at.isoformat(timespec="seconds"),
                message_id,
                row.resends,
            )
        # Recorded before the send, in its own commit: a crash from here on is detectable.
        async with transaction(self.engine) as conn:
            await conn.execute(
                update(outbox_t)
                .where(outbox_t.c.id == row.id, outbox_t.c.status == "sending")
                .values(message_id=message_id, attempted_at=self.clock())
            )
        notification = Notification(
            message_id=message_id,
            kind=row.kind,
            subject=row.subject,
            text=row.body_text,
            html=row.body_html or "",
            lang=row.lang,
            recipients=list(row.recipients or []),
            link=row.link,
            idempotency_key=f"o{row.id}.{row.dedupe_key}",
            household_id=row.household_id,
            options=options,
        )
        try:
            await asyncio.wait_for(notifier.send(notification), self.send_timeout_s)
        except asyncio.CancelledError:
            raise
        except RecipientGone as exc:
            if self.channels is not None:
                await self.channels.disable(
                    row.notifier, row.household_id, exc.address, exc.message
                )
            await self._mark(row.id, status="failed", last_error=f"{exc.key}: {exc.message}"[:500])
            return SendReport(failed=1)
        except RateLimited as exc:
            return await self._retry(row, exc.key, str(exc), at_least=exc.retry_after)
        except (TemporaryError, TimeoutError) as exc:
            return await self._retry(row, getattr(exc, "key", "temporary.timeout"), str(exc))
        except AggregatorError as exc:
            log.warning("outbox %s: %s refused it: %s", row.id, row.notifier, exc.message)
            await self._mark(row.id, status="failed", last_error=f"{exc.key}: {exc.message}"[:500])
            return SendReport(failed=1)
        except Exception as exc:  # a notifier bug: keep the message, try again later
            log.exception("outbox %s: notifier %s crashed", row.id, row.notifier)
            return await self._retry(row, "notifier.crash", type(exc).__name__)
        await self._mark(row.id, status="sent", sent_at=self.clock(), last_error=None)
        log.info("outbox %s: sent by %s (%s)", row.id, row.notifier, row.kind)
        return SendReport(sent=1)

    async def _retry(
        self, row: Any, key: str, message: str, at_least: float | None = None
    ) -> SendReport:
        delay = outbox_backoff(row.attempts, uniform=self.uniform)
        if at_least is not None and at_least > 0:
            # The service said when to come back (a 429's retry_after): exactly then.
            delay = float(at_least)
        log.info("outbox %s: %s, trying again in %.0f s", row.id, key, delay)
        await self._mark(
            row.id,
            status="pending",
            next_attempt_at=self.clock() + dt.timedelta(seconds=delay),
            last_error=f"{key}: {message}"[:500],
        )
        return SendReport(retried=1)

    async def _mark(self, row_id: int, **values: Any) -> None:
        async with transaction(self.engine) as conn:
            await conn.execute(
                update(outbox_t)
                .where(outbox_t.c.id == row_id, outbox_t.c.status == "sending")
                .values(attempted_at=None, **values)
            )

    async def next_due(self) -> dt.datetime | None:
        """When the next pending row becomes due (to sleep until then)."""
        async with transaction(self.engine) as conn:
            value = (
                await conn.execute(
                    select(outbox_t.c.next_attempt_at)
                    .where(outbox_t.c.status.in_(("pending", "sending")))
                    .order_by(outbox_t.c.next_attempt_at)
                    .limit(1)
                )
            ).scalar()
        return value
