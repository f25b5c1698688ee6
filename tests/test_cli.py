"""The ``aggregator`` command: help everywhere, one-line errors, and every command's work.

Commands run in-process through Typer's CliRunner against a fresh data directory (real SQLite,
real vault key file, real migrations). The operator is a fake provider registered in place of
the entry points (no network): a password login that asks for a captcha and an SMS code, a
one-time-code login that ends in a new password, and an SSO login. The reference plugin and the
reference provider over loopback are used when they exist (the canary test at the end).
"""

from __future__ import annotations

import asyncio
import datetime as dt
import io
import json
import logging
import os
import re
import subprocess
import sys
import time
import types
from collections.abc import Callable, Iterator
from decimal import Decimal
from pathlib import Path
from typing import Any

import pytest
from typer.testing import CliRunner, Result

from aggregator import (
    Challenge,
    ChallengeAnswer,
    ChallengeKind,
    Credentials,
    ExtraField,
    IdentifierKind,
    IdentifierSpec,
    InvalidCredentials,
    LoginScheme,
    PasswordPolicy,
    Provider,
    SecretKind,
    Session,
    SsoProvider,
    hookimpl,
    models,
)
from aggregator.cli import app, describe_error
from aggregator.plugins import PluginRegistry, load_plugins
from aggregator.services.tokens import authenticate
from aggregator.settings import Settings
from aggregator.storage.db import create_engine, session_factory
from aggregator.testing.leaks import encodings_of

CANARY = "Kanareyka/7+Zq=&ы pass"
NEW_PASSWORD = "NewPass-2025x"
CAPTCHA = "XK7Q2M"
CODE = "424242"
PNG = b"\x89PNG\r\n\x1a\n" + b"\x00" * 32

PHONE = IdentifierSpec(
    kind=IdentifierKind.PHONE, label_ru="Телефон", label_en="Phone", pattern=r"\d{10}"
)
LOGIN = IdentifierSpec(kind=IdentifierKind.LOGIN, label_ru="Логин", label_en="Login")
REGION = ExtraField(
    name="region",
    label_ru="Регион",
    label_en="Region",
    kind="choice",
    choices=[("msk", "Москва"), ("spb", "Санкт-Петербург")],
)


LEAKY = "Leaky-Canary-Pass-42"


class FakeOperator(Provider):
    """No network: a password login asks for a captcha, then an SMS code."""

    id = "clitest"
    name = "Тестовый"
    name_en = "Test operator"
    default_base_url = "http://127.0.0.1:9"
    login_schemes = (
        LoginScheme(
            id="password",
            title_ru="Пароль",
            title_en="Password",
            identifiers=[PHONE, LOGIN],
            extra_fields=[REGION],
        ),
        LoginScheme(
            id="code",
            title_ru="Код из SMS",
            title_en="SMS code",
            identifiers=[PHONE],
            secret=SecretKind.SMS_CODE,
            silent_relogin=False,
        ),
        LoginScheme(
            id="sso",
            title_ru="Госуслуги",
            title_en="Gosuslugi",
            secret=SecretKind.SSO,
            sso_providers=[SsoProvider.GOSUSLUGI, SsoProvider.VK],
        ),
    )
    seen: list[Credentials] = []

    async def start_login(self, credentials: Credentials) -> Session | Challenge:
        type(self).seen.append(credentials)
        if credentials.scheme == "sso":
            return Challenge(
                kind=ChallengeKind.SSO_REDIRECT,
                provider=self.id,
                step="sso",
                url="http://idp.test/authorize?client=lk",
            )
        if credentials.scheme == "code":
            return self._code("login_code")
        if credentials.secret is not None and credentials.secret.reveal() == LEAKY:
            # A careless plugin: its exception text carries the password.
            raise RuntimeError(f"operator refused {credentials.identifier}/{LEAKY} (code 7)")
        if credentials.secret is None or credentials.secret.reveal() != CANARY:
            raise InvalidCredentials("wrong password")
        return Challenge(kind=ChallengeKind.CAPTCHA, provider=self.id, step="captcha", image=PNG)

    def _code(self, step: str) -> Challenge:
        return Challenge(
            kind=ChallengeKind.CODE,
            provider=self.id,
            step=step,
            channel="sms",
            masked_destination="+7 903 ***-**-67",
        )

    async def continue_login(
        self, challenge: Challenge, answer: ChallengeAnswer
    ) -> Session | Challenge:
        text = answer.text.reveal() if answer.text else ""
        if challenge.step == "captcha":
            if text != CAPTCHA:
                raise InvalidCredentials("wrong captcha")
            return self._code("sms_code")
        if challenge.step in ("sms_code", "login_code"):
            if text != CODE:
                raise InvalidCredentials("wrong code")
            if challenge.step == "login_code":
                return Challenge(
                    kind=ChallengeKind.NEW_PASSWORD,
                    provider=self.id,
                    step="new_password",
                    password_policy=PasswordPolicy(min_length=8, require_digit=True),
                )
            return Session(provider=self.id, data={"token": "tok-" + CANARY})
        if challenge.step == "new_password":
            assert answer.new_password is not None
            assert not PasswordPolicy(min_length=8, require_digit=True).check(
                answer.new_password.reveal()
            )
            return Session(provider=self.id, data={"token": "tok-after-new-password"})
        assert answer.callback_url and "code=idp-1" in answer.callback_url
        return Session(provider=self.id, data={"token": "tok-sso"})

    async def subaccounts(self, session: Session) -> list[models.Subaccount]:
        return [
            models.Subaccount(id="s1", number="9031234567", kind="mobile", label="Папа"),
            models.Subaccount(id="s2", number="9037654321", kind="mobile", label="Мама"),
        ]

    async def balance(self, session: Session, account: str) -> models.Balance:
        return models.Balance(amount=models.Money.rub("10"), as_of=dt.datetime.now(dt.UTC))


class OtherOperator(FakeOperator):
    id = "clitest2"
    name = "Другой"
    name_en = "Another"


def fake_registry() -> PluginRegistry:
    plugin = types.SimpleNamespace(
        register_providers=hookimpl(lambda register: [register(FakeOperator)])
    )
    other = types.SimpleNamespace(
        register_providers=hookimpl(lambda register: [register(OtherOperator)])
    )
    return load_plugins(
        entry_points=False, extra=[("clitest", plugin), ("clitest2", other)], allow=(), block=()
    )


# -- fixtures -------------------------------------------------------------------------------


@pytest.fixture
def data_dir(tmp_path: Path, monkeypatch: pytest.MonkeyPatch) -> Path:
    """A fresh data directory; no AGGREGATOR_* variable leaks in from the environment."""
    for key in list(os.environ):
        if key.startswith("AGGREGATOR_"):
            monkeypatch.delenv(key)
    path = tmp_path / "data"
    monkeypatch.setenv("AGGREGATOR_DATA_DIR", str(path))
    monkeypatch.setenv("COLUMNS", "200")
    return path


@pytest.fixture
def fake_plugins(monkeypatch: pytest.MonkeyPatch) -> None:
    import aggregator.plugins
    import aggregator.runtime

    monkeypatch.setattr(aggregator.runtime, "load_plugins", lambda: fake_registry())
    monkeypatch.setattr(aggregator.plugins, "load_plugins", lambda: fake_registry())
    FakeOperator.seen = []


def run(*args: str, input: str | None = None, env: dict[str, str] | None = None) -> Result:
    return CliRunner().invoke(app, list(args), input=input, env=env)


def ok(result: Result) -> str:
    assert result.exit_code == 0, (result.exit_code, result.output, result.exception)
    return result.output


def one_line_error(result: Result) -> str:
    """The command failed with exit 1 and one line ``Ошибка / Error: ...``, no traceback."""
    assert result.exit_code == 1, (result.exit_code, result.output)
    assert "Traceback" not in result.output
    lines = [line for line in result.output.splitlines() if line.startswith("Ошибка / Error:")]
    assert len(lines) == 1, result.output
    return lines[0]


@pytest.fixture
def household(data_dir: Path) -> Path:
    ok(run("db", "upgrade"))
    ok(
        run(
            "users",
            "create",
            "--email",
            "owner@example.com",
            "--password-stdin",
            input="Owner-Pass-1\n",
        )
    )
    return data_dir


def add_password_account(*extra: str) -> Result:
    return run(
        "accounts",
        "add",
        "--no-interactive",
        "--provider",
        "clitest",
        "--scheme",
        "password",
        "--identifier",
        "8 903 123 45 67",
        "--password-env",
        "CANARY_PW",
        "--field",
        "region=msk",
        *extra,
        env={"CANARY_PW": CANARY},
    )


# -- help and errors ------------------------------------------------------------------------


def _all_command_paths() -> list[list[str]]:
    import typer

    root = typer.main.get_command(app)
    paths: list[list[str]] = []

    def walk(command: Any, prefix: list[str]) -> None:
        paths.append(prefix)
        for name, sub in getattr(command, "commands", {}).items():
            walk(sub, [*prefix, name])

    walk(root, [])
    return paths


EXPECTED_COMMANDS = {
    "serve",
    "demo",
    "worker",
    "poll",
    "accounts add",
    "accounts list",
    "accounts remove",
    "users create",
    "plugins list",
    "plugins new",
    "keys rotate",
    "keys remove-old",
    "tokens create",
    "tokens list",
    "tokens revoke",
    "db upgrade",
    "db current",
}


def test_every_command_exists_and_has_help() -> None:
    paths = _all_command_paths()
    names = {" ".join(p) for p in paths}
    assert names >= EXPECTED_COMMANDS
    for path in paths:
        output = ok(run(*path, "--help"))
        assert "Usage: aggregator" in output
        # Russian first, English second.
        assert re.search("[а-яА-Я]", output) and " / " in output, path


def test_no_arguments_shows_help() -> None:
    result = run()
    assert "Usage: aggregator" in result.output
    assert "accounts" in result.output


def test_a_missing_database_is_one_line_saying_what_to_run(data_dir: Path) -> None:
    line = one_line_error(run("accounts", "list"))
    assert "aggregator db upgrade" in line


def test_an_invalid_setting_is_one_line_naming_the_variable(data_dir: Path) -> None:
    line = one_line_error(run("accounts", "list", env={"AGGREGATOR_PORT": "eighty"}))
    assert "AGGREGATOR_PORT" in line


def test_an_unexpected_exception_is_one_line_not_a_traceback(
    data_dir: Path, monkeypatch: pytest.MonkeyPatch
) -> None:
    import aggregator.storage.schema

    def boom(url: str) -> None:
        raise RuntimeError("disk on fire")

    monkeypatch.setattr(aggregator.storage.schema, "upgrade", boom)
    line = one_line_error(run("db", "upgrade"))
    assert "RuntimeError" in line and "disk on fire" in line


def test_the_console_script_prints_one_line_in_a_real_process(tmp_path: Path) -> None:
    exe = Path(sys.executable).with_name("aggregator")
    env = {k: v for k, v in os.environ.items() if not k.startswith("AGGREGATOR_")}
    env["AGGREGATOR_DATA_DIR"] = str(tmp_path / "nothing")
    done = subprocess.run(
        [str(exe), "accounts", "list"], env=env, capture_output=True, text=True, timeout=60
    )
    assert done.returncode == 1
    assert done.stderr.strip().count("\n") == 0 and "Traceback" not in done.stderr
    assert done.stderr.startswith("Ошибка / Error:")


@pytest.mark.parametrize(
    ("error", "expected"),
    [
        (
            InvalidCredentials("x"),
            "Оператор не принял логин или пароль / The operator refused the login or password",
        ),
        (__import__("aggregator").RateLimited("x", retry_after=30), "(30 s)"),
        (
            __import__("aggregator").OperationRejected("нет денег"),
            "The operator rejected the operation: нет денег",
        ),
        (KeyError("no plugin provides the operator 'x'"), "no plugin provides the operator 'x'"),
        (ValueError("phone must be 10 digits"), "phone must be 10 digits"),
    ],
)
def test_errors_are_described_in_russian_and_english(error: Exception, expected: str) -> None:
    assert expected in describe_error(error)


def test_error_texts_come_from_the_dashboards_catalogue() -> None:
    """Every contract error says in the terminal what the dashboard says (web/locales)."""
    from aggregator import errors as contract
    from aggregator.server.assets import find_web_dir
    from aggregator.server.i18n import Translator

    catalogue = Translator(find_web_dir() / "locales")
    kinds = [
        contract.InvalidCredentials("x"),
        contract.SessionExpired("x"),
        contract.AccountLocked("x"),
        contract.CodeRejected(),
        contract.FlowExpired("x"),
        contract.Unavailable("x"),
        contract.Timeout("x"),
        contract.RateLimited("x"),
        contract.OperationRejected(),
        contract.ParseError("x"),
        contract.NotSupported("x"),
    ]
    for error in kinds:
        ru, _ = catalogue.error("ru", error.key)
        en, _ = catalogue.error("en", error.key)
        assert describe_error(error).startswith(f"{ru.rstrip('.')} / {en.rstrip('.')}"), error.key


# -- db and users ---------------------------------------------------------------------------


def test_db_current_says_behind_then_current(data_dir: Path) -> None:
    one_line_error(run("db", "current"))
    ok(run("db", "upgrade"))
    output = ok(run("db", "current"))
    assert "актуальна / current" in output
    ok(run("db", "upgrade"))  # a second run changes nothing


def test_users_create_makes_a_household_and_refuses_bad_input(data_dir: Path) -> None:
    ok(run("db", "upgrade"))
    output = ok(
        run(
            "users",
            "create",
            "--email",
            " Owner@Example.COM ",
            "--password-env",
            "PW",
            "--name",
            "Семья",
            env={"PW": "Owner-Pass-1"},
        )
    )
    assert "household 1" in output
    assert "already exists" in one_line_error(
        run(
            "users",
            "create",
            "--email",
            "owner@example.com",
            "--password-stdin",
            input="Another-Pass-1\n",
        )
    )
    assert "at least 8" in one_line_error(
        run("users", "create", "--email", "b@example.com", "--password-stdin", input="short\n")
    )
    assert "not valid" in one_line_error(
        run("users", "create", "--email", "nope", "--password-stdin", input="Long-Pass-123\n")
    )
    assert "a password is needed" in one_line_error(
        run("users", "create", "--email", "c@example.com", "--no-interactive")
    )


def test_users_create_interactive_asks_twice(data_dir: Path) -> None:
    ok(run("db", "upgrade"))
    output = ok(
        run(
            "users",
            "create",
            "--email",
            "i@example.com",
            "--interactive",
            input="Inter-Pass-1\nInter-Pass-1\n",
        )
    )
    assert "Inter-Pass-1" not in output


async def test_households_hash_with_argon2id_and_verify() -> None:
    from aggregator.services.households import hash_password, needs_rehash, verify_password

    hashed = hash_password("Correct-Horse-1")
    assert hashed.startswith("$argon2id$")
    assert verify_password(hashed, "Correct-Horse-1")
    assert not verify_password(hashed, "wrong")
    assert not verify_password("not a hash", "Correct-Horse-1")
    assert not needs_rehash(hashed)


# -- accounts -------------------------------------------------------------------------------


def test_accounts_add_needs_a_household_first(data_dir: Path, fake_plugins: None) -> None:
    ok(run("db", "upgrade"))
    assert "aggregator users create" in one_line_error(add_password_account())


def test_a_challenge_in_non_interactive_mode_is_an_error_naming_the_step(
    household: Path, fake_plugins: None
) -> None:
    line = one_line_error(add_password_account("--all-subaccounts"))
    assert "captcha" in line and "'captcha'" in line
    assert CANARY not in line


def test_wrong_input_is_one_clear_line(household: Path, fake_plugins: None) -> None:
    assert "no plugin provides the operator 'nope'" in one_line_error(
        run("accounts", "add", "--no-interactive", "--provider", "nope")
    )
    assert "no login scheme 'x'" in one_line_error(
        run("accounts", "add", "--no-interactive", "--provider", "clitest", "--scheme", "x")
    )
    assert "phone must be a Russian number" in one_line_error(
        run(
            "accounts",
            "add",
            "--no-interactive",
            "--provider",
            "clitest",
            "--identifier",
            "12",
            "--field",
            "region=msk",
            "--password-env",
            "PW",
            env={"PW": "x"},
        )
    )
    assert "Region: choose one of the listed values" in one_line_error(
        run(
            "accounts",
            "add",
            "--no-interactive",
            "--provider",
            "clitest",
            "--identifier",
            "9031234567",
            "--field",
            "region=mars",
            "--password-env",
            "PW",
            env={"PW": "x"},
        )
    )
    assert "environment variable NOPE is not set" in one_line_error(
        run(
            "accounts",
            "add",
            "--no-interactive",
            "--provider",
            "clitest",
            "--identifier",
            "9031234567",
            "--field",
            "region=msk",
            "--password-env",
            "NOPE",
        )
    )
    assert "--field takes name=value" in one_line_error(
        run("accounts", "add", "--no-interactive", "--field", "region")
    )
    assert "The operator refused the login or password" in one_line_error(
        run(
            "accounts",
            "add",
            "--no-interactive",
            "--provider",
            "clitest",
            "--identifier",
            "9031234567",
            "--field",
            "region=msk",
            "--password-stdin",
            input="Wrong-Pass-1\n",
        )
    )


def test_accounts_add_interactive_answers_every_challenge(
    household: Path, fake_plugins: None, monkeypatch: pytest.MonkeyPatch
) -> None:
    answers = "\n".join(
        [
            "1",  # operator: clitest (sorted first)
            "1",  # scheme: password
            "1",  # identifier kind: phone
            "+7 (903) 123-45-67",
            "2",  # region: spb
            CANARY,  # password (hidden)
            CAPTCHA,
            CODE,  # hidden
            "2",  # subaccounts: the second
            "Дача",  # label
        ]
    )
    from aggregator.cli.login import TerminalLogin

    shown: list[bytes] = []
    save = TerminalLogin._save_captcha

    def saving(self: TerminalLogin, challenge: Any) -> Path:
        path = save(self, challenge)
        shown.append(path.read_bytes())
        return path

    monkeypatch.setattr(TerminalLogin, "_save_captcha", saving)
    result = run("accounts", "add", "--interactive", input=answers + "\n")
    output = ok(result)
    captcha_path = re.search(r"captcha image: (\S+)", output)
    assert captcha_path is not None
    assert shown == [PNG]  # the picture was there while the question was asked...
    assert not Path(captcha_path.group(1)).exists()  # ...and deleted after use
    assert "+7 903 ***-**-67" in output  # where the code went
    assert "Дача" in output
    credentials = FakeOperator.seen[-1]
    assert credentials.identifier == "9031234567"
    assert credentials.extras == {"region": "spb"}
    assert CANARY not in output and CODE not in output

    listing = json.loads(ok(run("accounts", "list", "--json")))
    assert [(a["operator"], a["number"], a["status"]) for a in listing] == [
        ("clitest", "+7 903 ***-**-21", "new")
    ]


def test_accounts_add_non_interactive_links_every_subaccount_and_seals_the_password(
    household: Path, fake_plugins: None, monkeypatch: pytest.MonkeyPatch
) -> None:
    # Non-interactive, the captcha cannot be answered: answer it by patching the terminal login.
    import aggregator.cli.login as cli

    async def answer(self: Any, challenge: Challenge) -> ChallengeAnswer:
        from aggregator import Secret

        return ChallengeAnswer(text=Secret(CAPTCHA if challenge.step == "captcha" else CODE))

    monkeypatch.setattr(cli.TerminalLogin, "answer", answer)
    output = ok(add_password_account("--all-subaccounts", "--label", "Семья"))
    assert "linked: 2" in output

    listing = json.loads(ok(run("accounts", "list", "--json")))
    assert [a["label"] for a in listing] == ["Семья · Папа", "Семья · Мама"]
    assert all(a["balance"] is None and a["status"] == "new" for a in listing)

    table = ok(run("accounts", "list"))
    assert "Семья · Папа" in table and "+7 903 ***-**-67" in table

    # The password is sealed: found nowhere in the data directory, in any encoding.
    assert_no_secret_in(household, CANARY)

    # ... and it opens after a key rotation and the removal of the old key.
    rotated = ok(run("keys", "rotate"))
    assert "re-sealed: 4 values in 2 rows" in rotated
    removed = ok(run("keys", "remove-old"))
    assert "removed: k" in removed
    assert _stored_passwords(household) == [CANARY, CANARY]

    # Linking the same login again updates the rows instead of duplicating them.
    ok(add_password_account("--subaccount", "s1"))
    assert len(json.loads(ok(run("accounts", "list", "--json")))) == 2


def _stored_passwords(data_dir: Path) -> list[str]:
    import asyncio

    from aggregator.accounts import open_credentials
    from aggregator.settings import Settings
    from aggregator.storage.db import create_engine, session_factory
    from aggregator.storage.models import LinkedAccount
    from aggregator.vault import Vault

    async def read() -> list[str]:
        settings = Settings(data_dir=data_dir)
        engine = create_engine(settings.resolved_database_url)
        try:
            async with session_factory(engine)() as db:
                from sqlalchemy import select

                rows = (await db.scalars(select(LinkedAccount).order_by(LinkedAccount.id))).all()
                vault = Vault.from_settings(settings)
                out = []
                for row in rows:
                    secret = open_credentials(vault, row).secret
                    out.append(secret.reveal() if secret else "")
                return out
        finally:
            await engine.dispose()

    return asyncio.run(read())


def assert_no_secret_in(data_dir: Path, secret: str) -> None:
    forms = {form.encode() for form in encodings_of(secret)}
    forms.add(secret.encode("utf-16-le"))
    forms.add(json.dumps(secret)[1:-1].encode())
    files = [p for p in data_dir.rglob("*") if p.is_file()]
    assert any(p.name.endswith(".db") for p in files)
    for path in files:
        content = path.read_bytes()
        for form in forms:
            assert form not in content, f"the secret is in {path.name}"


def test_one_time_code_login_ends_in_a_new_password(household: Path, fake_plugins: None) -> None:
    answers = "\n".join(
        [
            CODE,  # the SMS code (hidden)
            "weak",  # a new password breaking the policy ...
            "weak",
            NEW_PASSWORD,  # ... then a good one, twice
            NEW_PASSWORD,
        ]
    )
    output = ok(
        run(
            "accounts",
            "add",
            "--interactive",
            "--provider",
            "clitest",
            "--scheme",
            "code",
            "--identifier",
            "9031234567",
            "--all-subaccounts",
            "--label",
            "",
            input=answers + "\n",
        )
    )
    assert "password.length" in output and "password.digit" in output
    assert NEW_PASSWORD not in output
    assert "linked: 2" in output


def test_a_new_password_can_come_from_an_environment_variable(
    household: Path, fake_plugins: None, monkeypatch: pytest.MonkeyPatch
) -> None:
    import aggregator.cli.login as cli

    real_answer = cli.TerminalLogin.answer

    async def answer(self: Any, challenge: Challenge) -> ChallengeAnswer:
        if challenge.kind is ChallengeKind.CODE:
            from aggregator import Secret

            return ChallengeAnswer(text=Secret(CODE))
        return await real_answer(self, challenge)

    monkeypatch.setattr(cli.TerminalLogin, "answer", answer)
    common = [
        "accounts",
        "add",
        "--no-interactive",
        "--provider",
        "clitest",
        "--scheme",
        "code",
        "--identifier",
        "9031234567",
        "--subaccount",
        "s2",
        "--new-password-env",
        "NEWPW",
    ]
    assert "password.digit" in one_line_error(run(*common, env={"NEWPW": "no-digits-here"}))
    ok(run(*common, env={"NEWPW": NEW_PASSWORD}))


def test_sso_login_prints_the_url_and_takes_the_callback(
    household: Path, fake_plugins: None
) -> None:
    output = ok(
        run(
            "accounts",
            "add",
            "--interactive",
            "--provider",
            "clitest",
            "--scheme",
            "sso",
            "--sso-provider",
            "gosuslugi",
            "--subaccount",
            "s1",
            "--label",
            "SSO",
            input="http://aggregator.test/cb?code=idp-1&state=x\n",
        )
    )
    assert "http://idp.test/authorize?client=lk" in output
    assert FakeOperator.seen[-1].sso_provider is SsoProvider.GOSUSLUGI


def test_unknown_subaccount_and_fields_are_refused(household: Path, fake_plugins: None) -> None:
    base = [
        "accounts",
        "add",
        "--interactive",
        "--provider",
        "clitest",
        "--scheme",
        "sso",
        "--sso-provider",
        "vk",
        "--label",
        "x",
    ]
    line = one_line_error(run(*base, "--subaccount", "s9", input="http://cb?code=idp-1\n"))
    assert "no such subaccounts: s9" in line and "s1, s2" in line
    assert "has no fields: colour" in one_line_error(run(*base, "--field", "colour=red"))


def test_accounts_remove_asks_first(household: Path, fake_plugins: None) -> None:
    ok(
        run(
            "accounts",
            "add",
            "--interactive",
            "--provider",
            "clitest",
            "--scheme",
            "sso",
            "--sso-provider",
            "vk",
            "--all-subaccounts",
            "--label",
            "S",
            input="http://cb?code=idp-1\n",
        )
    )
    ids = [a["id"] for a in json.loads(ok(run("accounts", "list", "--json")))]
    assert len(ids) == 2
    declined = run("accounts", "remove", str(ids[0]), input="n\n")
    assert declined.exit_code == 1 and "Traceback" not in declined.output
    assert len(json.loads(ok(run("accounts", "list", "--json")))) == 2
    ok(run("accounts", "remove", str(ids[0]), input="y\n"))
    ok(run("accounts", "remove", str(ids[1]), "--yes"))
    assert json.loads(ok(run("accounts", "list", "--json"))) == []
    assert f"no account {ids[0]}" in one_line_error(run("accounts", "remove", str(ids[0]), "-y"))


# -- poll, serve, demo, worker: wired to the other parts -------------------------------------


def _fake_module(monkeypatch: pytest.MonkeyPatch, name: str, **attrs: Any) -> None:
    module = types.ModuleType(name)
    module.__dict__.update(attrs)
    monkeypatch.setitem(sys.modules, name, module)


def test_poll_shows_progress_and_a_result_table_and_fails_when_an_account_failed(
    data_dir: Path, monkeypatch: pytest.MonkeyPatch
) -> None:
    import aggregator.services.polls as polls
    from aggregator.polling.models import PollOutcome

    calls: list[tuple[Any, ...]] = []
    outcomes = [
        PollOutcome(
            account_id=1,
            provider_id="beeline",
            label="Папа",
            status="ok",
            balance=Decimal("1234.56"),
            error_key=None,
        ),
        PollOutcome(
            account_id=2,
            provider_id="bashtel",
            label="Дача",
            status="stale",
            balance=None,
            error_key="temporary.timeout",
        ),
    ]

    async def poll_now(
        settings: Any, account_id: int | None, progress: Callable[[int, int], None] | None
    ) -> list[Any]:
        calls.append((settings.data_dir, account_id))
        assert progress is not None
        progress(1, 2)
        progress(2, 2)
        return outcomes if account_id is None else outcomes[:1]

    monkeypatch.setattr(polls, "poll_now", poll_now)
    result = run("poll", "--all")
    # One account failed: the table is shown, and the exit code says so (cron notices).
    assert "1\u00a0234,56\u00a0₽" in result.output and "temporary.timeout" in result.output
    assert "1 of 2 accounts failed: 2 (temporary.timeout)" in one_line_error(result)
    assert calls == [(data_dir, None)]
    ok(run("poll", "--account", "7"))
    assert calls[-1] == (data_dir, 7)
    listed = json.loads(ok(run("poll", "--account", "7", "--json")))
    assert listed == [
        {
            "id": 1,
            "operator": "beeline",
            "label": "Папа",
            "number": "",
            "status": "ok",
            "balance": "1234.56",
            "currency": "RUB",
            "as_of": None,
            "error": None,
        }
    ]

    async def nothing(settings: Any, account_id: int | None, progress: Any) -> list[Any]:
        return []

    monkeypatch.setattr(polls, "poll_now", nothing)
    assert "no linked accounts" in ok(run("poll", "--all"))
    assert "no account 7" in one_line_error(run("poll", "--account", "7"))
    assert "--account ID or --all" in one_line_error(run("poll"))
    assert "use one of" in one_line_error(run("poll", "--all", "--account", "1"))


@pytest.mark.parametrize(
    ("command", "module", "function"),
    [
        ("serve", "aggregator.server.app", "serve"),
        ("demo", "aggregator.demo", "run_demo"),
        ("worker", "aggregator.polling.worker", "run_worker"),
    ],
)
def test_long_running_commands_call_their_part_with_the_settings(
    data_dir: Path, monkeypatch: pytest.MonkeyPatch, command: str, module: str, function: str
) -> None:
    seen: list[Any] = []

    def record(settings: Any, **options: Any) -> None:
        seen.append(settings)

    async def record_async(settings: Any, **options: Any) -> None:
        seen.append(settings)

    _fake_module(monkeypatch, module, **{function: record_async if command == "worker" else record})
    args = [command, "--port", "8123"] if command == "serve" else [command]
    ok(run(*args))
    assert len(seen) == 1 and seen[0].data_dir == data_dir
    if command == "serve":
        assert seen[0].port == 8123


def test_a_plugin_exception_carrying_the_password_never_shows_it(
    household: Path, fake_plugins: None, caplog: pytest.LogCaptureFixture
) -> None:
    """Canary: the password is in no output, no log line and no stored error."""
    caplog.set_level("DEBUG")
    result = run(
        "accounts",
        "add",
        "--provider",
        "clitest",
        "--scheme",
        "password",
        "--identifier",
        "+79031234567",
        "--field",
        "region=msk",
        "--password-stdin",
        input=LEAKY + "\n",
    )
    line = one_line_error(result)
    assert "operator refused" in line and "***" in line  # the reason stays, the secret goes
    assert LEAKY not in result.output
    assert LEAKY not in caplog.text
    for record in caplog.records:
        assert LEAKY not in record.getMessage()
    for path in household.rglob("*"):
        if path.is_file():
            assert LEAKY.encode() not in path.read_bytes(), path


def test_the_log_filter_redacts_every_live_secret(caplog: pytest.LogCaptureFixture) -> None:
    import logging

    from aggregator.core.secret import Secret
    from aggregator.logs import RedactingFilter

    secret = Secret("Sess-Token-Canary-9f2e")
    handler = logging.StreamHandler(io.StringIO())
    handler.addFilter(RedactingFilter())
    logger = logging.getLogger("aggregator.test.canary")
    logger.addHandler(handler)
    try:
        try:
            raise ValueError(f"boom {secret.reveal()}")
        except ValueError:
            logger.exception("crash with %s", secret.reveal())
    finally:
        logger.removeHandler(handler)
    stream = handler.stream
    assert isinstance(stream, io.StringIO)
    written = stream.getvalue()
    assert "crash with ***" in written and "boom ***" in written
    assert "Sess-Token-Canary-9f2e" not in written
    assert "Sess-Token-Canary-9f2e" not in caplog.text


def test_labels_print_as_written_in_cli_tables(
    household: Path, fake_plugins: None, monkeypatch: pytest.MonkeyPatch
) -> None:
    """A label (set through the API, or an operator's subaccount name) cannot inject Rich
    markup, terminal escapes or hyperlinks into a table."""
    import aggregator.cli.login as cli

    async def answer(self: Any, challenge: Challenge) -> ChallengeAnswer:
        from aggregator import Secret

        return ChallengeAnswer(text=Secret(CAPTCHA if challenge.step == "captcha" else CODE))

    monkeypatch.setattr(cli.TerminalLogin, "answer", answer)
    hostile = "[bold red]HACK[/] \x1b]8;;http://evil.test\x1b\\link\x1b]8;;\x1b\\ \x1b[2J"
    ok(add_password_account("--subaccount", "s1", "--label", hostile))
    table = run("accounts", "list", env={"COLUMNS": "200"}).output
    assert "[bold red]HACK[/]" in table  # the markup is shown, not obeyed
    assert "\x1b" not in table and "evil.test" in table  # no escape reaches the terminal


def test_plugins_list_fits_a_narrow_terminal_and_shows_a_code_after_the_password(
    fake_plugins: None, monkeypatch: pytest.MonkeyPatch
) -> None:
    from aggregator import LoginScheme

    scheme = LoginScheme(
        id="sms_password", title_ru="Пароль и код", title_en="Password and code", code_follows=True
    )
    assert scheme.silent_relogin is False  # a scheduled re-login would text the user
    assert LoginScheme(id="p", title_ru="", title_en="", code_follows=True, silent_relogin=True)
    monkeypatch.setattr(
        FakeOperator, "login_schemes", (*FakeOperator.login_schemes, scheme), raising=True
    )
    for width in ("40", "60", "200"):
        output = ok(run("plugins", "list", env={"COLUMNS": width}))
        assert "…" not in output, width
        assert "sms_password + code" in output.replace("\n", " "), width
        for line in output.splitlines():
            assert len(line) <= int(width), (width, line)
        assert "Тестовый" in output and "clitest2" in output


def test_worker_takes_an_identity_as_docs_operations_describes(
    data_dir: Path, monkeypatch: pytest.MonkeyPatch
) -> None:
    seen: list[tuple[Any, str | None, int | None]] = []

    async def run_worker(
        settings: Any,
        identity: str | None = None,
        concurrency: int | None = None,
        **options: Any,
    ) -> None:
        seen.append((settings, identity, concurrency))

    _fake_module(monkeypatch, "aggregator.polling.worker", run_worker=run_worker)
    ok(run("worker", "--identity", "box-1"))
    assert seen[-1][1:] == ("box-1", None)
    ok(run("worker", "--concurrency", "16"))
    assert seen[-1][1:] == (None, 16)
    assert run("worker", "--concurrency", "0").exit_code != 0
    assert len(seen) == 2
    operations = (Path(__file__).parents[1] / "docs" / "operations.md").read_text()
    assert "--identity" in operations and "--concurrency" in operations


# -- plugins --------------------------------------------------------------------------------


def test_plugins_list_json_has_every_field(fake_plugins: None) -> None:
    listing = json.loads(ok(run("plugins", "list", "--json")))
    entry = next(p for p in listing["providers"] if p["id"] == "clitest")
    assert entry["name"] == "Тестовый" and entry["name_en"] == "Test operator"
    assert entry["capabilities"] == ["balance", "subaccounts"]
    schemes = {s["id"]: s for s in entry["login_schemes"]}
    assert schemes["password"]["identifiers"][0]["kind"] == "phone"
    assert schemes["password"]["extra_fields"][0]["choices"][0] == ["msk", "Москва"]
    assert schemes["sso"]["sso_providers"] == ["gosuslugi", "vk"]
    assert listing["failures"] == []


def test_plugins_list_reports_failures_by_name(monkeypatch: pytest.MonkeyPatch) -> None:
    import aggregator.plugins

    def with_failure() -> PluginRegistry:
        broken = types.SimpleNamespace(
            register_providers=hookimpl(lambda register: register(object))
        )
        return load_plugins(entry_points=False, extra=[("broken", broken)], allow=(), block=())

    monkeypatch.setattr(aggregator.plugins, "load_plugins", with_failure)
    listing = json.loads(ok(run("plugins", "list", "--json")))
    assert listing["failures"] == [
        {
            "name": "broken",
            "reason": "registration failed: <class 'object'> is not a Provider subclass",
        }
    ]
    table = ok(run("plugins", "list"))
    assert "broken" in table and "is not a Provider subclass" in table


def test_plugins_list_table_and_json_with_the_real_entry_points() -> None:
    """The real thing, in a subprocess, as a user runs it (the JSON parses; built-ins appear)."""
    exe = Path(sys.executable).with_name("aggregator")
    started = time.perf_counter()
    done = subprocess.run(
        [str(exe), "plugins", "list", "--json"], capture_output=True, text=True, timeout=120
    )
    assert done.returncode == 0, done.stderr
    listing = json.loads(done.stdout)
    names = {p["id"] for p in listing["providers"]} | {f["name"] for f in listing["failures"]}
    assert {"beeline", "bashtel", "rostelecom", "netbynet", "reference"} <= names
    print(f"plugins list --json took {time.perf_counter() - started:.2f}s")


def test_plugins_new_refuses_bad_names_and_existing_folders(tmp_path: Path) -> None:
    assert "lower-case" in one_line_error(run("plugins", "new", "Bad-Name"))
    assert "lower-case" in one_line_error(run("plugins", "new", "class"))
    target = tmp_path / "x"
    target.mkdir()
    (target / "keep.txt").write_text("mine")
    assert "already exists" in one_line_error(run("plugins", "new", "x_op", "--dest", str(target)))
    assert (target / "keep.txt").read_text() == "mine"
    output = ok(run("plugins", "new", "x_op", "--dest", str(tmp_path / "new")))
    assert "pip install" in output and str(tmp_path / "new") in output
    assert (tmp_path / "new" / "aggregator_x_op" / "provider.py").exists()


# -- the canary through the real reference plugin over loopback -------------------------------


@pytest.fixture
def reference_server() -> Iterator[str]:
    """The reference provider on a real uvicorn server on loopback (a thread of this process)."""
    try:
        load_plugins(allow=["reference"], block=()).provider("reference")
        from reference_provider.app import create_app
        from reference_provider.testing import running_server
    except Exception as exc:
        pytest.skip(f"the reference plugin or provider is not available ({exc})")
    with running_server(create_app(seed=1, sim=True, clock_speed=0)) as url:
        yield f"{url}/reference/api/v1"


def test_canary_through_accounts_add_with_the_reference_plugin(
    tmp_path: Path, reference_server: str
) -> None:
    """A password stored through `aggregator accounts add` is in no file of the data directory.

    The real console script in a subprocess, the real reference plugin logging in to the
    reference provider over loopback; then every file of the data directory (database, WAL,
    key file) is searched for the password raw, URL-encoded, base64, hex, UTF-16 and
    JSON-escaped.
    """
    exe = str(Path(sys.executable).with_name("aggregator"))
    env = {k: v for k, v in os.environ.items() if not k.startswith("AGGREGATOR_")}
    data_dir = tmp_path / "data"
    env.update(
        AGGREGATOR_DATA_DIR=str(data_dir),
        AGGREGATOR_PROVIDER_URLS=json.dumps({"reference": reference_server}),
        COLUMNS="200",
    )

    def cli(*args: str, stdin: str | None = None) -> subprocess.CompletedProcess[str]:
        return subprocess.run(
            [exe, *args], env=env, input=stdin, capture_output=True, text=True, timeout=120
        )

    assert cli("db", "upgrade").returncode == 0
    created = cli(
        "users", "create", "--email", "o@example.com", "--password-stdin", stdin="Owner-Pass-1\n"
    )
    assert created.returncode == 0, created.stderr
    password = "demo-password"  # the reference provider's demo subscriber "demo"
    added = cli(
        "accounts",
        "add",
        "--no-interactive",
        "--provider",
        "reference",
        "--scheme",
        "password",
        "--identifier",
        "demo",
        "--password-stdin",
        "--all-subaccounts",
        "--label",
        "Канарейка",
        stdin=password + "\n",
    )
    assert added.returncode == 0, added.stdout + added.stderr
    assert password not in added.stdout + added.stderr
    listing = json.loads(cli("accounts", "list", "--json").stdout)
    assert listing and {a["operator"] for a in listing} == {"reference"}
    assert_no_secret_in(data_dir, password)


async def test_create_household_with_owner_on_each_database(db: Any) -> None:
    """households.create_household_with_owner (the web engineer's first-start path too)."""
    import uuid

    from aggregator.services.households import create_household_with_owner, verify_password

    email = f"owner-{uuid.uuid4().hex[:8]}@example.com"
    user = await create_household_with_owner(
        db, email=f"  {email.upper()} ", password="Owner-Pass-1", name="Семья", lang="en"
    )
    assert user.id and user.role == "owner" and user.email == email
    assert user.household.name == "Семья" and user.household.lang == "en"
    assert verify_password(user.password_hash, "Owner-Pass-1")
    with pytest.raises(ValueError, match="already exists"):
        await create_household_with_owner(db, email=email, password="Other-Pass-1")
    with pytest.raises(ValueError, match="language"):
        await create_household_with_owner(db, email="x" + email, password="Other-Pass-1", lang="de")


# -- tokens ---------------------------------------------------------------------------------


def _token_user(data_dir: Path, token: str) -> object:
    async def go() -> object:
        engine = create_engine(Settings(data_dir=data_dir).resolved_database_url)
        try:
            async with session_factory(engine)() as db:
                return await authenticate(db, token)
        finally:
            await engine.dispose()

    return asyncio.run(go())


def test_tokens_create_list_revoke(household: Path, caplog: pytest.LogCaptureFixture) -> None:
    caplog.set_level(logging.DEBUG)
    runner = CliRunner()
    created = runner.invoke(
        app,
        ["tokens", "create", "--email", "Owner@Example.com", "--name", "HA", "--scope", "read"],
    )
    assert created.exit_code == 0, created.output
    token = created.stdout.strip().splitlines()[-1]
    assert token.startswith("agg_") and len(token) > 40
    found = _token_user(household, token)
    assert found is not None and getattr(found, "scope", None) == "read"

    listing = ok(run("tokens", "list", "--email", "owner@example.com", "--json"))
    (row,) = json.loads(listing)
    assert row["name"] == "HA" and row["prefix"] == token[:8] and row["revoked_at"] is None
    assert token not in listing
    table = ok(run("tokens", "list", "--email", "owner@example.com"))
    assert "HA" in table and token not in table

    ok(run("tokens", "revoke", str(row["id"]), "--email", "owner@example.com"))
    assert _token_user(household, token) is None
    (row,) = json.loads(ok(run("tokens", "list", "--email", "owner@example.com", "--json")))
    assert row["revoked_at"] is not None
    assert all(token not in r.getMessage() + repr(r.args) for r in caplog.records)


def test_tokens_bad_input_is_one_line(household: Path) -> None:
    assert "scope" in one_line_error(
        run("tokens", "create", "--email", "owner@example.com", "--name", "x", "--scope", "all")
    )
    assert "no member" in one_line_error(
        run("tokens", "create", "--email", "nobody@example.com", "--name", "x")
    )
    assert "no token 99" in one_line_error(
        run("tokens", "revoke", "99", "--email", "owner@example.com")
    )
