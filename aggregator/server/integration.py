"""Thin adapters from the dashboard to the other parts of the aggregator.

The schema check, the vault, households and passwords, the polling service and the embedded
mail sink are written elsewhere; the dashboard reaches them only through this module, so a
change of their interfaces touches one file here.
"""

from __future__ import annotations

import contextlib
import logging
from typing import TYPE_CHECKING, Any

from sqlalchemy import inspect

from ..storage.datadir import secure_data_dir
from ..storage.keycheck import open_vault
from ..storage.schema import SchemaError, SchemaOutdated, check_current, current_revision, upgrade
from ..vault import Vault, VaultError

if TYPE_CHECKING:
    from sqlalchemy.ext.asyncio import AsyncEngine, AsyncSession

    from ..settings import Settings
    from ..storage.models import LinkedAccount
    from .context import ServerState

__all__ = [
    "StartupError",
    "open_database",
    "preflight",
    "start_background",
    "stop_background",
]

log = logging.getLogger(__name__)


class StartupError(RuntimeError):
    """The dashboard cannot start; the message says why and what to do, in one line."""


def _prepare_data_dir(settings: Settings) -> None:
    if settings.is_sqlite or settings.vault_key is None or settings.data_dir.exists():
        secure_data_dir(settings.data_dir, keep=(settings.resolved_key_file,))


async def ensure_schema(settings: Settings, engine: AsyncEngine) -> None:
    """The schema must be current; a fresh SQLite database is created on the spot."""
    try:
        await check_current(engine)
    except SchemaOutdated as exc:
        if settings.is_sqlite and await _is_empty(engine):
            log.info("creating the database schema in a new SQLite file")
            await upgrade(engine)
            return
        raise StartupError(str(exc)) from None
    except SchemaError as exc:
        raise StartupError(str(exc)) from None


async def _is_empty(engine: AsyncEngine) -> bool:
    """No table at all: a database file the aggregator may create its schema in."""

    def tables(connection: Any) -> list[str]:
        return list(inspect(connection).get_table_names())

    if await current_revision(engine) is not None:
        return False
    async with engine.connect() as connection:
        return not await connection.run_sync(tables)


async def open_database(settings: Settings, engine: AsyncEngine) -> Vault:
    """Check (or create) the schema and open the vault; StartupError says what is wrong."""
    _prepare_data_dir(settings)
    await ensure_schema(settings, engine)
    _prepare_data_dir(settings)  # a database file just created
    try:
        return await open_vault(settings, engine)
    except VaultError as exc:
        raise StartupError(str(exc)) from None


async def preflight(settings: Settings) -> str | None:
    """Everything :func:`open_database` checks, before uvicorn starts: the problem or None."""
    from ..plugins import PluginConfigError, load_plugins
    from ..storage.db import create_engine

    try:
        load_plugins()
    except PluginConfigError as exc:
        return str(exc)
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


# -- background services ------------------------------------------------------------------------


async def start_background(server: ServerState) -> None:
    """The embedded polling service (scheduler, worker, outbox sender, mail sink)."""
    if not server.settings.embedded_scheduler:
        return
    from ..polling import PollingService

    service = PollingService(
        server.require_runtime(),
        server.engine,
        server.settings,
        options=server.polling_options,
        vault=server.require_vault(),
    )
    await service.__aenter__()
    server.polling = service
    log.info("the embedded polling service is running")


async def stop_background(server: ServerState) -> None:
    service, server.polling = server.polling, None
    if service is not None:
        await service.aclose()


def kick_polling(server: ServerState) -> None:
    """Accounts were linked or logged in again: poll them now, not at the next tick."""
    service = server.polling
    if service is not None:
        with contextlib.suppress(Exception):
            service.kick()


async def poll_household(server: ServerState, db: AsyncSession, household_id: int) -> int:
    """Poll every account of a household now ("refresh all"); return how many were polled."""
    from ..services.polls import household_account_ids

    ids = await household_account_ids(db, household_id)
    await _poll(server, ids)
    return len(ids)


async def poll_now(server: ServerState, db: AsyncSession, account: LinkedAccount) -> None:
    """Poll one account now ("refresh"), the poller's way; the row is reloaded after it."""
    await _poll(server, [account.id])
    await db.refresh(account)


async def _poll(server: ServerState, ids: list[int]) -> None:
    from ..services.polls import poll_accounts

    await poll_accounts(
        server.settings,
        server.require_runtime(),
        ids,
        service=server.polling,
        engine=server.engine,
        vault=server.require_vault(),
    )
