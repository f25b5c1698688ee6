"""Account persistence: linking operator logins as accounts, sealing their secrets.

Used by ``aggregator accounts add`` and by the web wizard. After a successful login the caller
passes the credentials, the operator session and the subaccounts the user chose;
:func:`link_accounts` creates (or updates) one :class:`LinkedAccount` per subaccount with the
credentials and the session sealed by the vault, bound to that row (see :mod:`aggregator.vault`).

Nothing here commits: the caller owns the transaction (``async with db.begin(): ...`` or
``await db.commit()``), so the accounts and their audit entries land together or not at all.
"""

from __future__ import annotations

import re
from collections.abc import Mapping, Sequence
from typing import cast

from sqlalchemy import Table, bindparam, select, tuple_, update
from sqlalchemy.ext.asyncio import AsyncConnection, AsyncSession

from .core.flows import Session
from .core.login import Credentials, IdentifierKind, SecretKind
from .core.models import Subaccount
from .core.provider import Provider
from .core.secret import Secret
from .storage.models import AccountStatus, AuditLog, LinkedAccount, utcnow
from .vault import Vault, aad_for

__all__ = [
    "account_key_for",
    "balance_key_for",
    "credentials_after_new_password",
    "link_accounts",
    "login_key_for",
    "mask_number",
    "open_credentials",
    "open_session",
    "seal_credentials",
    "seal_session",
    "store_login_session",
    "store_login_sessions",
]

_TABLE = LinkedAccount.__tablename__
_MASK = "•"


def _aad(account: LinkedAccount, column: str) -> str:
    if account.id is None:
        raise ValueError("the account has no id yet: flush it before sealing")
    return aad_for(_TABLE, account.id, column)


def seal_credentials(vault: Vault, account: LinkedAccount, credentials: Credentials) -> None:
    """Seal ``credentials`` into ``account.credentials_sealed`` (the account must have an id)."""
    data = credentials.model_dump(mode="json", context={"reveal_secrets": True})
    account.credentials_sealed = vault.seal_json(data, aad=_aad(account, "credentials_sealed"))


def open_credentials(vault: Vault, account: LinkedAccount) -> Credentials:
    """The account's credentials; :class:`aggregator.vault.VaultError` when they do not open,
    ``LookupError`` when none are stored."""
    if account.credentials_sealed is None:
        raise LookupError(f"account {account.id} has no stored credentials")
    data = vault.open_json(account.credentials_sealed, aad=_aad(account, "credentials_sealed"))
    return Credentials.model_validate(data)


def seal_session(vault: Vault, account: LinkedAccount, session: Session | None) -> None:
    """Seal the operator session into ``account.session_sealed`` (None clears it)."""
    if session is None:
        account.session_sealed = None
        return
    data = session.model_dump(mode="json", context={"reveal_secrets": True})
    account.session_sealed = vault.seal_json(data, aad=_aad(account, "session_sealed"))


async def store_login_session(
    conn: AsyncConnection,
    vault: Vault,
    household_id: int,
    provider_id: str,
    login_key: str,
    session: Session,
) -> list[int]:
    """Store ``session`` for every account of one operator login (the session belongs to the
    login, not to each number): one statement in the caller's transaction, each row sealed
    under its own id. Returns the ids written."""
    written = await store_login_sessions(
        conn, vault, {(household_id, provider_id, login_key): session}
    )
    return written.get((household_id, provider_id, login_key), [])


LoginKey = tuple[int, str, str]
"""An operator login: (household id, operator id, login key)."""


async def store_login_sessions(
    conn: AsyncConnection, vault: Vault, sessions: Mapping[LoginKey, Session]
) -> dict[LoginKey, list[int]]:
    """:func:`store_login_session` for several logins at once: one query finds their
    accounts, one statement writes them (the poller stores a group of polls this way)."""
    if not sessions:
        return {}
    table = cast(Table, LinkedAccount.__table__)
    found: dict[LoginKey, list[int]] = {}
    keys = list(sessions)
    for start in range(0, len(keys), 300):  # bounded parameter lists
        chunk = keys[start : start + 300]
        rows = await conn.execute(
            select(table.c.id, table.c.household_id, table.c.provider_id, table.c.login_key)
            .where(tuple_(table.c.household_id, table.c.provider_id, table.c.login_key).in_(chunk))
            .order_by(table.c.id)
        )
        for row in rows:
            key = (int(row.household_id), str(row.provider_id), str(row.login_key))
            found.setdefault(key, []).append(int(row.id))
    values = []
    for key, ids in found.items():
        data = sessions[key].model_dump(mode="json", context={"reveal_secrets": True})
        for account_id in ids:
            sealed = vault.seal_json(data, aad=aad_for(_TABLE, account_id, "session_sealed"))
            values.append({"b_id": account_id, "session_sealed": sealed})
    if values:
        await conn.execute(update(table).where(table.c.id == bindparam("b_id")), values)
    return found


def open_session(vault: Vault, account: LinkedAccount) -> Session | None:
    """The stored operator session, or None when there is none."""
    if account.session_sealed is None:
        return None
    data = vault.open_json(account.session_sealed, aad=_aad(account, "session_sealed"))
    return Session.model_validate(data)


def login_key_for(vault: Vault, provider_id: str, identifier: str) -> str:
    """The keyed hash identifying one login at one operator (no login stored in clear)."""
    return vault.keyed_hash(f"{provider_id}\x00{identifier}")


def account_key_for(vault: Vault, provider_id: str, identity: str) -> str:
    """The keyed hash of the operator's own identity of an account (its id or number)."""
    return vault.keyed_hash(f"{provider_id}\x00account\x00{identity.strip().lower()}")


def balance_key_for(vault: Vault, provider_id: str, key: str) -> str:
    """The keyed hash of an operator's shared-balance key (numbers sharing one balance)."""
    return vault.keyed_hash(f"{provider_id}\x00balance\x00{key.strip()}")


def mask_number(number: str, kind: str) -> str:
    """A number as the dashboard shows it: enough to recognise, not enough to reuse.

    >>> mask_number("+7 (903) 123-45-67", "mobile")
    '+7 903 ***-**-67'
    >>> mask_number("123456784567", "internet")
    '•••• 4567'
    >>> mask_number("ivan.petrov@mail.ru", "other")
    'i•••@mail.ru'
    """
    value = number.strip()
    if not value:
        return ""
    if "@" in value:
        local, _, domain = value.partition("@")
        return f"{local[:1]}{_MASK * 3}@{domain}"
    digits = re.sub(r"\D", "", value)
    phone_like = re.fullmatch(r"[\s()+\-.\d]+", value) is not None
    if phone_like and ((len(digits) == 11 and digits[0] in "78") or len(digits) == 10):
        ten = digits[-10:]
        if kind in ("mobile", "landline") or ten[0] == "9":
            return f"+7 {ten[:3]} ***-**-{ten[-2:]}"
    compact = re.sub(r"[\s\-]", "", value)
    if len(compact) >= 8:
        return f"{_MASK * 4} {compact[-4:]}"
    if len(compact) >= 5:
        return f"{_MASK * 4} {compact[-2:]}"
    return _MASK * 4


def _default_subaccount(credentials: Credentials) -> Subaccount:
    """One account for a login whose provider lists no subaccounts."""
    kind = "mobile" if credentials.identifier_kind is IdentifierKind.PHONE else "other"
    return Subaccount(id="", number=credentials.identifier, kind=kind)


async def link_accounts(
    db: AsyncSession,
    vault: Vault,
    *,
    household_id: int,
    provider: type[Provider],
    credentials: Credentials,
    session: Session,
    subaccounts: Sequence[Subaccount],
    label: str = "",
    user_id: int | None = None,
    identities: Mapping[str, str] | None = None,
) -> list[LinkedAccount]:
    """Store one linked account per chosen subaccount, with sealed credentials and session.

    A login holding several numbers becomes several accounts sharing ``login_key``. Linking
    the same login and subaccount again updates the existing row (new credentials and
    session, status reset to ``new``, due now) instead of adding a duplicate. So does
    linking, by another login (an account number, SSO), an account this household already
    has: ``identities`` maps a subaccount id to the operator's own identity of the account
    (:func:`account_key_for`), and a row with the same identity is taken over by the new
    login. An empty ``subaccounts`` links the login itself as one account. Flushes, never
    commits.
    """
    provider.scheme(credentials.scheme)  # a scheme the provider does not have is a bug
    chosen = list(subaccounts) or [_default_subaccount(credentials)]
    login_key = login_key_for(vault, provider.id, credentials.identifier)
    keys = {
        sub.id: account_key_for(vault, provider.id, identity)
        for sub in chosen
        if (identity := (identities or {}).get(sub.id))
    }
    now = utcnow()
    same = (LinkedAccount.household_id == household_id) & (LinkedAccount.provider_id == provider.id)
    existing = {
        account.subaccount_id: account
        for account in (
            await db.scalars(
                select(LinkedAccount).where(
                    same,
                    LinkedAccount.login_key == login_key,
                    LinkedAccount.subaccount_id.in_([s.id for s in chosen]),
                )
            )
        ).all()
    }
    if keys:
        by_identity = {
            account.account_key: account
            for account in (
                await db.scalars(
                    select(LinkedAccount)
                    .where(same, LinkedAccount.account_key.in_(list(keys.values())))
                    .order_by(LinkedAccount.id)
                )
            ).all()
        }
        for sub_id, key in keys.items():
            if sub_id not in existing and key in by_identity:
                existing[sub_id] = by_identity[key]
    linked: list[LinkedAccount] = []
    relinked: set[int] = set()
    for sub in chosen:
        masked = mask_number(sub.number, sub.kind)
        if label and len(chosen) > 1:
            account_label = f"{label} · {sub.label or masked}"
        else:
            account_label = label or sub.label
        account = existing.get(sub.id)
        if account is not None and account.login_key != login_key:
            # The same operator account, reached by another login: this login takes it over
            # (unless another row of this login already holds the subaccount).
            account.login_key = login_key
            account.subaccount_id = sub.id
        if account is None:
            account = LinkedAccount(
                household_id=household_id,
                provider_id=provider.id,
                login_scheme=credentials.scheme,
                login_key=login_key,
                subaccount_id=sub.id,
                label=account_label,
                number_masked=masked,
                kind=sub.kind,
            )
            db.add(account)
        else:
            relinked.add(id(account))
            account.login_scheme = credentials.scheme
            account.number_masked = masked
            account.kind = sub.kind
            if account_label:
                account.label = account_label
            account.last_error_key = None
            account.last_error = None
            account.consecutive_failures = 0
        if sub.id in keys:
            account.account_key = keys[sub.id]
        account.status = AccountStatus.NEW.value
        account.next_due_at = now
        linked.append(account)
    await db.flush()  # ids first: the associated data of each sealed value names its row
    for account in linked:
        seal_credentials(vault, account, credentials)
        seal_session(vault, account, session)
        db.add(
            AuditLog(
                household_id=household_id,
                user_id=user_id,
                account_id=account.id,
                action="account.relinked" if id(account) in relinked else "account.linked",
                details={
                    "provider": provider.id,
                    "scheme": credentials.scheme,
                    "number": account.number_masked,
                },
            )
        )
    await db.flush()
    return linked


def credentials_after_new_password(
    cls: type[Provider], credentials: Credentials, password: str
) -> Credentials:
    """After a forced password change, keep the new password for silent re-logins: a login
    by temporary password (or code) becomes a login by password when the operator has one."""
    scheme = cls.scheme(credentials.scheme)
    if scheme.secret is SecretKind.PASSWORD:
        return credentials.model_copy(update={"secret": Secret(password)})
    for candidate in cls.login_schemes:
        kinds = {spec.kind for spec in candidate.identifiers}
        if candidate.secret is SecretKind.PASSWORD and credentials.identifier_kind in kinds:
            return Credentials(
                scheme=candidate.id,
                identifier_kind=credentials.identifier_kind,
                identifier=credentials.identifier,
                secret=Secret(password),
                extras={
                    k: v
                    for k, v in credentials.extras.items()
                    if k in {f.name for f in candidate.extra_fields}
                },
            )
    return credentials
