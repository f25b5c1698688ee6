"""Notification channels, the dashboard's side: settings, link codes, recipients, the choice
of channels per alert kind. Pages and API are thin adapters over these functions.

A channel is any registered notifier (e-mail is built in; plugins add others, e.g. a chat bot).
A plugin channel's settings (``Notifier.fields``) are kept per household: plain fields in
``notifier_settings.options``, secret ones sealed together by the vault. Its recipients are
linked by a one-time code shown here and sent to the channel (``/start CODE``); the channel
redeems it through :class:`aggregator.alerts.channels.ChannelStore`.
"""

from __future__ import annotations

import datetime as dt
from dataclasses import dataclass, field
from typing import Any

from sqlalchemy import delete, select
from sqlalchemy.ext.asyncio import AsyncSession

from ..alerts.channels import LINK_CODE_TTL, hash_link_code, new_link_code, open_options
from ..alerts.rules import AlertKind
from ..core.notify import ChannelField, Notifier
from ..core.secret import reveal
from ..i18n import normalise_lang
from ..plugins import PluginRegistry
from ..storage.models import (
    AlertRule,
    AuditLog,
    NotifierLinkCode,
    NotifierRecipient,
    NotifierSettings,
    utcnow,
)
from ..vault import Vault, VaultError, aad_for

__all__ = [
    "ChannelError",
    "ChannelFieldError",
    "ChannelView",
    "LinkCode",
    "RecipientView",
    "channel_choice",
    "channels_of",
    "create_link_code",
    "disabled_recipients",
    "remove_recipient",
    "save_channel_choice",
    "save_channel_settings",
]


MAX_SETTING_LENGTH = 500


class ChannelError(ValueError):
    """A channel request that cannot be done as asked (the message says why)."""


class ChannelFieldError(ChannelError):
    """One typed setting is refused: ``problem`` is ``required`` or ``too_long``; the page
    marks ``field`` and says in the catalogue's words what it expects."""

    def __init__(self, field: ChannelField, problem: str) -> None:
        self.field = field
        self.problem = problem
        what = "is required" if problem == "required" else "is too long"
        super().__init__(f"{field.label_en} {what}")


@dataclass(frozen=True)
class RecipientView:
    id: int
    notifier: str
    notifier_name: str
    label: str
    lang: str
    active: bool
    disabled_reason: str | None
    disabled_at: dt.datetime | None
    created_at: dt.datetime


@dataclass(frozen=True)
class FieldView:
    field: ChannelField
    value: str  # plain fields: the value; secret ones: "" (never shown back)
    is_set: bool


@dataclass
class ChannelView:
    id: str
    name: str
    fields: list[FieldView] = field(default_factory=list)
    configured: bool = False
    links_recipients: bool = False
    link_hint_ru: str = ""
    link_hint_en: str = ""
    recipients: list[RecipientView] = field(default_factory=list)


@dataclass(frozen=True)
class LinkCode:
    code: str
    expires_at: dt.datetime
    hint_ru: str
    hint_en: str


def _plugin_channels(registry: PluginRegistry) -> dict[str, type[Notifier]]:
    return {
        nid: cls
        for nid, cls in sorted(registry.notifiers.items())
        if cls.fields or cls.links_recipients
    }


def _require(registry: PluginRegistry, notifier_id: str) -> type[Notifier]:
    cls = _plugin_channels(registry).get(notifier_id)
    if cls is None:
        raise ChannelError(f"no such channel: {notifier_id}")
    return cls


async def _settings_row(
    db: AsyncSession, household_id: int, notifier_id: str
) -> NotifierSettings | None:
    return (
        await db.execute(
            select(NotifierSettings).where(
                NotifierSettings.household_id == household_id,
                NotifierSettings.notifier == notifier_id,
            )
        )
    ).scalar_one_or_none()


async def channels_of(
    db: AsyncSession, vault: Vault, registry: PluginRegistry, household_id: int
) -> list[ChannelView]:
    """The plugin channels with this household's settings and recipients."""
    recipients = (
        (
            await db.execute(
                select(NotifierRecipient)
                .where(NotifierRecipient.household_id == household_id)
                .order_by(NotifierRecipient.id)
            )
        )
        .scalars()
        .all()
    )
    out: list[ChannelView] = []
    for notifier_id, cls in _plugin_channels(registry).items():
        row = await _settings_row(db, household_id, notifier_id)
        options: dict[str, Any] = {}
        if row is not None:
            try:
                options = open_options(cls, vault, row.id, row.options, row.secrets_sealed)
            except VaultError:
                options = dict(row.options or {})
        views = [
            FieldView(
                f, "" if f.secret else str(options.get(f.name) or ""), bool(options.get(f.name))
            )
            for f in cls.fields
        ]
        configured = row is not None and all(options.get(f.name) for f in cls.fields if f.required)
        out.append(
            ChannelView(
                id=notifier_id,
                name=cls.name,
                fields=views,
                configured=configured,
                links_recipients=cls.links_recipients,
                link_hint_ru=cls.link_hint_ru,
                link_hint_en=cls.link_hint_en,
                recipients=[
                    _recipient_view(r, cls.name) for r in recipients if r.notifier == notifier_id
                ],
            )
        )
    return out


def _recipient_view(row: NotifierRecipient, name: str) -> RecipientView:
    return RecipientView(
        id=row.id,
        notifier=row.notifier,
        notifier_name=name,
        label=row.label,
        lang=row.lang,
        active=row.status == "active",
        disabled_reason=row.disabled_reason,
        disabled_at=row.disabled_at,
        created_at=row.created_at,
    )


async def save_channel_settings(
    db: AsyncSession,
    vault: Vault,
    registry: PluginRegistry,
    household_id: int,
    notifier_id: str,
    values: dict[str, str],
    *,
    user_id: int | None = None,
) -> None:
    """Save the typed settings; an empty secret field keeps the stored value. Commits."""
    cls = _require(registry, notifier_id)
    row = await _settings_row(db, household_id, notifier_id)
    current: dict[str, Any] = {}
    if row is not None:
        try:
            current = open_options(cls, vault, row.id, row.options, row.secrets_sealed)
        except VaultError:
            current = dict(row.options or {})
    plain: dict[str, str] = {}
    secret: dict[str, str] = {}
    for f in cls.fields:
        if f.secret:
            typed = (values.get(f.name) or "").strip()
            value = typed or (reveal(current.get(f.name)) or "")
        else:
            value = " ".join((values.get(f.name) or "").split())
        if f.required and not value:
            raise ChannelFieldError(f, "required")
        if len(value) > MAX_SETTING_LENGTH:
            raise ChannelFieldError(f, "too_long")
        if value:
            (secret if f.secret else plain)[f.name] = value
    if row is None:
        row = NotifierSettings(household_id=household_id, notifier=notifier_id, options={})
        db.add(row)
        await db.flush()
    row.options = plain
    row.secrets_sealed = (
        vault.seal_json(secret, aad=aad_for("notifier_settings", row.id, "secrets_sealed"))
        if secret
        else None
    )
    row.updated_at = utcnow()
    db.add(
        AuditLog(
            household_id=household_id,
            user_id=user_id,
            action="channel.settings",
            details={"notifier": notifier_id, "fields": sorted(plain) + sorted(secret)},
        )
    )
    await db.commit()


async def create_link_code(
    db: AsyncSession,
    registry: PluginRegistry,
    household_id: int,
    notifier_id: str,
    *,
    user_id: int | None,
    lang: str,
) -> LinkCode:
    """A fresh one-time code (30 minutes) that links the chat it is sent from. Commits."""
    cls = _require(registry, notifier_id)
    if not cls.links_recipients:
        raise ChannelError(f"{cls.name} has no recipients to link")
    if await _settings_row(db, household_id, notifier_id) is None:
        raise ChannelError(f"set {cls.name} up first")
    now = utcnow()
    # Older unused codes of this member for this channel stop working.
    await db.execute(
        delete(NotifierLinkCode).where(
            NotifierLinkCode.household_id == household_id,
            NotifierLinkCode.notifier == notifier_id,
            NotifierLinkCode.user_id == user_id,
            NotifierLinkCode.used_at.is_(None),
        )
    )
    code = new_link_code()
    db.add(
        NotifierLinkCode(
            household_id=household_id,
            notifier=notifier_id,
            user_id=user_id,
            code_hash=hash_link_code(code),
            lang=normalise_lang(lang),
            expires_at=now + LINK_CODE_TTL,
            created_at=now,
        )
    )
    await db.commit()
    return LinkCode(
        code,
        now + LINK_CODE_TTL,
        cls.link_hint_ru.replace("{code}", code),
        cls.link_hint_en.replace("{code}", code),
    )


async def remove_recipient(
    db: AsyncSession, household_id: int, recipient_id: int, *, user_id: int | None = None
) -> None:
    row = await db.get(NotifierRecipient, recipient_id)
    if row is None or row.household_id != household_id:
        raise ChannelError("no such recipient in this household")
    await db.delete(row)
    db.add(
        AuditLog(
            household_id=household_id,
            user_id=user_id,
            action="channel.recipient_removed",
            details={"notifier": row.notifier, "label": row.label},
        )
    )
    await db.commit()


async def disabled_recipients(
    db: AsyncSession, registry: PluginRegistry, household_id: int
) -> list[RecipientView]:
    """Recipients a channel reported gone: the dashboard tells the household."""
    rows = (
        (
            await db.execute(
                select(NotifierRecipient)
                .where(
                    NotifierRecipient.household_id == household_id,
                    NotifierRecipient.status == "disabled",
                )
                .order_by(NotifierRecipient.disabled_at.desc())
            )
        )
        .scalars()
        .all()
    )
    names = {nid: cls.name for nid, cls in registry.notifiers.items()}
    return [_recipient_view(r, names.get(r.notifier, r.notifier)) for r in rows]


def _channel_ids(registry: PluginRegistry) -> list[str]:
    return ["email", *[n for n in sorted(registry.notifiers) if n != "email"]]


async def channel_choice(
    db: AsyncSession, registry: PluginRegistry, household_id: int
) -> dict[str, list[str] | None]:
    """Per alert kind: the chosen channels, or None (every channel set up)."""
    rows = (
        (
            await db.execute(
                select(AlertRule).where(
                    AlertRule.household_id == household_id, AlertRule.account_id.is_(None)
                )
            )
        )
        .scalars()
        .all()
    )
    by_kind = {r.kind: r.channels for r in rows}
    return {kind.value: by_kind.get(kind.value) for kind in AlertKind}


async def save_channel_choice(
    db: AsyncSession,
    registry: PluginRegistry,
    household_id: int,
    choice: dict[str, list[str] | None],
    *,
    user_id: int | None = None,
) -> None:
    """Set the channels per kind (None: every channel set up; [] is refused: no alert would
    reach anyone, turn the kind off on the alerts page instead). Commits."""
    known = set(_channel_ids(registry))
    for kind, channels in choice.items():
        try:
            AlertKind(kind)
        except ValueError:
            raise ChannelError(f"no such alert kind: {kind}") from None
        if channels is not None:
            unknown = set(channels) - known
            if unknown:
                raise ChannelError(f"no such channel: {', '.join(sorted(unknown))}")
            if not channels:
                raise ChannelError("choose at least one channel, or turn the alert off")
        row = (
            await db.execute(
                select(AlertRule).where(
                    AlertRule.household_id == household_id,
                    AlertRule.account_id.is_(None),
                    AlertRule.kind == kind,
                )
            )
        ).scalar_one_or_none()
        ordered = [c for c in _channel_ids(registry) if channels and c in channels] or None
        if row is None:
            db.add(
                AlertRule(household_id=household_id, account_id=None, kind=kind, channels=ordered)
            )
        else:
            row.channels = ordered
    db.add(
        AuditLog(
            household_id=household_id,
            user_id=user_id,
            action="channel.choice",
            details={k: v for k, v in choice.items()},
        )
    )
    await db.commit()
