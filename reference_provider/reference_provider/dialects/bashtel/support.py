"""Bashtel's support chat."""

from __future__ import annotations

from typing import Any

from litestar import Request, Response, get, post

from ...domain.errors import (
    DomainError,
    InvalidInput,
)
from .wire import (
    OPERATOR,
    BackendDep,
    cabinet,
    fmt_datetime,
    posted,
    redirect,
    render,
)

__all__ = ["HANDLERS"]

_AUTHOR = {"user": "Вы", "bot": "Бот-помощник", "agent": "Консультант"}


# -- support chat ---------------------------------------------------------------------------
@get("/support", sync_to_thread=False)
def support_page(request: Request[Any, Any, Any], backend: BackendDep) -> Response[str]:
    cab = cabinet(request, backend)
    messages = [
        {
            "id": m.id,
            "author": m.author,
            "topic_id": m.topic_id,
            "author_name": m.author_name or _AUTHOR.get(m.author, ""),
            "sent_at": fmt_datetime(m.sent_at),
            "sent_at_iso": m.sent_at.isoformat(timespec="seconds"),
            "text": m.text,
        }
        for m in backend.chat_history(cab.acc)
    ]
    topics = [{"id": t.id, "title": t.title} for t in backend.chat_topics(OPERATOR)]
    return render(
        "support.html",
        **cab.context(backend, "support", "Чат с поддержкой"),
        messages=messages,
        topics=topics,
    )


@post("/support/send")
async def support_send(request: Request[Any, Any, Any], backend: BackendDep) -> Response[str]:
    cab, fields = await posted(request, backend)
    text = fields.get("text", "").strip()
    try:
        if not text:
            raise InvalidInput("Напишите сообщение")
        if len(text) > 2000:
            raise InvalidInput("Сообщение длиннее 2000 символов")
        backend.send_chat(cab.acc, fields.get("topic", ""), text)
    except DomainError as exc:
        cab.flash("error", exc.message)
    return redirect("/support")


HANDLERS = [support_page, support_send]
