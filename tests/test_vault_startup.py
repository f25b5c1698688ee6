"""A missing or wrong key never goes unnoticed (finding 2 of the attack review).

- Start-up refuses when sealed values name key ids the keyring lacks, naming the missing key
  and how to restore it; a key is created only for an empty database.
- A value that does not open while running is its own status, ``secret_unreadable`` (not
  ``needs_login``, no needs-login e-mail), and the account recovers by itself when the key
  returns.
"""

from __future__ import annotations

import base64
import shutil
from collections.abc import AsyncIterator
from pathlib import Path
from typing import cast

import pytest
from cryptography.hazmat.primitives.ciphers.aead import AESGCM
from pydantic import SecretStr
from reference_provider.testing.aggregator_env import InProcessEnv, create_household
from sqlalchemy import Table, insert, select

from aggregator.plugins import PluginRegistry, load_plugins
from aggregator.polling import PollingOptions, PollingService
from aggregator.server.integration import preflight
from aggregator.settings import Settings
from aggregator.storage.models import AlertRule, LinkedAccount, OutboxMessage
from aggregator.vault import Vault

accounts_t = cast(Table, LinkedAccount.__table__)
outbox_t = cast(Table, OutboxMessage.__table__)
rules_t = cast(Table, AlertRule.__table__)


def _key_line(key_id: str) -> str:
    return f"{key_id}:{base64.b64encode(AESGCM.generate_key(bit_length=256)).decode()}\n"


@pytest.fixture(scope="module")
def registry() -> PluginRegistry:
    return load_plugins()


@pytest.fixture
async def env(tmp_path: Path, registry: PluginRegistry) -> AsyncIterator[InProcessEnv]:
    async with InProcessEnv(tmp_path / "data", registry, min_poll_interval_s=1) as env:
        yield env


async def _one_linked_account(env: InProcessEnv) -> int:
    household = await create_household(env.engine, users=[("ivan@example.ru", "ru")])
    ids, _ = await env.link("reference", 1, household_id=household)
    return ids[0]


async def test_an_empty_database_gets_a_new_key(tmp_path: Path) -> None:
    settings = Settings(data_dir=tmp_path / "data", key_file=None, vault_key=None)
    assert await preflight(settings) is None
    assert settings.resolved_key_file.is_file()


async def test_a_missing_key_file_with_secrets_in_the_database_refuses_to_start(
    env: InProcessEnv,
) -> None:
    await _one_linked_account(env)
    key_file = env.settings.resolved_key_file
    key_id = env.vault.primary_key_id
    key_file.unlink()
    problem = await preflight(env.settings)
    assert problem is not None
    assert key_id in problem and str(key_file) in problem
    assert "backup" in problem and "AGGREGATOR_KEY_FILE" in problem
    assert "\n" not in problem
    assert not key_file.exists()  # no new key was made behind the user's back


async def test_a_typo_in_the_key_file_setting_refuses_to_start(env: InProcessEnv) -> None:
    await _one_linked_account(env)
    typo = Settings(
        data_dir=env.settings.data_dir, vault_key=None, key_file=env.settings.data_dir / "vault.kye"
    )
    problem = await preflight(typo)
    assert problem is not None and env.vault.primary_key_id in problem
    assert not (env.settings.data_dir / "vault.kye").exists()


async def test_another_keyring_refuses_to_start_naming_the_missing_key(
    env: InProcessEnv,
) -> None:
    await _one_linked_account(env)
    other = Settings(data_dir=env.settings.data_dir, vault_key=SecretStr(_key_line("k-x").strip()))
    problem = await preflight(other)
    assert problem is not None and env.vault.primary_key_id in problem
    assert "AGGREGATOR_VAULT_KEY" in problem


async def test_a_different_key_under_the_same_id_refuses_to_start(env: InProcessEnv) -> None:
    await _one_linked_account(env)
    key_file = env.settings.resolved_key_file
    key_file.write_text(_key_line(env.vault.primary_key_id))
    key_file.chmod(0o600)
    problem = await preflight(env.settings)
    assert problem is not None and env.vault.primary_key_id in problem
    assert "does not open" in problem


async def test_an_unreadable_secret_is_its_own_status_and_recovers_with_the_key(
    env: InProcessEnv,
) -> None:
    account_id = await _one_linked_account(env)
    async with env.engine.begin() as conn:
        household = (await conn.execute(select(accounts_t.c.household_id))).scalar_one()
        await conn.execute(
            insert(rules_t),
            [
                {"household_id": household, "kind": kind, "enabled": kind == "needs_login"}
                | {"recipients": []}
                for kind in ("low_balance", "runs_out", "needs_login", "suspension_ends")
            ],
        )
    # This process's keyring lacks the key (another process rotated and dropped it, a
    # restore put an older keyring back...): its secrets cannot be opened.
    key_file = env.settings.data_dir / "other.key"
    key_file.write_text(_key_line("k-wrong"))
    key_file.chmod(0o600)
    vault = Vault.from_key_file(key_file, create=False)
    options = PollingOptions(send_mail=False, start_sink=False, min_interval_s=0)
    async with PollingService(
        env.runtime, settings=env.settings, options=options, vault=vault, schedule=False
    ) as service:
        [outcome] = await service.poll_accounts([account_id])
        assert outcome.status == "secret_unreadable"
        async with env.engine.connect() as conn:
            row = (
                await conn.execute(select(accounts_t).where(accounts_t.c.id == account_id))
            ).one()
            queued = (await conn.execute(select(outbox_t.c.kind))).scalars().all()
        assert row.status == "secret_unreadable"
        assert row.last_error_key == "auth.secret_unreadable"
        assert row.next_due_at is not None  # still scheduled: it recovers by itself
        assert "needs_login" not in queued  # no "log in again" e-mail for a key problem

        # The right key comes back: the next poll works, nobody re-links anything.
        shutil.copy2(env.settings.resolved_key_file, key_file)
        [outcome] = await service.poll_accounts([account_id])
        assert outcome.status == "ok"
