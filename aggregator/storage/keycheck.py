"""Open the vault only when its keyring opens what the database holds.

A missing key file, a typo in ``AGGREGATOR_KEY_FILE`` or a wrong key used to make the
aggregator create (or use) a new key silently: every account then failed to open its secrets
for good. :func:`open_vault` is what every entry point that opens the database calls instead
of :meth:`Vault.from_settings`:

- a new key is created only when the database holds no sealed value at all;
- start-up refuses, naming the missing key ids and how to restore them, when sealed values
  name key ids the keyring lacks;
- and when a key of the right id does not open any value sealed under it (a different key
  written under the same id).

Nothing here reads more than a few sealed values per key id, and nothing decrypted is kept.
"""

from __future__ import annotations

from dataclasses import dataclass, field
from typing import TYPE_CHECKING, Any

from sqlalchemy import select

from ..vault import Vault, VaultError, VaultKeyError, aad_for, sealed_key_id

if TYPE_CHECKING:
    from sqlalchemy.ext.asyncio import AsyncEngine

    from ..settings import Settings

__all__ = ["SealedInventory", "open_vault", "sealed_inventory"]

_SAMPLES = 3  # values tried per key id before a key is called wrong


@dataclass
class SealedInventory:
    """Which key ids the database's sealed values name, with a few values of each."""

    counts: dict[str, int] = field(default_factory=dict)
    samples: dict[str, list[tuple[str, bytes]]] = field(default_factory=dict)  # (aad, sealed)

    @property
    def empty(self) -> bool:
        return not self.counts


def _sealed_columns() -> list[tuple[Any, list[str]]]:
    from .models import Base

    out = []
    for table in Base.metadata.sorted_tables:
        columns = [c.name for c in table.columns if c.name.endswith("_sealed")]
        if columns:
            out.append((table, columns))
    return out


async def sealed_inventory(engine: AsyncEngine) -> SealedInventory:
    """Count the sealed values per key id (headers only; nothing is decrypted)."""
    inventory = SealedInventory()
    async with engine.connect() as conn:
        for table, columns in _sealed_columns():
            result = await conn.stream(select(table.c.id, *(table.c[name] for name in columns)))
            async for row in result:
                for name in columns:
                    sealed = row._mapping[name]
                    if sealed is None:
                        continue
                    try:
                        key_id = sealed_key_id(bytes(sealed))
                    except VaultError:
                        continue
                    inventory.counts[key_id] = inventory.counts.get(key_id, 0) + 1
                    samples = inventory.samples.setdefault(key_id, [])
                    if len(samples) < _SAMPLES:
                        samples.append((aad_for(table.name, row[0], name), bytes(sealed)))
    return inventory


def _where(settings: Settings) -> str:
    if settings.vault_key is not None:
        return "AGGREGATOR_VAULT_KEY"
    return f"the key file {settings.resolved_key_file}"


def _restore_hint(settings: Settings) -> str:
    return (
        f"restore the key file from your backup to {settings.resolved_key_file} (or point "
        "AGGREGATOR_KEY_FILE at it, or put its 'id:base64key' lines in AGGREGATOR_VAULT_KEY); "
        "the aggregator never makes a new key while the database holds secrets"
    )


async def open_vault(settings: Settings, engine: AsyncEngine) -> Vault:
    """The vault of ``settings``, checked against the sealed values of the database.

    Raises :class:`VaultKeyError` (one line, no secret) when the keyring cannot open them.
    """
    inventory = await sealed_inventory(engine)
    ids = ", ".join(repr(k) for k in sorted(inventory.counts))
    total = sum(inventory.counts.values())
    if settings.vault_key is None and not settings.resolved_key_file.exists():
        if not inventory.empty:
            raise VaultKeyError(
                f"refusing to start: the key file {settings.resolved_key_file} does not exist, "
                f"but the database holds {total} secret(s) sealed under key {ids}; "
                + _restore_hint(settings)
            )
        return Vault.from_key_file(settings.resolved_key_file, create=True)
    vault = Vault.from_settings(settings, create=False)
    missing = sorted(set(inventory.counts) - set(vault.key_ids))
    if missing:
        names = ", ".join(repr(k) for k in missing)
        count = sum(inventory.counts[k] for k in missing)
        raise VaultKeyError(
            f"refusing to start: {count} secret(s) in the database are sealed under key "
            f"{names}, which {_where(settings)} lacks (it holds "
            f"{', '.join(repr(k) for k in vault.key_ids)}); " + _restore_hint(settings)
        )
    for key_id, samples in sorted(inventory.samples.items()):
        if not any(_opens(vault, aad, sealed) for aad, sealed in samples):
            raise VaultKeyError(
                f"refusing to start: key {key_id!r} of {_where(settings)} does not open the "
                f"secrets sealed under it (a different key was written under that id); "
                + _restore_hint(settings)
            )
    return vault


def _opens(vault: Vault, aad: str, sealed: bytes) -> bool:
    try:
        vault.open(sealed, aad=aad)
    except VaultError:
        return False
    return True
