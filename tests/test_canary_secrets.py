"""A canary password stored by the aggregator is found in no file of the data directory.

Every file under the data directory is read as bytes (the database, its -wal and -shm files,
the key file, anything else) and searched for the canary raw, URL-encoded, base64 (every
alignment), hex, and UTF-16. The password goes in through the account persistence path
(:func:`aggregator.accounts.link_accounts`, then a key rotation) and, once the CLI and the
reference plugin can do it, through ``aggregator accounts add`` run non-interactively.
"""

from __future__ import annotations

import asyncio
import datetime as dt
import json
import os
import subprocess
import sys
from pathlib import Path
from typing import ClassVar

import pytest

from aggregator import IdentifierKind, IdentifierSpec, LoginScheme, Provider, Session
from aggregator.accounts import link_accounts, open_credentials, open_session, seal_session
from aggregator.core.models import Subaccount
from aggregator.services.keys import rotate_keys
from aggregator.settings import Settings
from aggregator.storage.db import create_engine, session_factory
from aggregator.storage.models import LinkedAccount
from aggregator.storage.schema import upgrade
from aggregator.testing.leaks import byte_forms
from aggregator.vault import Vault

# Characters that URL-encoding and JSON escaping change, so every encoding is a distinct form.
CANARY_PASSWORD = "Kanareyka/7+Zq=&ы€ pass"
CANARY_TOKEN = "tok_Canary_5f1b9e2c7d"


def _forms(secret: str) -> dict[bytes, str]:
    """Every byte pattern to look for, with a name for the failure message."""
    return byte_forms(secret)


def assert_no_canary(data_dir: Path, *secrets: str) -> list[Path]:
    """Fail naming the file and the encoding when a secret appears; return the files read."""
    files = [p for p in data_dir.rglob("*") if p.is_file()]
    assert files, f"nothing in {data_dir}"
    for path in files:
        content = path.read_bytes()
        for secret in secrets:
            for form, kind in _forms(secret).items():
                assert form not in content, f"a canary ({kind}) is in {path.relative_to(data_dir)}"
    return files


LOGIN = LoginScheme(
    id="login",
    title_ru="Логин",
    title_en="Login",
    identifiers=[IdentifierSpec(kind=IdentifierKind.LOGIN, label_ru="Логин", label_en="Login")],
)


class CanaryProvider(Provider):
    id: ClassVar[str] = "canary"
    name: ClassVar[str] = "Канарейка"
    name_en: ClassVar[str] = "Canary"
    default_base_url: ClassVar[str] = "http://127.0.0.1:1"
    login_schemes = (LOGIN,)


def test_the_search_finds_every_encoding(tmp_path: Path) -> None:
    """The scan itself can fail: each encoding planted in a file is found."""
    for i, form in enumerate(_forms(CANARY_PASSWORD)):
        (tmp_path / f"planted{i}").write_bytes(b"prefix" + form + b"suffix")
        with pytest.raises(AssertionError, match=f"planted{i}"):
            assert_no_canary(tmp_path, CANARY_PASSWORD)
        (tmp_path / f"planted{i}").unlink()
    assert len(_forms(CANARY_PASSWORD)) >= 8


async def test_canary_through_account_persistence(tmp_path: Path) -> None:
    settings = Settings(data_dir=tmp_path / "data", database_url=None, vault_key=None)
    settings.data_dir.mkdir(mode=0o700)
    await upgrade(settings.resolved_database_url)
    vault = Vault.from_settings(settings)
    engine = create_engine(settings.resolved_database_url)
    try:
        async with session_factory(engine)() as db:
            from aggregator.storage.models import Household

            household = Household(name="Canary")
            db.add(household)
            await db.flush()
            credentials = LOGIN.build_credentials("canary-user", CANARY_PASSWORD)
            session = Session(
                provider="canary",
                data={"token": CANARY_TOKEN, "cookies": {"sid": CANARY_TOKEN}},
                expires_at=dt.datetime.now(dt.UTC) + dt.timedelta(days=1),
            )
            accounts = await link_accounts(
                db,
                vault,
                household_id=household.id,
                provider=CanaryProvider,
                credentials=credentials,
                session=session,
                subaccounts=[
                    Subaccount(id="1", number="9031234567", kind="mobile"),
                    Subaccount(id="2", number="123456789012", kind="internet"),
                ],
            )
            await db.commit()
            # a refreshed session re-sealed, as the poller does
            seal_session(vault, accounts[0], session)
            await db.commit()
            # the WAL is live here: the -wal and -shm files are searched too
            files = assert_no_canary(settings.data_dir, CANARY_PASSWORD, CANARY_TOKEN)
            assert any(p.name.endswith("-wal") for p in files)
        await rotate_keys(settings)
        assert_no_canary(settings.data_dir, CANARY_PASSWORD, CANARY_TOKEN)
        # and it is all still there, sealed
        fresh = Vault.from_settings(settings)
        async with session_factory(engine)() as db:
            stored = await db.get(LinkedAccount, accounts[1].id)
            assert stored is not None
            creds = open_credentials(fresh, stored)
            assert creds.secret is not None and creds.secret.reveal() == CANARY_PASSWORD
            assert open_session(fresh, stored).data["token"] == CANARY_TOKEN  # type: ignore[union-attr]
    finally:
        await engine.dispose()
    assert_no_canary(settings.data_dir, CANARY_PASSWORD, CANARY_TOKEN)


def _cli_add_reason() -> str | None:
    """Why the CLI path cannot run yet, or None when it can."""
    try:
        from aggregator.cli.accounts import accounts_add  # noqa: F401
    except ImportError as exc:
        return f"aggregator.cli has no accounts add yet ({exc})"
    try:
        from reference_provider.app import create_app  # noqa: F401
        from reference_provider.testing import running_server  # noqa: F401
    except ImportError as exc:
        return f"the reference provider is not importable yet ({exc})"
    from aggregator.plugins import load_plugins

    try:
        load_plugins().provider("reference")
    except Exception as exc:
        return f"the reference plugin is not registered yet ({type(exc).__name__})"
    if not Path(sys.executable).with_name("aggregator").exists():
        return "the aggregator console script is not installed in this environment"
    return None


# The password travels through the CLI via an environment variable of the child process only.
CLI_CANARY = "Kanareyka/CLI+7Zq=&% pass"


def test_canary_through_cli_accounts_add(tmp_path: Path) -> None:
    reason = _cli_add_reason()
    if reason:
        pytest.skip(f"CLI path not available: {reason}")
    import httpx
    from reference_provider.app import create_app
    from reference_provider.testing import running_server

    data_dir = tmp_path / "data"
    exe = str(Path(sys.executable).with_name("aggregator"))
    with running_server(create_app(sim=True, clock_speed=0)) as base_url:
        created = httpx.post(
            f"{base_url}/sim/accounts/bulk",
            json={"operator": "reference", "count": 1, "password": CLI_CANARY},
        )
        assert created.status_code == 201, created.text
        login = created.json()["accounts"][0]["login"]
        env = {k: v for k, v in os.environ.items() if not k.startswith("AGGREGATOR_")}
        env.update(
            AGGREGATOR_DATA_DIR=str(data_dir),
            AGGREGATOR_PROVIDER_URLS=json.dumps({"reference": f"{base_url}/reference/api/v1"}),
            AGGREGATOR_LOG_LEVEL="DEBUG",
            CANARY_PW=CLI_CANARY,
        )

        def run(*args: str) -> str:
            done = subprocess.run(
                [exe, *args],
                env=env,
                stdin=subprocess.DEVNULL,
                capture_output=True,
                text=True,
                timeout=120,
                check=False,
            )
            output = done.stdout + done.stderr
            assert done.returncode == 0, f"aggregator {args[0]} {args[1]} failed: {output}"
            for form in _forms(CLI_CANARY):
                assert form.decode(errors="ignore") not in output, "canary in the CLI output"
            return output

        # schema and household in-process (fast); the password goes in through the CLI
        asyncio.run(_prepare_data_dir(data_dir))
        output = run(
            "accounts",
            "add",
            "--provider",
            "reference",
            "--scheme",
            "password",
            "--identifier-kind",
            "login",
            "--identifier",
            login,
            "--password-env",
            "CANARY_PW",
            "--all-subaccounts",
            "--label",
            "canary",
            "--no-interactive",
        )
        assert "canary" in output
    files = assert_no_canary(data_dir, CLI_CANARY)
    assert any(p.name == "aggregator.db" for p in files)
    # and the password really is stored, sealed: it opens with the data directory's key
    assert _stored_password(data_dir) == CLI_CANARY


async def _prepare_data_dir(data_dir: Path) -> None:
    from aggregator.storage.models import Household

    settings = Settings(data_dir=data_dir, database_url=None, vault_key=None)
    await upgrade(settings.resolved_database_url)
    engine = create_engine(settings.resolved_database_url)
    try:
        async with session_factory(engine)() as db, db.begin():
            db.add(Household(name="Canary"))
    finally:
        await engine.dispose()


def _stored_password(data_dir: Path) -> str | None:
    import sqlite3

    settings = Settings(data_dir=data_dir, database_url=None, vault_key=None)
    vault = Vault.from_settings(settings)
    with sqlite3.connect(data_dir / "aggregator.db") as conn:
        row_id, sealed = conn.execute(
            "SELECT id, credentials_sealed FROM linked_accounts ORDER BY id LIMIT 1"
        ).fetchone()
    account = LinkedAccount(credentials_sealed=sealed)
    account.id = row_id
    creds = open_credentials(vault, account)
    return creds.secret.reveal() if creds.secret else None
