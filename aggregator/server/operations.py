"""Calling an operator on behalf of a linked account, from the dashboard and the API.

:meth:`AccountOperations.call` opens the account's sealed operator session, runs one provider
method with it and re-seals the session when the provider refreshed it. When the operator says
the session is gone, it logs in again silently with the stored credentials (only when the
login scheme allows it, and never for an account that already needs a person); a login that
now asks a question only a person can answer, or that the operator refuses, marks the account
``needs_login`` so that nothing tries the stored password again until the user acts.
"""

from __future__ import annotations

import asyncio
import logging
from collections.abc import Awaitable, Callable
from typing import TYPE_CHECKING, Any, TypeVar

from ..accounts import open_credentials, open_session, seal_session
from ..core.errors import AuthError, FlowExpired, NotSupported, SessionExpired
from ..core.flows import Challenge, Session
from ..core.provider import Provider
from ..storage.models import AccountStatus, AuditLog, LinkedAccount, utcnow
from ..vault import VaultError

if TYPE_CHECKING:
    from sqlalchemy.ext.asyncio import AsyncSession

    from ..runtime import Runtime
    from ..vault import Vault

__all__ = ["AccountOperations", "NeedsLogin", "PluginMissing"]

log = logging.getLogger(__name__)
T = TypeVar("T")


class NeedsLogin(AuthError):
    """Only a person can log this account in again (re-login from the account page)."""

    key = "auth.needs_login"


class PluginMissing(NotSupported):
    """The plugin of this account's operator is not installed or failed to load."""

    key = "plugin.missing"


class AccountOperations:
    def __init__(self, runtime: Runtime, vault: Vault) -> None:
        self.runtime = runtime
        self.vault = vault
        self._locks: dict[int, asyncio.Lock] = {}

    def provider_class(self, provider_id: str) -> type[Provider]:
        try:
            return self.runtime.registry.provider(provider_id)
        except KeyError:
            raise PluginMissing(f"no plugin for {provider_id}") from None

    def provider(self, provider_id: str) -> Provider:
        self.provider_class(provider_id)
        return self.runtime.provider(provider_id)

    async def call(
        self,
        db: AsyncSession,
        account: LinkedAccount,
        operation: Callable[[Provider, Session, str], Awaitable[T]],
    ) -> T:
        """Run ``operation(provider, session, subaccount_id)`` with a live operator session."""
        provider = self.provider(account.provider_id)
        session = await self._session(db, account, provider)
        try:
            result = await operation(provider, session, account.subaccount_id)
        except SessionExpired:
            session = await self._relogin(db, account, provider, stale=session)
            result = await operation(provider, session, account.subaccount_id)
        refreshed = provider.refreshed_session(session)
        if refreshed is not None:
            await self._store_session(db, account, refreshed)
        return result

    async def audit(
        self,
        db: AsyncSession,
        account: LinkedAccount,
        user_id: int,
        action: str,
        details: dict[str, Any],
    ) -> None:
        db.add(
            AuditLog(
                household_id=account.household_id,
                user_id=user_id,
                account_id=account.id,
                action=action,
                details=details,
            )
        )
        await db.commit()

    async def _session(
        self, db: AsyncSession, account: LinkedAccount, provider: Provider
    ) -> Session:
        if account.status == AccountStatus.NEEDS_LOGIN.value:
            raise NeedsLogin("this account needs a person to log in again")
        try:
            session = open_session(self.vault, account)
        except VaultError:
            session = None
        if session is None or (session.expires_at is not None and session.expires_at <= utcnow()):
            return await self._relogin(db, account, provider, stale=session)
        return session

    async def _relogin(
        self,
        db: AsyncSession,
        account: LinkedAccount,
        provider: Provider,
        *,
        stale: Session | None,
    ) -> Session:
        lock = self._locks.setdefault(account.id, asyncio.Lock())
        async with lock:
            await db.refresh(account)
            if account.status == AccountStatus.NEEDS_LOGIN.value:
                raise NeedsLogin("this account needs a person to log in again")
            # Another request may have logged in while this one waited for the lock.
            try:
                current = open_session(self.vault, account)
            except VaultError:
                current = None
            if current is not None and stale is not None and current.data != stale.data:
                return current
            try:
                scheme = provider.scheme(account.login_scheme)
                credentials = open_credentials(self.vault, account)
            except (LookupError, ValueError, VaultError):
                await self._mark_needs_login(db, account, "auth.session_expired")
                raise NeedsLogin("no stored credentials to log in again") from None
            if not scheme.silent_relogin:
                await self._mark_needs_login(db, account, "auth.session_expired")
                raise NeedsLogin("this login needs a person")
            try:
                result = await provider.start_login(credentials)
            except FlowExpired:
                raise
            except AuthError as exc:
                await self._mark_needs_login(db, account, exc.key)
                raise
            if isinstance(result, Challenge):
                await self._mark_needs_login(db, account, "auth.challenge")
                raise NeedsLogin("the operator asks a question only a person can answer")
            await self._store_session(db, account, result)
            return result

    async def _store_session(
        self, db: AsyncSession, account: LinkedAccount, session: Session
    ) -> None:
        seal_session(self.vault, account, session)
        await db.commit()

    async def _mark_needs_login(self, db: AsyncSession, account: LinkedAccount, key: str) -> None:
        if account.status != AccountStatus.NEEDS_LOGIN.value:
            log.info("account %s needs login (%s)", account.id, key)
        account.status = AccountStatus.NEEDS_LOGIN.value
        account.last_error_key = key
        await db.commit()
