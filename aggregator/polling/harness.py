"""Helpers to run the poller against the reference provider: tests, benchmarks, the demo.

Nothing here runs in production. The reference provider (a workspace member) is imported
lazily, only by the functions that start it.

- :class:`ReferenceServer`: ``python -m reference_provider --sim`` on a free loopback port in a
  subprocess, with a small client for its simulation API;
- :func:`provider_urls`: every installed operator plugin pointed at one server;
- :func:`create_household` and :func:`link_many`: rows for a household and many linked
  accounts at once (credentials and sessions sealed by the vault as
  :mod:`aggregator.accounts` does, bound to their row).
"""

from __future__ import annotations

import contextlib
import os
import socket
import subprocess
import sys
import time
from collections.abc import Iterator, Sequence
from dataclasses import dataclass
from pathlib import Path
from typing import Any, cast
from urllib.parse import urlsplit, urlunsplit

import httpx
from sqlalchemy import Table, bindparam, insert, update
from sqlalchemy.ext.asyncio import AsyncEngine

from ..core.flows import Session
from ..core.login import Credentials
from ..core.provider import Provider
from ..core.secret import Secret
from ..plugins import PluginRegistry
from ..runtime import Runtime
from ..settings import Settings
from ..storage.models import (
    AccountStatus,
    Household,
    LinkedAccount,
    User,
    utcnow,
)
from ..vault import Vault

__all__ = [
    "BulkLink",
    "InProcessEnv",
    "ReferenceServer",
    "backend_bulk",
    "bulk_links",
    "create_household",
    "free_port",
    "link_many",
    "provider_urls",
    "rehost",
]

households_t = cast(Table, Household.__table__)
users_t = cast(Table, User.__table__)
accounts_t = cast(Table, LinkedAccount.__table__)


def free_port() -> int:
    with socket.socket() as sock:
        sock.bind(("127.0.0.1", 0))
        return int(sock.getsockname()[1])


def rehost(url: str, base: str) -> str:
    """``url`` with the scheme and host of ``base`` (its path kept)."""
    target = urlsplit(base)
    parts = urlsplit(url)
    return urlunsplit((target.scheme, target.netloc, parts.path, parts.query, "")).rstrip("/")


def provider_urls(registry: PluginRegistry, base: str) -> dict[str, str]:
    """Every registered operator at the reference provider listening on ``base``."""
    return {pid: rehost(cls.default_base_url, base) for pid, cls in registry.providers.items()}


class ReferenceServer:
    """The reference provider in a subprocess (uvicorn) on a free loopback port."""

    def __init__(
        self,
        *,
        seed: int = 1,
        clock_speed: float = 0.0,
        port: int | None = None,
        log_path: str | None = None,
    ) -> None:
        self.seed = seed
        self.clock_speed = clock_speed
        self.port = port or free_port()
        self.url = f"http://127.0.0.1:{self.port}"
        self.log_path = log_path
        self.process: subprocess.Popen[bytes] | None = None
        self.sim = httpx.Client(base_url=f"{self.url}/sim", timeout=60.0)

    def start(self, timeout: float = 30.0) -> ReferenceServer:
        log = open(self.log_path, "ab") if self.log_path else subprocess.DEVNULL  # noqa: SIM115
        self.process = subprocess.Popen(
            [
                sys.executable,
                "-m",
                "reference_provider",
                "--host",
                "127.0.0.1",
                "--port",
                str(self.port),
                "--seed",
                str(self.seed),
                "--sim",
                "--clock-speed",
                str(self.clock_speed),
            ],
            stdout=log,
            stderr=log,
            env={**os.environ, "PYTHONUNBUFFERED": "1"},
        )
        deadline = time.monotonic() + timeout
        while time.monotonic() < deadline:
            if self.process.poll() is not None:
                raise RuntimeError(f"the reference provider exited with {self.process.returncode}")
            with contextlib.suppress(httpx.HTTPError):
                if self.sim.get("/clock", timeout=1.0).status_code == 200:
                    return self
            time.sleep(0.1)
        self.stop()
        raise RuntimeError("the reference provider did not start in time")

    def stop(self) -> None:
        process, self.process = self.process, None
        if process is not None and process.poll() is None:
            process.terminate()
            try:
                process.wait(10)
            except subprocess.TimeoutExpired:
                process.kill()
                process.wait(10)
        self.sim.close()

    @property
    def pid(self) -> int | None:
        return self.process.pid if self.process else None

    def __enter__(self) -> ReferenceServer:
        return self.start()

    def __exit__(self, *exc: object) -> None:
        self.stop()

    # -- the simulation API ------------------------------------------------------------------
    def call(self, method: str, path: str, **kwargs: Any) -> Any:
        response = self.sim.request(method, path, **kwargs)
        response.raise_for_status()
        return response.json() if response.content else None

    def bulk(
        self, operator: str, count: int, *, balance: str = "500.00", password: str = "Bulk-pass-1"
    ) -> list[dict[str, Any]]:
        body = self.call(
            "POST",
            "/accounts/bulk",
            json={"operator": operator, "count": count, "balance": balance, "password": password},
        )
        return list(body["accounts"])

    def set_balance(self, operator: str, number: str, amount: str) -> None:
        self.call("PUT", f"/accounts/{operator}/{number}/balance", json={"amount": amount})

    def account(self, operator: str, number: str) -> dict[str, Any]:
        return dict(self.call("GET", f"/accounts/{operator}/{number}"))

    def advance(self, **delta: float) -> None:
        self.call("POST", "/clock/advance", json=delta)

    def fault(self, kind: str, **fields: Any) -> None:
        self.call("POST", "/faults", json={"kind": kind, **fields})

    def clear_faults(self) -> None:
        self.call("DELETE", "/faults")


async def create_household(
    engine: AsyncEngine,
    *,
    name: str = "Семья",
    lang: str = "ru",
    poll_interval_s: int = 3600,
    users: Sequence[tuple[str, str]] = (),
) -> int:
    """A household (and its members as ``(email, lang)``); its id. Passwords are dummies."""
    async with engine.begin() as conn:
        household_id = (
            await conn.execute(
                insert(households_t)
                .values(
                    name=name,
                    timezone="Europe/Moscow",
                    lang=lang,
                    poll_interval_s=poll_interval_s,
                    created_at=utcnow(),
                )
                .returning(households_t.c.id)
            )
        ).scalar_one()
        for email, user_lang in users:
            await conn.execute(
                insert(users_t).values(
                    household_id=household_id,
                    email=email,
                    display_name=email.split("@")[0],
                    password_hash="!",
                    role="member",
                    lang=user_lang,
                    created_at=utcnow(),
                )
            )
    return int(household_id)


@dataclass(frozen=True)
class BulkLink:
    """One account to link: who logs in, which subaccount, the session to keep."""

    identifier: str
    password: str
    subaccount_id: str
    number: str
    session_data: dict[str, Any]
    login_key: str | None = None
    label: str = ""
    kind: str = "mobile"


def _chunks(items: Sequence[Any], size: int) -> Iterator[Sequence[Any]]:
    for start in range(0, len(items), size):
        yield items[start : start + size]


async def link_many(
    engine: AsyncEngine,
    vault: Vault,
    household_id: int,
    provider: type[Provider],
    links: Sequence[BulkLink],
    *,
    poll_interval_s: int | None = None,
    status: str = AccountStatus.OK.value,
    due_now: bool = True,
) -> list[int]:
    """Insert linked accounts with sealed credentials and sessions; their ids, in order."""
    from ..accounts import login_key_for, mask_number, seal_credentials, seal_session

    scheme = provider.login_schemes[0]

    def identify(value: str) -> tuple[Any, str]:
        """The first identifier kind of the scheme that accepts ``value`` (normalised)."""
        for spec in scheme.identifiers:
            try:
                return spec.kind, spec.normalise(value)
            except ValueError:
                continue
        return (scheme.identifiers[0].kind if scheme.identifiers else None), value

    ids: list[int] = []
    now = utcnow()
    for chunk in _chunks(list(links), 500):
        rows = [
            {
                "household_id": household_id,
                "provider_id": provider.id,
                "login_scheme": scheme.id,
                "login_key": link.login_key or login_key_for(vault, provider.id, link.identifier),
                "subaccount_id": link.subaccount_id,
                "label": link.label,
                "number_masked": mask_number(link.number, link.kind),
                "kind": link.kind,
                "status": status,
                "poll_interval_s": poll_interval_s,
                "next_due_at": now if due_now else None,
                "consecutive_failures": 0,
                "created_at": now,
            }
            for link in chunk
        ]
        async with engine.begin() as conn:
            result = await conn.execute(
                insert(accounts_t).returning(accounts_t.c.id, sort_by_parameter_order=True), rows
            )
            chunk_ids = [int(row[0]) for row in result]
            sealed = []
            for account_id, link in zip(chunk_ids, chunk, strict=True):
                kind, identifier = identify(link.identifier)
                credentials = Credentials(
                    scheme=scheme.id,
                    identifier_kind=kind,
                    identifier=identifier,
                    secret=Secret(link.password),
                )
                row = LinkedAccount(id=account_id)
                seal_credentials(vault, row, credentials)
                seal_session(vault, row, Session(provider=provider.id, data=link.session_data))
                sealed.append(
                    {
                        "b_id": account_id,
                        "credentials_sealed": row.credentials_sealed,
                        "session_sealed": row.session_sealed,
                    }
                )
            await conn.execute(
                update(accounts_t).where(accounts_t.c.id == bindparam("b_id")), sealed
            )
        ids.extend(chunk_ids)
    return ids


def backend_bulk(
    backend: Any, operator: str, count: int, *, balance: int = 50_000, password: str = "Bulk-pass-1"
) -> list[dict[str, Any]]:
    """What ``POST /sim/accounts/bulk`` answers, from an in-process reference Backend."""
    from reference_provider.registry import load_dialect

    created = backend.bulk_create(operator, count, password=password, balance=balance)
    module = load_dialect("native" if operator == "reference" else operator)
    hook = getattr(module, "bulk_session", None) if module else None
    return [
        {
            "login": b.login,
            "password": b.password,
            "account_id": b.account_id,
            "number": b.number,
            "token": b.token,
            "subscriber_id": b.subscriber_id,
            "session": hook(backend, b) if hook is not None else {"token": b.token},
        }
        for b in created
    ]


_SUBACCOUNT_KEYS: dict[str, Any] = {
    "account_id": lambda item: str(item["account_id"]),
    "number": lambda item: str(item["number"]),
    "login": lambda item: str(item["login"]),
    "account_digits": lambda item: str(item["account_id"]).rsplit("-", 1)[-1],
}


async def bulk_links(
    provider: Provider, items: Sequence[dict[str, Any]], *, label: str = ""
) -> list[BulkLink]:
    """:class:`BulkLink` rows for bulk-created accounts of one operator.

    Which value the plugin uses as subaccount id (account id, number, login...) is learnt
    from one ``subaccounts()`` call on the first account.
    """
    if not items:
        return []
    items = [dict(item, session=item.get("session") or {"token": item["token"]}) for item in items]
    first = items[0]
    subs = await provider.subaccounts(Session(provider=provider.id, data=first["session"]))
    key = next(
        (name for name, get in _SUBACCOUNT_KEYS.items() if subs and get(first) == subs[0].id),
        None,
    )
    if key is None:
        raise RuntimeError(f"{provider.id}: cannot tell which field is the subaccount id")
    pick = _SUBACCOUNT_KEYS[key]
    kind = subs[0].kind
    return [
        BulkLink(
            identifier=str(item["login"]),
            password=str(item["password"]),
            subaccount_id=pick(item),
            number=str(item["number"]),
            session_data=dict(item["session"]),
            label=label,
            kind=kind,
        )
        for item in items
    ]


class InProcessEnv:
    """A reference Backend served in-process (httpx.ASGITransport), a migrated SQLite
    database in ``data_dir``, a vault and a Runtime whose plugins all point at the backend.

    For tests: ``async with InProcessEnv(tmp_path, registry) as env: ...``.
    """

    def __init__(
        self,
        data_dir: Path,
        registry: PluginRegistry,
        *,
        database_url: str | None = None,
        mail_sink_port: int | None = None,
        demo: bool = False,
        **settings: Any,
    ) -> None:
        from reference_provider.app import create_app
        from reference_provider.backend import Backend

        self.backend = Backend(seed=1, clock_speed=0, demo=demo)
        self.app = create_app(backend=self.backend, sim=True)
        self.registry = registry
        self.http = httpx.AsyncClient(
            transport=httpx.ASGITransport(app=self.app), timeout=httpx.Timeout(30.0)
        )
        self.settings = Settings(
            data_dir=data_dir,
            database_url=database_url,
            key_file=None,
            vault_key=None,
            provider_urls=provider_urls(registry, "http://127.0.0.1"),
            mail_sink_port=mail_sink_port or free_port(),
            **settings,
        )
        self.engine: AsyncEngine
        self.vault: Vault
        self.runtime: Runtime

    async def __aenter__(self) -> InProcessEnv:
        from ..storage.db import create_engine
        from ..storage.schema import upgrade

        self.settings.data_dir.mkdir(parents=True, exist_ok=True)
        self.engine = create_engine(self.settings.resolved_database_url)
        await upgrade(self.engine)
        self.vault = Vault.from_settings(self.settings)
        self.runtime = Runtime(self.settings, registry=self.registry, http=self.http)
        return self

    async def __aexit__(self, *exc: object) -> None:
        await self.runtime.aclose()
        await self.http.aclose()
        await self.engine.dispose()

    async def link(
        self,
        operator: str,
        count: int,
        *,
        household_id: int,
        balance: int = 50_000,
        poll_interval_s: int | None = None,
        label: str = "",
    ) -> tuple[list[int], list[dict[str, Any]]]:
        """Bulk-create ``count`` accounts at ``operator`` and link them; (ids, bulk items)."""
        items = backend_bulk(self.backend, operator, count, balance=balance)
        provider = self.runtime.provider(operator)
        links = await bulk_links(provider, items, label=label)
        ids = await link_many(
            self.engine,
            self.vault,
            household_id,
            self.registry.provider(operator),
            links,
            poll_interval_s=poll_interval_s,
        )
        return ids, items
