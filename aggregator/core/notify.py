"""Notifiers: how an alert reaches people. E-mail is built in; plugins add others.

A plugin registers a :class:`Notifier` subclass through the ``register_notifiers`` hook. The
outbox calls :meth:`Notifier.send` after the alert's transaction committed and retries with
backoff while it raises :class:`~aggregator.core.errors.TemporaryError` (after
:class:`~aggregator.core.errors.RateLimited` with ``retry_after``: exactly that much later).

A channel that belongs to the household (a chat bot, a push service) declares what it needs:

- :attr:`Notifier.fields`: its settings per household, typed on the dashboard's settings page
  (a field marked ``secret`` is sealed by the vault and reaches :meth:`Notifier.send` as a
  :class:`~aggregator.core.secret.Secret` in :attr:`Notification.options`);
- :attr:`Notifier.links_recipients`: its recipients (chats) are linked by a one-time code that
  the dashboard shows and the person sends to the channel; each linked recipient then gets its
  own message, in its own language. A recipient that is gone for good (the bot was blocked,
  the chat deleted) is reported by raising :class:`~aggregator.core.errors.RecipientGone`: the
  core disables it and tells the household on the dashboard instead of retrying forever;
- :meth:`Notifier.run`: a long-running loop (receiving chat commands), given a
  :class:`ChannelHub` through which it links recipients and reads the household's accounts.

The household chooses per alert kind which channels carry it (e-mail, a plugin's, both).
"""

from __future__ import annotations

import abc
from typing import Any, ClassVar

from .models import Model

__all__ = [
    "AccountLine",
    "ChannelField",
    "ChannelHub",
    "HouseholdChannel",
    "Notification",
    "Notifier",
    "Recipient",
]


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
    household_id: int | None = None
    # The household's settings of this channel (Notifier.fields): secret ones as Secret.
    options: dict[str, Any] = {}


class ChannelField(Model):
    """A setting of a channel the household types on the settings page (a bot token)."""

    name: str
    label_ru: str
    label_en: str
    secret: bool = False  # sealed by the vault; never shown back, never logged
    required: bool = True
    hint_ru: str = ""
    hint_en: str = ""


class Recipient(Model):
    """A linked recipient of a channel (a chat) in one household."""

    household_id: int
    address: str  # the channel's own id of it (a chat id)
    label: str = ""
    lang: str = "ru"
    active: bool = True


class HouseholdChannel(Model):
    """A household that set this channel up, with its settings (secret ones as Secret)."""

    household_id: int
    options: dict[str, Any] = {}


class AccountLine(Model):
    """One account as a chat command shows it, in the asked language."""

    account_id: int
    title: str  # operator and number (or the household's label)
    balance: str | None  # formatted money, "1 234,56 ₽"; None: never read
    status: str  # ok | new | stale | needs_login | operator_error | plugin_error
    status_text: str  # the status in words, in the asked language
    attention: bool  # the status needs a person (not ok)
    days_left: int | None = None
    link: str = ""


class ChannelHub(abc.ABC):
    """What the core offers a channel's :meth:`Notifier.run` loop."""

    dashboard_url: str = ""

    @abc.abstractmethod
    async def households(self, notifier_id: str) -> list[HouseholdChannel]:
        """Every household that set ``notifier_id`` up (its required fields filled in)."""

    @abc.abstractmethod
    async def link(
        self, notifier_id: str, household_id: int, code: str, address: str, label: str = ""
    ) -> Recipient | None:
        """Link ``address`` with a one-time code the household's dashboard showed; None when
        the code is unknown, used, expired or of another household. Linking again an address
        that was disabled makes it active again."""

    @abc.abstractmethod
    async def recipient(
        self, notifier_id: str, household_id: int, address: str
    ) -> Recipient | None:
        """The linked recipient ``address`` of the household, active or not; None if unknown."""

    @abc.abstractmethod
    async def disable(self, notifier_id: str, household_id: int, address: str, reason: str) -> None:
        """Stop sending to ``address`` (the household sees ``reason`` on the dashboard)."""

    @abc.abstractmethod
    async def accounts(self, household_id: int, lang: str) -> list[AccountLine]:
        """The household's accounts, each with its balance and status, in ``lang``."""


class Notifier:
    """Base class of a notification channel."""

    id: ClassVar[str]
    name: ClassVar[str]
    fields: ClassVar[tuple[ChannelField, ...]] = ()
    links_recipients: ClassVar[bool] = False
    # How a person links a recipient; "{code}" is replaced by the one-time code.
    link_hint_ru: ClassVar[str] = ""
    link_hint_en: ClassVar[str] = ""

    def __init__(self, settings: dict[str, Any] | None = None) -> None:
        self.settings = settings or {}

    async def send(self, notification: Notification) -> None:
        """Deliver, or raise TemporaryError (retried), RecipientGone (the recipient is
        disabled) or another AggregatorError (failed)."""
        raise NotImplementedError

    async def run(self, hub: ChannelHub) -> None:
        """A long-running loop beside the outbox (receive commands); none by default.

        Cancelled when the process stops; an exception is logged and the loop started again
        after a pause."""
        return None
