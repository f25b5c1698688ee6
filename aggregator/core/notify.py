"""Notifiers: how an alert reaches people. E-mail is built in; plugins add others.

A plugin registers a :class:`Notifier` subclass through the ``register_notifiers`` hook. The
outbox calls :meth:`Notifier.send` after the alert's transaction committed and retries with
backoff while it raises :class:`~aggregator.core.errors.TemporaryError`.
"""

from __future__ import annotations

from typing import Any, ClassVar

from .models import Model

__all__ = ["Notification", "Notifier"]


class Notification(Model):
    """One message to deliver: already rendered in the recipient's language."""

    kind: str  # the alert kind: "low_balance", "runs_out", "needs_login", "suspension_ends"
    subject: str
    text: str
    html: str = ""
    lang: str = "ru"
    recipients: list[str] = []
    link: str | None = None
    idempotency_key: str  # the outbox row id: a notifier may use it to drop duplicates
    # The Message-ID the outbox recorded for this row before the send (the e-mail notifier
    # puts it in the header; a sink or mailbox recognises a resend by it). None outside the
    # outbox: the notifier derives one from ``idempotency_key``.
    message_id: str | None = None


class Notifier:
    """Base class of a notification channel."""

    id: ClassVar[str]
    name: ClassVar[str]

    def __init__(self, settings: dict[str, Any] | None = None) -> None:
        self.settings = settings or {}

    async def send(self, notification: Notification) -> None:
        """Deliver, or raise TemporaryError (retried) or another AggregatorError (failed)."""
        raise NotImplementedError
