"""`aggregator keys rotate` / `keys remove-old` over a real database (SQLite and PostgreSQL)."""

from __future__ import annotations

from pathlib import Path

import pytest
from sqlalchemy import delete, select
from sqlalchemy.ext.asyncio import AsyncEngine, AsyncSession

from aggregator.accounts import link_accounts, login_key_for, open_credentials, open_session
from aggregator.core.models import Subaccount
from aggregator.services.keys import remove_old_keys, rotate_keys
from aggregator.settings import Settings
from aggregator.storage.db import session_factory
from aggregator.storage.models import AuditLog, Household, LinkedAccount
from aggregator.vault import Vault, VaultError, sealed_key_id

from .test_accounts import CANARY, FakeProvider, _credentials, _session


@pytest.fixture
async def rot_settings(tmp_path: Path, db_url: str, engine: AsyncEngine) -> Settings:
    # this module owns its database: start every test with no accounts
    async with engine.begin() as conn:
        await conn.execute(delete(LinkedAccount))
    return Settings(data_dir=tmp_path / "data", database_url=db_url)


async def _link(db: AsyncSession, vault: Vault, household: Household, n: int) -> list[int]:
    ids: list[int] = []
    for i in range(n):
        accounts = await link_accounts(
            db,
            vault,
            household_id=household.id,
            provider=FakeProvider,
            credentials=_credentials(f"{CANARY}-{i}").model_copy(
                update={"identifier": f"90312345{i:02d}"}
            ),
            session=_session(f"token-{i}-xyz"),
            subaccounts=[Subaccount(id=f"s{i}", number=f"90312345{i:02d}", kind="mobile")],
        )
        ids += [a.id for a in accounts]
    await db.commit()
    return ids


async def _all_accounts(engine: AsyncEngine) -> list[LinkedAccount]:
    async with session_factory(engine)() as db:
        return list((await db.scalars(select(LinkedAccount).order_by(LinkedAccount.id))).all())


async def test_after_rotation_and_removal_every_secret_still_opens(
    rot_settings: Settings, engine: AsyncEngine, db: AsyncSession, household: Household
) -> None:
    vault = Vault.from_settings(rot_settings)
    old_key = vault.primary_key_id
    await _link(db, vault, household, 5)

    seen: list[tuple[int, int]] = []
    report = await rotate_keys(
        rot_settings, progress=lambda done, total: seen.append((done, total))
    )
    assert seen == [(i, 5) for i in range(1, 6)]
    assert report.created_key and report.new_key_id != old_key
    assert report.old_key_ids == [old_key]
    assert (report.rows, report.values, report.unreadable) == (5, 10, [])

    removal = await remove_old_keys(rot_settings)
    assert removal.removed == [old_key] and removal.in_use == {}

    fresh = Vault.from_settings(rot_settings)  # a new process: only the new key is left
    assert fresh.key_ids == [report.new_key_id]
    for i, account in enumerate(await _all_accounts(engine)):
        assert sealed_key_id(account.credentials_sealed or b"") == report.new_key_id
        creds = open_credentials(fresh, account)
        assert creds.secret is not None and creds.secret.reveal() == f"{CANARY}-{i}"
        assert open_session(fresh, account).data["token"] == f"token-{i}-xyz"  # type: ignore[union-attr]
        # login_key follows the new primary, so relinking still finds the row
        assert account.login_key == login_key_for(fresh, "fake", f"90312345{i:02d}")
    actions = (await db.scalars(select(AuditLog.action))).all()
    assert "keys.rotated" in actions and "keys.removed" in actions


async def test_relinking_after_rotation_updates_the_same_row(
    rot_settings: Settings, engine: AsyncEngine, db: AsyncSession, household: Household
) -> None:
    vault = Vault.from_settings(rot_settings)
    (account_id,) = await _link(db, vault, household, 1)
    await rotate_keys(rot_settings)
    fresh = Vault.from_settings(rot_settings)
    async with session_factory(engine)() as db2:
        (again,) = await link_accounts(
            db2,
            fresh,
            household_id=household.id,
            provider=FakeProvider,
            credentials=_credentials(f"{CANARY}-changed").model_copy(
                update={"identifier": "9031234500"}
            ),
            session=_session(),
            subaccounts=[Subaccount(id="s0", number="9031234500", kind="mobile")],
        )
        await db2.commit()
    assert again.id == account_id
    assert len(await _all_accounts(engine)) == 1


async def test_old_key_kept_while_a_value_still_uses_it(
    rot_settings: Settings, engine: AsyncEngine, db: AsyncSession, household: Household
) -> None:
    vault = Vault.from_settings(rot_settings)
    old_key = vault.primary_key_id
    ids = await _link(db, vault, household, 2)
    # a value that does not open (copied from another account) stays as it was
    async with engine.begin() as conn:
        first = (
            await conn.execute(
                select(LinkedAccount.session_sealed).where(LinkedAccount.id == ids[0])
            )
        ).scalar_one()
        await conn.execute(
            LinkedAccount.__table__.update()
            .where(LinkedAccount.id == ids[1])
            .values(session_sealed=first)
        )
    report = await rotate_keys(rot_settings)
    assert report.unreadable == [f"linked_accounts:{ids[1]}:session_sealed"]
    assert report.values == 3
    removal = await remove_old_keys(rot_settings)
    assert removal.removed == []
    assert removal.in_use == {old_key: [f"linked_accounts:{ids[1]}:session_sealed"]}
    assert old_key in Vault.from_settings(rot_settings).key_ids
    # once the bad value is gone, the old key can go
    async with engine.begin() as conn:
        await conn.execute(
            LinkedAccount.__table__.update()
            .where(LinkedAccount.id == ids[1])
            .values(session_sealed=None)
        )
    assert (await remove_old_keys(rot_settings)).removed == [old_key]
    fresh = Vault.from_settings(rot_settings)
    accounts = await _all_accounts(engine)
    assert open_credentials(fresh, accounts[1]).secret.reveal() == f"{CANARY}-1"  # type: ignore[union-attr]
    with pytest.raises(VaultError):
        # the copied value was never re-sealed: its old key is gone now
        open_session(fresh, _with_id(accounts[0], ids[1]))


def _with_id(account: LinkedAccount, new_id: int) -> LinkedAccount:
    clone = LinkedAccount(session_sealed=account.session_sealed)
    clone.id = new_id
    return clone


async def test_rotation_refuses_an_outdated_schema_and_keeps_the_keyring(tmp_path: Path) -> None:
    from aggregator.storage.schema import SchemaOutdated

    settings = Settings(data_dir=tmp_path / "empty")
    before = Vault.from_settings(settings).key_ids
    with pytest.raises(SchemaOutdated, match="aggregator db upgrade"):
        await rotate_keys(settings)
    with pytest.raises(SchemaOutdated):
        await remove_old_keys(settings)
    assert Vault.from_settings(settings).key_ids == before
