"""``aggregator accounts recover`` as a script runs it: NetByNet's recovery by region, phone
and account number, the code from an environment variable, the new password from another
(checked against the operator's policy before anything is sent), then the login and the link.
The real console script in subprocesses; the reference provider on a loopback server."""

from __future__ import annotations

import json
from collections.abc import Iterator
from pathlib import Path

import pytest

from .test_cli_journey import Cli, ScriptedCodes

CONTRACT = "500100201"  # the reference provider's demo netbynet subscriber in Voronezh
ACCOUNT = "10020031"  # its account number (лицевой счёт)
PHONE = "9161234567"


@pytest.fixture
def netbynet() -> Iterator[tuple[str, ScriptedCodes]]:
    try:
        from aggregator.plugins import load_plugins

        load_plugins(allow=["netbynet"], block=()).provider("netbynet")
        from reference_provider.app import create_app
        from reference_provider.testing import running_server
    except Exception as exc:
        pytest.skip(f"the netbynet plugin or the reference provider is missing ({exc})")
    app = create_app(seed=1, sim=True, clock_speed=0)
    codes = ScriptedCodes(1)
    app.state.backend.rng = codes
    with running_server(app) as url:
        yield f"{url}/netbynet", codes


@pytest.mark.timeout(600)
def test_recover_then_link_from_a_script(
    tmp_path: Path, netbynet: tuple[str, ScriptedCodes]
) -> None:
    base_url, codes = netbynet
    cli = Cli(tmp_path / "data", base_url)
    cli.env["AGGREGATOR_PROVIDER_URLS"] = json.dumps({"netbynet": base_url})
    cli.ok("db", "upgrade")
    cli.ok(
        "users", "create", "--email", "o@example.com", "--password-stdin", stdin="Owner-Pass-1\n"
    )
    args = [
        "accounts", "recover", "--no-interactive", "--provider", "netbynet",
        "--identifier", f"+7 {PHONE}", "--field", "region=voronezh",
        "--field", f"account_number={ACCOUNT}", "--field", f"contract={CONTRACT}",
        "--channel", "email", "--code-env", "NBN_CODE", "--new-password-env", "NBN_NEW",
        "--all-subaccounts",
    ]  # fmt: skip

    # A new password the operator's policy refuses: said before anything is sent.
    code = codes.next_code("314159")
    short = cli(*args, env={"NBN_CODE": code, "NBN_NEW": "abc"})
    assert short.returncode == 1
    assert "password.length" in short.stderr and "abc" not in short.stdout + short.stderr

    # The contract number where the account number belongs: the operator's words.
    wrong = cli(
        *[a if a != f"account_number={ACCOUNT}" else f"account_number={CONTRACT}" for a in args],
        env={"NBN_CODE": "000000", "NBN_NEW": "Voronezh-2025"},
    )
    assert wrong.returncode == 1 and "не найден" in wrong.stderr

    code = codes.next_code("271828")
    done = cli(*args, env={"NBN_CODE": code, "NBN_NEW": "Voronezh-2025"})
    assert done.returncode == 0, done.stdout + done.stderr
    assert "Пароль изменён" in done.stdout and code not in done.stdout + done.stderr
    accounts = cli.json("accounts", "list")
    assert [a["operator"] for a in accounts] == ["netbynet"]
    assert "Voronezh-2025" not in done.stdout + done.stderr
