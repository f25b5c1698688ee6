"""Operations on a linked account: every capability call, its audit record and its code.

:class:`AccountOperations` is the one way the dashboard, the JSON API and the CLI talk to an
operator about one account. Each call opens the account's sealed session, runs one typed
provider method inside the operator's gate (its concurrency limit, breaker and time limit),
logs in again silently through :mod:`.sessions` when the operator says the session is gone,
and re-seals a refreshed session.

Reads (tariffs, services, suspension and its quote, usage, payments, autopay, news, profile,
reports, chat) return the contract's models. Changes (:meth:`~AccountOperations.change_tariff`,
``set_service``, ``suspend``, ``resume``, ``top_up``, ``set_autopay``) return either
:class:`Done` (the operator did it; one ``operation.<name>`` audit record is written) or
:class:`NeedsCode` (the operator sent a one-time code; nothing is audited yet). The adapter
keeps the :class:`PendingOperation` (the web in its flow store under a token, the CLI in a
variable) and passes the person's code to :meth:`~AccountOperations.confirm`, which answers
:class:`Done` (audited ``operation.<name>.confirmed``) or :class:`NeedsCode` again: with the
same pending operation and an error when the operator rejected the code or none was given
(the page shows the code form again, the API says so, the CLI asks again), or with the
operator's next challenge when it asks for a second code.
"""

from __future__ import annotations

import contextlib
import datetime as dt
import logging
import time
from collections.abc import Awaitable, Callable
from dataclasses import dataclass, field, replace
from decimal import Decimal
from typing import TYPE_CHECKING, Generic, Literal, TypeVar

from sqlalchemy import select

from ..accounts import seal_session, store_login_session
from ..core.errors import (
    AccountLocked,
    AggregatorError,
    AuthError,
    CodeRejected,
    FlowExpired,
    InvalidCredentials,
    NotSupported,
    OperationRejected,
    SessionExpired,
)
from ..core.flows import Challenge, ChallengeAnswer, Session
from ..core.models import (
    AutopaySettings,
    ChatMessage,
    ChatTopic,
    NewsItem,
    OperationResult,
    Payment,
    Profile,
    Report,
    ReportFormat,
    Service,
    ServiceChangeResult,
    Suspension,
    SuspensionQuote,
    SuspensionState,
    TariffCatalogue,
    TariffChangeResult,
    TopUpResult,
    TrafficStats,
    TrustedPayment,
    TrustedPaymentResult,
    Usage,
)
from ..core.money import quantize
from ..core.provider import Provider
from ..core.secret import Secret
from ..storage.models import AccountStatus, AuditLog, ChatTranscript, LinkedAccount, utcnow
from .errors import BadInput
from .sessions import (
    ChallengeMet,
    LoginFailed,
    NoCredentials,
    RefusedBefore,
    SessionKeeper,
    Unreadable,
    keeper_for,
)

if TYPE_CHECKING:
    from sqlalchemy.ext.asyncio import AsyncSession

    from ..polling.login_lease import LoginLeases
    from ..runtime import Runtime
    from ..vault import Vault

__all__ = [
    "MAX_CHAT_TEXT",
    "MAX_REPORT_DAYS",
    "AccountOperations",
    "ChatView",
    "Done",
    "NeedsCode",
    "NeedsLogin",
    "OperationName",
    "PendingOperation",
    "PluginMissing",
    "check_period",
]

log = logging.getLogger(__name__)
T = TypeVar("T")
AnyResult = (
    TariffChangeResult
    | ServiceChangeResult
    | Suspension
    | TopUpResult
    | TrustedPaymentResult
    | AutopaySettings
    | OperationResult
)
R = TypeVar("R", bound=AnyResult)

OperationName = Literal[
    "change_tariff",
    "set_service",
    "suspend",
    "resume",
    "top_up",
    "take_trusted_payment",
    "set_autopay",
]
MAX_REPORT_DAYS = 366
MAX_CHAT_TEXT = 2000
MAX_TOP_UP = Decimal(1_000_000)


class NeedsLogin(AuthError):
    """Only a person can log this account in again (re-login from the account page)."""

    key = "auth.needs_login"


class PluginMissing(NotSupported):
    """The plugin of this account's operator is not installed or failed to load."""

    key = "plugin.missing"


@dataclass(frozen=True)
class PendingOperation:
    """An operation the operator wants confirmed with a code: what, with which arguments."""

    account_id: int
    operation: OperationName
    args: dict[str, str]
    challenge: Challenge = field(repr=False)


@dataclass(frozen=True)
class Done(Generic[R]):
    """The operator did it."""

    operation: OperationName
    args: dict[str, str]
    result: R


CodeError = Literal[
    "confirm.code_required", "confirm.rejected", "confirm.no_resend", "confirm.resend_wait"
]


@dataclass(frozen=True)
class NeedsCode:
    """The operator wants a code; ``error``/``reason`` say why the last step did not do (the
    operator's words, or the seconds to wait before a new code), ``notice`` what happened."""

    pending: PendingOperation
    error: CodeError | None = None
    reason: str | None = None
    notice: Literal["wizard.resent"] | None = None

    @property
    def challenge(self) -> Challenge:
        return self.pending.challenge


@dataclass(frozen=True)
class ChatView:
    """The chat of one account: its topics and the stored transcript (oldest first)."""

    topics: list[ChatTopic]
    messages: list[ChatTranscript]


def check_period(start: dt.date, end: dt.date, *, max_days: int = MAX_REPORT_DAYS) -> None:
    """:class:`BadInput` for a period ending before it starts or longer than ``max_days``."""
    if end < start:
        raise BadInput(
            "end", "не раньше начала / not before the start", key="form.expect_end_after_start"
        )
    if (end - start).days > max_days:
        raise BadInput(
            "end",
            f"не длиннее {max_days} дней / at most {max_days} days",
            key="form.expect_period_max",
            count=max_days,
        )


def remember_suspension(account: LinkedAccount, result: object) -> bool:
    """Keep what the operator said about the voluntary block (``result`` of a suspend, a
    resume or the suspension read), so the dashboard shows a requested or scheduled block
    before it starts. True when something changed (the caller commits)."""
    if not isinstance(result, Suspension):
        return False
    active = result.state == SuspensionState.ACTIVE
    planned = (
        None if active else result.state.value,
        None if active else result.start,
        None if active else result.end,
    )
    if planned == (
        account.suspension_state,
        account.suspension_start,
        account.suspension_planned_end,
    ):
        return False
    account.suspension_state, account.suspension_start, account.suspension_planned_end = planned
    return True


def check_amount(amount: Decimal, field_name: str = "amount") -> Decimal:
    """A sum in roubles between 0 and 1 000 000, to the kopeck; :class:`BadInput` otherwise."""
    if not amount.is_finite() or amount <= 0 or amount > MAX_TOP_UP:
        raise BadInput(field_name, "сумма от 0 до 1 000 000 / a sum between 0 and 1 000 000")
    return quantize(amount)


def _audit_details(args: dict[str, str], result: object) -> dict[str, str]:
    details = dict(args)
    effective = getattr(result, "effective_date", None)
    if isinstance(effective, dt.date):
        details["effective_date"] = effective.isoformat()
    return details


class AccountOperations:
    """Typed operator calls for one process (one per :class:`~aggregator.runtime.Runtime`)."""

    def __init__(
        self,
        runtime: Runtime,
        vault: Vault,
        sessions: SessionKeeper | None = None,
        *,
        leases: LoginLeases | None = None,
    ) -> None:
        self.runtime = runtime
        self.vault = vault
        self._sessions = sessions
        # The cluster-wide turn of a login when no poller of this process brings its own (a
        # dashboard without the embedded scheduler, the CLI): see aggregator.polling.login_lease.
        self.leases = leases

    @property
    def sessions(self) -> SessionKeeper:
        """The process's keeper (the poller's when one runs here: one guard, one breaker)."""
        return self._sessions or keeper_for(self.runtime, self.vault)

    def provider_class(self, provider_id: str) -> type[Provider]:
        try:
            return self.runtime.registry.provider(provider_id)
        except KeyError:
            raise PluginMissing(f"no plugin for {provider_id}") from None

    def capabilities(self, provider_id: str) -> frozenset[str]:
        try:
            cls = self.runtime.registry.provider(provider_id)
        except KeyError:
            return frozenset()
        return frozenset(c.value for c in cls.capabilities())

    # -- the one call path ------------------------------------------------------------------
    async def call(
        self,
        db: AsyncSession,
        account: LinkedAccount,
        operation: Callable[[Provider, Session, str], Awaitable[T]],
    ) -> T:
        """Run ``operation(provider, session, subaccount_id)`` with a live operator session."""
        cls = self.provider_class(account.provider_id)
        provider = self.runtime.provider(account.provider_id)
        keeper = self.sessions
        started = time.monotonic()
        if account.status == AccountStatus.NEEDS_LOGIN.value:
            raise NeedsLogin("this account needs a person to log in again")
        async with keeper.gate(account.provider_id), keeper.guard.use_lock(account):
            cluster = keeper.guard.cluster or self.leases
            if cluster is None or not await cluster.shared(account):
                return await self._call_with(db, account, provider, cls, operation, started)
            # The login's siblings may be polled by another process: its turn across the
            # cluster, with the session the database holds now (aggregator.polling.login_lease).
            async with cluster.hold(account):
                keeper.guard.memory(account).session = None
                fresh = await cluster.stored_session(account.id)
                return await self._call_with(
                    db, account, provider, cls, operation, started, sealed=fresh
                )

    async def _call_with(
        self,
        db: AsyncSession,
        account: LinkedAccount,
        provider: Provider,
        cls: type[Provider],
        operation: Callable[[Provider, Session, str], Awaitable[T]],
        started: float,
        *,
        sealed: bytes | Literal[False] | None = False,
    ) -> T:
        """The operation with the login's newest session (``sealed``: as the database holds it
        now; False: the process's newest, else the account's); a silent re-login when needed.
        A renewed or new session is stored for the login before this returns."""
        keeper = self.sessions
        row = account if sealed is False else LinkedAccount(id=account.id, session_sealed=sealed)
        try:
            session = keeper.current_session(account, row)
        except Unreadable:
            session = None
        if session is None or (session.expires_at is not None and session.expires_at <= utcnow()):
            session = await self._relogin(db, account, provider, cls, started)
        try:
            result = await operation(provider, session, account.subaccount_id)
        except SessionExpired:
            keeper.forget_session(account, session)
            session = await self._relogin(db, account, provider, cls, started)
            result = await operation(provider, session, account.subaccount_id)
        refreshed = provider.refreshed_session(session)
        if refreshed is not None:
            keeper.remember_session(account, refreshed)
            await self._store_session(db, account, refreshed)
        return result

    async def _relogin(
        self,
        db: AsyncSession,
        account: LinkedAccount,
        provider: Provider,
        cls: type[Provider],
        started: float,
    ) -> Session:
        keeper = self.sessions
        try:
            session = await keeper.relogin(provider, cls, account, account, started=started)
        except ChallengeMet:
            await self._mark_needs_login(db, account, "auth.challenge")
            raise NeedsLogin("the operator asks a question only a person can answer") from None
        except RefusedBefore as refused:
            await self._mark_needs_login(db, account, refused.failure.key)
            raise NeedsLogin("this login needs a person") from None
        except (NoCredentials, Unreadable):
            await self._mark_needs_login(db, account, "auth.session_expired")
            raise NeedsLogin("no stored credentials to log in again") from None
        except LoginFailed as failed:
            cause = failed.cause
            if isinstance(cause, FlowExpired):
                raise cause from None
            if isinstance(cause, AuthError):
                if isinstance(cause, InvalidCredentials | AccountLocked):
                    from ..polling.status import Failure

                    keeper.remember_refusal(
                        account,
                        Failure(AccountStatus.NEEDS_LOGIN, cause.key, {}, login_refused=True),
                    )
                await self._mark_needs_login(db, account, cause.key)
            raise cause from None
        await self._store_session(db, account, session)
        return session

    async def _store_session(
        self, db: AsyncSession, account: LinkedAccount, session: Session
    ) -> None:
        """The session belongs to the login: stored for every account of it at once."""
        seal_session(self.vault, account, session)
        await db.flush()
        await store_login_session(
            await db.connection(),
            self.vault,
            account.household_id,
            account.provider_id,
            account.login_key,
            session,
        )
        await db.commit()

    async def _mark_needs_login(self, db: AsyncSession, account: LinkedAccount, key: str) -> None:
        if account.status != AccountStatus.NEEDS_LOGIN.value:
            log.info("account %s needs login (%s)", account.id, key)
        account.status = AccountStatus.NEEDS_LOGIN.value
        account.last_error_key = key
        account.next_due_at = None
        await db.commit()

    # -- reads ------------------------------------------------------------------------------
    async def tariffs(self, db: AsyncSession, account: LinkedAccount) -> TariffCatalogue:
        return await self.call(db, account, lambda p, s, a: p.tariffs(s, a))

    async def services(self, db: AsyncSession, account: LinkedAccount) -> list[Service]:
        return await self.call(db, account, lambda p, s, a: p.services(s, a))

    async def suspension(self, db: AsyncSession, account: LinkedAccount) -> Suspension:
        suspension = await self.call(db, account, lambda p, s, a: p.suspension(s, a))
        if remember_suspension(account, suspension):
            await db.commit()
        return suspension

    async def quote_suspension(
        self, db: AsyncSession, account: LinkedAccount, start: dt.date, end: dt.date
    ) -> SuspensionQuote:
        check_period(start, end)
        return await self.call(db, account, lambda p, s, a: p.quote_suspension(s, a, start, end))

    async def usage(self, db: AsyncSession, account: LinkedAccount) -> Usage:
        return await self.call(db, account, lambda p, s, a: p.usage(s, a))

    async def traffic(
        self, db: AsyncSession, account: LinkedAccount, start: dt.date, end: dt.date
    ) -> TrafficStats:
        check_period(start, end)
        return await self.call(db, account, lambda p, s, a: p.traffic(s, a, start, end))

    async def payments(
        self, db: AsyncSession, account: LinkedAccount, since: dt.date, until: dt.date
    ) -> list[Payment]:
        check_period(since, until)
        return await self.call(db, account, lambda p, s, a: p.payments(s, a, since, until))

    async def trusted_payment(self, db: AsyncSession, account: LinkedAccount) -> TrustedPayment:
        """The operator's offer and what is owed; kept on the account for the cards."""
        state = await self.call(db, account, lambda p, s, a: p.trusted_payment(s, a))
        await remember_trusted_payment(db, account, state)
        return state

    async def autopay(self, db: AsyncSession, account: LinkedAccount) -> AutopaySettings:
        return await self.call(db, account, lambda p, s, a: p.autopay(s, a))

    async def news(self, db: AsyncSession, account: LinkedAccount) -> list[NewsItem]:
        return await self.call(db, account, lambda p, s, a: p.news(s, a))

    async def profile(self, db: AsyncSession, account: LinkedAccount) -> Profile:
        return await self.call(db, account, lambda p, s, a: p.profile(s, a))

    async def report(
        self,
        db: AsyncSession,
        account: LinkedAccount,
        start: dt.date,
        end: dt.date,
        fmt: ReportFormat,
    ) -> Report:
        check_period(start, end)
        return await self.call(db, account, lambda p, s, a: p.report(s, a, start, end, fmt))

    # -- chat -------------------------------------------------------------------------------
    async def chat(self, db: AsyncSession, account: LinkedAccount) -> ChatView:
        """The topics and the whole history (new messages from the operator are stored)."""
        topics = await self.call(db, account, lambda p, s, a: p.chat_topics(s, a))
        return ChatView(topics, await self.chat_messages(db, account))

    async def chat_messages(self, db: AsyncSession, account: LinkedAccount) -> list[ChatTranscript]:
        """The transcript after fetching what the operator has (replies arrive over time)."""
        history = await self.call(db, account, lambda p, s, a: p.chat_history(s, a))
        await _store_messages(db, account.id, history)
        return await _transcript(db, account.id)

    async def send_chat(
        self, db: AsyncSession, account: LinkedAccount, topic_id: str, text: str
    ) -> ChatView:
        """Send ``text`` (in ``topic_id``, one of the account's topics, or none)."""
        text = text.strip()
        if not text or len(text) > MAX_CHAT_TEXT:
            raise BadInput(
                "text", f"от 1 до {MAX_CHAT_TEXT} символов / 1 to {MAX_CHAT_TEXT} characters"
            )
        topic_id = topic_id.strip()
        topics = await self.call(db, account, lambda p, s, a: p.chat_topics(s, a))
        if topic_id and topic_id not in {t.id for t in topics}:
            raise BadInput("topic_id", "нет такой темы / not one of the account's chat topics")
        replies = await self.call(
            db, account, lambda p, s, a: p.send_chat_message(s, a, topic_id, text)
        )
        history = await self.call(db, account, lambda p, s, a: p.chat_history(s, a))
        await _store_messages(db, account.id, [*history, *replies])
        return ChatView(topics, await _transcript(db, account.id))

    # -- changes: audited, and each may want a code ------------------------------------------
    async def _change(
        self,
        db: AsyncSession,
        account: LinkedAccount,
        user_id: int | None,
        operation: OperationName,
        args: dict[str, str],
        call: Callable[[Provider, Session, str], Awaitable[R | Challenge]],
    ) -> Done[R] | NeedsCode:
        result = await self.call(db, account, call)
        if isinstance(result, Challenge):
            return NeedsCode(PendingOperation(account.id, operation, args, result))
        remember_suspension(account, result)
        await self._audit(
            db, account, user_id, f"operation.{operation}", _audit_details(args, result)
        )
        return Done(operation, args, result)

    async def change_tariff(
        self, db: AsyncSession, account: LinkedAccount, tariff_id: str, *, user_id: int | None
    ) -> Done[TariffChangeResult] | NeedsCode:
        tariff_id = tariff_id.strip()
        if not tariff_id:
            raise BadInput("tariff_id", "обязательно / required")
        return await self._change(
            db,
            account,
            user_id,
            "change_tariff",
            {"tariff_id": tariff_id},
            lambda p, s, a: p.change_tariff(s, a, tariff_id),
        )

    async def set_service(
        self,
        db: AsyncSession,
        account: LinkedAccount,
        service_id: str,
        enabled: bool,
        *,
        user_id: int | None,
    ) -> Done[ServiceChangeResult] | NeedsCode:
        return await self._change(
            db,
            account,
            user_id,
            "set_service",
            {"service_id": service_id, "enabled": str(enabled)},
            lambda p, s, a: p.set_service(s, a, service_id, enabled),
        )

    async def suspend(
        self,
        db: AsyncSession,
        account: LinkedAccount,
        start: dt.date,
        end: dt.date,
        *,
        user_id: int | None,
    ) -> Done[Suspension] | NeedsCode:
        check_period(start, end)
        return await self._change(
            db,
            account,
            user_id,
            "suspend",
            {"start": start.isoformat(), "end": end.isoformat()},
            lambda p, s, a: p.suspend(s, a, start, end),
        )

    async def resume(
        self, db: AsyncSession, account: LinkedAccount, *, user_id: int | None
    ) -> Done[Suspension] | NeedsCode:
        return await self._change(
            db, account, user_id, "resume", {}, lambda p, s, a: p.resume(s, a)
        )

    async def top_up(
        self, db: AsyncSession, account: LinkedAccount, amount: Decimal, *, user_id: int | None
    ) -> Done[TopUpResult] | NeedsCode:
        amount = check_amount(amount)
        return await self._change(
            db,
            account,
            user_id,
            "top_up",
            {"amount": str(amount)},
            lambda p, s, a: p.top_up(s, a, amount),
        )

    async def take_trusted_payment(
        self, db: AsyncSession, account: LinkedAccount, amount: Decimal, *, user_id: int | None
    ) -> Done[TrustedPaymentResult] | NeedsCode:
        """A trusted payment (credit now, paid back by its due date); not a top-up. The debt
        and due date are kept on the account at once, for the cards and the due alert."""
        amount = check_amount(amount)
        outcome: Done[TrustedPaymentResult] | NeedsCode = await self._change(
            db,
            account,
            user_id,
            "take_trusted_payment",
            {"amount": str(amount)},
            lambda p, s, a: p.take_trusted_payment(s, a, amount),
        )
        if isinstance(outcome, Done):
            with contextlib.suppress(AggregatorError):
                await self.trusted_payment(db, account)
        return outcome

    async def set_autopay(
        self,
        db: AsyncSession,
        account: LinkedAccount,
        settings: AutopaySettings,
        *,
        user_id: int | None,
    ) -> Done[AutopaySettings] | NeedsCode:
        return await self._change(
            db,
            account,
            user_id,
            "set_autopay",
            {"enabled": str(settings.enabled)},
            lambda p, s, a: p.set_autopay(s, a, settings),
        )

    async def confirm(
        self,
        db: AsyncSession,
        account: LinkedAccount,
        pending: PendingOperation,
        code: str,
        *,
        user_id: int | None,
    ) -> Done[OperationResult] | NeedsCode:
        """Answer the operator's code for ``pending`` (an operation of ``account``)."""
        if pending.account_id != account.id:
            raise FlowExpired("this confirmation belongs to another account")
        code = code.strip()
        if not code:
            return NeedsCode(pending, error="confirm.code_required")
        answer = ChallengeAnswer(text=Secret(code))
        challenge = pending.challenge
        try:
            result = await self.call(db, account, lambda p, s, a: p.confirm(s, challenge, answer))
        except (OperationRejected, CodeRejected) as exc:  # the step stays open
            return NeedsCode(pending, error="confirm.rejected", reason=exc.reason or None)
        if isinstance(result, Challenge):  # a second code: the same operation goes on
            return NeedsCode(replace(pending, challenge=result))
        remember_suspension(account, result)
        await self._audit(
            db,
            account,
            user_id,
            f"operation.{pending.operation}.confirmed",
            _audit_details(pending.args, result),
        )
        return Done(pending.operation, pending.args, result)

    async def resend_code(
        self, db: AsyncSession, account: LinkedAccount, pending: PendingOperation
    ) -> NeedsCode:
        """Ask the operator for a new code for ``pending`` (after its countdown)."""
        if pending.account_id != account.id:
            raise FlowExpired("this confirmation belongs to another account")
        challenge = pending.challenge
        wait = challenge.resend_wait()
        if wait is None:
            return NeedsCode(pending, error="confirm.no_resend")
        if wait:
            return NeedsCode(pending, error="confirm.resend_wait", reason=str(wait))
        try:
            fresh = await self.call(
                db, account, lambda p, s, a: p.resend_code(challenge, session=s)
            )
        except (OperationRejected, CodeRejected) as exc:
            return NeedsCode(pending, error="confirm.rejected", reason=exc.reason or None)
        except NotSupported:
            return NeedsCode(pending, error="confirm.no_resend")
        return NeedsCode(replace(pending, challenge=fresh), notice="wizard.resent")

    async def _audit(
        self,
        db: AsyncSession,
        account: LinkedAccount,
        user_id: int | None,
        action: str,
        details: dict[str, str],
    ) -> None:
        db.add(
            AuditLog(
                household_id=account.household_id,
                user_id=user_id,
                account_id=account.id,
                action=action,
                details=details,
            )
        )
        await db.commit()


async def remember_trusted_payment(
    db: AsyncSession, account: LinkedAccount, state: TrustedPayment
) -> None:
    """Keep the trusted payment's state on the account (as the poll does)."""
    account.trusted_payment = state.model_dump(mode="json")
    await db.commit()


# -- the chat transcript (stored per account: history and unseen replies survive) ----------


async def _store_messages(db: AsyncSession, account_id: int, messages: list[ChatMessage]) -> int:
    """Store messages not seen before (by their remote id); return how many were new."""
    if not messages:
        return 0
    known = set(
        (
            await db.scalars(
                select(ChatTranscript.remote_id).where(
                    ChatTranscript.account_id == account_id,
                    ChatTranscript.remote_id.in_([m.id[:128] for m in messages]),
                )
            )
        ).all()
    )
    new = 0
    for message in messages:
        remote_id = message.id[:128]
        if remote_id in known:
            continue
        known.add(remote_id)
        db.add(
            ChatTranscript(
                account_id=account_id,
                remote_id=remote_id,
                topic_id=message.topic_id,
                author=message.author.value,
                author_name=message.author_name,
                text=message.text,
                sent_at=message.sent_at,
                seen=message.author.value == "user",
            )
        )
        new += 1
    await db.commit()
    return new


async def _transcript(db: AsyncSession, account_id: int, limit: int = 200) -> list[ChatTranscript]:
    rows = await db.scalars(
        select(ChatTranscript)
        .where(ChatTranscript.account_id == account_id)
        .order_by(ChatTranscript.sent_at.desc(), ChatTranscript.id.desc())
        .limit(limit)
    )
    return list(reversed(rows.all()))
