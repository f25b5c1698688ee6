"""Notification channels of plugins: per-household settings, linked recipients, link codes.

:class:`ChannelStore` is the core's side of :class:`~aggregator.core.notify.ChannelHub`: a
channel's ``run`` loop links recipients with the one-time codes the dashboard shows, reads the
household's accounts (a ``/balance`` command) and disables recipients that are gone; the
outbox asks it for a household's channel settings (secret fields opened from the vault) before
each send. The dashboard's side (saving settings, making codes, the recipients list) is
:mod:`aggregator.services.channels`.
"""

from __future__ import annotations

import datetime as dt
import hashlib
import logging
import secrets
from collections.abc import Mapping
from typing import Any, cast

from sqlalchemy import Table, func, select, update
from sqlalchemy.ext.asyncio import AsyncConnection, AsyncEngine

from ..core.money import from_minor
from ..core.notify import AccountLine, ChannelHub, HouseholdChannel, Notifier, Recipient
from ..core.secret import Secret
from ..i18n import format_money_minor, normalise_lang
from ..plugins import PluginRegistry
from ..storage.models import (
    BalanceReading,
    LinkedAccount,
    NotifierLinkCode,
    NotifierRecipient,
    NotifierSettings,
    utcnow,
)
from ..storage.transactions import transaction
from ..vault import Vault, VaultError, aad_for
from .forecast import SpendHistory, forecast

__all__ = [
    "CODE_ALPHABET",
    "LINK_CODE_TTL",
    "STATUS_TEXT",
    "ChannelStore",
    "hash_link_code",
    "new_link_code",
    "open_options",
]

log = logging.getLogger(__name__)

settings_t = cast(Table, NotifierSettings.__table__)
recipients_t = cast(Table, NotifierRecipient.__table__)
codes_t = cast(Table, NotifierLinkCode.__table__)
accounts_t = cast(Table, LinkedAccount.__table__)
readings_t = cast(Table, BalanceReading.__table__)

LINK_CODE_TTL = dt.timedelta(minutes=30)
# No 0/O, 1/I/L: a code typed from the screen by hand is read right.
CODE_ALPHABET = "ABCDEFGHJKMNPQRSTUVWXYZ23456789"
CODE_LENGTH = 8

STATUS_TEXT: Mapping[str, Mapping[str, str]] = {
    "ok": {"ru": "в порядке", "en": "ok"},
    "new": {"ru": "ещё не обновлялся", "en": "not read yet"},
    "stale": {"ru": "данные устарели", "en": "out of date"},
    "needs_login": {"ru": "нужно войти заново", "en": "sign in again"},
    "operator_error": {"ru": "оператор отказал", "en": "the operator refused"},
    "plugin_error": {"ru": "ошибка модуля оператора", "en": "the operator's plugin failed"},
}


def new_link_code() -> str:
    return "".join(secrets.choice(CODE_ALPHABET) for _ in range(CODE_LENGTH))


def hash_link_code(code: str) -> str:
    return hashlib.sha256(code.strip().upper().encode()).hexdigest()


def open_options(
    notifier: type[Notifier], vault: Vault, row_id: int, options: Mapping[str, Any], sealed: Any
) -> dict[str, Any]:
    """A channel's settings of one household: plain fields as stored, secret ones opened from
    the vault and wrapped in :class:`Secret`."""
    out: dict[str, Any] = dict(options or {})
    if sealed is not None:
        opened = vault.open_json(
            bytes(sealed), aad=aad_for("notifier_settings", row_id, "secrets_sealed")
        )
        for name, value in dict(opened or {}).items():
            out[name] = Secret(str(value))
    return out


def _complete(notifier: type[Notifier], options: Mapping[str, Any]) -> bool:
    return all(options.get(f.name) for f in notifier.fields if f.required)


class ChannelStore(ChannelHub):
    """Channel settings and recipients in the database (see the module docstring)."""

    def __init__(
        self, engine: AsyncEngine, vault: Vault, registry: PluginRegistry, dashboard_url: str
    ) -> None:
        self.engine = engine
        self.vault = vault
        self.registry = registry
        self.dashboard_url = dashboard_url.rstrip("/")

    def _notifier(self, notifier_id: str) -> type[Notifier] | None:
        return self.registry.notifiers.get(notifier_id)

    async def options(self, household_id: int, notifier_id: str) -> dict[str, Any] | None:
        """The household's settings of the channel, or None when it has not set it up."""
        cls = self._notifier(notifier_id)
        if cls is None:
            return None
        async with transaction(self.engine) as conn:
            row = (
                await conn.execute(
                    select(settings_t).where(
                        settings_t.c.household_id == household_id,
                        settings_t.c.notifier == notifier_id,
                    )
                )
            ).first()
        if row is None:
            return None
        try:
            options = open_options(cls, self.vault, row.id, row.options, row.secrets_sealed)
        except VaultError:
            log.warning("channel %s of household %s: settings do not open", notifier_id, row.id)
            return None
        return options if _complete(cls, options) else None

    # -- ChannelHub ---------------------------------------------------------------------------
    async def households(self, notifier_id: str) -> list[HouseholdChannel]:
        cls = self._notifier(notifier_id)
        if cls is None:
            return []
        async with transaction(self.engine) as conn:
            rows = (
                await conn.execute(
                    select(settings_t)
                    .where(settings_t.c.notifier == notifier_id)
                    .order_by(settings_t.c.household_id)
                )
            ).all()
        out: list[HouseholdChannel] = []
        for row in rows:
            try:
                options = open_options(cls, self.vault, row.id, row.options, row.secrets_sealed)
            except VaultError:
                log.warning("channel %s of household %s: settings do not open", notifier_id, row.id)
                continue
            if _complete(cls, options):
                out.append(HouseholdChannel(household_id=row.household_id, options=options))
        return out

    async def link(
        self, notifier_id: str, household_id: int, code: str, address: str, label: str = ""
    ) -> Recipient | None:
        now = utcnow()
        async with transaction(self.engine) as conn:
            found = (
                await conn.execute(
                    update(codes_t)
                    .where(
                        codes_t.c.code_hash == hash_link_code(code),
                        codes_t.c.notifier == notifier_id,
                        codes_t.c.household_id == household_id,
                        codes_t.c.used_at.is_(None),
                        codes_t.c.expires_at > now,
                    )
                    .values(used_at=now)
                    .returning(codes_t.c.user_id, codes_t.c.lang)
                )
            ).first()
            if found is None:
                return None
            values = {
                "label": label[:200],
                "lang": normalise_lang(found.lang),
                "user_id": found.user_id,
                "status": "active",
                "disabled_reason": None,
                "disabled_at": None,
            }
            existing = await self._recipient_row(conn, notifier_id, household_id, address)
            if existing is None:
                await conn.execute(
                    recipients_t.insert().values(
                        household_id=household_id,
                        notifier=notifier_id,
                        address=address,
                        created_at=now,
                        **values,
                    )
                )
            else:
                await conn.execute(
                    update(recipients_t).where(recipients_t.c.id == existing.id).values(**values)
                )
            row = await self._recipient_row(conn, notifier_id, household_id, address)
        log.info("channel %s: household %s linked a recipient", notifier_id, household_id)
        return _recipient(row)

    async def recipient(
        self, notifier_id: str, household_id: int, address: str
    ) -> Recipient | None:
        async with transaction(self.engine) as conn:
            row = await self._recipient_row(conn, notifier_id, household_id, address)
        return _recipient(row) if row is not None else None

    async def disable(self, notifier_id: str, household_id: int, address: str, reason: str) -> None:
        async with transaction(self.engine) as conn:
            result = await conn.execute(
                update(recipients_t)
                .where(
                    recipients_t.c.household_id == household_id,
                    recipients_t.c.notifier == notifier_id,
                    recipients_t.c.address == address,
                    recipients_t.c.status == "active",
                )
                .values(status="disabled", disabled_reason=reason[:300], disabled_at=utcnow())
            )
        if result.rowcount:
            log.warning(
                "channel %s: a recipient of household %s is disabled: %s",
                notifier_id,
                household_id,
                reason,
            )

    async def accounts(self, household_id: int, lang: str) -> list[AccountLine]:
        lang = normalise_lang(lang)
        latest = (
            select(readings_t.c.account_id, func.max(readings_t.c.id).label("reading_id"))
            .group_by(readings_t.c.account_id)
            .subquery()
        )
        async with transaction(self.engine) as conn:
            rows = (
                await conn.execute(
                    select(
                        accounts_t.c.id,
                        accounts_t.c.provider_id,
                        accounts_t.c.label,
                        accounts_t.c.number_masked,
                        accounts_t.c.status,
                        accounts_t.c.spend_history,
                        readings_t.c.at,
                        readings_t.c.amount_minor,
                        readings_t.c.currency,
                        readings_t.c.next_charge_date,
                        readings_t.c.next_charge_minor,
                    )
                    .select_from(accounts_t)
                    .outerjoin(latest, latest.c.account_id == accounts_t.c.id)
                    .outerjoin(readings_t, readings_t.c.id == latest.c.reading_id)
                    .where(accounts_t.c.household_id == household_id)
                    .order_by(accounts_t.c.id)
                )
            ).all()
        lines: list[AccountLine] = []
        for row in rows:
            cls = self.registry.providers.get(row.provider_id)
            name = (cls.name_en if lang == "en" else cls.name) if cls else row.provider_id
            number = row.number_masked or ""
            title = " ".join(p for p in (name, number) if p)
            if row.label and row.label not in title:
                title = f"{row.label} ({title})"
            balance = days = None
            if row.amount_minor is not None:
                balance = format_money_minor(row.amount_minor, row.currency or "RUB", lang)
                days = forecast(
                    SpendHistory.from_json(row.spend_history),
                    from_minor(row.amount_minor, row.currency or "RUB"),
                    row.at.date(),
                    row.next_charge_date,
                    from_minor(row.next_charge_minor) if row.next_charge_minor else None,
                ).days_left
            status = str(row.status)
            lines.append(
                AccountLine(
                    account_id=row.id,
                    title=title,
                    balance=balance,
                    status=status,
                    status_text=STATUS_TEXT.get(status, {}).get(lang, status),
                    attention=status != "ok",
                    days_left=days,
                    link=f"{self.dashboard_url}/accounts/{row.id}",
                )
            )
        return lines

    # -- helpers ------------------------------------------------------------------------------
    @staticmethod
    async def _recipient_row(
        conn: AsyncConnection, notifier_id: str, household_id: int, address: str
    ) -> Any:
        return (
            await conn.execute(
                select(recipients_t).where(
                    recipients_t.c.household_id == household_id,
                    recipients_t.c.notifier == notifier_id,
                    recipients_t.c.address == address,
                )
            )
        ).first()


def _recipient(row: Any) -> Recipient:
    return Recipient(
        household_id=row.household_id,
        address=row.address,
        label=row.label,
        lang=row.lang,
        active=row.status == "active",
    )
