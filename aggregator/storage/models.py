"""The database schema (SQLAlchemy 2, typed). Money is stored as integer minor units.

Secrets live only in ``*_sealed`` columns, sealed by :mod:`aggregator.vault` with associated
data naming the table, row and column, so a sealed value copied to another row fails to open.
Times are stored as UTC and always come back timezone-aware.
"""

from __future__ import annotations

import datetime as dt
from decimal import Decimal
from enum import StrEnum
from typing import Any

from sqlalchemy import (
    JSON,
    BigInteger,
    Boolean,
    DateTime,
    ForeignKey,
    Index,
    Integer,
    LargeBinary,
    MetaData,
    String,
    Text,
    TypeDecorator,
    UniqueConstraint,
    text,
)
from sqlalchemy.engine import Dialect
from sqlalchemy.orm import DeclarativeBase, Mapped, mapped_column, relationship

from ..core.money import from_minor, to_minor

__all__ = [
    "AccountStatus",
    "AlertEpisode",
    "AlertRule",
    "ApiToken",
    "AuditLog",
    "BalanceReading",
    "Base",
    "ChatTranscript",
    "Household",
    "Invitation",
    "LinkedAccount",
    "LoginLease",
    "NotifierLinkCode",
    "NotifierRecipient",
    "NotifierSettings",
    "OperatorNode",
    "OperatorSlot",
    "OperatorState",
    "OutboxMessage",
    "User",
    "WebSession",
    "from_minor",
    "to_minor",
    "utcnow",
]


def utcnow() -> dt.datetime:
    return dt.datetime.now(dt.UTC)


class UTCDateTime(TypeDecorator[dt.datetime]):
    """A timestamp stored in UTC that always comes back timezone-aware (SQLite too)."""

    impl = DateTime(timezone=True)
    cache_ok = True

    def process_bind_param(self, value: dt.datetime | None, dialect: Dialect) -> Any:
        if value is None:
            return None
        if value.tzinfo is None:
            raise ValueError("naive datetime: pass an aware UTC datetime")
        value = value.astimezone(dt.UTC)
        return value.replace(tzinfo=None) if dialect.name == "sqlite" else value

    def process_result_value(self, value: Any, dialect: Dialect) -> dt.datetime | None:
        if value is None:
            return None
        assert isinstance(value, dt.datetime)
        if value.tzinfo is None:
            return value.replace(tzinfo=dt.UTC)
        return value.astimezone(dt.UTC)


NAMING = {
    "ix": "ix_%(column_0_label)s",
    "uq": "uq_%(table_name)s_%(column_0_name)s",
    "ck": "ck_%(table_name)s_%(constraint_name)s",
    "fk": "fk_%(table_name)s_%(column_0_name)s_%(referred_table_name)s",
    "pk": "pk_%(table_name)s",
}


class Base(DeclarativeBase):
    metadata = MetaData(naming_convention=NAMING)
    type_annotation_map = {dt.datetime: UTCDateTime(), dict[str, Any]: JSON()}


class AccountStatus(StrEnum):
    NEW = "new"  # linked, never polled
    OK = "ok"
    STALE = "stale"  # temporary failures: last reading kept, backing off
    NEEDS_LOGIN = "needs_login"  # only a person can fix it; polling paused
    OPERATOR_ERROR = "operator_error"  # the operator refused
    PLUGIN_ERROR = "plugin_error"  # a parse error: the plugin needs fixing
    # The sealed credentials or session do not open under this process's keyring (a key is
    # missing): not the user's doing, so no "log in again" e-mail; polled again with backoff
    # and back to normal by itself when the key returns.
    SECRET_UNREADABLE = "secret_unreadable"


class Household(Base):
    __tablename__ = "households"

    id: Mapped[int] = mapped_column(primary_key=True)
    name: Mapped[str] = mapped_column(String(200))
    timezone: Mapped[str] = mapped_column(String(64), default="Europe/Moscow")
    lang: Mapped[str] = mapped_column(String(8), default="ru")
    poll_interval_s: Mapped[int] = mapped_column(Integer, default=3600)
    created_at: Mapped[dt.datetime] = mapped_column(default=utcnow)

    users: Mapped[list[User]] = relationship(back_populates="household")


class User(Base):
    __tablename__ = "users"

    id: Mapped[int] = mapped_column(primary_key=True)
    household_id: Mapped[int] = mapped_column(ForeignKey("households.id", ondelete="CASCADE"))
    email: Mapped[str] = mapped_column(String(320), unique=True)
    display_name: Mapped[str] = mapped_column(String(200), default="")
    password_hash: Mapped[str] = mapped_column(String(200))  # argon2id
    role: Mapped[str] = mapped_column(String(16), default="member")  # owner | member
    lang: Mapped[str] = mapped_column(String(8), default="ru")
    created_at: Mapped[dt.datetime] = mapped_column(default=utcnow)

    household: Mapped[Household] = relationship(back_populates="users")


class Invitation(Base):
    __tablename__ = "invitations"

    id: Mapped[int] = mapped_column(primary_key=True)
    household_id: Mapped[int] = mapped_column(ForeignKey("households.id", ondelete="CASCADE"))
    email: Mapped[str] = mapped_column(String(320))
    token_hash: Mapped[str] = mapped_column(String(128), unique=True)  # sha256 of the token
    expires_at: Mapped[dt.datetime]
    accepted_at: Mapped[dt.datetime | None] = mapped_column(default=None)
    created_at: Mapped[dt.datetime] = mapped_column(default=utcnow)


class SignInAttempt(Base):
    """The sign-in throttle's memory, shared by every process and kept over restarts.

    ``kind``: ``address`` (a failure for an e-mail address from a client that has not signed
    in as it before), ``pair`` (a failure for an address from one of its known clients),
    ``client`` (a failure from a client address, whatever e-mail), ``known`` (a successful
    sign-in: that client is known for that address). ``key`` is a SHA-256 of what it counts,
    so the table holds no e-mail or IP address in clear.
    """

    __tablename__ = "sign_in_attempts"
    __table_args__ = (Index("ix_sign_in_attempts_lookup", "kind", "key", "at"),)

    id: Mapped[int] = mapped_column(primary_key=True)
    kind: Mapped[str] = mapped_column(String(16))
    key: Mapped[str] = mapped_column(String(64))
    at: Mapped[dt.datetime] = mapped_column(default=utcnow, index=True)


class WebSession(Base):
    """A server-side dashboard session; the cookie holds a random token, stored hashed."""

    __tablename__ = "web_sessions"

    id: Mapped[str] = mapped_column(String(128), primary_key=True)  # sha256 of the token
    user_id: Mapped[int] = mapped_column(ForeignKey("users.id", ondelete="CASCADE"))
    csrf_token: Mapped[str] = mapped_column(String(128))
    created_at: Mapped[dt.datetime] = mapped_column(default=utcnow)
    expires_at: Mapped[dt.datetime]
    data: Mapped[dict[str, Any]] = mapped_column(default=dict)


class LinkedAccount(Base):
    """One operator account (or number) of a household, polled on its own interval."""

    __tablename__ = "linked_accounts"
    __table_args__ = (
        UniqueConstraint("household_id", "provider_id", "login_key", "subaccount_id"),
        Index("ix_linked_accounts_due", "status", "next_due_at"),
        # The poller's claims: one operator's due accounts, oldest first, read off the index.
        Index("ix_linked_accounts_operator_due", "provider_id", "next_due_at"),
        Index("ix_linked_accounts_identity", "household_id", "provider_id", "account_key"),
    )

    id: Mapped[int] = mapped_column(primary_key=True)
    household_id: Mapped[int] = mapped_column(ForeignKey("households.id", ondelete="CASCADE"))
    provider_id: Mapped[str] = mapped_column(String(64))
    login_scheme: Mapped[str] = mapped_column(String(64))
    # A keyed hash (HMAC) of the login identifier: finds siblings without storing the login.
    login_key: Mapped[str] = mapped_column(String(128))
    subaccount_id: Mapped[str] = mapped_column(String(128), default="")
    # A keyed hash of the operator's own identity of the account (its account id or number),
    # whatever login reached it: the same account linked by login and by SSO is one row.
    account_key: Mapped[str | None] = mapped_column(String(128), default=None)
    label: Mapped[str] = mapped_column(String(200), default="")
    number_masked: Mapped[str] = mapped_column(String(64), default="")
    kind: Mapped[str] = mapped_column(String(16), default="other")
    credentials_sealed: Mapped[bytes | None] = mapped_column(LargeBinary, default=None)
    session_sealed: Mapped[bytes | None] = mapped_column(LargeBinary, default=None)
    status: Mapped[str] = mapped_column(String(32), default=AccountStatus.NEW.value)
    last_error_key: Mapped[str | None] = mapped_column(String(64), default=None)
    last_error: Mapped[dict[str, Any] | None] = mapped_column(JSON, default=None)  # redacted
    poll_interval_s: Mapped[int | None] = mapped_column(Integer, default=None)
    next_due_at: Mapped[dt.datetime | None] = mapped_column(default=None)
    last_polled_at: Mapped[dt.datetime | None] = mapped_column(default=None)
    last_success_at: Mapped[dt.datetime | None] = mapped_column(default=None)
    consecutive_failures: Mapped[int] = mapped_column(Integer, default=0)
    tariff_name: Mapped[str | None] = mapped_column(String(200), default=None)
    operator_state: Mapped[str | None] = mapped_column(String(32), default=None)
    suspension_end: Mapped[dt.date | None] = mapped_column(default=None)
    # The voluntary block as the operator last answered about it (a suspend, a resume or the
    # suspension section): "requested" / "scheduled" say a block is coming before it starts.
    suspension_state: Mapped[str | None] = mapped_column(String(16), default=None)
    suspension_start: Mapped[dt.date | None] = mapped_column(default=None)
    suspension_planned_end: Mapped[dt.date | None] = mapped_column(default=None)
    created_at: Mapped[dt.datetime] = mapped_column(default=utcnow)
    # The poller's reservation of this row while a poll is in flight (aggregator.polling).
    poll_claim: Mapped[str | None] = mapped_column(String(64), default=None)
    # Money spent per day over recent weeks, for the run-out forecast (aggregator.alerts).
    spend_history: Mapped[dict[str, Any] | None] = mapped_column(JSON, default=None)
    # The trusted payment as the last poll (or the taking) saw it: the contract's
    # TrustedPayment as JSON (the debt and its due date drive the card and the due alert).
    trusted_payment: Mapped[dict[str, Any] | None] = mapped_column(JSON, default=None)
    # A keyed hash of the operator's shared-balance key: accounts with the same value share
    # one balance, which the household total counts once.
    balance_key: Mapped[str | None] = mapped_column(String(128), default=None)

    readings: Mapped[list[BalanceReading]] = relationship(
        back_populates="account", cascade="all, delete-orphan", passive_deletes=True
    )


class BalanceReading(Base):
    """One balance reading: the time series behind charts, forecasts and alerts."""

    __tablename__ = "balance_readings"
    __table_args__ = (Index("ix_balance_readings_account_at", "account_id", "at"),)

    id: Mapped[int] = mapped_column(BigInteger().with_variant(Integer, "sqlite"), primary_key=True)
    account_id: Mapped[int] = mapped_column(ForeignKey("linked_accounts.id", ondelete="CASCADE"))
    at: Mapped[dt.datetime]
    amount_minor: Mapped[int] = mapped_column(BigInteger)
    currency: Mapped[str] = mapped_column(String(3), default="RUB")
    credit_limit_minor: Mapped[int | None] = mapped_column(BigInteger, default=None)
    bonus_minor: Mapped[int | None] = mapped_column(BigInteger, default=None)
    # What ``bonus_minor`` counts: "points" (hundredths of a point) or the currency of a money
    # bonus ("RUB"); NULL for a reading stored before it was kept (read as the currency).
    bonus_unit: Mapped[str | None] = mapped_column(String(8), default=None)
    next_charge_date: Mapped[dt.date | None] = mapped_column(default=None)
    next_charge_minor: Mapped[int | None] = mapped_column(BigInteger, default=None)
    # The package remainders read with this balance (aggregator.remainders.to_json), NULL when
    # the poll did not read them.
    remainders: Mapped[list[dict[str, Any]] | None] = mapped_column(JSON, default=None)

    account: Mapped[LinkedAccount] = relationship(back_populates="readings")

    @property
    def amount(self) -> Decimal:
        return from_minor(self.amount_minor)


class AlertRule(Base):
    """An alert rule; ``account_id`` NULL means the household default for that kind."""

    __tablename__ = "alert_rules"
    __table_args__ = (
        UniqueConstraint("household_id", "account_id", "kind"),
        # NULLs are distinct in a unique constraint: one household default per kind needs this.
        Index(
            "uq_alert_rules_household_default",
            "household_id",
            "kind",
            unique=True,
            sqlite_where=text("account_id IS NULL"),
            postgresql_where=text("account_id IS NULL"),
        ),
    )

    id: Mapped[int] = mapped_column(primary_key=True)
    household_id: Mapped[int] = mapped_column(ForeignKey("households.id", ondelete="CASCADE"))
    account_id: Mapped[int | None] = mapped_column(
        ForeignKey("linked_accounts.id", ondelete="CASCADE"), default=None
    )
    kind: Mapped[str] = mapped_column(
        String(32)
    )  # low_balance|runs_out|needs_login|suspension_ends|low_data|low_minutes
    enabled: Mapped[bool] = mapped_column(Boolean, default=True)
    threshold_minor: Mapped[int | None] = mapped_column(BigInteger, default=None)
    # The remainder kinds' threshold in the contract's unit: bytes (low_data), seconds
    # (low_minutes).
    threshold_units: Mapped[int | None] = mapped_column(BigInteger, default=None)
    margin_minor: Mapped[int | None] = mapped_column(BigInteger, default=None)
    days: Mapped[int | None] = mapped_column(Integer, default=None)
    reminder_interval_s: Mapped[int | None] = mapped_column(Integer, default=None)
    recipients: Mapped[list[str]] = mapped_column(JSON, default=list)
    lang: Mapped[str | None] = mapped_column(String(8), default=None)
    # The notifier ids (channels) this kind goes through; NULL: every channel the household
    # has set up (e-mail, and each plugin channel with a linked recipient).
    channels: Mapped[list[str] | None] = mapped_column(JSON, default=None)


class AlertEpisode(Base):
    """An alert from opening to closing; exactly one notification per episode (+ reminders)."""

    __tablename__ = "alert_episodes"
    __table_args__ = (
        Index(
            "uq_alert_episodes_open",
            "account_id",
            "kind",
            unique=True,
            sqlite_where=text("closed_at IS NULL"),
            postgresql_where=text("closed_at IS NULL"),
        ),
    )

    id: Mapped[int] = mapped_column(primary_key=True)
    account_id: Mapped[int] = mapped_column(ForeignKey("linked_accounts.id", ondelete="CASCADE"))
    kind: Mapped[str] = mapped_column(String(32))
    opened_at: Mapped[dt.datetime] = mapped_column(default=utcnow)
    closed_at: Mapped[dt.datetime | None] = mapped_column(default=None)
    reading_id: Mapped[int | None] = mapped_column(
        ForeignKey("balance_readings.id", ondelete="SET NULL"), default=None
    )
    details: Mapped[dict[str, Any]] = mapped_column(default=dict)
    last_notified_at: Mapped[dt.datetime | None] = mapped_column(default=None)
    reminders_sent: Mapped[int] = mapped_column(Integer, default=0)


class OutboxMessage(Base):
    """A durable outbox: rows are written in the alert's transaction and sent after commit."""

    __tablename__ = "outbox"
    __table_args__ = (Index("ix_outbox_pending", "status", "next_attempt_at"),)

    id: Mapped[int] = mapped_column(primary_key=True)
    household_id: Mapped[int] = mapped_column(ForeignKey("households.id", ondelete="CASCADE"))
    episode_id: Mapped[int | None] = mapped_column(
        ForeignKey("alert_episodes.id", ondelete="SET NULL"), default=None
    )
    dedupe_key: Mapped[str] = mapped_column(String(128), unique=True)
    notifier: Mapped[str] = mapped_column(String(64), default="email")
    kind: Mapped[str] = mapped_column(String(32))
    recipients: Mapped[list[str]] = mapped_column(JSON, default=list)
    subject: Mapped[str] = mapped_column(Text)
    body_text: Mapped[str] = mapped_column(Text)
    body_html: Mapped[str] = mapped_column(Text, default="")
    lang: Mapped[str] = mapped_column(String(8), default="ru")
    link: Mapped[str | None] = mapped_column(Text, default=None)
    status: Mapped[str] = mapped_column(String(16), default="pending")  # pending|sent|failed
    attempts: Mapped[int] = mapped_column(Integer, default=0)
    next_attempt_at: Mapped[dt.datetime] = mapped_column(default=utcnow)
    created_at: Mapped[dt.datetime] = mapped_column(default=utcnow)
    sent_at: Mapped[dt.datetime | None] = mapped_column(default=None)
    last_error: Mapped[str | None] = mapped_column(Text, default=None)
    # Recorded in its own commit before the message is handed to the notifier: the Message-ID
    # it carries (the sink shows a household only mail whose Message-ID one of its rows
    # recorded) and when. ``attempted_at`` is cleared when the attempt's outcome is written;
    # still set when a sender claims the row again, the previous attempt's outcome is unknown
    # (a crash), so the send that follows is counted in ``resends``.
    message_id: Mapped[str | None] = mapped_column(String(255), default=None, index=True)
    attempted_at: Mapped[dt.datetime | None] = mapped_column(default=None)
    resends: Mapped[int] = mapped_column(Integer, default=0, server_default="0")


class ChatTranscript(Base):
    """Support chat messages kept per account, so history and unseen replies survive."""

    __tablename__ = "chat_messages"
    __table_args__ = (UniqueConstraint("account_id", "remote_id"),)

    id: Mapped[int] = mapped_column(primary_key=True)
    account_id: Mapped[int] = mapped_column(ForeignKey("linked_accounts.id", ondelete="CASCADE"))
    remote_id: Mapped[str] = mapped_column(String(128))
    topic_id: Mapped[str | None] = mapped_column(String(128), default=None)
    author: Mapped[str] = mapped_column(String(16))  # user | bot | agent
    author_name: Mapped[str | None] = mapped_column(String(200), default=None)
    text: Mapped[str] = mapped_column(Text)
    sent_at: Mapped[dt.datetime]
    seen: Mapped[bool] = mapped_column(Boolean, default=False)


class AuditLog(Base):
    """Who did what: operations on accounts, sign-ins, key rotation. Never secrets."""

    __tablename__ = "audit_log"
    __table_args__ = (Index("ix_audit_log_household_at", "household_id", "at"),)

    id: Mapped[int] = mapped_column(primary_key=True)
    household_id: Mapped[int | None] = mapped_column(
        ForeignKey("households.id", ondelete="CASCADE"), default=None
    )
    user_id: Mapped[int | None] = mapped_column(
        ForeignKey("users.id", ondelete="SET NULL"), default=None
    )
    account_id: Mapped[int | None] = mapped_column(
        ForeignKey("linked_accounts.id", ondelete="SET NULL"), default=None
    )
    action: Mapped[str] = mapped_column(String(64))
    details: Mapped[dict[str, Any]] = mapped_column(default=dict)
    at: Mapped[dt.datetime] = mapped_column(default=utcnow)


class ApiToken(Base):
    """A personal API token: ``Authorization: Bearer <token>`` on the JSON API.

    Only the SHA-256 of the token is stored (the token is shown once, when created); ``prefix``
    is its first characters, so a list can tell tokens apart. A token acts for ``user_id`` in
    that user's household; ``scope`` ``read`` allows only safe methods.
    """

    __tablename__ = "api_tokens"

    id: Mapped[int] = mapped_column(primary_key=True)
    household_id: Mapped[int] = mapped_column(ForeignKey("households.id", ondelete="CASCADE"))
    user_id: Mapped[int] = mapped_column(ForeignKey("users.id", ondelete="CASCADE"))
    name: Mapped[str] = mapped_column(String(100))
    token_hash: Mapped[str] = mapped_column(String(128), unique=True)
    prefix: Mapped[str] = mapped_column(String(16))
    scope: Mapped[str] = mapped_column(String(8), default="read")  # read | write
    created_at: Mapped[dt.datetime] = mapped_column(default=utcnow)
    last_used_at: Mapped[dt.datetime | None] = mapped_column(default=None)
    revoked_at: Mapped[dt.datetime | None] = mapped_column(default=None)


class NotifierSettings(Base):
    """A household's settings of one notification channel (a plugin's notifier).

    ``options`` holds the plain fields; the secret ones (a bot token) are sealed together in
    ``secrets_sealed``.
    """

    __tablename__ = "notifier_settings"
    __table_args__ = (UniqueConstraint("household_id", "notifier"),)

    id: Mapped[int] = mapped_column(primary_key=True)
    household_id: Mapped[int] = mapped_column(ForeignKey("households.id", ondelete="CASCADE"))
    notifier: Mapped[str] = mapped_column(String(64))
    options: Mapped[dict[str, Any]] = mapped_column(default=dict)
    secrets_sealed: Mapped[bytes | None] = mapped_column(LargeBinary, default=None)
    updated_at: Mapped[dt.datetime] = mapped_column(default=utcnow)


class NotifierRecipient(Base):
    """Where a channel delivers for a household (a chat): linked by a one-time code.

    A recipient the channel reports gone (the bot was blocked, the chat deleted) is
    ``disabled`` with the reason, shown on the dashboard, and gets no more messages.
    """

    __tablename__ = "notifier_recipients"
    __table_args__ = (UniqueConstraint("household_id", "notifier", "address"),)

    id: Mapped[int] = mapped_column(primary_key=True)
    household_id: Mapped[int] = mapped_column(ForeignKey("households.id", ondelete="CASCADE"))
    notifier: Mapped[str] = mapped_column(String(64))
    address: Mapped[str] = mapped_column(String(200))
    label: Mapped[str] = mapped_column(String(200), default="")
    lang: Mapped[str] = mapped_column(String(8), default="ru")
    user_id: Mapped[int | None] = mapped_column(
        ForeignKey("users.id", ondelete="SET NULL"), default=None
    )
    status: Mapped[str] = mapped_column(String(16), default="active")  # active | disabled
    disabled_reason: Mapped[str | None] = mapped_column(String(300), default=None)
    disabled_at: Mapped[dt.datetime | None] = mapped_column(default=None)
    created_at: Mapped[dt.datetime] = mapped_column(default=utcnow)


class NotifierLinkCode(Base):
    """A one-time code a member sends to a channel (``/start CODE``) to link a recipient."""

    __tablename__ = "notifier_link_codes"

    id: Mapped[int] = mapped_column(primary_key=True)
    household_id: Mapped[int] = mapped_column(ForeignKey("households.id", ondelete="CASCADE"))
    notifier: Mapped[str] = mapped_column(String(64))
    user_id: Mapped[int | None] = mapped_column(
        ForeignKey("users.id", ondelete="CASCADE"), default=None
    )
    code_hash: Mapped[str] = mapped_column(String(128), unique=True)
    lang: Mapped[str] = mapped_column(String(8), default="ru")
    expires_at: Mapped[dt.datetime]
    used_at: Mapped[dt.datetime | None] = mapped_column(default=None)
    created_at: Mapped[dt.datetime] = mapped_column(default=utcnow)


class OperatorSlot(Base):
    """One of an operator's request slots, leased to the process that may use it.

    An operator declaring ``concurrency`` N has slots 0..N-1; a process sends at most as many
    requests at once as it holds slots (see :mod:`aggregator.polling.cluster`). ``expires_at``
    (seconds since the epoch) ends the lease: a process killed with ``kill -9`` holds its slots
    no longer than that.
    """

    __tablename__ = "operator_slots"

    operator: Mapped[str] = mapped_column(String(64), primary_key=True)
    slot: Mapped[int] = mapped_column(Integer, primary_key=True, autoincrement=False)
    holder: Mapped[str | None] = mapped_column(String(128), default=None)
    expires_at: Mapped[float | None] = mapped_column(default=None)


class LoginLease(Base):
    """An operator login's turn, held by one process while it uses the login's session (see
    :mod:`aggregator.polling.login_lease`); ``expires_at`` (seconds since the epoch) ends it."""

    __tablename__ = "login_leases"

    provider_id: Mapped[str] = mapped_column(String(64), primary_key=True)
    household_id: Mapped[int] = mapped_column(Integer, primary_key=True, autoincrement=False)
    login_key: Mapped[str] = mapped_column(String(128), primary_key=True)
    holder: Mapped[str] = mapped_column(String(128))
    expires_at: Mapped[float] = mapped_column()


class OperatorNode(Base):
    """A process that wants to talk to an operator now (its heartbeat): the slots are split
    evenly between the processes seen here lately."""

    __tablename__ = "operator_nodes"

    operator: Mapped[str] = mapped_column(String(64), primary_key=True)
    holder: Mapped[str] = mapped_column(String(128), primary_key=True)
    seen_at: Mapped[float] = mapped_column()


class OperatorState(Base):
    """What every process shares about an operator: its rate budget's token bucket and its
    circuit breaker (times in seconds since the epoch; ``breaker_version`` grows with every
    change, so a process adopts only what is newer than what it saw)."""

    __tablename__ = "operator_state"

    operator: Mapped[str] = mapped_column(String(64), primary_key=True)
    tokens: Mapped[float] = mapped_column(default=0.0)
    tokens_at: Mapped[float] = mapped_column(default=0.0)
    breaker_version: Mapped[int] = mapped_column(Integer, default=0)
    breaker_opened_at: Mapped[float | None] = mapped_column(default=None)
    breaker_cooldown_s: Mapped[float] = mapped_column(default=0.0)
