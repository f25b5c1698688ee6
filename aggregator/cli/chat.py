"""``aggregator chat topics|history|send``: the operator's support chat of one account.

The transcript is the one the dashboard shows (stored per account, so history survives).
"""

from __future__ import annotations

from typing import TYPE_CHECKING, Annotated

import typer

from .base import new_typer, print_json
from .operator import AccountArg, JsonOption, read

if TYPE_CHECKING:
    from ..services.operations import ChatView

__all__ = ["chat_app"]

chat_app = new_typer("Чат с поддержкой оператора / The operator's support chat.")


def _print(view: ChatView, as_json: bool) -> None:
    if as_json:
        print_json(
            {
                "topics": [{"id": t.id, "title": t.title} for t in view.topics],
                "messages": [
                    {
                        "id": m.remote_id,
                        "topic_id": m.topic_id,
                        "author": m.author,
                        "author_name": m.author_name,
                        "text": m.text,
                        "sent_at": m.sent_at.isoformat(),
                    }
                    for m in view.messages
                ],
            }
        )
        return
    for m in view.messages:
        who = m.author_name or {"user": "Вы / you", "bot": "бот / bot"}.get(m.author, m.author)
        typer.echo(f"[{m.sent_at:%Y-%m-%d %H:%M}] {who}: {m.text}")


@chat_app.command("topics")
def topics(account_id: AccountArg, as_json: JsonOption = False) -> None:
    """Темы обращений / The chat's topics."""

    view = read(account_id, lambda w: w.ops.chat(w.db, w.account))
    if as_json:
        print_json([{"id": t.id, "title": t.title} for t in view.topics])
        return
    for topic in view.topics:
        typer.echo(f"{topic.id}\t{topic.title}")


@chat_app.command("history")
def history(account_id: AccountArg, as_json: JsonOption = False) -> None:
    """Вся переписка / The whole conversation."""

    _print(read(account_id, lambda w: w.ops.chat(w.db, w.account)), as_json)


@chat_app.command("send")
def send(
    account_id: AccountArg,
    text: Annotated[str, typer.Argument(help="Сообщение / the message.")],
    topic: Annotated[
        str, typer.Option("--topic", help="Тема / topic id (aggregator chat topics ID).")
    ] = "",
    as_json: JsonOption = False,
) -> None:
    """Написать в поддержку / Send a message; prints the conversation with any reply."""

    _print(read(account_id, lambda w: w.ops.send_chat(w.db, w.account, topic, text)), as_json)
