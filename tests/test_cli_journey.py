"""The CLI journey against the reference provider, as a script would run it.

The real console script in subprocesses; the reference provider on a loopback server in this
process. The operator's one-time codes are made predictable by scripting its random source
(the test plays the phone that receives the SMS): link with a code from an environment
variable, show, change the tariff with a code, switch a service, suspend with the cost shown
first, chat, and download a report. Linking the same operator accounts again by password
(another login of the same person) keeps one row per account.
"""

from __future__ import annotations

import datetime as dt
import json
import os
import random
import subprocess
import sys
from collections.abc import Iterator, Sequence
from pathlib import Path
from typing import Any

import pytest

PHONE = "9031234567"  # the reference provider's demo subscriber
PASSWORD = "demo-password"


class ScriptedCodes(random.Random):
    """The operator's random source, with the digits of the next one-time codes given."""

    def __init__(self, seed: int) -> None:
        super().__init__(seed)
        self.digits: list[str] = []

    def next_code(self, code: str) -> str:
        self.digits.extend(code)
        return code

    def choice(self, seq: Sequence[Any]) -> Any:
        if seq == "0123456789" and self.digits:
            return self.digits.pop(0)
        return super().choice(seq)


@pytest.fixture
def reference() -> Iterator[tuple[str, ScriptedCodes]]:
    try:
        from aggregator.plugins import load_plugins

        load_plugins(allow=["reference"], block=()).provider("reference")
        from reference_provider.app import create_app
        from reference_provider.testing import running_server
    except Exception as exc:
        pytest.skip(f"the reference plugin or provider is not available ({exc})")
    app = create_app(seed=1, sim=True, clock_speed=0)
    codes = ScriptedCodes(1)
    app.state.backend.rng = codes
    with running_server(app) as url:
        yield f"{url}/reference/api/v1", codes


class Cli:
    def __init__(self, data_dir: Path, base_url: str) -> None:
        self.exe = str(Path(sys.executable).with_name("aggregator"))
        self.env = {k: v for k, v in os.environ.items() if not k.startswith("AGGREGATOR_")}
        self.env.update(
            AGGREGATOR_DATA_DIR=str(data_dir),
            AGGREGATOR_PROVIDER_URLS=json.dumps({"reference": base_url}),
            COLUMNS="200",
        )

    def __call__(
        self, *args: str, stdin: str | None = None, env: dict[str, str] | None = None
    ) -> subprocess.CompletedProcess[str]:
        return subprocess.run(
            [self.exe, *args],
            env={**self.env, **(env or {})},
            input=stdin,
            capture_output=True,
            text=True,
            timeout=120,
            check=False,
        )

    def ok(self, *args: str, **kwargs: Any) -> str:
        done = self(*args, **kwargs)
        assert done.returncode == 0, (args, done.stdout, done.stderr)
        return done.stdout

    def json(self, *args: str, **kwargs: Any) -> Any:
        return json.loads(self.ok(*args, "--json", **kwargs))


@pytest.mark.timeout(1200)  # some twenty processes, each loading the plugins
def test_the_cli_does_what_the_dashboard_does(
    tmp_path: Path, reference: tuple[str, ScriptedCodes]
) -> None:
    base_url, codes = reference
    cli = Cli(tmp_path / "data", base_url)
    cli.ok("db", "upgrade")
    cli.ok(
        "users", "create", "--email", "o@example.com", "--password-stdin", stdin="Owner-Pass-1\n"
    )

    # Link by an SMS code that a script reads from an environment variable.
    code = codes.next_code("481516")
    linked = cli(
        "accounts", "add", "--no-interactive", "--provider", "reference", "--scheme", "sms_code",
        "--identifier-kind", "phone", "--identifier", PHONE, "--all-subaccounts",
        "--code-env", "SMS_CODE", env={"SMS_CODE": code},
    )  # fmt: skip
    assert linked.returncode == 0, linked.stdout + linked.stderr
    assert "sent a code" in linked.stderr and code not in linked.stdout + linked.stderr
    accounts = cli.json("accounts", "list")
    assert len(accounts) == 4 and {a["operator"] for a in accounts} == {"reference"}
    phone = next(a for a in accounts if a["label"] == "Телефон Ивана")
    account = str(phone["id"])

    # Without a terminal and without --code-env the command says what to give, in one line.
    refused = cli(
        "accounts", "add", "--no-interactive", "--provider", "reference", "--scheme", "sms_code",
        "--identifier-kind", "phone", "--identifier", PHONE, "--all-subaccounts",
    )  # fmt: skip
    assert refused.returncode == 1 and "--code-env" in refused.stderr

    # The same person by password: the same operator accounts, no second row, no double total.
    cli.ok(
        "accounts", "add", "--no-interactive", "--provider", "reference", "--scheme", "password",
        "--identifier", "demo", "--password-stdin", "--all-subaccounts", stdin=PASSWORD + "\n",
    )  # fmt: skip
    assert len(cli.json("accounts", "list")) == 4

    cli.ok("poll", "--account", account)
    shown = cli.json("accounts", "show", account)
    assert shown["operator"] == "reference" and shown["balance"] is not None
    assert "change_tariff" in shown["capabilities"]
    assert "Баланс / balance" in cli.ok("accounts", "show", account)

    # Change the tariff: the operator wants a code, given by the environment.
    catalogue = cli.json("tariffs", account)
    target = next(t for t in catalogue["available"] if t["id"] != catalogue["current"]["id"])
    code = codes.next_code("271828")
    changed = cli.json(
        "tariff", "set", account, target["id"], "--code-env", "OP_CODE", env={"OP_CODE": code}
    )
    assert changed["status"] == "done" and changed["operation"] == "change_tariff"
    assert changed["args"] == {"tariff_id": target["id"]}
    # A wrong code from a script is an error, not a loop.
    codes.next_code("111111")
    other = next(t for t in catalogue["available"] if t["id"] not in (target["id"],))
    wrong = cli(
        "tariff", "set", account, other["id"], "--code-env", "OP_CODE", env={"OP_CODE": "999999"}
    )
    assert wrong.returncode == 1 and "rejected the code" in wrong.stderr

    # A service: switched off and on again (no code for a free service).
    services = cli.json("services", account)
    toggle = next(s for s in services if s["can_toggle"] and s["enabled"])
    off = cli.json("service", "off", account, toggle["id"])
    assert off["result"]["service"]["enabled"] is False
    assert toggle["id"] in cli.ok("service", "on", account, toggle["id"])

    # Suspension: the cost is shown before anything happens; a script confirms with --yes.
    start = dt.date.today() + dt.timedelta(days=3)
    end = start + dt.timedelta(days=9)
    period = ("--from", start.isoformat(), "--to", end.isoformat())
    unconfirmed = cli("suspend", account, *period)
    assert unconfirmed.returncode == 1 and "₽" in unconfirmed.stdout
    assert "--yes" in unconfirmed.stderr
    suspended = cli("suspend", account, *period, "--yes")
    assert suspended.returncode == 0, suspended.stderr
    assert suspended.stdout.index("₽") < suspended.stdout.index("suspension:")

    # Chat: topics, a message, and the history with it.
    topics = cli.json("chat", "topics", account)
    assert topics
    sent = cli.json("chat", "send", account, "Когда вернут деньги?", "--topic", topics[0]["id"])
    assert any(m["text"] == "Когда вернут деньги?" for m in sent["messages"])
    history = cli.ok("chat", "history", account)
    assert "Когда вернут деньги?" in history

    # A report downloaded as a file.
    out = tmp_path / "reports"
    out.mkdir()
    first = dt.date.today() - dt.timedelta(days=30)
    saved = cli.json(
        "report", account, "--from", first.isoformat(), "--to", dt.date.today().isoformat(),
        "--format", "pdf", "--out", str(out),
    )  # fmt: skip
    path = Path(saved["path"])
    assert path.parent == out and path.read_bytes().startswith(b"%PDF")
    again = cli(
        "report", account, "--from", first.isoformat(), "--to", dt.date.today().isoformat(),
        "--format", "pdf", "--out", str(out),
    )  # fmt: skip
    assert again.returncode == 1 and "--force" in again.stderr


@pytest.mark.timeout(600)
def test_money_on_an_assumed_wire_format_is_confirmed_once_more(tmp_path: Path) -> None:
    """Beeline's tariff change is proven (an independent client shows it): no second
    question. Its trusted payment rests on a format only the seed describes: a script must say
    ``--confirm-assumed``, and without it nothing reaches the operator."""
    from reference_provider.app import create_app
    from reference_provider.testing import running_server

    app = create_app(seed=1, sim=True, clock_speed=0)
    backend = app.state.backend
    with running_server(app) as url:
        cli = Cli(tmp_path / "data", f"{url}/reference/api/v1")
        cli.env["AGGREGATOR_PROVIDER_URLS"] = json.dumps({"beeline": f"{url}/beeline"})
        cli.ok("db", "upgrade")
        cli.ok("users", "create", "--email", "o@example.com", "--password-stdin",
               stdin="Owner-Pass-1\n")  # fmt: skip
        cli.ok(
            "accounts", "add", "--no-interactive", "--provider", "beeline", "--scheme",
            "password", "--identifier", "9031234567", "--password-stdin", "--all-subaccounts",
            stdin="Beeline-2024\n",
        )  # fmt: skip
        accounts = cli.json("accounts", "list")
        account = str(next(a["id"] for a in accounts if a["label"] == "Иван"))
        number = backend.account_by_number("beeline", "9031234567")
        before = backend.balance(number)

        # Beeline has no card top-up: its «Пополнить» is the trusted payment.
        not_offered = cli("top-up", account, "100", "--yes")
        assert not_offered.returncode == 1, not_offered.stdout + not_offered.stderr
        assert "--confirm-assumed" not in not_offered.stderr
        assert backend.balance(number) == before

        offer = cli("trusted-payment", account)
        assert offer.returncode == 0, offer.stdout + offer.stderr
        assert "Можно взять" in offer.stdout

        unconfirmed = cli("trusted-payment", account, "--take", "100", "--yes")
        assert unconfirmed.returncode == 1, unconfirmed.stdout + unconfirmed.stderr
        assert "--confirm-assumed" in unconfirmed.stderr
        assert "предположил" in unconfirmed.stderr and "guess" in unconfirmed.stderr
        assert backend.balance(number) == before  # nothing reached the operator

        confirmed = cli(
            "trusted-payment", account, "--take", "100", "--yes", "--confirm-assumed", "--json"
        )
        assert confirmed.returncode == 0, confirmed.stdout + confirmed.stderr
        taken = json.loads(confirmed.stdout)
        assert taken["operation"] == "take_trusted_payment"
        assert taken["result"]["debt"]["amount"]
        assert backend.balance(number) == before + 100_00
        owed = cli.json("trusted-payment", account)
        assert owed["debt"] and owed["due_date"]

        proven = cli("tariff", "set", account, "bee-vse6")
        assert proven.returncode == 0, proven.stdout + proven.stderr
        assert "--confirm-assumed" not in proven.stderr
