"""The poller's database side: claiming due accounts and writing poll results.

**Claims.** An account is polled by whoever *claims* it: one statement sets
``poll_claim`` (a token naming the claimer) and pushes ``next_due_at`` forward by a lease
(``UPDATE ... WHERE id IN (SELECT ... FOR UPDATE SKIP LOCKED) RETURNING id`` on PostgreSQL; an
immediate transaction on SQLite). Two workers therefore never poll the same account at once,
and a poller killed mid-poll frees its accounts when the lease ends.

**Results.** :meth:`ResultStore.write` stores a group of poll records in ONE transaction:
for each record whose claim still holds, the account row (status, error, next due time,
cheap data, a re-sealed session, the spend history), its reading, and the alert episodes and
outbox rows the reading opens (:class:`~aggregator.alerts.episodes.AlertWriter`). A claim lost
meanwhile (the lease ran out and someone else polled, or the user linked the account again,
or the keys were rotated) discards the record. :class:`GroupCommitter` feeds it: records from
every poll in the process queue up and go in one commit, so 10,000 polls cost a few dozen
transactions, not 10,000.
"""

from __future__ import annotations

import asyncio
import contextlib
import datetime as dt
import logging
import time
from collections import defaultdict
from collections.abc import Callable, Sequence
from dataclasses import dataclass
from typing import TYPE_CHECKING, Any, cast

from sqlalchemy import Table, bindparam, func, literal, or_, select, update
from sqlalchemy.ext.asyncio import AsyncConnection, AsyncEngine

from ..accounts import LoginKey, balance_key_for, store_login_sessions
from ..alerts.episodes import AccountInfo, AlertItem, AlertWriter
from ..alerts.forecast import SpendHistory, forecast
from ..alerts.remainders import left_by_unit, to_json
from ..alerts.rules import AccountFacts
from ..core.flows import Session
from ..core.models import AccountState, BonusPoints, Money, Notice, NoticeKind, PollResult
from ..core.parsing import MOSCOW_TZ
from ..storage.models import (
    AccountStatus,
    BalanceReading,
    Household,
    LinkedAccount,
    to_minor,
    utcnow,
)
from ..storage.transactions import transaction
from ..vault import Vault
from .models import ClaimedAccount, PollRecord
from .poller import REFUSED_KEYS
from .status import POLLABLE_STATUSES, Failure

if TYPE_CHECKING:
    from .models import LoginTarget

__all__ = ["GroupCommitter", "ResultStore", "WriteResult"]

log = logging.getLogger(__name__)

accounts_t = cast(Table, LinkedAccount.__table__)
households_t = cast(Table, Household.__table__)
readings_t = cast(Table, BalanceReading.__table__)

OPERATORS_TTL_S = 30.0
"""How long the list of operators with accounts is trusted before it is read again."""


@dataclass(frozen=True)
class WriteResult:
    stored: bool
    reading_id: int | None = None
    old_status: str | None = None
    new_status: str | None = None
    outbox: int = 0


def _aware(value: dt.datetime) -> dt.datetime:
    return value if value.tzinfo is not None else value.replace(tzinfo=dt.UTC)


class ResultStore:
    def __init__(self, engine: AsyncEngine, vault: Vault, alerts: AlertWriter) -> None:
        self.engine = engine
        self.vault = vault
        self.alerts = alerts
        self.postgres = engine.dialect.name == "postgresql"
        self.last_queued = 0
        self._operators: tuple[float, list[str]] | None = None
        # Called after a commit that queued outbox rows (wakes the sender).
        self.on_queued: Callable[[int], None] | None = None

    # -- claims ----------------------------------------------------------------------------
    async def count_due(
        self, now: dt.datetime | None = None, *, cap: int | None = None
    ) -> dict[str, int]:
        """Due accounts per operator (operators with none left out). ``cap``: count each
        operator's only up to ``cap`` (read off the index, however many accounts there are)."""
        now = now or utcnow()
        if cap is None:
            statement = (
                select(accounts_t.c.provider_id, func.count())
                .where(
                    accounts_t.c.status.in_(POLLABLE_STATUSES),
                    or_(accounts_t.c.next_due_at.is_(None), accounts_t.c.next_due_at <= now),
                )
                .group_by(accounts_t.c.provider_id)
            )
            async with transaction(self.engine) as conn:
                rows = (await conn.execute(statement)).all()
            return {row[0]: int(row[1]) for row in rows}
        operators = await self.operators()
        if not operators:
            return {}
        counts = []
        for operator in operators:
            for due in _due_of(operator, now):
                part = due.with_only_columns(literal(1)).limit(cap).subquery()
                counts.append(select(func.count()).select_from(part).scalar_subquery())
        async with transaction(self.engine) as conn:
            row = (await conn.execute(select(*counts))).one()
        out = {}
        for index, operator in enumerate(operators):
            count = min(cap, int(row[2 * index]) + int(row[2 * index + 1]))
            if count:
                out[operator] = count
        return out

    async def operators(self) -> list[str]:
        """The operators that have accounts (looked up again every ``OPERATORS_TTL_S``, or
        after :meth:`forget_operators`)."""
        mono = time.monotonic()
        if self._operators is None or mono - self._operators[0] > OPERATORS_TTL_S:
            async with transaction(self.engine) as conn:
                found = (
                    (await conn.execute(select(accounts_t.c.provider_id).distinct()))
                    .scalars()
                    .all()
                )
            self._operators = (mono, sorted(str(op) for op in found))
        return list(self._operators[1])

    def forget_operators(self) -> None:
        """Accounts were linked: an operator may be new."""
        self._operators = None

    async def claim_due(
        self, provider_id: str | None, limit: int, token: str, lease_s: float
    ) -> list[int]:
        """Claim up to ``limit`` due accounts (of one operator, or any); their ids.

        Of one operator: those never polled (``next_due_at`` NULL) first, then the most
        overdue, each read off the index ``ix_linked_accounts_operator_due``: a claim costs
        the batch it takes, not a scan of every pollable account."""
        now = utcnow()
        if provider_id is None:
            due = select(accounts_t.c.id).where(
                accounts_t.c.status.in_(POLLABLE_STATUSES),
                or_(accounts_t.c.next_due_at.is_(None), accounts_t.c.next_due_at <= now),
            )
            due = due.order_by(accounts_t.c.next_due_at.nulls_first(), accounts_t.c.id)
            return await self._claim([due.limit(limit)], token, now, lease_s, limit)
        never, dated = _due_of(provider_id, now)
        dated = dated.order_by(accounts_t.c.next_due_at, accounts_t.c.id)
        return await self._claim([never, dated], token, now, lease_s, limit)

    async def claim_ids(
        self, ids: Sequence[int], token: str, lease_s: float, *, include_paused: bool = False
    ) -> list[int]:
        """Claim the given accounts unless someone is polling them right now."""
        now = utcnow()
        due = select(accounts_t.c.id).where(
            accounts_t.c.id.in_(list(ids)),
            or_(
                accounts_t.c.poll_claim.is_(None),
                accounts_t.c.next_due_at.is_(None),
                accounts_t.c.next_due_at <= now,
            ),
        )
        if not include_paused:
            due = due.where(accounts_t.c.status.in_(POLLABLE_STATUSES))
        return await self._claim([due], token, now, lease_s, len(ids))

    async def _claim(
        self, queries: list[Any], token: str, now: dt.datetime, lease_s: float, limit: int
    ) -> list[int]:
        """Claim what ``queries`` select, in turn, up to ``limit`` accounts (one transaction)."""
        claimed: list[int] = []
        async with transaction(self.engine) as conn:
            for due in queries:
                wanted = limit - len(claimed)
                if wanted <= 0:
                    break
                due = due.limit(wanted)
                if self.postgres:
                    due = due.with_for_update(skip_locked=True)
                statement = (
                    update(accounts_t)
                    .where(accounts_t.c.id.in_(due.scalar_subquery()))
                    .values(poll_claim=token, next_due_at=now + dt.timedelta(seconds=lease_s))
                    .returning(accounts_t.c.id)
                )
                claimed += [row[0] for row in await conn.execute(statement)]
        return sorted(claimed)

    async def load(self, ids: Sequence[int], token: str) -> list[ClaimedAccount]:
        """The claimed accounts among ``ids`` (those whose claim is still ``token``)."""
        if not ids:
            return []
        login = accounts_t.alias("login")
        siblings = (
            select(func.count())
            .select_from(login)
            .where(
                login.c.household_id == accounts_t.c.household_id,
                login.c.provider_id == accounts_t.c.provider_id,
                login.c.login_key == accounts_t.c.login_key,
            )
            .scalar_subquery()
            .label("siblings")
        )
        statement = (
            select(
                accounts_t.c.id,
                accounts_t.c.household_id,
                accounts_t.c.provider_id,
                accounts_t.c.login_scheme,
                accounts_t.c.login_key,
                accounts_t.c.subaccount_id,
                accounts_t.c.label,
                accounts_t.c.number_masked,
                accounts_t.c.status,
                accounts_t.c.last_error_key,
                accounts_t.c.consecutive_failures,
                accounts_t.c.poll_interval_s,
                households_t.c.poll_interval_s.label("household_interval_s"),
                accounts_t.c.credentials_sealed,
                accounts_t.c.session_sealed,
                accounts_t.c.spend_history,
                accounts_t.c.suspension_end,
                accounts_t.c.poll_claim,
                accounts_t.c.suspension_state,
                accounts_t.c.suspension_start,
                accounts_t.c.suspension_planned_end,
                siblings,
            )
            .join(households_t, households_t.c.id == accounts_t.c.household_id)
            .where(accounts_t.c.id.in_(list(ids)), accounts_t.c.poll_claim == token)
            .order_by(accounts_t.c.id)
        )
        async with transaction(self.engine) as conn:
            rows = (await conn.execute(statement)).all()
        return [
            ClaimedAccount(
                id=row.id,
                household_id=row.household_id,
                provider_id=row.provider_id,
                login_scheme=row.login_scheme,
                login_key=row.login_key,
                subaccount_id=row.subaccount_id,
                label=row.label,
                number_masked=row.number_masked,
                status=row.status,
                last_error_key=row.last_error_key,
                consecutive_failures=row.consecutive_failures or 0,
                poll_interval_s=row.poll_interval_s,
                household_interval_s=row.household_interval_s,
                credentials_sealed=row.credentials_sealed,
                session_sealed=row.session_sealed,
                spend_history=row.spend_history,
                suspension_end=row.suspension_end,
                claim=row.poll_claim,
                suspension_state=row.suspension_state,
                suspension_start=row.suspension_start,
                suspension_planned_end=row.suspension_planned_end,
                siblings=int(row.siblings or 1),
            )
            for row in rows
        ]

    async def release(
        self,
        token: str | None = None,
        *,
        prefix: str | None = None,
        ids: Sequence[int] | None = None,
    ) -> int:
        """Give back claims (a stopped job's unfinished polls, or what a previous run of this
        process held): those accounts are due now."""
        if token is None and prefix is None:
            return 0
        condition = (
            accounts_t.c.poll_claim == token
            if token is not None
            else accounts_t.c.poll_claim.startswith(prefix or "", autoescape=True)
        )
        statement = update(accounts_t).where(condition)
        if ids is not None:
            if not ids:
                return 0
            statement = statement.where(accounts_t.c.id.in_(list(ids)))
        async with transaction(self.engine) as conn:
            result = await conn.execute(statement.values(poll_claim=None, next_due_at=utcnow()))
        return int(result.rowcount or 0)

    async def refused_login(self, account: LoginTarget) -> Failure | None:
        """Another account of the same login was refused (wrong password, locked)?"""
        statement = (
            select(accounts_t.c.last_error_key, accounts_t.c.last_error)
            .where(
                accounts_t.c.household_id == account.household_id,
                accounts_t.c.provider_id == account.provider_id,
                accounts_t.c.login_key == account.login_key,
                accounts_t.c.id != account.id,
                accounts_t.c.status == AccountStatus.NEEDS_LOGIN.value,
                accounts_t.c.last_error_key.in_(REFUSED_KEYS),
            )
            .limit(1)
        )
        async with transaction(self.engine) as conn:
            row = (await conn.execute(statement)).first()
        if row is None:
            return None
        return Failure(
            AccountStatus.NEEDS_LOGIN,
            row.last_error_key,
            {"same_login_as": "another account"},
            login_refused=True,
        )

    # -- writing -----------------------------------------------------------------------------
    async def write(self, records: Sequence[PollRecord]) -> list[WriteResult]:
        """Store ``records`` in one transaction (see the module docstring)."""
        if not records:
            return []
        self.last_queued = 0
        async with transaction(self.engine) as conn:
            results = await self._write(conn, records)
        if self.last_queued and self.on_queued is not None:
            self.on_queued(self.last_queued)
        return results

    async def _write(
        self, conn: AsyncConnection, records: Sequence[PollRecord]
    ) -> list[WriteResult]:
        now = utcnow()
        ids = [r.account.id for r in records]
        check = select(
            accounts_t.c.id,
            accounts_t.c.poll_claim,
            accounts_t.c.session_sealed,
            accounts_t.c.credentials_sealed,
        ).where(accounts_t.c.id.in_(ids))
        if self.postgres:
            check = check.with_for_update()
        current = {row.id: row for row in await conn.execute(check)}

        results: dict[int, WriteResult] = {}
        valid: list[PollRecord] = []
        released: list[int] = []
        for record in records:
            account = record.account
            row = current.get(account.id)
            if row is None or row.poll_claim != account.claim:
                results[id(record)] = WriteResult(stored=False)
                continue
            if row.credentials_sealed != account.credentials_sealed:
                # Linked again, or keys rotated, while this poll was in flight: poll again.
                # (The session may have changed: a sibling of the same login refreshed it.)
                released.append(account.id)
                results[id(record)] = WriteResult(stored=False)
                continue
            valid.append(record)
        if released:
            await conn.execute(
                update(accounts_t)
                .where(accounts_t.c.id.in_(released))
                .values(poll_claim=None, next_due_at=now)
            )

        # Readings first: their ids go into the episodes they open.
        reading_rows: list[dict[str, Any]] = []
        reading_of: dict[int, int] = {}
        for record in valid:
            if record.result is not None:
                reading_of[id(record)] = len(reading_rows)
                reading_rows.append(_reading_row(record.account.id, record.result))
        reading_ids: list[int] = []
        if reading_rows:
            inserted = await conn.execute(
                readings_t.insert().returning(readings_t.c.id, sort_by_parameter_order=True),
                reading_rows,
            )
            reading_ids = [row[0] for row in inserted]

        updates: dict[frozenset[str], list[dict[str, Any]]] = defaultdict(list)
        items: list[AlertItem] = []
        for record in valid:
            values, facts = self._account_update(record, now)
            updates[frozenset(values)].append(values)
            reading_id = reading_ids[reading_of[id(record)]] if id(record) in reading_of else None
            account = record.account
            info = AccountInfo(
                account.id,
                account.household_id,
                account.provider_id,
                account.label,
                account.number_masked,
                account.login_key,
            )
            items.append(AlertItem(info, facts, reading_id))
            results[id(record)] = WriteResult(
                stored=True,
                reading_id=reading_id,
                old_status=account.status,
                new_status=record.status,
            )
        for rows in updates.values():
            # The SET clause comes from the keys of the parameter sets (executemany).
            statement = update(accounts_t).where(accounts_t.c.id == bindparam("b_id"))
            await conn.execute(statement, rows)
        # A fresh session belongs to the login: every account of it gets it, once per login
        # (the last one polled in this group is the newest).
        fresh: dict[LoginKey, Session] = {}
        for record in valid:
            if record.new_session is not None and record.failure is None:
                a = record.account
                fresh[(a.household_id, a.provider_id, a.login_key)] = record.new_session
        await store_login_sessions(conn, self.vault, fresh)

        for record in valid:
            if record.failure is not None and record.failure.login_refused:
                items.extend(await self._pause_siblings(conn, record, now))

        self.last_queued = await self.alerts.apply(conn, items, now)
        return [results[id(record)] for record in records]

    def _account_update(
        self, record: PollRecord, now: dt.datetime
    ) -> tuple[dict[str, Any], AccountFacts]:
        account = record.account
        values: dict[str, Any] = {
            "b_id": account.id,
            "status": record.status,
            "next_due_at": record.next_due_at,
            "poll_claim": None,
            "last_polled_at": record.at,
        }
        today = record.at.date()
        if record.failure is None:
            result = record.result
            assert result is not None
            balance = result.balance
            as_of = _aware(balance.as_of)
            today = as_of.date()
            amount_minor = to_minor(balance.amount.amount)
            history = SpendHistory.from_json(account.spend_history)
            history.add(as_of, amount_minor)
            charge = balance.next_charge_amount.amount if balance.next_charge_amount else None
            outlook = forecast(
                history, balance.amount.amount, today, balance.next_charge_date, charge
            )
            values.update(
                last_error_key=None,
                last_error=None,
                consecutive_failures=0,
                last_success_at=record.at,
                operator_state=result.state.value,
                suspension_end=result.suspension_end,
                spend_history=history.to_json(),
                trusted_payment=result.trusted_payment.model_dump(mode="json")
                if result.trusted_payment is not None
                else None,
                balance_key=balance_key_for(self.vault, account.provider_id, result.balance_key)
                if result.balance_key
                else None,
            )
            trusted = result.trusted_payment
            owed = trusted is not None and trusted.owed
            if _approved(account, result):
                values["suspension_state"] = "suspended"  # approved: in force now
            if result.tariff_name is not None:
                values["tariff_name"] = result.tariff_name[:200]
            facts = AccountFacts(
                account_id=account.id,
                status=record.status,
                today=today,
                amount_minor=amount_minor,
                currency=balance.amount.currency,
                days_left=outlook.days_left,
                daily_spend_minor=to_minor(outlook.daily_spend)
                if outlook.daily_spend is not None
                else None,
                runs_out_on=outlook.runs_out_on,
                suspension_end=result.suspension_end,
                next_charge_date=balance.next_charge_date,
                next_charge_minor=to_minor(charge) if charge is not None else None,
                left=left_by_unit(result.remainders) if result.remainders is not None else None,
                trusted_debt_minor=to_minor(trusted.debt.amount)
                if owed and trusted is not None and trusted.debt is not None
                else None,
                trusted_due=trusted.due_date if owed and trusted is not None else None,
                operator_today=as_of.astimezone(MOSCOW_TZ).date(),
                notices=tuple(result.notices) + _approved(account, result),
            )
        else:
            failure = record.failure
            values.update(
                last_error_key=failure.key[:64],
                last_error=failure.last_error(),
                consecutive_failures=account.consecutive_failures
                if record.skipped
                else account.consecutive_failures + 1,
            )
            facts = AccountFacts(
                account_id=account.id,
                status=record.status,
                today=today,
                suspension_end=account.suspension_end,
            )
        return values, facts

    async def _pause_siblings(
        self, conn: AsyncConnection, record: PollRecord, now: dt.datetime
    ) -> list[AlertItem]:
        """The login was refused: every other idle account of it stops too (no more tries)."""
        account = record.account
        failure = record.failure
        assert failure is not None
        error = failure.last_error() | {"same_login_as": account.id}
        rows = (
            await conn.execute(
                update(accounts_t)
                .where(
                    accounts_t.c.household_id == account.household_id,
                    accounts_t.c.provider_id == account.provider_id,
                    accounts_t.c.login_key == account.login_key,
                    accounts_t.c.id != account.id,
                    accounts_t.c.status != AccountStatus.NEEDS_LOGIN.value,
                    accounts_t.c.poll_claim.is_(None),
                )
                .values(
                    status=AccountStatus.NEEDS_LOGIN.value,
                    last_error_key=failure.key[:64],
                    last_error=error,
                    next_due_at=None,
                )
                .returning(accounts_t.c.id, accounts_t.c.label, accounts_t.c.number_masked)
            )
        ).all()
        items: list[AlertItem] = []
        for row in rows:
            log.warning(
                "account %s: login refused through account %s, polling paused", row.id, account.id
            )
            facts = AccountFacts(
                account_id=row.id, status=AccountStatus.NEEDS_LOGIN.value, today=now.date()
            )
            info = AccountInfo(
                row.id,
                account.household_id,
                account.provider_id,
                row.label,
                row.number_masked,
                account.login_key,
            )
            items.append(AlertItem(info, facts, notify=False, note={"same_login_as": account.id}))
        return items


def _due_of(provider_id: str, now: dt.datetime) -> tuple[Any, Any]:
    """One operator's due accounts as two index range reads: never polled, and overdue."""
    base = select(accounts_t.c.id).where(
        accounts_t.c.provider_id == provider_id, accounts_t.c.status.in_(POLLABLE_STATUSES)
    )
    return (
        base.where(accounts_t.c.next_due_at.is_(None)),
        base.where(accounts_t.c.next_due_at <= now),
    )


def _approved(account: ClaimedAccount, result: PollResult) -> tuple[Notice, ...]:
    """A block we asked for, still waiting for the operator, is in force now: the operator
    approved it. One notice, its id naming the block's dates (sent once)."""
    if account.suspension_state not in ("requested", "scheduled"):
        return ()
    if result.state is not AccountState.SUSPENDED:
        return ()
    start = account.suspension_start
    end = account.suspension_planned_end or result.suspension_end
    dates = [d.strftime("%d.%m.%Y") for d in (start, end) if d is not None]
    return (
        Notice(
            id=f"approved:{start or ''}..{end or ''}",
            kind=NoticeKind.SUSPENSION_APPROVED,
            title=" — ".join(dates),
        ),
    )


def bonus_minor(bonus: Money | BonusPoints | None) -> int | None:
    """A bonus as stored: hundredths of a point, or the money's minor units."""
    if bonus is None:
        return None
    if isinstance(bonus, BonusPoints):
        return int(bonus.points * 100)
    return to_minor(bonus.amount, bonus.currency)


def bonus_unit(bonus: Money | BonusPoints | None) -> str | None:
    """What the stored bonus counts: "points" or the money's currency."""
    if bonus is None:
        return None
    return "points" if isinstance(bonus, BonusPoints) else bonus.currency[:3]


def _reading_row(account_id: int, result: PollResult) -> dict[str, Any]:
    balance = result.balance

    def minor(value: Any) -> int | None:
        return to_minor(value.amount) if value is not None else None

    return {
        "account_id": account_id,
        "at": _aware(balance.as_of),
        "amount_minor": to_minor(balance.amount.amount),
        "currency": balance.amount.currency[:3],
        "credit_limit_minor": minor(balance.credit_limit),
        "bonus_minor": bonus_minor(balance.bonus),
        "bonus_unit": bonus_unit(balance.bonus),
        "next_charge_date": balance.next_charge_date,
        "next_charge_minor": minor(balance.next_charge_amount),
        "remainders": to_json(result.remainders) if result.remainders is not None else None,
    }


class GroupCommitter:
    """Queues poll records from every poll of the process and commits them in groups."""

    def __init__(self, store: ResultStore, max_batch: int = 200) -> None:
        self.store = store
        self.max_batch = max_batch
        self._queue: asyncio.Queue[tuple[PollRecord, asyncio.Future[WriteResult]]] = asyncio.Queue()
        self._task: asyncio.Task[None] | None = None
        self.on_committed: list[Any] = []  # callbacks(records, results)

    def start(self) -> None:
        if self._task is None:
            self._task = asyncio.create_task(self._run(), name="poll-result-writer")

    async def stop(self) -> None:
        """Write what is queued, then stop."""
        task, self._task = self._task, None
        if task is None:
            return
        await self._queue.put((None, None))  # type: ignore[arg-type]
        with contextlib.suppress(asyncio.CancelledError):
            await task

    async def submit(self, record: PollRecord) -> WriteResult:
        if self._task is None:
            results = await self._write_group([record])
            return results[0]
        future: asyncio.Future[WriteResult] = asyncio.get_running_loop().create_future()
        await self._queue.put((record, future))
        return await future

    async def _run(self) -> None:
        while True:
            first = await self._queue.get()
            group = [first]
            while len(group) < self.max_batch:
                try:
                    group.append(self._queue.get_nowait())
                except asyncio.QueueEmpty:
                    break
            stop = any(record is None for record, _ in group)
            work = [(record, future) for record, future in group if record is not None]
            if work:
                records = [record for record, _ in work]
                try:
                    results = await self._write_group(records)
                except asyncio.CancelledError:
                    for _, future in work:
                        if not future.done():
                            future.cancel()
                    raise
                for (_, future), result in zip(work, results, strict=True):
                    if not future.done():
                        future.set_result(result)
            if stop:
                return

    async def _write_group(self, records: Sequence[PollRecord]) -> list[WriteResult]:
        try:
            results = await self.store.write(records)
        except asyncio.CancelledError:
            raise
        except Exception:
            if len(records) == 1:
                log.exception("cannot store the poll of account %s", records[0].account.id)
                return [WriteResult(stored=False)]
            log.exception("cannot store %d polls together; storing them one by one", len(records))
            results = []
            for record in records:
                results.extend(await self._write_group([record]))
            return results
        for callback in self.on_committed:
            try:
                callback(records, results)
            except Exception:
                log.exception("a commit callback failed")
        return results
