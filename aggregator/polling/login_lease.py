"""One operator login used by one process at a time, across the cluster.

Sibling accounts of one operator login share one stored session (the session belongs to the
login, :func:`aggregator.accounts.store_login_session`). Inside a process they take turns
(:meth:`~aggregator.services.sessions.LoginGuard.use_lock`); across processes (several
``aggregator worker`` on one database, or the embedded scheduler beside a worker) two polls of
siblings could still both send the same token, and an operator that rotates its refresh token on
every use (the old one ends at once) would then refuse the second: a needless re-login, or
``needs_login`` where the login asks for a code.

:class:`LoginLeases` keeps a lease per login in ``login_leases`` (the holder and when the lease
ends: a process killed with ``kill -9`` holds it no longer than ``lease_s``). A poll of an
account whose login has siblings:

1. takes the lease (waiting, with short sleeps, while another process holds it);
2. reads the login's session from the database again (the snapshot taken when the account was
   claimed may be older than what a sibling stored since);
3. polls; a session the operator renewed (or a fresh login) is stored for every account of the
   login *before* the lease is given back, so the next holder reads the newest one;
4. gives the lease back.

A login with a single account needs none of this (its polls never overlap: an account is
claimed by one process at a time) and costs nothing: the number of accounts per login is read
once and kept for a few minutes.
"""

from __future__ import annotations

import asyncio
import logging
import random
import secrets
import time
from collections.abc import AsyncIterator, Callable
from contextlib import asynccontextmanager
from typing import TYPE_CHECKING, Any, cast

from sqlalchemy import Table, delete, func, insert, or_, select, update
from sqlalchemy.ext.asyncio import AsyncConnection, AsyncEngine

from ..accounts import store_login_session
from ..core.errors import Unavailable
from ..storage.models import LinkedAccount, LoginLease
from ..storage.transactions import transaction

if TYPE_CHECKING:
    from ..core.flows import Session
    from ..vault import Vault
    from .models import LoginTarget

__all__ = ["LoginLeases"]

log = logging.getLogger(__name__)

leases_t = cast(Table, LoginLease.__table__)
accounts_t = cast(Table, LinkedAccount.__table__)

LoginKey = tuple[str, int, str]


def _insert_ignoring(conn: AsyncConnection) -> Any:
    if conn.dialect.name == "postgresql":
        from sqlalchemy.dialects.postgresql import insert as pg_insert

        return pg_insert(leases_t).on_conflict_do_nothing()
    if conn.dialect.name == "sqlite":
        from sqlalchemy.dialects.sqlite import insert as sqlite_insert

        return sqlite_insert(leases_t).on_conflict_do_nothing()
    return insert(leases_t)


class LoginLeases:
    """The cluster-wide turn of each operator login (see the module docstring)."""

    def __init__(
        self,
        engine: AsyncEngine,
        vault: Vault,
        holder: str,
        *,
        lease_s: float = 120.0,
        siblings_ttl_s: float = 300.0,
        clock: Callable[[], float] = time.time,
    ) -> None:
        self.engine = engine
        self.vault = vault
        # A process may run several pollers (tests do): each is its own holder.
        self.holder = f"{holder[:40]}.{secrets.token_hex(4)}"
        self.lease_s = lease_s
        self.siblings_ttl_s = siblings_ttl_s
        self.clock = clock
        self._siblings: dict[LoginKey, tuple[int, float]] = {}
        self._prune_at = 1024
        self.waits = 0  # times a poll waited for another process's lease (tests, metrics)

    @staticmethod
    def key(account: LoginTarget) -> LoginKey:
        return (account.provider_id, account.household_id, account.login_key)

    async def shared(self, account: LoginTarget) -> bool:
        """Whether the account's login has other accounts: as read with the poller's claim
        (no query), else looked up and kept ``siblings_ttl_s``."""
        claimed = getattr(account, "siblings", None)
        if isinstance(claimed, int):
            return claimed > 1
        key = self.key(account)
        now = time.monotonic()
        known = self._siblings.get(key)
        if known is not None and now - known[1] < self.siblings_ttl_s:
            return known[0] > 1
        async with self.engine.connect() as conn:
            count = int(
                await conn.scalar(
                    select(func.count())
                    .select_from(accounts_t)
                    .where(
                        accounts_t.c.household_id == account.household_id,
                        accounts_t.c.provider_id == account.provider_id,
                        accounts_t.c.login_key == account.login_key,
                    )
                )
                or 0
            )
        if len(self._siblings) >= self._prune_at:  # forget what ran out, now and then
            self._siblings = {
                k: v for k, v in self._siblings.items() if now - v[1] < self.siblings_ttl_s
            }
            self._prune_at = max(1024, 2 * len(self._siblings))
        self._siblings[key] = (count, now)
        return count > 1

    async def _try(self, key: LoginKey) -> bool:
        provider_id, household_id, login_key = key
        now = self.clock()
        match = (
            leases_t.c.provider_id == provider_id,
            leases_t.c.household_id == household_id,
            leases_t.c.login_key == login_key,
        )
        async with transaction(self.engine) as conn:
            taken = await conn.execute(
                update(leases_t)
                .where(*match, or_(leases_t.c.expires_at < now, leases_t.c.holder == self.holder))
                .values(holder=self.holder, expires_at=now + self.lease_s)
            )
            if taken.rowcount == 1:
                return True
            inserted = await conn.execute(
                _insert_ignoring(conn),
                [
                    {
                        "provider_id": provider_id,
                        "household_id": household_id,
                        "login_key": login_key,
                        "holder": self.holder,
                        "expires_at": now + self.lease_s,
                    }
                ],
            )
            return bool(inserted.rowcount == 1)

    async def _release(self, key: LoginKey) -> None:
        provider_id, household_id, login_key = key
        async with transaction(self.engine) as conn:
            await conn.execute(
                delete(leases_t).where(
                    leases_t.c.provider_id == provider_id,
                    leases_t.c.household_id == household_id,
                    leases_t.c.login_key == login_key,
                    leases_t.c.holder == self.holder,
                )
            )

    @asynccontextmanager
    async def hold(self, account: LoginTarget) -> AsyncIterator[None]:
        """The login's lease for the duration of the block; waits for another holder. Raises
        :class:`~aggregator.core.errors.Unavailable` when it is not free within ``lease_s``."""
        key = self.key(account)
        deadline = time.monotonic() + self.lease_s
        waited = False
        while not await self._try(key):
            if not waited:
                self.waits += 1
                waited = True
            if time.monotonic() > deadline:
                raise Unavailable(f"{account.provider_id}: the login is busy in another process")
            await asyncio.sleep(random.uniform(0.02, 0.08))
        try:
            yield
        finally:
            try:
                await asyncio.shield(self._release(key))
            except Exception:  # the lease ends by itself
                log.warning("login lease of account %s not released", account.id, exc_info=True)

    async def stored_session(self, account_id: int) -> bytes | None:
        """The account's sealed session as the database holds it now."""
        async with self.engine.connect() as conn:
            value = await conn.scalar(
                select(accounts_t.c.session_sealed).where(accounts_t.c.id == account_id)
            )
        return cast("bytes | None", value)

    async def store(self, account: LoginTarget, session: Session) -> None:
        """``session`` for every account of the login, committed now (under the lease)."""
        async with transaction(self.engine) as conn:
            await store_login_session(
                conn,
                self.vault,
                account.household_id,
                account.provider_id,
                account.login_key,
                session,
            )
