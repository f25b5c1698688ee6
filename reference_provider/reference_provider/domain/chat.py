"""Support chat: topics per operator, a bot answering known questions at once from a small FAQ,
and a simulated agent answering the rest after a delay on the billing clock.

An agent's reply is stored at once with a ``sent_at`` in the future: it becomes visible when the
billing clock reaches it, and stays "unseen" until fetched.
"""

from __future__ import annotations

import datetime as dt

from .billing import BillingMixin
from .errors import InvalidInput, NotFound
from .models import Account, ChatMessage, ChatTopic
from .money import format_rub

__all__ = ["ChatMixin"]

MAX_TEXT = 2000
_AGENT_REPLIES = (
    "Здравствуйте! Спасибо за обращение. По вашему вопросу «{q}»: проверили данные по "
    "счёту {number}, всё в порядке. Если вопрос остался, напишите нам.",
    "Добрый день! Ваш вопрос «{q}» передан в профильный отдел, изменения вступят в силу в "
    "течение суток. Хорошего дня!",
    "Здравствуйте! По обращению «{q}»: рекомендуем перезагрузить оборудование. Если проблема "
    "повторится, мы направим мастера.",
)


class ChatMixin(BillingMixin):
    def chat_topics(self, operator: str) -> tuple[ChatTopic, ...]:
        return self.operator(operator).topics

    def send_chat(self, acc: Account, topic_id: str, text: str) -> list[ChatMessage]:
        """Post the user's message; return it and the bot's immediate answer.

        A known question gets the bot's answer; otherwise the bot says a specialist will answer
        and an agent's reply is scheduled ``agent_delay_minutes`` later on the billing clock.
        """
        cfg = self.operator(acc.operator)
        if topic_id not in {t.id for t in cfg.topics}:
            raise NotFound("Тема обращения не найдена")
        text = text.strip()
        if not text or len(text) > MAX_TEXT:
            raise InvalidInput(f"Сообщение должно содержать от 1 до {MAX_TEXT} символов")
        now = self.now()
        user = ChatMessage(self.next_id(), acc.id, topic_id, "user", text, now)
        acc.chat.append(user)
        lowered = text.lower()
        answer = next((f.answer for f in cfg.faq if any(k in lowered for k in f.keywords)), None)
        if answer is not None:
            bot = ChatMessage(
                self.next_id(),
                acc.id,
                topic_id,
                "bot",
                self._fill(acc, answer),
                now,
                "Бот-помощник",
            )
        else:
            low, high = cfg.agent_delay_minutes
            delay = dt.timedelta(minutes=self.rng.randint(low, high))
            bot = ChatMessage(
                self.next_id(),
                acc.id,
                topic_id,
                "bot",
                "Не нашёл готового ответа. Передаю ваш вопрос специалисту, он "
                f"ответит в течение {high} минут.",
                now,
                "Бот-помощник",
            )
            template = self.rng.choice(_AGENT_REPLIES)
            agent = ChatMessage(
                self.next_id(),
                acc.id,
                topic_id,
                "agent",
                template.format(q=text[:80], number=acc.number),
                now + delay,
                self.rng.choice(cfg.agent_names),
                seen=False,
            )
            acc.chat.append(bot)
            acc.chat.append(agent)
            return [user, bot]
        acc.chat.append(bot)
        return [user, bot]

    def _fill(self, acc: Account, answer: str) -> str:
        tariff = self.operator(acc.operator).tariff(acc.tariff_id)
        return answer.format(
            balance=format_rub(self.balance(acc)),
            tariff=tariff.name if tariff else "",
            fee=format_rub(tariff.fee if tariff else 0),
            number=acc.number,
        )

    def chat_history(
        self,
        acc: Account,
        since: dt.datetime | None = None,
        topic_id: str | None = None,
        mark_seen: bool = True,
    ) -> list[ChatMessage]:
        """Messages already sent (``sent_at <= now``), after ``since``, oldest first."""
        now = self.now()
        out = [
            m
            for m in acc.chat
            if m.sent_at <= now
            and (since is None or m.sent_at > since)
            and (topic_id is None or m.topic_id == topic_id)
        ]
        if mark_seen:
            for m in out:
                m.seen = True
        return sorted(out, key=lambda m: (m.sent_at, m.id))

    def chat_unseen(self, acc: Account) -> list[ChatMessage]:
        """Replies that arrived while the user was away; fetching marks them seen."""
        now = self.now()
        out = [m for m in acc.chat if not m.seen and m.sent_at <= now]
        for m in out:
            m.seen = True
        return sorted(out, key=lambda m: (m.sent_at, m.id))

    def chat_pending(self, acc: Account) -> int:
        """How many agent replies are still on their way."""
        now = self.now()
        return sum(1 for m in acc.chat if m.sent_at > now)
