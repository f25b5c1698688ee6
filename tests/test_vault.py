"""The vault: AES-GCM seals bound to their row and field, a keyring that rotates."""

from __future__ import annotations

import base64
import os
import stat
from pathlib import Path

import pytest
from cryptography.hazmat.primitives.ciphers.aead import AESGCM
from pydantic import SecretStr

from aggregator.settings import Settings
from aggregator.vault import (
    FORMAT_VERSION,
    Vault,
    VaultError,
    VaultKeyError,
    aad_for,
    parse_keyring,
    sealed_key_id,
)

AAD = aad_for("linked_accounts", 42, "credentials_sealed")


def _env_key(key_id: str) -> str:
    return f"{key_id}:{base64.b64encode(AESGCM.generate_key(bit_length=256)).decode()}"


def test_aad_names_table_row_and_column() -> None:
    assert AAD == "linked_accounts:42:credentials_sealed"
    with pytest.raises(ValueError, match="flush"):
        aad_for("linked_accounts", None, "credentials_sealed")  # type: ignore[arg-type]


def test_seal_open_round_trip_and_format(vault: Vault) -> None:
    sealed = vault.seal(b"hunter2", aad=AAD)
    assert sealed[0] == FORMAT_VERSION
    assert sealed_key_id(sealed) == vault.primary_key_id
    assert b"hunter2" not in sealed
    assert vault.open(sealed, aad=AAD) == b"hunter2"


def test_each_seal_uses_a_fresh_nonce(vault: Vault) -> None:
    one, two = vault.seal(b"same", aad=AAD), vault.seal(b"same", aad=AAD)
    assert one != two
    header = 2 + one[1]
    assert one[header : header + 12] != two[header : header + 12]


@pytest.mark.parametrize(
    "other",
    [
        aad_for("linked_accounts", 43, "credentials_sealed"),  # another account
        aad_for("linked_accounts", 42, "session_sealed"),  # another column
        aad_for("users", 42, "credentials_sealed"),  # another table
    ],
)
def test_a_sealed_value_copied_elsewhere_fails_to_open(vault: Vault, other: str) -> None:
    sealed = vault.seal(b"canary-password", aad=AAD)
    with pytest.raises(VaultError) as caught:
        vault.open(sealed, aad=other)
    assert "canary-password" not in str(caught.value)
    assert "canary-password" not in repr(caught.value)


def test_tampering_is_detected(vault: Vault) -> None:
    sealed = bytearray(vault.seal(b"secret", aad=AAD))
    sealed[-1] ^= 1
    with pytest.raises(VaultError):
        vault.open(bytes(sealed), aad=AAD)


def test_garbage_and_truncated_values_are_refused(vault: Vault) -> None:
    for bad in (b"", b"\x02abc", vault.seal(b"x", aad=AAD)[:10]):
        with pytest.raises(VaultError):
            vault.open(bad, aad=AAD)


def test_json_round_trip(vault: Vault) -> None:
    value = {"password": "пароль", "n": [1, 2]}
    assert vault.open_json(vault.seal_json(value, aad=AAD), aad=AAD) == value


def test_key_file_created_private_in_private_dir(tmp_path: Path) -> None:
    path = tmp_path / "fresh" / "vault.key"
    vault = Vault.from_key_file(path)
    assert stat.S_IMODE(path.stat().st_mode) == 0o600
    assert stat.S_IMODE(path.parent.stat().st_mode) == 0o700
    # a second process reads the same key
    again = Vault.from_key_file(path)
    assert again.primary_key_id == vault.primary_key_id
    assert again.open(vault.seal(b"x", aad=AAD), aad=AAD) == b"x"


@pytest.mark.parametrize("mode", [0o644, 0o640, 0o604, 0o660])
def test_refuses_a_key_file_readable_by_group_or_others(tmp_path: Path, mode: int) -> None:
    path = tmp_path / "vault.key"
    Vault.from_key_file(path)
    os.chmod(path, mode)
    with pytest.raises(VaultKeyError) as caught:
        Vault.from_settings(Settings(data_dir=tmp_path, key_file=path))
    message = str(caught.value)
    assert f"{mode:04o}" in message
    assert "chmod 600" in message
    assert "group or others" in message


def test_from_settings_uses_the_data_dir_key_file(settings: Settings) -> None:
    vault = Vault.from_settings(settings)
    assert vault.key_file == settings.data_dir / "vault.key"
    assert settings.resolved_key_file.exists()


def test_env_keyring_first_key_is_primary(tmp_path: Path) -> None:
    old_entry = _env_key("old")
    old = Vault(parse_keyring(old_entry, source="test"))
    sealed_old = old.seal(b"kept", aad=AAD)
    env = f"{_env_key('new')},{_env_key('unused')},{old_entry}"
    settings = Settings(data_dir=tmp_path / "data", vault_key=SecretStr(env))
    vault = Vault.from_settings(settings)
    assert vault.primary_key_id == "new"
    assert vault.key_ids == ["new", "unused", "old"]
    assert vault.key_file is None
    assert vault.open(sealed_old, aad=AAD) == b"kept"
    assert sealed_key_id(vault.seal(b"y", aad=AAD)) == "new"
    assert not settings.resolved_key_file.exists()  # no file written for an env keyring
    with pytest.raises(VaultKeyError, match="AGGREGATOR_VAULT_KEY"):
        vault.rotate()


@pytest.mark.parametrize(
    ("text", "reason"),
    [
        ("", "no key"),
        ("nokey", "id:base64key"),
        ("a:!!!notbase64", "base64"),
        (f"a:{base64.b64encode(b'short').decode()}", "16, 24 or 32 bytes"),
        (
            "a:"
            + base64.b64encode(bytes(32)).decode()
            + ",a:"
            + base64.b64encode(bytes(32)).decode(),
            "twice",
        ),
    ],
)
def test_malformed_keyrings_are_refused_with_a_reason(text: str, reason: str) -> None:
    with pytest.raises(VaultKeyError, match=reason):
        parse_keyring(text, source="AGGREGATOR_VAULT_KEY")


def test_rotate_keeps_old_keys_then_remove(vault: Vault) -> None:
    old_id = vault.primary_key_id
    sealed_old = vault.seal(b"before", aad=AAD)
    new_id = vault.rotate()
    assert vault.primary_key_id == new_id != old_id
    assert vault.key_ids == [new_id, old_id]
    assert sealed_key_id(vault.seal(b"after", aad=AAD)) == new_id
    assert vault.open(sealed_old, aad=AAD) == b"before"
    assert stat.S_IMODE(vault.key_file.stat().st_mode) == 0o600  # type: ignore[union-attr]
    with pytest.raises(VaultKeyError, match="primary"):
        vault.remove_key(new_id)
    resealed = vault.seal(vault.open(sealed_old, aad=AAD), aad=AAD)
    vault.remove_key(old_id)
    assert vault.key_ids == [new_id]
    assert vault.open(resealed, aad=AAD) == b"before"
    with pytest.raises(VaultError, match=old_id):
        vault.open(sealed_old, aad=AAD)


def test_another_process_sees_a_rotation(vault: Vault) -> None:
    assert vault.key_file is not None
    other = Vault.from_key_file(vault.key_file)
    new_id = other.rotate()
    # the first vault reloads the changed file: it seals under the new key and opens new seals
    assert sealed_key_id(vault.seal(b"z", aad=AAD)) == new_id
    assert vault.open(other.seal(b"w", aad=AAD), aad=AAD) == b"w"


def test_keyed_hash_is_stable_and_keyed(vault: Vault, tmp_path: Path) -> None:
    assert vault.keyed_hash("beeline:9031234567") == vault.keyed_hash("beeline:9031234567")
    assert vault.keyed_hash("beeline:9031234567") != vault.keyed_hash("beeline:9031234568")
    other = Vault.from_key_file(tmp_path / "other.key")
    assert other.keyed_hash("beeline:9031234567") != vault.keyed_hash("beeline:9031234567")
    assert "9031234567" not in vault.keyed_hash("beeline:9031234567")


def test_repr_shows_no_key(vault: Vault) -> None:
    raw = base64.b64encode(vault._raw[0][1]).decode()
    assert raw not in repr(vault)
    assert vault.primary_key_id in repr(vault)
