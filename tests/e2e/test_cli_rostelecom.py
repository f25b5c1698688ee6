"""``aggregator accounts add`` linking a Rostelecom ID, as a person or a script runs it.

The real console script in subprocesses; the reference provider (its ``rostelecom`` dialect in
the real shape: two hosts, the anti-robot page, the JavaScript-built form, the ``sso-auth``
redirect, the cookie session) on a loopback server; the CLI drives the passport in its own
Chromium. The test plays the person: it reads what the command prints, looks up the SMS code or
the captcha's answer in the simulation API, and for SSO logs in at the identity provider in a
real browser (this module's Chromium), which comes back to the loopback address the command
listens on (then Enter), or pastes the address it was sent back to.

Every path links the same ID (Иван Смирнов: four accounts), so each one also shows that another
login reaching the same accounts keeps one row per account.
"""

from __future__ import annotations

import asyncio
import contextlib
import json
import os
import queue
import re
import sqlite3
import subprocess
import sys
import threading
import time
from collections.abc import Iterator
from pathlib import Path
from typing import Any
from urllib.parse import parse_qs, urlsplit

import anyio
import pytest

from aggregator.plugins import load_plugins

from .conftest import Sim

pytestmark = [
    pytest.mark.browser,
    pytest.mark.timeout(600),
    pytest.mark.skipif(
        "rostelecom" not in load_plugins().providers, reason="the rostelecom plugin is missing"
    ),
]

RT_PASSWORD = "Rostelecom2024"
IDP_PASSWORD = "sso-demo-2024"
IVAN = ["•••• 0001", "•••• 0002", "•••• 0003", "•••• 0004"]
EXE = str(Path(sys.executable).with_name("aggregator"))
ADD = ["accounts", "add", "--provider", "rostelecom", "--all-subaccounts", "--label", "РТ"]


class Terminal:
    """One CLI process with pipes: what it prints is read line by line as it comes."""

    def __init__(self, args: list[str], env: dict[str, str]) -> None:
        # A session of its own: no controlling terminal, so a hidden prompt reads stdin.
        self.proc = subprocess.Popen(
            [EXE, *args],
            env=env,
            stdin=subprocess.PIPE,
            stdout=subprocess.PIPE,
            stderr=subprocess.PIPE,
            text=True,
            start_new_session=True,
        )
        self.lines: queue.Queue[str] = queue.Queue()
        self.out: list[str] = []
        self.err: list[str] = []
        for stream, sink in ((self.proc.stdout, self.out), (self.proc.stderr, self.err)):
            threading.Thread(target=self._pump, args=(stream, sink), daemon=True).start()

    def _pump(self, stream: Any, sink: list[str]) -> None:
        for line in stream:
            sink.append(line)
            self.lines.put(line)

    def wait_for(self, pattern: str, timeout: float = 120) -> re.Match[str]:
        """The first line (of stdout or stderr) from now on that matches ``pattern``."""
        deadline = time.monotonic() + timeout
        while True:
            left = deadline - time.monotonic()
            if left <= 0 or (self.proc.poll() is not None and self.lines.empty()):
                raise AssertionError(f"no {pattern!r} in:\n{''.join(self.out + self.err)}")
            try:
                line = self.lines.get(timeout=min(left, 0.5))
            except queue.Empty:
                continue
            found = re.search(pattern, line)
            if found:
                return found

    def type(self, text: str) -> None:
        assert self.proc.stdin is not None
        self.proc.stdin.write(text + "\n")
        self.proc.stdin.flush()

    def finish(self, timeout: float = 120) -> tuple[int, str, str]:
        if self.proc.stdin is not None:
            self.proc.stdin.close()
        code = self.proc.wait(timeout)
        time.sleep(0.05)  # the pumps read the last lines
        return code, "".join(self.out), "".join(self.err)


class Cli:
    def __init__(self, data_dir: Path, reference_url: str) -> None:
        self.data_dir = data_dir
        self.env = {k: v for k, v in os.environ.items() if not k.startswith("AGGREGATOR_")}
        self.env.update(
            AGGREGATOR_DATA_DIR=str(data_dir),
            AGGREGATOR_PLUGINS="rostelecom",
            AGGREGATOR_PROVIDER_URLS=json.dumps({"rostelecom": f"{reference_url}/rostelecom"}),
            COLUMNS="200",
        )
        # Some twenty processes: let them keep their bytecode between runs.
        self.env.pop("PYTHONDONTWRITEBYTECODE", None)

    def __call__(
        self, *args: str, stdin: str | None = None, env: dict[str, str] | None = None
    ) -> subprocess.CompletedProcess[str]:
        return subprocess.run(
            [EXE, *args],
            env={**self.env, **(env or {})},
            input=stdin,
            capture_output=True,
            text=True,
            timeout=180,
            check=False,
            start_new_session=True,
        )

    def ok(self, *args: str, **kwargs: Any) -> str:
        done = self(*args, **kwargs)
        assert done.returncode == 0, (args, done.stdout, done.stderr)
        return done.stdout

    def terminal(self, *args: str, env: dict[str, str] | None = None) -> Terminal:
        return Terminal(list(args), {**self.env, **(env or {})})

    def rostelecom_rows(self) -> list[str]:
        """The linked Rostelecom accounts (their masked numbers), read from the database
        directly: one process fewer per test than ``accounts list``."""
        with contextlib.closing(sqlite3.connect(self.data_dir / "aggregator.db")) as db:
            rows = db.execute(
                "SELECT number_masked FROM linked_accounts WHERE provider_id = 'rostelecom'"
            ).fetchall()
        return sorted(str(r[0]) for r in rows)


@pytest.fixture(scope="module")
def cli(tmp_path_factory: pytest.TempPathFactory, reference_url: str) -> Iterator[Cli]:
    cli = Cli(tmp_path_factory.mktemp("cli-rostelecom"), reference_url)
    cli.ok("db", "upgrade")
    cli.ok(
        "users", "create", "--email", "o@example.com", "--password-stdin", stdin="Owner-Pass-1\n"
    )
    yield cli


def _four_linked(cli: Cli) -> None:
    rows = cli.rostelecom_rows()
    assert len(rows) == 4, rows  # one row per operator account, whichever login reached it


@pytest.mark.parametrize(
    ("kind", "identifier"),
    [
        ("phone", "+7 903 123-45-67"),
        ("email", "ivan.smirnov@example.ru"),
        ("login", "smirnov.ivan"),
        ("account_number", "3610 0000 0001"),
    ],
)
def test_a_script_links_by_each_identifier_kind(cli: Cli, kind: str, identifier: str) -> None:
    done = cli(
        *ADD, "--no-interactive", "--scheme", "password", "--identifier-kind", kind,
        "--identifier", identifier, "--password-stdin", stdin=RT_PASSWORD + "\n",
    )  # fmt: skip
    assert done.returncode == 0, done.stdout + done.stderr
    assert RT_PASSWORD not in done.stdout + done.stderr
    _four_linked(cli)


@pytest.mark.parametrize(
    ("scheme", "identifier", "channel"),
    [("sms_code", "8 903 123 45 67", "SMS"), ("email_code", "ivan.smirnov@example.ru", "e-mail")],
    ids=["sms", "email"],
)
async def test_a_script_links_by_a_one_time_code_from_stdin(
    cli: Cli, sim: Sim, scheme: str, identifier: str, channel: str
) -> None:
    term = cli.terminal(*ADD, "--scheme", scheme, "--identifier", identifier, "--code-stdin")
    # Where the code went is said on stderr; the script then gives the code (one a line).
    await asyncio.to_thread(term.wait_for, rf"sent a code \({channel}\) to \S+")
    code = await sim.last_code("rostelecom")
    term.type(code)
    status, out, err = await asyncio.to_thread(term.finish)
    assert status == 0, out + err
    assert code not in out + err
    _four_linked(cli)


def test_a_captcha_without_a_terminal_names_the_step(cli: Cli) -> None:
    done = cli(
        *ADD, "--no-interactive", "--scheme", "password", "--identifier-kind", "email",
        "--identifier", "anna.petrova@example.ru", "--password-env", "RT_PW",
        env={"RT_PW": "Petrova2024"},
    )  # fmt: skip
    assert done.returncode == 1
    (line,) = done.stderr.strip().splitlines()
    assert "captcha" in line and "terminal" in line


async def test_a_person_answers_the_passport_captcha(cli: Cli, sim: Sim) -> None:
    term = cli.terminal(
        *ADD, "--interactive", "--scheme", "password", "--identifier-kind", "email",
        "--identifier", "anna.petrova@example.ru", "--password-env", "RT_PW",
        env={"RT_PW": "Petrova2024"},
    )  # fmt: skip
    # A login from a new device: the passport's picture is saved to a file the person opens.
    found = await asyncio.to_thread(term.wait_for, r"captcha image: (\S+)")
    picture = anyio.Path(found.group(1))
    assert (await picture.read_bytes()).startswith(b"\x89PNG")
    term.type("wrong")  # a wrong answer: a new picture
    again = anyio.Path((await asyncio.to_thread(term.wait_for, r"captcha image: (\S+)"))[1])
    assert again != picture and not await picture.exists()
    term.type(await sim.captcha("rostelecom"))
    status, out, err = await asyncio.to_thread(term.finish)
    assert status == 0, out + err
    assert "Petrova2024" not in out + err
    assert not await again.exists()  # answered: the picture is gone
    rows = cli.rostelecom_rows()
    assert len(rows) == 5  # Anna's own account beside Ivan's four


@pytest.mark.parametrize(
    ("idp", "username", "pasted"),
    [
        ("gosuslugi", "ivan.smirnov", True),
        ("tbank", "+79031234567", False),
        ("vk", "ivan.smirnov@vk.com", False),
        ("ok", "ivan.smirnov.ok", False),
        ("mailru", "ivan.smirnov@mail.ru", False),
    ],
    ids=["gosuslugi-pasted", "tbank", "vk", "ok", "mailru"],
)
async def test_a_person_links_through_sso_in_a_browser(
    cli: Cli, browser: Any, idp: str, username: str, pasted: bool
) -> None:
    """The command prints the passport's URL; the person logs in at the identity provider in a
    browser, which comes back to the command's loopback address; Enter goes on. A browser on
    another machine cannot reach that address: the person pastes it from the address bar."""
    before = cli.rostelecom_rows()
    term = cli.terminal(*ADD, "--interactive", "--scheme", "sso", "--sso-provider", idp)
    url = (await asyncio.to_thread(term.wait_for, r"^\s+(https?://\S+)$")).group(1)
    assert f"kc_idp_hint={idp}" in url
    back_to = urlsplit(parse_qs(urlsplit(url).query)["redirect_uri"][0])
    assert back_to.hostname == "127.0.0.1" and back_to.path == "/sso/callback"
    await asyncio.to_thread(term.wait_for, "press Enter")
    context = await browser.new_context(locale="ru-RU")
    try:
        page = await context.new_page()
        await page.goto(url)
        await page.locator("#username").fill(username)
        await page.locator("#password").fill(IDP_PASSWORD)
        await page.locator("#login").click()
        await page.locator("#allow").click()
        await page.get_by_text("Вернитесь в терминал").wait_for()
        callback = page.url
        assert urlsplit(callback).netloc == back_to.netloc
        assert "code=" in callback and "state=" in callback
        # Enter; or the address pasted from the address bar (a browser on another machine
        # never reaches the loopback address; the pasted one is taken as given).
        term.type(callback if pasted else "")
    finally:
        await context.close()
    status, out, err = await asyncio.to_thread(term.finish)
    assert status == 0, out + err
    assert "code=" not in out + err  # neither printed nor echoed
    assert cli.rostelecom_rows() == sorted(set(before) | set(IVAN))  # no second row


async def test_an_sms_confirmed_top_up_on_the_stored_cookie_session(cli: Cli, sim: Sim) -> None:
    """A later command reuses the cabinet's cookie session the link stored: the payment asks
    for the operator's SMS code, given on stdin (and once more: its wire format is assumed)."""
    with contextlib.closing(sqlite3.connect(cli.data_dir / "aggregator.db")) as db:
        (account,) = db.execute(
            "SELECT id FROM linked_accounts WHERE provider_id = 'rostelecom' "
            "AND number_masked LIKE '%0004'"
        ).fetchone()
    refused = cli("top-up", str(account), "300", "--yes", "--code-stdin")
    assert refused.returncode == 1 and "--confirm-assumed" in refused.stderr
    term = cli.terminal(
        "top-up", str(account), "300", "--yes", "--confirm-assumed", "--code-stdin", "--json"
    )
    await asyncio.to_thread(term.wait_for, r"sent a code \(SMS\) to \S+")
    code = await sim.last_code("rostelecom", purpose="top_up")
    term.type(code)
    status, out, err = await asyncio.to_thread(term.finish)
    assert status == 0, out + err
    done = json.loads(out)
    assert done["status"] == "done" and done["operation"] == "top_up", done
    assert "Вход в" not in out + err  # no new login: the stored session served
