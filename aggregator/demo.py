"""``make demo`` / ``aggregator demo``: the reference provider and the dashboard, ready to click.

What it does, every time (a second run reuses the household and updates the same accounts):

1. starts the reference provider (``python -m reference_provider --sim``) on 127.0.0.1:8081
   with a billing clock running :data:`CLOCK_SPEED` times faster than real time (a day passes
   in two minutes), so balances visibly drain;
2. creates the demo household and its owner in ``<data_dir>/demo`` (SQLite) when missing;
3. links an account of every installed operator plugin through the plugin's real login,
   answering its challenges (captcha, one-time code, identity provider, new password) with the
   simulation API, exactly as a person would in the wizard;
4. puts one account just above the low-balance threshold: the clock drains it and the alert
   e-mail lands in the embedded mail sink within two minutes (see the outbox page);
5. serves the dashboard on http://127.0.0.1:8000 with the embedded scheduler polling every
   :data:`POLL_EVERY_S` seconds, and prints the URL and the demo sign-in.
"""

from __future__ import annotations

import asyncio
import contextlib
import logging
import os
import secrets
import signal
import socket
import subprocess
import sys
import time
from dataclasses import dataclass, field
from typing import Any

import httpx
from sqlalchemy import select, update

from .core.flows import Challenge, ChallengeAnswer, ChallengeKind, Session
from .core.secret import Secret
from .settings import Settings

__all__ = ["DEMO_EMAIL", "DEMO_PASSWORD", "DemoLogin", "run_demo"]

log = logging.getLogger(__name__)

DEMO_EMAIL = "demo@example.ru"
DEMO_PASSWORD = "demo-password-2025"
REFERENCE_HOST = "127.0.0.1"
REFERENCE_PORT = 8081
CLOCK_SPEED = 720.0  # a billing day every two minutes
# The billing calendar (and the months of history made up to its first day) starts this many
# days back: at a day every two minutes it reaches today's date after an hour and from then on
# keeps to real time, so what a demo session shows (readings, payments, charges, the chart) is
# dated in the past, never in the future, however long the demo runs.
CLOCK_START_DAYS_AGO = 30
POLL_EVERY_S = 20
# The low-balance rule of the demo household: below 100 ₽, re-armed 5 ₽ above it. The draining
# account starts just above the re-arm line, so the clock takes it below 100 ₽ in about 80 s.
THRESHOLD_MINOR = 100_00
MARGIN_MINOR = 5_00
DRAINING = ("reference", "REF-0001", "107.00")
IDP_USERS = {
    "gosuslugi": "ivan.smirnov",
    "tbank": "+79031234567",
    "vk": "ivan.smirnov@vk.com",
    "ok": "ivan.smirnov.ok",
    "mailru": "ivan.smirnov@mail.ru",
}
IDP_PASSWORD = "sso-demo-2024"


@dataclass(frozen=True)
class DemoLogin:
    """One demo login of one operator (the reference provider's demo household)."""

    provider: str
    scheme: str
    identifier: str = ""
    password: str | None = None
    kind: str | None = None
    extras: dict[str, str] = field(default_factory=dict)
    sso: str | None = None
    label: str = ""


DEMO_LOGINS = (
    DemoLogin("reference", "password", "demo", "demo-password", kind="login", label="Смирновы"),
    DemoLogin("beeline", "password", "9031234567", "Beeline-2024"),
    DemoLogin("rostelecom", "password", "smirnov.ivan", "Rostelecom2024", kind="login"),
    DemoLogin(
        "bashtel", "password", "smirnov_ufa", "Bashtel-2024", extras={"account_last3": "123"}
    ),
    DemoLogin("netbynet", "contract", "500100200", "Netbynet-2024", extras={"region": "moscow"}),
)


class DemoError(RuntimeError):
    """The demo cannot start; the message says why in one line."""


# -- the reference provider ------------------------------------------------------------------


def _port_open(host: str, port: int) -> bool:
    with socket.socket() as sock:
        sock.settimeout(0.3)
        return sock.connect_ex((host, port)) == 0


def start_reference_provider(port: int = REFERENCE_PORT) -> subprocess.Popen[bytes]:
    """``python -m reference_provider --sim`` as a child process; returns when it answers."""
    if _port_open(REFERENCE_HOST, port):
        raise DemoError(
            f"port {port} is already in use: stop what listens there (an earlier demo?) and retry"
        )
    command = [
        sys.executable,
        "-m",
        "reference_provider",
        "--host",
        REFERENCE_HOST,
        "--port",
        str(port),
        "--sim",
        "--clock-speed",
        str(CLOCK_SPEED),
        "--clock-start-days-ago",
        str(CLOCK_START_DAYS_AGO),
    ]
    process = subprocess.Popen(command, stdin=subprocess.DEVNULL, preexec_fn=_die_with_parent)
    try:
        deadline = time.monotonic() + 30
        while time.monotonic() < deadline:
            if process.poll() is not None:
                raise DemoError("the reference provider stopped at start-up (see its output above)")
            try:
                if httpx.get(f"http://{REFERENCE_HOST}:{port}/sim/clock", timeout=1).is_success:
                    return process
            except httpx.HTTPError:
                pass
            time.sleep(0.2)
        raise DemoError("the reference provider did not answer within 30 seconds")
    except BaseException:  # Ctrl-C or SIGTERM while waiting included: never leave it running
        stop_process(process)
        raise


def _die_with_parent() -> None:
    """In the child, before exec: on Linux, the kernel sends it SIGTERM when the demo process
    dies, however it dies (even ``kill -9``); elsewhere nothing happens here."""
    if sys.platform != "linux":
        return
    import ctypes

    with contextlib.suppress(OSError, AttributeError):
        ctypes.CDLL(None, use_errno=True).prctl(1, signal.SIGTERM)  # PR_SET_PDEATHSIG


class _Stopped(Exception):
    """SIGTERM during start-up: unwinds like Ctrl-C, so the reference provider is stopped."""


def _raise_stopped(signum: int, _frame: Any) -> None:
    raise _Stopped(signal.Signals(signum).name)


def stop_process(process: subprocess.Popen[bytes]) -> None:
    if process.poll() is None:
        process.send_signal(signal.SIGTERM)
        try:
            process.wait(10)
        except subprocess.TimeoutExpired:
            process.kill()


class Sim:
    """The few calls of the reference provider's simulation API the demo needs."""

    def __init__(self, http: httpx.AsyncClient, base: str) -> None:
        self.http = http
        self.base = base.rstrip("/")

    async def call(self, method: str, path: str, **kwargs: Any) -> Any:
        response = await self.http.request(method, f"{self.base}/sim{path}", **kwargs)
        response.raise_for_status()
        return response.json()

    async def answer(self, provider_id: str, challenge: Challenge) -> ChallengeAnswer:
        """What a person would type: read from the sim API (captcha, code) or done for them."""
        if challenge.kind is ChallengeKind.CAPTCHA:
            params = {"operator": provider_id}
            captcha_id = challenge.state.get("captcha_id")
            if captcha_id:
                params = {"captcha_id": str(captcha_id)}
            found = await self.call("GET", "/captcha", params=params)
            return ChallengeAnswer(text=Secret(str(found["answer"])))
        if challenge.kind is ChallengeKind.CODE:
            found = await self.call("GET", "/outbox/last-code", params={"operator": provider_id})
            return ChallengeAnswer(text=Secret(str(found["code"])))
        if challenge.kind is ChallengeKind.SSO_REDIRECT:
            idp = challenge.sso_provider.value if challenge.sso_provider else "gosuslugi"
            found = await self.call(
                "POST",
                "/idp/complete",
                json={
                    "authorize_url": challenge.url,
                    "username": IDP_USERS[idp],
                    "password": IDP_PASSWORD,
                },
            )
            return ChallengeAnswer(callback_url=str(found["callback_url"]))
        return ChallengeAnswer(new_password=Secret(f"Demo-{secrets.token_hex(4)}-A1"))

    async def set_balance(self, operator: str, number: str, amount: str) -> None:
        await self.call("PUT", f"/accounts/{operator}/{number}/balance", json={"amount": amount})


# -- the household and its accounts ------------------------------------------------------------


async def prepare(settings: Settings, reference_url: str) -> list[str]:
    """Schema, household, owner and the linked accounts; returns a line per operator."""
    from .runtime import Runtime
    from .server.integration import ensure_schema
    from .services.households import create_household_with_owner
    from .storage.datadir import private_umask, secure_data_dir
    from .storage.db import create_engine, session_factory
    from .storage.keycheck import open_vault
    from .storage.models import AlertRule, Household, User

    engine = create_engine(settings.resolved_database_url)
    report: list[str] = []
    try:
        private_umask()
        secure_data_dir(settings.data_dir, keep=(settings.resolved_key_file,))
        await ensure_schema(settings, engine)
        vault = await open_vault(settings, engine)
        sessions = session_factory(engine)
        async with sessions() as db:
            user = await db.scalar(select(User).where(User.email == DEMO_EMAIL))
            if user is None:
                user = await create_household_with_owner(
                    db, email=DEMO_EMAIL, password=DEMO_PASSWORD, name="Смирновы", lang="ru"
                )
                user.display_name = "Иван"
            await db.execute(
                update(Household)
                .where(Household.id == user.household_id)
                .values(poll_interval_s=POLL_EVERY_S)
            )
            rule = await db.scalar(
                select(AlertRule).where(
                    AlertRule.household_id == user.household_id,
                    AlertRule.account_id.is_(None),
                    AlertRule.kind == "low_balance",
                )
            )
            if rule is None:  # a second run keeps what the user changed
                db.add(
                    AlertRule(
                        household_id=user.household_id,
                        kind="low_balance",
                        threshold_minor=THRESHOLD_MINOR,
                        margin_minor=MARGIN_MINOR,
                    )
                )
            await db.commit()
            household_id, user_id = user.household_id, user.id

        async with Runtime(settings) as runtime, httpx.AsyncClient(timeout=30) as http:
            sim = Sim(http, reference_url)
            for login in DEMO_LOGINS:
                if login.provider not in runtime.registry.providers:
                    report.append(f"{login.provider}: plugin not installed, skipped")
                    continue
                try:
                    count = await _link(runtime, sim, sessions, vault, household_id, user_id, login)
                except Exception as exc:  # one operator failing must not stop the demo
                    log.warning("demo login at %s failed: %s", login.provider, exc)
                    report.append(f"{login.provider}: login failed ({exc.__class__.__name__})")
                    continue
                report.append(f"{login.provider}: {count} linked")
            operator, number, amount = DRAINING
            with contextlib.suppress(httpx.HTTPError):
                await sim.set_balance(operator, number, amount)
    finally:
        await engine.dispose()
    return report


async def _link(
    runtime: Any,
    sim: Sim,
    sessions: Any,
    vault: Any,
    household_id: int,
    user_id: int,
    login: DemoLogin,
) -> int:
    provider = runtime.provider(login.provider)
    cls = runtime.registry.provider(login.provider)
    scheme = cls.scheme(login.scheme)
    credentials = scheme.build_credentials(
        login.identifier,
        login.password,
        identifier_kind=login.kind,
        extras=dict(login.extras),
        sso_provider=login.sso,
    )
    result: Session | Challenge = await provider.start_login(credentials)
    for _ in range(6):
        if isinstance(result, Session):
            break
        answer = await sim.answer(login.provider, result)
        if answer.new_password is not None:
            credentials = credentials.model_copy(update={"secret": answer.new_password})
        result = await provider.continue_login(result, answer)
    if not isinstance(result, Session):
        raise DemoError(f"{login.provider} kept asking questions")
    from .services import accounts as accounts_service

    subaccounts = await accounts_service.found_subaccounts(provider, result)
    async with sessions() as db:
        linked = await accounts_service.link(
            db,
            vault,
            provider,
            household_id=household_id,
            credentials=credentials,
            session=result,
            chosen=subaccounts,
            label=login.label,
            user_id=user_id,
        )
    return len(linked)


# -- the command -------------------------------------------------------------------------------


def demo_settings(settings: Settings) -> Settings:
    """The demo's own data directory (``<data_dir>/demo``), never a real household's."""
    values = settings.model_dump()
    values["data_dir"] = settings.data_dir / "demo"
    values["database_url"] = None
    values["key_file"] = None
    values["embedded_scheduler"] = True
    return Settings(**values)


def run_demo(settings: Settings) -> None:
    """Start everything, print how to sign in, serve until Ctrl-C."""
    from .polling.options import PollingOptions
    from .server.app import configure_logging, serve

    demo = demo_settings(settings)
    configure_logging(demo)
    if _port_open(demo.host, demo.port):
        raise SystemExit(f"aggregator demo: port {demo.port} is already in use (AGGREGATOR_PORT)")
    # SIGTERM (a service manager, `kill`, `timeout`) must unwind like Ctrl-C: the default
    # action would end this process at once and leave the reference provider running.
    previous = signal.signal(signal.SIGTERM, _raise_stopped)
    try:
        reference = start_reference_provider(REFERENCE_PORT)
    except DemoError as exc:
        signal.signal(signal.SIGTERM, previous)
        raise SystemExit(f"aggregator demo: {exc}") from None
    except _Stopped:
        signal.signal(signal.SIGTERM, previous)
        raise SystemExit(143) from None
    try:
        reference_url = f"http://{REFERENCE_HOST}:{REFERENCE_PORT}"
        report = asyncio.run(prepare(demo, reference_url))
        url = demo.dashboard_url
        lines = [
            "",
            "Демо готово / The demo is ready",
            f"  Панель / dashboard:     {url}",
            f"  Вход / sign in:         {DEMO_EMAIL}  /  {DEMO_PASSWORD}",
            f"  Письма / alert e-mails: {url}/outbox",
            f"  Эталонный оператор / reference provider: {reference_url} "
            f"(clock x{CLOCK_SPEED:g}: a day every {86400 / CLOCK_SPEED / 60:g} min "
            f"until it reaches today, then real time)",
            f"  Входы, коды из SMS, капчи / demo logins, codes, captchas: {reference_url}/sim/demo",
            *(f"  · {line}" for line in report),
            "  Ctrl-C останавливает всё / stops everything",
            "",
        ]
        print("\n".join(lines), flush=True)
        options = PollingOptions(min_interval_s=POLL_EVERY_S, tick_interval_s=5.0)
        signal.signal(signal.SIGTERM, previous)  # from here on the server handles it
        serve(demo, polling_options=options, demo_reference_url=reference_url)
    except _Stopped:
        raise SystemExit(143) from None
    finally:
        signal.signal(signal.SIGTERM, previous)
        stop_process(reference)


if __name__ == "__main__":  # pragma: no cover - `aggregator demo` is the entry point
    run_demo(Settings())
    os._exit(0)
