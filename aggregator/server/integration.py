"""Thin adapters from the dashboard to the other parts of the aggregator.

The schema check, the vault, households and passwords, the polling service and the embedded
mail sink are written elsewhere; the dashboard reaches them only through this module, so a
change of their interfaces touches one file here.
"""

from __future__ import annotations

import contextlib
import logging
from typing import TYPE_CHECKING, Any

import anyio
from sqlalchemy import func, select

from ..storage.models import User
from ..storage.schema import SchemaError, SchemaOutdated, check_current, current_revision, upgrade
from ..vault import Vault, VaultError

if TYPE_CHECKING:
    from sqlalchemy.ext.asyncio import AsyncEngine, AsyncSession

    from ..settings import Settings
    from ..storage.models import Household
    from .context import ServerState

__all__ = [
    "StartupError",
    "any_user_exists",
    "create_household_with_owner",
    "hash_password",
    "open_database",
    "preflight",
    "start_background",
    "stop_background",
    "verify_password",
]

log = logging.getLogger(__name__)


class StartupError(RuntimeError):
    """The dashboard cannot start; the message says why and what to do, in one line."""


def _prepare_data_dir(settings: Settings) -> None:
    if settings.is_sqlite or settings.vault_key is None:
        settings.data_dir.mkdir(parents=True, exist_ok=True, mode=0o700)


async def ensure_schema(settings: Settings, engine: AsyncEngine) -> None:
    """The schema must be current; a fresh SQLite database is created on the spot."""
    try:
        await check_current(engine)
    except SchemaOutdated as exc:
        if settings.is_sqlite and await current_revision(engine) is None:
            log.info("creating the database schema in a new SQLite file")
            await upgrade(engine)
            return
        raise StartupError(str(exc)) from None
    except SchemaError as exc:
        raise StartupError(str(exc)) from None


async def open_database(settings: Settings, engine: AsyncEngine) -> Vault:
    """Check (or create) the schema and open the vault; StartupError says what is wrong."""
    _prepare_data_dir(settings)
    await ensure_schema(settings, engine)
    try:
        return Vault.from_settings(settings)
    except VaultError as exc:
        raise StartupError(str(exc)) from None


async def preflight(settings: Settings) -> str | None:
    """Everything :func:`open_database` checks, before uvicorn starts: the problem or None."""
    from ..storage.db import create_engine

    engine = create_engine(settings.resolved_database_url)
    try:
        await open_database(settings, engine)
    except StartupError as exc:
        return str(exc)
    except OSError as exc:
        return f"cannot open the database: {exc}"
    finally:
        await engine.dispose()
    return None


# -- households and passwords ------------------------------------------------------------------


async def any_user_exists(db: AsyncSession) -> bool:
    return bool(await db.scalar(select(func.count()).select_from(User)))


def _households() -> Any:
    try:
        from .. import households
    except ImportError:
        return None
    return households


def _local_hasher() -> Any:
    from argon2 import PasswordHasher

    return PasswordHasher()  # argon2id with the library's recommended parameters


async def hash_password(password: str) -> str:
    """An argon2id hash (computed in a worker thread: it is deliberately slow)."""
    module = _households()
    if module is not None and hasattr(module, "hash_password"):
        return str(await anyio.to_thread.run_sync(module.hash_password, password))
    return str(await anyio.to_thread.run_sync(_local_hasher().hash, password))


async def verify_password(password_hash: str, password: str) -> bool:
    module = _households()
    if module is not None and hasattr(module, "verify_password"):
        return bool(await anyio.to_thread.run_sync(module.verify_password, password_hash, password))

    def check() -> bool:
        from argon2.exceptions import InvalidHashError, VerificationError

        try:
            return bool(_local_hasher().verify(password_hash, password))
        except (VerificationError, InvalidHashError):
            return False

    return await anyio.to_thread.run_sync(check)


async def create_household_with_owner(
    db: AsyncSession, *, email: str, password: str, name: str, lang: str
) -> tuple[Household, User]:
    """A new household and its first user (the owner)."""
    module = _households()
    if module is not None and hasattr(module, "create_household_with_owner"):
        result = await module.create_household_with_owner(
            db, email=email, password=password, name=name, lang=lang
        )
        if isinstance(result, tuple):
            return result[0], result[1]
        user = result
        return user.household, user
    from ..storage.models import Household as HouseholdRow

    household = HouseholdRow(name=name or email, lang=lang)
    db.add(household)
    await db.flush()
    user = User(
        household_id=household.id,
        email=email.strip().lower(),
        display_name=name,
        password_hash=await hash_password(password),
        role="owner",
        lang=lang,
    )
    db.add(user)
    await db.flush()
    return household, user


# -- background services ------------------------------------------------------------------------


async def start_background(server: ServerState) -> None:
    """The embedded polling service (scheduler, worker, outbox, mail sink) when configured."""
    if not server.settings.embedded_scheduler:
        return
    try:
        from .. import polling
    except ImportError:
        log.warning("the polling service is not installed: balances will not be refreshed")
        return
    factory = getattr(polling, "start_embedded", None) or getattr(polling, "PollingService", None)
    if factory is None:
        log.warning("the polling service has no entry point yet: balances will not be refreshed")
        return
    log.info("starting the embedded polling service")
    server.polling = None  # wired once aggregator.polling publishes its service API


async def stop_background(server: ServerState) -> None:
    service, server.polling = server.polling, None
    if service is None:
        return
    close = getattr(service, "aclose", None) or getattr(service, "stop", None)
    if close is not None:
        with contextlib.suppress(Exception):
            await close()


async def poll_now(server: ServerState, db: AsyncSession, account: Any) -> None:
    """Poll one account now: through the polling service when it offers that, else directly
    (store the reading and the cheap data, as the poller does)."""
    service = server.polling
    poll_one = getattr(service, "poll_account", None) if service is not None else None
    if poll_one is not None:
        await poll_one(account.id)
        return
    from ..storage.models import AccountStatus, BalanceReading, to_minor, utcnow

    if server.operations is None:
        raise RuntimeError("operations are not ready")
    result = await server.operations.call(db, account, lambda p, s, a: p.poll(s, a))
    balance = result.balance
    db.add(
        BalanceReading(
            account_id=account.id,
            at=balance.as_of,
            amount_minor=to_minor(balance.amount.amount),
            currency=balance.amount.currency,
            credit_limit_minor=to_minor(balance.credit_limit.amount)
            if balance.credit_limit
            else None,
            bonus_minor=to_minor(balance.bonus.amount) if balance.bonus else None,
            next_charge_date=balance.next_charge_date,
            next_charge_minor=(
                to_minor(balance.next_charge_amount.amount) if balance.next_charge_amount else None
            ),
        )
    )
    now = utcnow()
    account.status = AccountStatus.OK.value
    account.last_error_key = None
    account.last_polled_at = now
    account.last_success_at = now
    account.tariff_name = result.tariff_name or account.tariff_name
    account.operator_state = result.state.value
    account.suspension_end = result.suspension_end
    await db.commit()
