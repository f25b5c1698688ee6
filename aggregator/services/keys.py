"""Key rotation over the database: ``aggregator keys rotate`` and ``keys remove-old``.

The vault (:mod:`aggregator.vault`) seals and keeps the keyring; this module walks the tables:
:func:`rotate_keys` re-seals every ``*_sealed`` column under a new primary key in one
transaction, :func:`remove_old_keys` drops the keys no sealed value uses any more.
"""

from __future__ import annotations

import json
from collections.abc import Callable
from dataclasses import dataclass, field
from typing import Any

from sqlalchemy import insert, select, update

from ..accounts import login_key_for
from ..settings import Settings
from ..storage.db import create_engine
from ..storage.models import AuditLog, Base, utcnow
from ..storage.schema import check_current
from ..vault import Vault, VaultError, aad_for, sealed_key_id

__all__ = ["RemovalReport", "RotationReport", "remove_old_keys", "rotate_keys"]


@dataclass
class RotationReport:
    """What ``aggregator keys rotate`` did."""

    new_key_id: str
    created_key: bool  # False when the keys come from the environment (re-sealed only)
    rows: int = 0  # rows with at least one sealed value re-sealed
    values: int = 0  # sealed values re-sealed
    unreadable: list[str] = field(default_factory=list)  # "table:id:column" left as they were
    old_key_ids: list[str] = field(default_factory=list)


@dataclass
class RemovalReport:
    """What ``aggregator keys remove-old`` did."""

    primary_key_id: str
    removed: list[str] = field(default_factory=list)
    # key id -> fields ("table:id:column") still sealed under it; such keys are kept
    in_use: dict[str, list[str]] = field(default_factory=dict)
    # with AGGREGATOR_VAULT_KEY the file cannot be edited: these ids may be dropped by hand
    removable_from_env: list[str] = field(default_factory=list)


def _sealed_columns() -> list[tuple[Any, list[str]]]:
    """Every table with ``*_sealed`` columns: (table, column names). New ones join by name."""
    out = []
    for table in Base.metadata.sorted_tables:
        columns = [c.name for c in table.columns if c.name.endswith("_sealed")]
        if columns:
            out.append((table, columns))
    return out


async def rotate_keys(
    settings: Settings, *, progress: Callable[[int, int], None] | None = None
) -> RotationReport:
    """Create a new primary key and re-seal every sealed column in ONE transaction.

    With a key file, a new random key becomes primary (the old ones stay, so a crash between
    the two steps loses nothing). With ``AGGREGATOR_VAULT_KEY`` no key is created: the first
    key of the variable is the primary and everything is re-sealed under it. Each
    ``linked_accounts.login_key`` is recomputed under the new primary. A value that does not
    open is left as it was and listed in :attr:`RotationReport.unreadable`.

    ``progress(done, total)`` is called after each row (for a progress bar). Tables with
    ``*_sealed`` columns must have an ``id`` primary key (it is part of the associated data).
    """
    vault = Vault.from_settings(settings, create=False)
    engine = create_engine(settings.resolved_database_url)
    try:
        await check_current(engine)
        old = vault.key_ids
        created = vault.key_file is not None
        new_key_id = vault.rotate() if created else vault.primary_key_id
        report = RotationReport(
            new_key_id=new_key_id,
            created_key=created,
            old_key_ids=[k for k in old if k != new_key_id],
        )
        async with engine.begin() as conn:
            work = []
            for table, columns in _sealed_columns():
                is_accounts = table.name == "linked_accounts"
                extra = [table.c.provider_id] if is_accounts else []
                result = await conn.execute(
                    select(table.c.id, *extra, *(table.c[name] for name in columns))
                )
                work.append((table, columns, is_accounts, result.all()))
            total = sum(len(rows) for *_, rows in work)
            done = 0
            for table, columns, is_accounts, rows in work:
                id_col = table.c.id
                for row in rows:
                    row_id = row[0]
                    changes: dict[str, Any] = {}
                    for name in columns:
                        sealed = row._mapping[name]
                        if sealed is None:
                            continue
                        aad = aad_for(table.name, row_id, name)
                        try:
                            plaintext = vault.open(sealed, aad=aad)
                        except VaultError:
                            report.unreadable.append(aad)
                            continue
                        changes[name] = vault.seal(plaintext, aad=aad)
                        report.values += 1
                        if is_accounts and name == "credentials_sealed":
                            login_key = _login_key_from_plaintext(
                                vault, row._mapping["provider_id"], plaintext
                            )
                            if login_key is not None:
                                changes["login_key"] = login_key
                    if changes:
                        await conn.execute(update(table).where(id_col == row_id).values(**changes))
                        report.rows += 1
                    done += 1
                    if progress is not None:
                        progress(done, total)
            await _audit(conn, "keys.rotated", {"key_id": new_key_id, "values": report.values})
    finally:
        await engine.dispose()
    return report


def _login_key_from_plaintext(vault: Vault, provider_id: str, plaintext: bytes) -> str | None:
    try:
        data = json.loads(plaintext)
    except ValueError:
        return None
    if not isinstance(data, dict):
        return None
    return login_key_for(vault, provider_id, str(data.get("identifier") or ""))


async def _audit(conn: Any, action: str, details: dict[str, Any]) -> None:
    await conn.execute(insert(AuditLog).values(action=action, details=details, at=utcnow()))


async def remove_old_keys(settings: Settings) -> RemovalReport:
    """Remove every non-primary key that no sealed value uses any more.

    Keys still used (a value that did not open during rotation, or one sealed by a process
    that had not yet seen the new key) are kept and listed; run ``aggregator keys rotate``
    again, or remove or re-link those accounts, then retry.
    """
    vault = Vault.from_settings(settings, create=False)
    report = RemovalReport(primary_key_id=vault.primary_key_id)
    old = [k for k in vault.key_ids if k != vault.primary_key_id]
    in_use: dict[str, list[str]] = {}
    engine = create_engine(settings.resolved_database_url)
    try:
        await check_current(engine)
        async with engine.connect() as conn:
            for table, columns in _sealed_columns():
                result = await conn.execute(
                    select(table.c.id, *(table.c[name] for name in columns))
                )
                for row in result.all():
                    for name in columns:
                        sealed = row._mapping[name]
                        if sealed is None:
                            continue
                        try:
                            key_id = sealed_key_id(bytes(sealed))
                        except VaultError:
                            continue
                        if key_id != vault.primary_key_id:
                            in_use.setdefault(key_id, []).append(aad_for(table.name, row[0], name))
        report.in_use = {k: v for k, v in in_use.items() if k in old}
        removable = [k for k in old if k not in in_use]
        if vault.key_file is None:
            report.removable_from_env = removable
        else:
            for key_id in removable:
                vault.remove_key(key_id)
                report.removed.append(key_id)
            if report.removed:
                async with engine.begin() as conn:
                    await _audit(conn, "keys.removed", {"key_ids": report.removed})
    finally:
        await engine.dispose()
    return report
