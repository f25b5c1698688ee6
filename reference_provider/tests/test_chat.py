"""Support chat: topics, the bot's instant answers, the agent's delayed reply, the history."""

from __future__ import annotations

import datetime as dt

import pytest
from reference_provider.backend import Backend
from reference_provider.domain import InvalidInput, NotFound


def test_beeline_topics() -> None:
    backend = Backend(clock_speed=0, demo=False)
    titles = [t.title for t in backend.chat_topics("beeline")]
    assert titles == ["Общая консультация", "Вопрос по услугам"]
    for operator in ("reference", "rostelecom", "bashtel", "netbynet"):
        assert len(backend.chat_topics(operator)) >= 2


def test_bot_answers_a_known_question_at_once(backend: Backend) -> None:
    acc = backend.account_by_number("beeline", "9031234567")
    user, bot = backend.send_chat(acc, "general", "Какой у меня баланс?")
    assert (user.author, bot.author) == ("user", "bot")
    assert bot.text == "Ваш баланс: 412,50\u00a0₽."
    assert bot.sent_at == user.sent_at
    assert backend.chat_pending(acc) == 0


def test_unknown_question_goes_to_an_agent_later(backend: Backend) -> None:
    acc = backend.account_by_number("beeline", "9037654321")
    _, bot = backend.send_chat(acc, "services", "Почему у меня не работает роуминг в Турции?")
    assert "специалисту" in bot.text
    assert backend.chat_pending(acc) == 1
    assert [m.author for m in backend.chat_history(acc)] == ["user", "bot"]
    assert backend.chat_unseen(acc) == []
    backend.advance(minutes=4)  # Beeline answers in 5-15 minutes
    assert backend.chat_unseen(acc) == []
    backend.advance(minutes=11)
    replies = backend.chat_unseen(acc)
    assert len(replies) == 1 and replies[0].author == "agent"
    assert replies[0].author_name and replies[0].topic_id == "services"
    assert backend.chat_unseen(acc) == []  # fetched once
    assert [m.author for m in backend.chat_history(acc)] == ["user", "bot", "agent"]


def test_history_is_kept_and_filtered(backend: Backend) -> None:
    acc = backend.account_by_number("reference", "REF-0001")
    history = backend.chat_history(acc, mark_seen=False)
    assert [m.author for m in history][:2] == ["user", "bot"]
    assert len(backend.chat_unseen(acc)) == 1  # the demo reply that came while away
    since = backend.now() - dt.timedelta(hours=2)
    assert [m.text for m in backend.chat_history(acc, since=since)] == [
        "Перерасчёт выполнен, сумма вернулась на счёт."
    ]


def test_bad_chat_input(backend: Backend) -> None:
    acc = backend.account_by_number("reference", "REF-0001")
    with pytest.raises(NotFound):
        backend.send_chat(acc, "no-such-topic", "Привет")
    with pytest.raises(InvalidInput):
        backend.send_chat(acc, "general", "   ")
    with pytest.raises(InvalidInput):
        backend.send_chat(acc, "general", "x" * 2001)
