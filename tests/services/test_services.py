"""The application layer, each workflow once: linking one row per operator account, an
operation with its code and its audit, the one silent re-login under the guard and the
breaker, a refused login remembered, label and remove with their records, and poll now.

The reference provider runs in-process (``httpx.ASGITransport``) with its demo household;
the databases are real (SQLite, and PostgreSQL under ``make test``).
"""

from __future__ import annotations

import asyncio
import datetime as dt
from collections.abc import AsyncIterator
from dataclasses import dataclass
from typing import Any
from zoneinfo import ZoneInfo

import httpx
import pytest
from reference_provider.app import create_app as create_reference_app
from reference_provider.backend import Backend
from sqlalchemy import func, select
from sqlalchemy.ext.asyncio import AsyncEngine, AsyncSession

from aggregator.accounts import seal_credentials
from aggregator.core.errors import InvalidCredentials, Unavailable
from aggregator.core.flows import Challenge, ChallengeAnswer, Session
from aggregator.core.models import ReportFormat
from aggregator.core.secret import Secret
from aggregator.runtime import Runtime
from aggregator.services import accounts as service
from aggregator.services.dashboard import household_dashboard
from aggregator.services.errors import BadInput, NotFound
from aggregator.services.operations import AccountOperations, Done, NeedsCode, NeedsLogin
from aggregator.services.polls import failed, poll_accounts
from aggregator.settings import Settings
from aggregator.storage.db import session_factory
from aggregator.storage.models import AccountStatus, AuditLog, Household, LinkedAccount
from aggregator.vault import Vault

PHONE = "9031234567"
MOSCOW = ZoneInfo("Europe/Moscow")


@dataclass
class World:
    backend: Backend
    runtime: Runtime
    ops: AccountOperations
    vault: Vault
    household: Household

    @property
    def provider(self) -> Any:
        return self.runtime.provider("reference")

    async def login(self, scheme: str = "password") -> tuple[Any, Session]:
        cls = type(self.provider)
        if scheme == "password":
            credentials = cls.scheme("password").build_credentials(
                "demo", "demo-password", identifier_kind="login"
            )
            result = await self.provider.start_login(credentials)
        else:
            credentials = cls.scheme("sms_code").build_credentials(
                PHONE, None, identifier_kind="phone"
            )
            result = await self.provider.start_login(credentials)
            assert isinstance(result, Challenge)
            code = self.backend.last_code("reference", purpose="login")
            result = await self.provider.continue_login(result, ChallengeAnswer(text=Secret(code)))
        assert isinstance(result, Session)
        return credentials, result

    async def link(self, db: AsyncSession, scheme: str = "password") -> list[LinkedAccount]:
        credentials, session = await self.login(scheme)
        found = await service.found_subaccounts(self.provider, session)
        return await service.link(
            db,
            self.vault,
            self.provider,
            household_id=self.household.id,
            credentials=credentials,
            session=session,
            chosen=found,
        )


@pytest.fixture
async def world(settings: Settings, vault: Vault, household: Household) -> AsyncIterator[World]:
    backend = Backend(seed=1, clock_speed=0)
    app = create_reference_app(backend=backend, sim=True)
    async with (
        httpx.AsyncClient(
            transport=httpx.ASGITransport(app=app), base_url="http://127.0.0.1"
        ) as http,
        Runtime(settings, http=http) as runtime,
    ):
        yield World(backend, runtime, AccountOperations(runtime, vault), vault, household)


async def _actions(db: AsyncSession, household_id: int) -> list[str]:
    rows = await db.scalars(
        select(AuditLog.action).where(AuditLog.household_id == household_id).order_by(AuditLog.id)
    )
    return list(rows)


async def test_one_row_per_operator_account_whatever_login_reached_it(
    db: AsyncSession, world: World
) -> None:
    first = await world.link(db, "password")
    assert len(first) == 4
    # The same person by an SMS code to the phone: the same four operator accounts.
    again = await world.link(db, "sms_code")
    assert {a.id for a in again} == {a.id for a in first}
    count = await db.scalar(
        select(func.count())
        .select_from(LinkedAccount)
        .where(LinkedAccount.household_id == world.household.id)
    )
    assert count == 4
    board = await household_dashboard(db, world.household.id)
    assert len(board.accounts) == 4
    actions = await _actions(db, world.household.id)
    assert actions.count("account.linked") == 4 and actions.count("account.relinked") == 4


async def test_an_operation_with_a_code_is_audited_once_when_confirmed(
    db: AsyncSession, world: World
) -> None:
    accounts = await world.link(db)
    account = accounts[0]
    catalogue = await world.ops.tariffs(db, account)
    target = next(t for t in catalogue.available if t.id != catalogue.current.id)

    wanted = await world.ops.change_tariff(db, account, target.id, user_id=None)
    assert isinstance(wanted, NeedsCode) and wanted.error is None
    assert not [a for a in await _actions(db, world.household.id) if a.startswith("operation")]

    empty = await world.ops.confirm(db, account, wanted.pending, "  ", user_id=None)
    assert isinstance(empty, NeedsCode) and empty.error == "confirm.code_required"
    wrong = await world.ops.confirm(db, account, wanted.pending, "000000", user_id=None)
    assert isinstance(wrong, NeedsCode) and wrong.error == "confirm.rejected"
    assert wrong.pending == wanted.pending  # the same step: answer it again

    code = world.backend.last_code("reference", purpose="change_tariff")
    done = await world.ops.confirm(db, account, wrong.pending, code, user_id=None)
    assert isinstance(done, Done) and done.operation == "change_tariff"
    operations = [a for a in await _actions(db, world.household.id) if a.startswith("operation")]
    assert operations == ["operation.change_tariff.confirmed"]

    with pytest.raises(BadInput):
        await world.ops.change_tariff(db, account, " ", user_id=None)
    with pytest.raises(BadInput):
        await world.ops.report(
            db, account, dt.date(2024, 1, 2), dt.date(2024, 1, 1), ReportFormat.PDF
        )


async def test_an_expired_session_is_renewed_once_for_every_account_of_the_login(
    engine: AsyncEngine, db: AsyncSession, world: World
) -> None:
    accounts = await world.link(db)
    world.backend.expire_sessions(operator="reference")
    keeper = world.ops.sessions

    async def read(account_id: int) -> None:
        async with session_factory(engine)() as own:
            row = await service.get_account(own, world.household.id, account_id)
            await world.ops.services(own, row)

    await asyncio.gather(*(read(a.id) for a in accounts))
    assert sum(keeper.login_attempts.get(a.id, 0) for a in accounts) == 1


async def test_a_refused_login_is_remembered_and_not_tried_again(
    db: AsyncSession, world: World
) -> None:
    account = (await world.link(db))[0]
    cls = type(world.provider)
    wrong = cls.scheme("password").build_credentials(
        "demo", "not-the-password", identifier_kind="login"
    )
    seal_credentials(world.vault, account, wrong)
    await db.commit()
    world.backend.expire_sessions(operator="reference")
    with pytest.raises(InvalidCredentials):
        await world.ops.tariffs(db, account)
    await db.refresh(account)
    assert account.status == AccountStatus.NEEDS_LOGIN.value
    attempts = dict(world.ops.sessions.login_attempts)
    with pytest.raises(NeedsLogin):
        await world.ops.tariffs(db, account)
    assert world.ops.sessions.login_attempts == attempts


async def test_an_open_breaker_refuses_without_calling_the_operator(
    db: AsyncSession, world: World
) -> None:
    account = (await world.link(db))[0]
    breaker = world.ops.sessions.gates["reference"].breaker
    while breaker.allow():
        breaker.record_failure()
    with pytest.raises(Unavailable):
        await world.ops.tariffs(db, account)


async def test_label_and_remove_leave_their_records(db: AsyncSession, world: World) -> None:
    account = (await world.link(db))[0]
    renamed = await service.set_label(db, world.household.id, account.id, "  Папа  ")
    assert renamed.label == "Папа"
    with pytest.raises(NotFound):
        await service.get_account(db, world.household.id + 1000, account.id)
    await service.remove_account(db, world.household.id, account.id)
    with pytest.raises(NotFound):
        await service.get_account(db, world.household.id, account.id)
    actions = await _actions(db, world.household.id)
    assert actions[-2:] == ["account.labelled", "account.removed"]


async def test_poll_now_is_the_pollers_round(
    engine: AsyncEngine, db: AsyncSession, world: World, settings: Settings
) -> None:
    accounts = await world.link(db)
    outcomes = await poll_accounts(
        settings,
        world.runtime,
        [a.id for a in accounts],
        engine=engine,
        vault=world.vault,
    )
    assert sorted(o.account_id for o in outcomes) == sorted(a.id for a in accounts)
    assert not failed(outcomes)
    board = await household_dashboard(db, world.household.id)
    assert all(a.balance is not None for a in board.accounts)


# -- spending by month ----------------------------------------------------------------------
def _by_month(entries: Any, kind: str) -> dict[dt.date, int]:
    """The backend's own ledger summed per month (Moscow days): charges (< 0) or payments."""
    out: dict[dt.date, int] = {}
    for e in entries:
        if (e.amount < 0) == (kind == "charge"):
            month = e.at.astimezone(MOSCOW).date().replace(day=1)
            out[month] = out.get(month, 0) + abs(e.amount)
    return out


async def test_spending_by_month_matches_the_charges_and_payments(
    db: AsyncSession, world: World
) -> None:
    from aggregator.services.spending import account_spending

    (account, *_) = await world.link(db)
    acc = world.backend.account(account.subaccount_id)
    today = world.backend.now().date()
    start = (today.replace(day=1) - dt.timedelta(days=40)).replace(day=1)  # three months
    found = await account_spending(db, world.ops, account, start, today, MOSCOW)
    assert [m.month for m in found.months] == [
        start,
        (start + dt.timedelta(days=32)).replace(day=1),
        today.replace(day=1),
    ]
    ledger = world.backend.ledger(acc, start, today)
    charges, paid = _by_month(ledger, "charge"), _by_month(ledger, "payment")
    assert charges and paid  # the demo's history: daily charges, monthly payments
    for month in found.months:
        assert month.source == "charges"
        assert month.spent_minor == charges.get(month.month, 0), month
        assert month.paid_in_minor == paid.get(month.month, 0), month
    assert found.total_spent_minor == sum(charges.values())
    assert len(found.payments) == len(ledger)


def test_spending_from_readings_when_the_operator_lists_no_charges() -> None:
    from aggregator.core.models import Money, Payment
    from aggregator.services.spending import monthly

    def at(day: str, hour: int = 12) -> dt.datetime:
        return dt.datetime.combine(dt.date.fromisoformat(day), dt.time(hour), dt.UTC)

    # 500 ₽ on 1 Jan; 10 ₽ a day; a 300 ₽ top-up on 20 Feb; read once a day.
    readings, balance = [], 500_00
    top_ups = [Payment(id="t1", at=at("2025-02-20", 9), amount=Money.rub(300))]
    day = dt.date(2025, 1, 1)
    while day <= dt.date(2025, 3, 10):
        balance -= 10_00
        if day == dt.date(2025, 2, 20):
            balance += 300_00
        readings.append((at(day.isoformat()), balance))
        day += dt.timedelta(days=1)
    payments_only = monthly(dt.date(2025, 1, 1), dt.date(2025, 3, 10), top_ups, readings)
    # January: only from its first reading (nothing before), 30 days of 10 ₽ after it.
    assert [(m.month.month, m.spent_minor, m.paid_in_minor, m.source) for m in payments_only] == [
        (1, 300_00, 0, "balances"),
        (2, 280_00, 300_00, "balances"),
        (3, 100_00, 0, "balances"),
    ]
    # Without any payment history: the falls are spending, the rise a top-up (net of that
    # day's 10 ₽).
    drops = monthly(dt.date(2025, 1, 1), dt.date(2025, 3, 10), None, readings)
    assert [(m.spent_minor, m.paid_in_minor, m.source) for m in drops] == [
        (300_00, 0, "drops"),
        (270_00, 290_00, "drops"),
        (100_00, 0, "drops"),
    ]
    assert drops[2].end_balance_minor == readings[-1][1]
    # A month with nothing known is listed as a gap.
    gap = monthly(dt.date(2024, 12, 1), dt.date(2025, 1, 31), top_ups, readings[:31])
    assert gap[0].spent_minor is None and gap[0].source is None
