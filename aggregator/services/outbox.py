"""The household's alert mail: the outbox rows and, with the embedded SMTP sink, what it got.

The outbox page and ``GET /api/v1/outbox`` read through here. A household sees only its own
mail: the sink's messages are matched by the Message-IDs of its outbox rows (recorded before
each send), never by recipient, so an address another household added to its alerts never
shows it this household's mail, nor the reverse.
"""

from __future__ import annotations

from typing import TYPE_CHECKING

from sqlalchemy import select

from ..alerts.outbox import outbox_message_id
from ..alerts.sink import MailContent, MailStore
from ..storage.models import OutboxMessage
from .errors import NotFound

if TYPE_CHECKING:
    from sqlalchemy.ext.asyncio import AsyncSession

    from ..settings import Settings

__all__ = ["household_mail", "outbox_message", "recent_messages"]


async def recent_messages(
    db: AsyncSession, household_id: int, limit: int = 100
) -> list[OutboxMessage]:
    """The household's outbox rows, newest first."""
    return list(
        await db.scalars(
            select(OutboxMessage)
            .where(OutboxMessage.household_id == household_id)
            .order_by(OutboxMessage.created_at.desc(), OutboxMessage.id.desc())
            .limit(limit)
        )
    )


async def outbox_message(db: AsyncSession, household_id: int, message_id: int) -> OutboxMessage:
    """One outbox row of the household; ``NotFound`` for another household's or none."""
    message = await db.scalar(
        select(OutboxMessage).where(
            OutboxMessage.id == message_id, OutboxMessage.household_id == household_id
        )
    )
    if message is None:
        raise NotFound("message", message_id)
    return message


async def _message_ids(db: AsyncSession, household_id: int, sender: str) -> set[str]:
    rows = await db.execute(
        select(OutboxMessage.id, OutboxMessage.dedupe_key, OutboxMessage.message_id).where(
            OutboxMessage.household_id == household_id
        )
    )
    return {
        message_id or outbox_message_id(row_id, dedupe_key, sender)
        for row_id, dedupe_key, message_id in rows
    }


async def household_mail(
    db: AsyncSession, settings: Settings, household_id: int, limit: int = 50
) -> list[MailContent]:
    """Mail the embedded SMTP sink received for this household's outbox rows, newest first."""
    ids = await _message_ids(db, household_id, settings.smtp_from)
    store = MailStore.for_settings(settings)
    out: list[MailContent] = []
    for mail in store.list(limit=None):
        if mail.message_id.strip() not in ids:
            continue
        try:
            out.append(store.read(mail.id))
        except (KeyError, OSError):
            continue
        if len(out) >= limit:
            break
    return out
