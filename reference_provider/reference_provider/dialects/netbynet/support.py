"""NetByNet promotions, cabinet notices and support requests (assumed or from the seed).
Handlers get the backend injected.
"""

from __future__ import annotations

from typing import Any

from litestar import Request, Response, get, post

from ...backend import Backend
from ...domain.models import Account
from .wire import OPERATOR, BackendDep, body_of, current, ok, text_field

__all__ = ["HANDLERS"]

_NEWS = {"news": "NEWS", "offer": "PROMO", "maintenance": "MAINTENANCE"}
_AUTHORS = {"user": "CLIENT", "bot": "BOT", "agent": "OPERATOR"}


# -- promotions and support -----------------------------------------------------------------
@get("/api/v1/get-promotions", sync_to_thread=False)
def promotions(request: Request[Any, Any, Any], backend: BackendDep) -> Response[Any]:
    current(request, backend)
    return ok(
        promotions=[
            {
                "id": n.id,
                "title": n.title,
                "description": n.text,
                "dateFrom": n.published.isoformat(),
                "type": _NEWS.get(n.kind, "NEWS"),
            }
            for n in backend.news(OPERATOR)
        ]
    )


@get("/api/v1/notifications", sync_to_thread=False)
def notifications(request: Request[Any, Any, Any], backend: BackendDep) -> Response[Any]:
    """Cabinet notices: a block request received, then approved (the article's «оповещение
    о подключении услуги приходит в персональный кабинет»), newest first."""
    _, acc = current(request, backend)
    now = backend.now()
    items = []
    for block in acc.suspensions:
        period = f"с {block.start:%d.%m.%Y} по {block.end:%d.%m.%Y}"
        items.append(
            {
                "id": f"block-{block.id}-requested",
                "date": block.requested_at.isoformat(timespec="seconds"),
                "title": f"Заявка №{block.id} на добровольную блокировку принята",
                "text": f"Блокировка {period} будет установлена после рассмотрения заявки.",
            }
        )
        if block.approve_at <= now and block.cancelled_at is None:
            items.append(
                {
                    "id": f"block-{block.id}-approved",
                    "date": block.approve_at.isoformat(timespec="seconds"),
                    "title": f"Заявка №{block.id} одобрена",
                    "text": f"Добровольная блокировка {period} подключена.",
                }
            )
    items.sort(key=lambda item: item["date"], reverse=True)
    return ok(notifications=items)


@get("/api/v1/request-topics", sync_to_thread=False)
def topics(request: Request[Any, Any, Any], backend: BackendDep) -> Response[Any]:
    current(request, backend)
    return ok(topics=[{"id": t.id, "name": t.title} for t in backend.chat_topics(OPERATOR)])


def requests_of(backend: Backend, acc: Account) -> list[dict[str, Any]]:
    titles = {t.id: t.title for t in backend.chat_topics(OPERATOR)}
    by_topic: dict[str, list[Any]] = {}
    for m in backend.chat_history(acc):
        by_topic.setdefault(m.topic_id, []).append(m)
    out = []
    for topic, messages in by_topic.items():
        answered = messages[-1].author != "user"
        out.append(
            {
                "id": f"{acc.number}-{topic}",
                "topic": topic,
                "subject": titles.get(topic, topic),
                "status": "ANSWERED" if answered else "IN_PROGRESS",
                "createdAt": messages[0].sent_at.isoformat(timespec="seconds"),
                "messages": [
                    {
                        "id": m.id,
                        "author": _AUTHORS[m.author],
                        "authorName": m.author_name,
                        "text": m.text,
                        "date": m.sent_at.isoformat(timespec="seconds"),
                    }
                    for m in messages
                ],
            }
        )
    return out


@get("/api/v1/requests", sync_to_thread=False)
def support_requests(request: Request[Any, Any, Any], backend: BackendDep) -> Response[Any]:
    _, acc = current(request, backend)
    return ok(requests=requests_of(backend, acc))


@post("/api/v1/requests")
async def new_request(request: Request[Any, Any, Any], backend: BackendDep) -> Response[Any]:
    data = await body_of(request)
    _, acc = current(request, backend)
    sent = backend.send_chat(
        acc, text_field(data, "topic", "Тема"), text_field(data, "text", "Текст")
    )
    return ok(
        "Обращение зарегистрировано", messageId=sent[0].id, requests=requests_of(backend, acc)
    )


HANDLERS = [
    promotions,
    notifications,
    topics,
    support_requests,
    new_request,
]
