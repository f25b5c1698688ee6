"""Diagnostics: one poll (and a login) recorded as HAR 1.2, with nothing secret or personal in it.

The canary test plants a password, a login, a name, a phone number, an e-mail address, a postal
address and an account number at the reference provider, takes diagnostics of the account, and
searches the file's bytes for each of them raw, URL-encoded, base64 at every alignment, hex,
JSON-escaped and UTF-16. The redaction's own unit tests below show that the search and the
masking work on values planted in each encoding.
"""

from __future__ import annotations

import base64
import datetime as dt
import json
import os
import re
import subprocess
import sys
from collections.abc import AsyncIterator
from pathlib import Path
from typing import Any

import httpx
import pytest
import pytest_asyncio
from reference_provider.app import create_app
from reference_provider.backend import Backend
from reference_provider.domain import MSK

from aggregator.diagnostics import Diagnostics, Redactor, record_diagnostics
from aggregator.diagnostics.redaction import REMOVED
from aggregator.runtime import Runtime
from aggregator.settings import Settings
from aggregator.testing.leaks import byte_forms

PASSWORD = "Kanareyka/7+Zq=&ы€ pass"
LOGIN = "canary.login"
NAME = "Канареев Кеша Птицевич"
PHONE = "9035550172"
EMAIL = "kesha.canary@example.ru"
ADDRESS = "Москва, ул. Канареечная, д. 17, кв. 4"
LABEL = "Телефон Кеши"


def assert_clean(content: bytes, *values: str) -> None:
    for value in values:
        for form, kind in byte_forms(value).items():
            assert form not in content, f"{value[:3]}… ({kind}) survived the redaction"


def assert_har(document: dict[str, Any]) -> None:
    """The HAR 1.2 shape every developer tool expects (and our own fields)."""
    log = document["log"]
    assert log["version"] == "1.2" and log["creator"]["name"] == "aggregator"
    assert list(log)[:2] == ["version", "comment"]  # the redaction summary comes first
    assert "Redacted" in log["comment"]
    for entry in log["entries"]:
        request, response = entry["request"], entry["response"]
        assert {"method", "url", "httpVersion", "headers", "queryString", "cookies"} <= set(request)
        assert {"status", "statusText", "headers", "content", "redirectURL"} <= set(response)
        assert {"mimeType", "size"} <= set(response["content"])
        assert isinstance(entry["time"], int | float) and "timings" in entry
        dt.datetime.fromisoformat(entry["startedDateTime"])


@pytest.fixture
def backend() -> Backend:
    return Backend(seed=1, clock_speed=0, start=dt.datetime(2025, 1, 15, 12, 0, tzinfo=MSK))


@pytest_asyncio.fixture
async def runtime(backend: Backend) -> AsyncIterator[Runtime]:
    transport = httpx.ASGITransport(app=create_app(backend=backend, sim=True))
    settings = Settings(provider_urls={"reference": "http://127.0.0.1/reference/api/v1"})
    async with (
        httpx.AsyncClient(transport=transport) as http,
        Runtime(settings, http=http) as opened,
    ):
        yield opened


def _canary_account(backend: Backend) -> str:
    sub = backend.create_subscriber(
        "reference",
        LOGIN,
        PASSWORD,
        NAME,
        phone=PHONE,
        email=EMAIL,
        captcha_policy="never",
    )
    account = backend.create_account(
        sub, kind="mobile", balance=850_00, label=LABEL, address=ADDRESS
    )
    return account.id, account.number


async def _diagnose(runtime: Runtime, backend: Backend, *, login: bool) -> tuple[Diagnostics, str]:
    account_id, number = _canary_account(backend)
    scheme = runtime.registry.provider("reference").scheme("password")
    credentials = scheme.build_credentials(LOGIN, PASSWORD, identifier_kind="login")
    result = await record_diagnostics(
        runtime,
        "reference",
        subaccount_id=account_id,
        credentials=credentials,
        session=None,
        personal=[(LABEL, "name"), (account_id, "account")],
        login=login,
        name="7",
    )
    return result, number


async def test_the_diagnostics_of_a_login_and_a_poll_hold_no_canary(
    runtime: Runtime, backend: Backend
) -> None:
    result, number = await _diagnose(runtime, backend, login=True)
    assert result.outcome == "ok"
    document = json.loads(result.content)
    assert_har(document)
    log = document["log"]
    urls = [e["request"]["url"] for e in log["entries"]]
    assert any("/auth/login" in u for u in urls), urls
    assert any(u.endswith("/balance") or "/accounts/" in u for u in urls)
    meta = log["_aggregator"]
    assert meta["plugin"]["name"] == "aggregator-reference" and meta["plugin"]["version"]
    assert meta["aggregator_version"] and meta["operator"] == "reference"
    assert [s["step"] for s in meta["steps"]] == ["login", "poll", "profile"]
    assert log["_redaction"]["removed"] and log["_redaction"]["masked"]
    tokens = [
        h["value"]
        for e in log["entries"]
        for h in e["request"]["headers"]
        if h["name"].lower() == "authorization"
    ]
    assert tokens and set(tokens) == {REMOVED}
    assert_clean(result.content, PASSWORD, LOGIN, NAME, PHONE, EMAIL, ADDRESS, number, LABEL)
    assert_clean(result.content, *NAME.split(), "+7 903 555-01-72", "79035550172")
    # and it replays into the same reading (aggregator.testing.replay)
    from aggregator_reference import ReferenceProvider

    from aggregator import Session
    from aggregator.testing import replay_provider, replayed_account

    replayed = replay_provider(ReferenceProvider, result.content)
    poll = await replayed.poll(Session(provider="reference", data={}), replayed_account(result.har))
    assert poll.balance.amount.amount > 0 and poll.tariff_name


# -- every operator's wire, not only ours ---------------------------------------------------------
# (operator, scheme, the login is the contract or the phone, the plugin's subaccount id, kind)
OPERATORS = [
    pytest.param("beeline", "password", "phone", "phone", "mobile", id="beeline"),
    pytest.param("netbynet", "contract", "contract", "number", "internet", id="netbynet"),
]
CONTRACT = "500177013"


@pytest.mark.parametrize(("operator", "scheme_id", "login_is", "subaccount_is", "kind"), OPERATORS)
async def test_each_operators_diagnostics_hold_no_canary_and_replay(
    backend: Backend,
    operator: str,
    scheme_id: str,
    login_is: str,
    subaccount_is: str,
    kind: str,
) -> None:
    """A login and a poll against the operator's dialect in its real shape (the token or the
    session cookie, the number in queries and replies, the contact data), then the file
    replays into the same reading through :mod:`aggregator.testing`."""
    from aggregator import Session
    from aggregator.testing import replay_provider, replayed_account

    login = PHONE if login_is == "phone" else CONTRACT
    sub = backend.create_subscriber(
        operator, login, PASSWORD, NAME, phone=PHONE, email=EMAIL, captcha_policy="never",
        region="moscow" if operator == "netbynet" else None,
    )  # fmt: skip
    number = PHONE if login_is == "phone" else None
    account = backend.create_account(
        sub,
        number,
        kind=kind,
        balance=850_00,
        label=LABEL,
        address=ADDRESS,  # type: ignore[arg-type]
    )
    subaccount = account.number if subaccount_is in ("phone", "number") else account.id
    transport = httpx.ASGITransport(app=create_app(backend=backend, sim=True))
    settings = Settings(provider_urls={operator: f"http://127.0.0.1/{operator}"})
    async with (
        httpx.AsyncClient(transport=transport) as http,
        Runtime(settings, http=http) as runtime,
    ):
        provider_cls = runtime.registry.provider(operator)
        extras = {"region": "moscow"} if operator == "netbynet" else {}
        credentials = provider_cls.scheme(scheme_id).build_credentials(
            login, PASSWORD, extras=extras
        )
        result = await record_diagnostics(
            runtime,
            operator,
            subaccount_id=subaccount,
            credentials=credentials,
            session=None,
            personal=[(LABEL, "name"), (subaccount, "account")],
            login=True,
        )
    steps = result.har["log"]["_aggregator"]["steps"]
    assert result.outcome == "ok", steps
    assert [s["step"] for s in steps][:2] == ["login", "poll"]
    document = json.loads(result.content)
    assert_har(document)
    assert document["log"]["_aggregator"]["plugin"]["name"] == f"aggregator-{operator}"
    secrets_sent = [
        v for e in document["log"]["entries"] for v in (e["request"].get("postData") or {}).values()
    ]
    assert secrets_sent, "the login's body is in the file (redacted)"
    assert_clean(result.content, PASSWORD, NAME, PHONE, EMAIL, ADDRESS, account.number, LABEL)
    assert_clean(result.content, *NAME.split(), "+7 903 555-01-72", "79035550172", login)
    replayed = replay_provider(provider_cls, result.content)
    poll = await replayed.poll(
        Session(
            provider=operator,
            data={"token": "x", "login": "x", "cookies": {"AUTHORIZATION": '"x"'}},
        ),
        replayed_account(result.har),
    )
    assert poll.balance.amount.amount * 100 == backend.balance(account)  # the same reading


async def test_the_same_value_masks_to_the_same_stand_in(
    runtime: Runtime, backend: Backend
) -> None:
    result, _ = await _diagnose(runtime, backend, login=True)
    text = result.content.decode()
    profile = next(
        json.loads(e["response"]["content"]["text"])
        for e in result.har["log"]["entries"]
        if e["request"]["url"].endswith("/profile")
    )
    assert profile["full_name"].startswith("Name-") and profile["email"].endswith(
        "@example.invalid"
    )
    assert text.count(profile["email"]) >= 1
    assert re.fullmatch(r"\d{10}", profile["phone"])  # a phone keeps its shape
    # the account's id is masked to the same stand-in in every URL it appears in
    urls = [e["request"]["url"] for e in result.har["log"]["entries"]]
    ids = {u.split("/accounts/")[1].split("/")[0] for u in urls if "/accounts/" in u}
    assert len(ids) == 1 and ids != {""}


async def test_a_failing_poll_is_in_the_file_not_raised(runtime: Runtime, backend: Backend) -> None:
    account_id, _ = _canary_account(backend)
    scheme = runtime.registry.provider("reference").scheme("password")
    credentials = scheme.build_credentials(LOGIN, "wrong-password", identifier_kind="login")
    result = await record_diagnostics(
        runtime,
        "reference",
        subaccount_id=account_id,
        credentials=credentials,
        session=None,
        login=True,
    )
    assert result.outcome == "auth.invalid_credentials"
    steps = result.har["log"]["_aggregator"]["steps"]
    assert steps == [
        {"step": "login", "error": "auth.invalid_credentials", **_without_error(steps[0])}
    ]
    assert_clean(result.content, "wrong-password", LOGIN)


def _without_error(step: dict[str, Any]) -> dict[str, Any]:
    return {k: v for k, v in step.items() if k not in ("step", "error")}


# -- the redaction itself ---------------------------------------------------------------------
SECRET = "s3cr3t-T0ken-value"


@pytest.mark.parametrize(
    "encode",
    [
        lambda v: v,
        lambda v: httpx.QueryParams({"x": v}).__str__(),
        lambda v: base64.b64encode(v.encode()).decode(),
        lambda v: base64.b64encode(b"x" + v.encode()).decode(),
        lambda v: base64.b64encode(b"xy" + v.encode()).decode(),
        lambda v: base64.urlsafe_b64encode(b"xyz" + v.encode()).decode(),
        lambda v: base64.b64encode(v.encode("utf-16-le")).decode(),
        lambda v: v.encode().hex(),
        lambda v: v.encode().hex().upper(),
        lambda v: json.dumps(v)[1:-1],
        lambda v: json.dumps(v, ensure_ascii=True)[1:-1],
    ],
    ids=[
        "raw",
        "url",
        "b64",
        "b64+1",
        "b64+2",
        "b64url+3",
        "b64-utf16",
        "hex",
        "HEX",
        "json",
        "json-ascii",
    ],
)
@pytest.mark.parametrize("value", [SECRET, NAME, PASSWORD])
def test_a_known_value_is_found_in_every_encoding(encode: Any, value: str) -> None:
    redactor = Redactor(secrets=[SECRET, PASSWORD], personal=[(NAME, "name")])
    planted = f"before {encode(value)} after"
    cleaned = redactor.scrub(planted)
    assert_clean(cleaned.encode(), value)
    assert cleaned.startswith("before ") and cleaned.endswith(" after")


def test_values_under_sensitive_keys_are_found_by_their_keys() -> None:
    redactor = Redactor()
    data = {
        "meta": {"code": 20000, "status": "OK"},
        "accessToken": "eyJhbGciOi.eyJzdWIi.c2lnbmF0dXJl",
        "user": {"fullName": "Пётр Петров", "email": "p@example.ru", "ctn": "9161234567"},
        "tariff": {"name": "Всё за 500"},
    }
    redactor.learn(data)
    cleaned = redactor.data(data)
    assert cleaned["meta"] == {"code": 20000, "status": "OK"}  # a status code is not a secret
    assert cleaned["accessToken"] == REMOVED
    assert cleaned["tariff"] == {"name": "Всё за 500"}
    user = cleaned["user"]
    assert user["fullName"] == "Name-1" and user["email"] == "person-1@example.invalid"
    assert user["ctn"] == "9000000001"
    # elsewhere, in another format, the same phone gets the same stand-in digits
    assert redactor.text("звонок с +7 (916) 123-45-67") == "звонок с +7 (900) 000-00-01"
    assert redactor.text("sms to 89161234567") == "sms to 89000000001"
    assert "eyJzdWIi" not in redactor.text("Bearer eyJhbGciOi.eyJzdWIi.c2lnbmF0dXJl")


def test_unknown_phones_and_emails_are_found_by_their_shape() -> None:
    redactor = Redactor()
    text = "Пишите на help.me@mail.ru или звоните +7 903 000-11-22; счёт 8690857584 байт"
    cleaned = redactor.text(text)
    assert "help.me@mail.ru" not in cleaned and "000-11-22" not in cleaned
    assert "8690857584" in cleaned  # a bare number that is not known stays (byte counts)
    assert redactor.summary()["masked"] == {"phone": 1, "email": 1}


# -- the command line ------------------------------------------------------------------------
def test_accounts_diagnose_writes_a_har_file(tmp_path: Path) -> None:
    """``aggregator accounts diagnose ID --out FILE [--login]``, the real console script against
    the reference provider over loopback: a HAR file, the redaction summary and where to
    report, no password in the file."""
    from reference_provider.testing import running_server

    exe = str(Path(sys.executable).with_name("aggregator"))
    env = {k: v for k, v in os.environ.items() if not k.startswith("AGGREGATOR_")}
    with running_server(create_app(seed=1, sim=True, clock_speed=0)) as url:
        env.update(
            AGGREGATOR_DATA_DIR=str(tmp_path / "data"),
            AGGREGATOR_PROVIDER_URLS=json.dumps({"reference": f"{url}/reference/api/v1"}),
            COLUMNS="200",
        )

        def cli(*args: str, stdin: str | None = None) -> subprocess.CompletedProcess[str]:
            done = subprocess.run(
                [exe, *args], env=env, input=stdin, capture_output=True, text=True, timeout=120
            )
            assert done.returncode == 0, done.stdout + done.stderr
            return done

        cli("db", "upgrade")
        cli("users", "create", "--email", "o@example.com", "--password-stdin", stdin="Owner-1x\n")
        cli(
            "accounts", "add", "--no-interactive", "--provider", "reference", "--scheme",
            "password", "--identifier", "demo", "--password-stdin", "--label", "Папин телефон",
            "--all-subaccounts",
            stdin="demo-password\n",
        )  # fmt: skip
        account = json.loads(cli("accounts", "list", "--json").stdout)[0]["id"]
        out = tmp_path / "trace.har"
        shown = cli("accounts", "diagnose", str(account), "--out", str(out), "--login").stdout
        again = cli("accounts", "diagnose", str(account), "--out", str(tmp_path / "2.har"))
        # The plugin cannot read the operator's answer: `accounts list` says what to do.
        httpx.post(f"{url}/sim/faults", json={"kind": "malformed_json", "operator": "reference"})
        subprocess.run(
            [exe, "poll", "--account", str(account)], env=env, capture_output=True, timeout=120
        )
        listing = cli("accounts", "list").stdout
        rows = json.loads(cli("accounts", "list", "--json").stdout)
    assert "Redacted" in shown and str(out) in shown
    # The built-in plugins' address: the dashboard's own page on reporting (no public tracker).
    assert "/help/report?plugin=reference" in shown
    document = json.loads(out.read_bytes())
    assert_har(document)
    assert [s["step"] for s in document["log"]["_aggregator"]["steps"]][:2] == ["login", "poll"]
    assert_clean(out.read_bytes(), "demo-password", "Папин телефон")
    second = json.loads((tmp_path / "2.har").read_bytes())["log"]["_aggregator"]["steps"]
    assert second[0]["step"] == "poll"  # the stored session, no login
    assert "ok" in again.stdout
    assert rows[0]["status"] == "plugin_error"
    advice = rows[0]["advice"]
    assert advice["diagnose"] == f"aggregator accounts diagnose {account} --out diagnostics.har"
    assert advice["report_url"] and advice["report_url"] in listing
    assert "Скачайте диагностику" in listing and f"accounts diagnose {account}" in listing
