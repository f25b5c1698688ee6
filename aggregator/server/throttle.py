"""Sign-in throttling, per e-mail address and per client address, kept in the database.

The memory is the ``sign_in_attempts`` table, so a restart forgets nothing and every process
(``serve`` behind a balancer, several workers) counts together. Three rules:

- **Per client address**: a client with ``client_failures`` failed sign-ins (whatever the
  e-mail) in the window is refused until the window has passed. That is the attacker's own
  address: it can try few passwords, against any account.
- **Per e-mail address, from unknown clients**: from the ``address_failures``-th failure on,
  each further try must wait longer (``base_delay_s`` doubling, at most ``max_delay_s``) after
  the last failure. A guesser is slowed to a crawl; nobody is locked out for good.
- **The owner's known clients** (a client that signed in as that address before, for
  ``known_for``) are not slowed by failures from elsewhere: only by their own mistyping
  (the same doubling, at most ``known_max_delay_s``). Anyone knowing an address can therefore
  no longer lock its owner out.

A success clears the failures of that address from that client and marks the client known.
Keys are SHA-256 hashes: the table holds no e-mail or IP address in clear.
"""

from __future__ import annotations

import datetime as dt
import hashlib
from dataclasses import dataclass
from typing import TYPE_CHECKING

from sqlalchemy import delete, func, select

from ..storage.models import SignInAttempt, utcnow

if TYPE_CHECKING:
    from sqlalchemy.ext.asyncio import AsyncSession

__all__ = ["SignInThrottle"]


def _key(*parts: str) -> str:
    return hashlib.sha256("\x1f".join(parts).encode()).hexdigest()


@dataclass
class SignInThrottle:
    address_failures: int = 5
    client_failures: int = 20
    window_s: float = 15 * 60
    base_delay_s: float = 15.0
    max_delay_s: float = 300.0
    known_max_delay_s: float = 60.0
    known_for: dt.timedelta = dt.timedelta(days=90)

    @staticmethod
    def _email(email: str) -> str:
        return email.strip().lower()

    def _delay(self, failures: int, cap: float) -> float:
        if failures < self.address_failures:
            return 0.0
        return min(cap, self.base_delay_s * 2.0 ** (failures - self.address_failures))

    async def _recent(
        self, db: AsyncSession, kind: str, key: str, now: dt.datetime
    ) -> tuple[int, dt.datetime | None, dt.datetime | None]:
        row = (
            await db.execute(
                select(func.count(), func.min(SignInAttempt.at), func.max(SignInAttempt.at)).where(
                    SignInAttempt.kind == kind,
                    SignInAttempt.key == key,
                    SignInAttempt.at > now - dt.timedelta(seconds=self.window_s),
                )
            )
        ).one()
        return int(row[0]), row[1], row[2]

    async def _known(self, db: AsyncSession, email: str, client: str, now: dt.datetime) -> bool:
        found = await db.scalar(
            select(SignInAttempt.id)
            .where(
                SignInAttempt.kind == "known",
                SignInAttempt.key == _key("known", email, client),
                SignInAttempt.at > now - self.known_for,
            )
            .limit(1)
        )
        return found is not None

    async def retry_after(self, db: AsyncSession, email: str, client: str) -> float:
        """Seconds before this client may try this address; 0 when it may try now."""
        email = self._email(email)
        now = utcnow()
        waits = [0.0]
        count, first, _ = await self._recent(db, "client", _key("client", client), now)
        if count >= self.client_failures and first is not None:
            waits.append((first - now).total_seconds() + self.window_s)
        if await self._known(db, email, client, now):
            count, _, last = await self._recent(db, "pair", _key("pair", email, client), now)
            cap = self.known_max_delay_s
        else:
            count, _, last = await self._recent(db, "address", _key("address", email), now)
            cap = self.max_delay_s
        if last is not None:
            waits.append((last - now).total_seconds() + self._delay(count, cap))
        wait = max(waits)
        return max(1.0, wait) if wait > 0 else 0.0

    async def failed(self, db: AsyncSession, email: str, client: str) -> None:
        """Count a failed sign-in (added to ``db``; the caller commits)."""
        email = self._email(email)
        now = utcnow()
        known = await self._known(db, email, client, now)
        await db.execute(
            delete(SignInAttempt).where(
                SignInAttempt.kind != "known",
                SignInAttempt.at <= now - dt.timedelta(seconds=self.window_s),
            )
        )
        db.add(SignInAttempt(kind="client", key=_key("client", client), at=now))
        if known:
            db.add(SignInAttempt(kind="pair", key=_key("pair", email, client), at=now))
        else:
            db.add(SignInAttempt(kind="address", key=_key("address", email), at=now))
        await db.flush()

    async def succeeded(self, db: AsyncSession, email: str, client: str) -> None:
        """A sign-in worked: that client is known for this address, its failures forgotten."""
        email = self._email(email)
        now = utcnow()
        await db.execute(
            delete(SignInAttempt).where(
                SignInAttempt.key.in_([_key("pair", email, client), _key("known", email, client)])
                | ((SignInAttempt.kind == "known") & (SignInAttempt.at <= now - self.known_for))
            )
        )
        db.add(SignInAttempt(kind="known", key=_key("known", email, client), at=now))
        await db.flush()
