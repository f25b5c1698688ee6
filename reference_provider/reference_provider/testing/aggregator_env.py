"""The aggregator against the reference provider: tests and benchmarks, never production.

Needs the aggregator installed beside the reference provider (``reference-provider[aggregator]``;
in this workspace both are).

- :func:`provider_urls`: every installed operator plugin pointed at one reference server;
- :func:`create_household` and :func:`link_many`: rows for a household and many linked
  accounts at once (credentials and sessions sealed by the vault as
  :mod:`aggregator.accounts` does, bound to their row);
- :func:`bulk_links`: the :class:`BulkLink` rows for accounts the reference provider created
  in bulk (:func:`reference_provider.testing.backend_bulk` or ``POST /sim/accounts/bulk``);
- :class:`InProcessEnv`: a reference backend served in-process, a migrated database, a vault
  and a runtime whose plugins all point at the backend.
"""

from __future__ import annotations

from collections.abc import Iterator, Sequence
from dataclasses import dataclass
from pathlib import Path
from typing import Any, cast
from urllib.parse import urlsplit, urlunsplit

import httpx
from sqlalchemy import Table, bindparam, insert, update
from sqlalchemy.ext.asyncio import AsyncEngine

from aggregator.accounts import login_key_for, mask_number, seal_credentials, seal_session
from aggregator.core.flows import Session
from aggregator.core.login import Credentials
from aggregator.core.provider import Provider
from aggregator.core.secret import Secret
from aggregator.plugins import PluginRegistry
from aggregator.runtime import Runtime
from aggregator.settings import Settings
from aggregator.storage.db import create_engine
from aggregator.storage.models import AccountStatus, Household, LinkedAccount, User, utcnow
from aggregator.storage.schema import upgrade
from aggregator.vault import Vault

from ..app import create_app
from ..backend import Backend
from . import backend_bulk, free_port

__all__ = [
    "BulkLink",
    "InProcessEnv",
    "bulk_links",
    "create_household",
    "link_many",
    "provider_urls",
    "rehost",
]

households_t = cast(Table, Household.__table__)
users_t = cast(Table, User.__table__)
accounts_t = cast(Table, LinkedAccount.__table__)


def rehost(url: str, base: str) -> str:
    """``url`` with the scheme and host of ``base`` (its path kept)."""
    target = urlsplit(base)
    parts = urlsplit(url)
    return urlunsplit((target.scheme, target.netloc, parts.path, parts.query, "")).rstrip("/")


def provider_urls(registry: PluginRegistry, base: str) -> dict[str, str]:
    """Every registered operator at the reference provider listening on ``base``."""
    return {pid: rehost(cls.default_base_url, base) for pid, cls in registry.providers.items()}


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
        self.backend = Backend(seed=1, clock_speed=0, demo=demo)
        self.app = create_app(backend=self.backend, sim=True)
        self.registry = registry
        asgi: Any = self.app  # Litestar's ASGI types are narrower than httpx's
        self.http = httpx.AsyncClient(
            transport=httpx.ASGITransport(app=asgi), timeout=httpx.Timeout(30.0)
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
