"""Support chat transcripts kept per account, so history and unseen replies survive.

Messages fetched from the operator are stored by their remote id (an upsert: a message is
never stored twice), and the dashboard shows the stored transcript.
"""

from __future__ import annotations

from collections.abc import Iterable

from sqlalchemy import select
from sqlalchemy.ext.asyncio import AsyncSession

from ..core.models import ChatMessage
from ..storage.models import ChatTranscript

__all__ = ["latest_message_time", "store_messages", "transcript"]


async def store_messages(db: AsyncSession, account_id: int, messages: Iterable[ChatMessage]) -> int:
    """Store messages not seen before; return how many were new."""
    messages = list(messages)
    if not messages:
        return 0
    known = set(
        (
            await db.scalars(
                select(ChatTranscript.remote_id).where(
                    ChatTranscript.account_id == account_id,
                    ChatTranscript.remote_id.in_([m.id for m in messages]),
                )
            )
        ).all()
    )
    new = 0
    for message in messages:
        if message.id in known:
            continue
        known.add(message.id)
        db.add(
            ChatTranscript(
                account_id=account_id,
                remote_id=message.id[:128],
                topic_id=message.topic_id,
                author=message.author.value,
                author_name=message.author_name,
                text=message.text,
                sent_at=message.sent_at,
                seen=message.author.value == "user",
            )
        )
        new += 1
    await db.commit()
    return new


async def transcript(db: AsyncSession, account_id: int, limit: int = 200) -> list[ChatTranscript]:
    rows = await db.scalars(
        select(ChatTranscript)
        .where(ChatTranscript.account_id == account_id)
        .order_by(ChatTranscript.sent_at.desc(), ChatTranscript.id.desc())
        .limit(limit)
    )
    return list(reversed(rows.all()))


async def latest_message_time(db: AsyncSession, account_id: int) -> object:
    return await db.scalar(
        select(ChatTranscript.sent_at)
        .where(ChatTranscript.account_id == account_id)
        .order_by(ChatTranscript.sent_at.desc())
        .limit(1)
    )
