"""Sealed secrets: AES-GCM under a keyring that can rotate.

Every secret the aggregator keeps (an account's credentials, its operator session) is stored
*sealed*. A sealed value is::

    version (1 byte, 0x01) | key id length (1 byte) | key id (ASCII)
    | nonce (12 bytes) | ciphertext + GCM tag

- **AES-256-GCM**, a fresh random 96-bit nonce for every seal.
- **Associated data** binds each ciphertext to the row and field it belongs to
  (:func:`aad_for`: ``"linked_accounts:42:credentials_sealed"``) and to its own header, so a
  sealed value copied onto another account, or into another column, fails to open.
- **A key id inside every sealed value** picks the key that opens it, so a keyring holds one
  *primary* key (new seals) and older keys that can still open; after
  :func:`aggregator.services.keys.rotate_keys` re-seals every table under the new primary,
  :func:`~aggregator.services.keys.remove_old_keys` drops the old ones. This module only seals
  and keeps the keyring: it knows no table.

The keyring comes from ``AGGREGATOR_VAULT_KEY`` (``"id:base64key[,id:base64key]"``, the first
is primary) or from the key file (default ``<data_dir>/vault.key``): one ``id:base64key`` per
line, the first primary. The file is created on first run with mode 0600 in a 0700 directory;
start-up refuses, saying why, when it is readable or writable by group or others.

Errors never carry a secret: :class:`VaultError` names a key id or a field at most.
"""

from __future__ import annotations

import base64
import binascii
import contextlib
import datetime as dt
import fcntl
import hashlib
import hmac
import json
import os
import re
import secrets
import stat
from collections.abc import Iterator, Sequence
from pathlib import Path
from typing import TYPE_CHECKING, Any

from cryptography.exceptions import InvalidTag
from cryptography.hazmat.primitives.ciphers.aead import AESGCM
from cryptography.hazmat.primitives.hashes import SHA256
from cryptography.hazmat.primitives.kdf.hkdf import HKDF

if TYPE_CHECKING:
    from .settings import Settings

__all__ = [
    "FORMAT_VERSION",
    "Vault",
    "VaultError",
    "VaultKeyError",
    "aad_for",
    "parse_keyring",
    "sealed_key_id",
]

FORMAT_VERSION = 1
NONCE_SIZE = 12
KEY_SIZE = 32
_KEY_ID = re.compile(r"[A-Za-z0-9_.-]{1,64}")


class VaultError(Exception):
    """A sealed value cannot be opened or made. The message never contains a secret."""


class VaultKeyError(VaultError):
    """The keyring cannot be loaded or changed (missing, malformed, unsafe file mode...)."""


def aad_for(table: str, row_id: int | str, column: str) -> str:
    """The associated data binding a sealed value to one field of one row."""
    if row_id is None or row_id == "":
        raise ValueError("the row has no id yet: flush it before sealing")
    return f"{table}:{row_id}:{column}"


def _new_key_id() -> str:
    return f"k{dt.datetime.now(dt.UTC):%Y%m%d}-{secrets.token_hex(3)}"


def _decode_key(key_id: str, encoded: str) -> bytes:
    try:
        key = base64.b64decode(encoded.strip(), validate=True)
    except (binascii.Error, ValueError):
        raise VaultKeyError(f"key {key_id!r} is not valid base64") from None
    if len(key) not in (16, 24, 32):
        raise VaultKeyError(f"key {key_id!r} must be 16, 24 or 32 bytes (got {len(key)})")
    return key


def parse_keyring(text: str, *, source: str) -> list[tuple[str, bytes]]:
    """Parse ``id:base64key`` entries (comma- or newline-separated); the first is primary."""
    entries: list[tuple[str, bytes]] = []
    seen: set[str] = set()
    items = [
        item.strip()
        for line in text.splitlines()
        if not line.lstrip().startswith("#")
        for item in line.split(",")
    ]
    for item in items:
        if not item:
            continue
        key_id, sep, encoded = item.partition(":")
        key_id = key_id.strip()
        if not sep or not _KEY_ID.fullmatch(key_id):
            raise VaultKeyError(
                f"{source}: each key must be 'id:base64key' with an id of letters, digits, '._-'"
            )
        if key_id in seen:
            raise VaultKeyError(f"{source}: key id {key_id!r} appears twice")
        seen.add(key_id)
        entries.append((key_id, _decode_key(key_id, encoded)))
    if not entries:
        raise VaultKeyError(f"{source}: no key found")
    return entries


def _format_keyring(entries: Sequence[tuple[str, bytes]]) -> str:
    lines = [
        "# aggregator vault keyring: one 'id:base64key' per line, the first is the primary.",
        "# Keep this file secret (mode 0600) and back it up: without it no secret can be opened.",
    ]
    lines += [f"{key_id}:{base64.b64encode(key).decode()}" for key_id, key in entries]
    return "\n".join(lines) + "\n"


def sealed_key_id(sealed: bytes) -> str:
    """The id of the key that sealed ``sealed`` (read from its header, nothing decrypted)."""
    if len(sealed) < 2 or sealed[0] != FORMAT_VERSION:
        raise VaultError("not a sealed value of a known format")
    length = sealed[1]
    if len(sealed) < 2 + length + NONCE_SIZE + 16:
        raise VaultError("sealed value is truncated")
    try:
        return sealed[2 : 2 + length].decode("ascii")
    except UnicodeDecodeError:
        raise VaultError("sealed value has a malformed key id") from None


def _check_file_mode(path: Path) -> os.stat_result:
    try:
        info = path.stat()
    except OSError as exc:
        raise VaultKeyError(f"cannot read the key file {path}: {exc.strerror}") from None
    if not stat.S_ISREG(info.st_mode):
        raise VaultKeyError(f"the key file {path} is not a regular file")
    mode = stat.S_IMODE(info.st_mode)
    if mode & 0o077:
        raise VaultKeyError(
            f"refusing to start: the key file {path} has mode {mode:04o}, so group or others "
            f"can read or change it; run: chmod 600 {path}"
        )
    return info


def _write_private(path: Path, text: str, *, exclusive: bool) -> bool:
    """Write ``text`` to ``path`` atomically with mode 0600.

    With ``exclusive`` the file is only created when missing (two processes starting at
    once agree on one key); returns False when it already existed.
    """
    path.parent.mkdir(mode=0o700, parents=True, exist_ok=True)
    tmp = path.with_name(f".{path.name}.{secrets.token_hex(4)}.tmp")
    fd = os.open(tmp, os.O_WRONLY | os.O_CREAT | os.O_EXCL, 0o600)
    try:
        with os.fdopen(fd, "w", encoding="ascii") as handle:
            handle.write(text)
            handle.flush()
            os.fsync(handle.fileno())
        os.chmod(tmp, 0o600)  # in case the umask or the filesystem interfered
        if exclusive:
            try:
                os.link(tmp, path)
            except FileExistsError:
                return False
        else:
            os.replace(tmp, path)
        dir_fd = os.open(path.parent, os.O_RDONLY)
        try:
            os.fsync(dir_fd)
        finally:
            os.close(dir_fd)
        return True
    finally:
        with contextlib.suppress(FileNotFoundError):
            os.unlink(tmp)


@contextlib.contextmanager
def _file_lock(path: Path) -> Iterator[None]:
    """An exclusive advisory lock next to the key file, so two rotations never interleave."""
    lock_path = path.with_name(path.name + ".lock")
    fd = os.open(lock_path, os.O_RDWR | os.O_CREAT, 0o600)
    try:
        fcntl.flock(fd, fcntl.LOCK_EX)
        yield
    finally:
        fcntl.flock(fd, fcntl.LOCK_UN)
        os.close(fd)


class Vault:
    """A keyring with one primary key; seals and opens values bound to their field.

    Build it with :meth:`from_settings`. A vault loaded from a key file notices when another
    process (``aggregator keys rotate``) changed the file and reloads it before sealing, and
    before giving up on a value sealed under a key it does not know yet.
    """

    def __init__(self, keys: Sequence[tuple[str, bytes]], *, key_file: Path | None = None) -> None:
        if not keys:
            raise VaultKeyError("the keyring is empty")
        self._keys: dict[str, AESGCM] = {}
        self._raw: list[tuple[str, bytes]] = []
        self._key_file = key_file
        self._file_stamp: tuple[int, int, int] | None = None
        self._load(keys)

    def _load(self, keys: Sequence[tuple[str, bytes]]) -> None:
        self._raw = list(keys)
        self._keys = {key_id: AESGCM(key) for key_id, key in keys}
        self._primary = keys[0][0]
        self._hash_key = HKDF(
            algorithm=SHA256(), length=32, salt=None, info=b"aggregator keyed_hash v1"
        ).derive(keys[0][1])

    def __repr__(self) -> str:
        return f"Vault(primary={self._primary!r}, keys={len(self._keys)})"

    # -- construction -------------------------------------------------------------------
    @classmethod
    def from_settings(cls, settings: Settings, *, create: bool = True) -> Vault:
        """The vault of these settings: ``AGGREGATOR_VAULT_KEY`` when set, else the key file.

        With ``create`` a missing key file is created (mode 0600, its directory 0700): only
        for tests and throwaway runs. Entry points that open a database call
        :func:`aggregator.storage.keycheck.open_vault`, which creates a key only for an empty
        database and refuses a keyring that lacks the database's keys. A key file readable by
        group or others makes this raise :class:`VaultKeyError` saying why.
        """
        if settings.vault_key is not None:
            env = settings.vault_key.get_secret_value()
            return cls(parse_keyring(env, source="AGGREGATOR_VAULT_KEY"))
        return cls.from_key_file(settings.resolved_key_file, create=create)

    @classmethod
    def from_key_file(cls, path: Path, *, create: bool = True) -> Vault:
        path = Path(path)
        if not path.exists():
            if not create:
                raise VaultKeyError(f"the key file {path} does not exist")
            entries = [(_new_key_id(), AESGCM.generate_key(bit_length=KEY_SIZE * 8))]
            _write_private(path, _format_keyring(entries), exclusive=True)
        vault = cls.__new__(cls)
        vault._key_file = path
        vault._file_stamp = None
        vault._reload_file()
        return vault

    @classmethod
    def generate(cls) -> Vault:
        """A vault with one fresh random key, kept in memory only (tests, throwaway runs)."""
        return cls([(_new_key_id(), AESGCM.generate_key(bit_length=KEY_SIZE * 8))])

    def _read_file(self) -> tuple[list[tuple[str, bytes]], tuple[int, int, int]]:
        assert self._key_file is not None
        info = _check_file_mode(self._key_file)
        try:
            text = self._key_file.read_text(encoding="ascii")
        except (OSError, UnicodeDecodeError) as exc:
            raise VaultKeyError(f"cannot read the key file {self._key_file}: {exc}") from None
        stamp = (info.st_ino, info.st_mtime_ns, info.st_size)
        return parse_keyring(text, source=str(self._key_file)), stamp

    def _reload_file(self) -> None:
        entries, stamp = self._read_file()
        self._load(entries)
        self._file_stamp = stamp

    def _refresh(self) -> bool:
        """Reload the key file when another process changed it; True when it did."""
        if self._key_file is None:
            return False
        try:
            info = self._key_file.stat()
        except OSError:
            return False
        if (info.st_ino, info.st_mtime_ns, info.st_size) == self._file_stamp:
            return False
        self._reload_file()
        return True

    # -- keyring ------------------------------------------------------------------------
    @property
    def primary_key_id(self) -> str:
        return self._primary

    @property
    def key_ids(self) -> list[str]:
        """Every key id, the primary first."""
        return [key_id for key_id, _ in self._raw]

    @property
    def key_file(self) -> Path | None:
        """The key file this vault reads, or None when the keys come from the environment."""
        return self._key_file

    def _require_file(self, action: str) -> Path:
        if self._key_file is None:
            raise VaultKeyError(
                f"cannot {action}: the keys come from AGGREGATOR_VAULT_KEY; edit the variable "
                "instead (put the new 'id:base64key' first, keep the old ones after it)"
            )
        return self._key_file

    def rotate(self) -> str:
        """Make a new random primary key, keep the old ones, write the key file atomically."""
        path = self._require_file("rotate keys")
        with _file_lock(path):
            self._reload_file()
            key_id = _new_key_id()
            while key_id in self._keys:
                key_id = _new_key_id()
            entries = [(key_id, AESGCM.generate_key(bit_length=KEY_SIZE * 8)), *self._raw]
            _write_private(path, _format_keyring(entries), exclusive=False)
            self._reload_file()
        return key_id

    def remove_key(self, key_id: str) -> None:
        """Drop a non-primary key from the keyring (and the key file)."""
        path = self._require_file("remove a key")
        with _file_lock(path):
            self._reload_file()
            if key_id == self._primary:
                raise VaultKeyError(f"key {key_id!r} is the primary key and cannot be removed")
            if key_id not in self._keys:
                raise VaultKeyError(f"no key {key_id!r} in the keyring")
            entries = [(k, v) for k, v in self._raw if k != key_id]
            _write_private(path, _format_keyring(entries), exclusive=False)
            self._reload_file()

    # -- sealing ------------------------------------------------------------------------
    def seal(self, plaintext: bytes, *, aad: str) -> bytes:
        """Encrypt ``plaintext`` under the primary key, bound to ``aad`` (see :func:`aad_for`)."""
        if not aad:
            raise ValueError("associated data is required")
        self._refresh()
        key_id = self._primary.encode("ascii")
        header = bytes([FORMAT_VERSION, len(key_id)]) + key_id
        nonce = os.urandom(NONCE_SIZE)
        ciphertext = self._keys[self._primary].encrypt(nonce, plaintext, header + aad.encode())
        return header + nonce + ciphertext

    def open(self, sealed: bytes, *, aad: str) -> bytes:
        """Decrypt a sealed value; :class:`VaultError` when it was tampered with, copied to
        another field (wrong ``aad``) or sealed under a key this keyring no longer has."""
        sealed = bytes(sealed)
        key_id = sealed_key_id(sealed)
        if key_id not in self._keys:
            self._refresh()
        cipher = self._keys.get(key_id)
        if cipher is None:
            raise VaultError(f"sealed value needs key {key_id!r}, which is not in the keyring")
        offset = 2 + sealed[1]
        header = sealed[:offset]
        nonce = sealed[offset : offset + NONCE_SIZE]
        try:
            return cipher.decrypt(nonce, sealed[offset + NONCE_SIZE :], header + aad.encode())
        except InvalidTag:
            raise VaultError(
                f"sealed value does not open as {aad}: it belongs to another row or field, "
                "or was altered"
            ) from None

    def seal_json(self, value: Any, *, aad: str) -> bytes:
        """Seal a JSON-serialisable value."""
        data = json.dumps(value, ensure_ascii=False, separators=(",", ":"), sort_keys=True)
        return self.seal(data.encode("utf-8"), aad=aad)

    def open_json(self, sealed: bytes, *, aad: str) -> Any:
        plaintext = self.open(sealed, aad=aad)
        try:
            return json.loads(plaintext.decode("utf-8"))
        except (UnicodeDecodeError, json.JSONDecodeError):
            raise VaultError("sealed value opened but is not JSON") from None

    def keyed_hash(self, value: str) -> str:
        """HMAC-SHA256 of ``value`` under a key derived from the primary key (hex).

        Used for ``LinkedAccount.login_key``: finds accounts of the same login without storing
        the login. :func:`aggregator.services.keys.rotate_keys` recomputes it under the new primary.
        """
        self._refresh()
        return hmac.new(self._hash_key, value.encode("utf-8"), hashlib.sha256).hexdigest()
