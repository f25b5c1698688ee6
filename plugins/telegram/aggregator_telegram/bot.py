"""What the bot says, in Russian (first) and English: replies to commands, the alert layout.

Messages use Telegram's HTML parse mode, so every piece of text from elsewhere is escaped.
"""

from __future__ import annotations

import html
from collections.abc import Sequence

from aggregator import AccountLine, Notification, format_days

__all__ = [
    "MAX_TEXT",
    "alert_text",
    "balance_text",
    "help_text",
    "lang_of",
    "linked_text",
    "not_linked_text",
    "parse_command",
    "wrong_code_text",
]

MAX_TEXT = 4096  # Telegram's limit of a message text, in characters


def lang_of(language_code: str | None) -> str:
    """A Telegram user's ``language_code`` as ours: English for "en*", otherwise Russian."""
    return "en" if (language_code or "").lower().startswith("en") else "ru"


def parse_command(text: str) -> tuple[str, str]:
    """``"/start@my_bot ABC"`` -> ``("start", "ABC")``; not a command -> ``("", text)``."""
    text = (text or "").strip()
    if not text.startswith("/"):
        return "", text
    head, _, rest = text.partition(" ")
    command = head[1:].split("@", 1)[0].lower()
    return command, rest.strip()


def _cut(text: str) -> str:
    return text if len(text) <= MAX_TEXT else text[: MAX_TEXT - 1] + "…"


def alert_text(notification: Notification) -> str:
    open_label = "Open the account" if notification.lang == "en" else "Открыть счёт"
    parts = [f"<b>{html.escape(notification.subject)}</b>"]
    if notification.text.strip():
        parts.append(html.escape(notification.text.strip()))
    if notification.link:
        parts.append(f'<a href="{html.escape(notification.link, quote=True)}">{open_label}</a>')
    return _cut("\n\n".join(parts))


def help_text(lang: str, linked: bool) -> str:
    if lang == "en":
        lines = [
            "<b>Household accounts bot</b>",
            "/balance — every account's balance and status",
            "/help — this help",
        ]
        if not linked:
            lines.append(
                "This chat is not linked yet: open the dashboard's Settings → Telegram, "
                "then send the bot /start CODE with the code shown there."
            )
        else:
            lines.append("Alerts about your accounts arrive in this chat.")
        return "\n".join(lines)
    lines = [
        "<b>Бот счетов семьи</b>",
        "/balance — баланс и состояние каждого счёта",
        "/help — эта справка",
    ]
    if not linked:
        lines.append(
            "Этот чат ещё не связан: откройте на панели Настройки → Telegram и отправьте "
            "боту /start КОД с кодом оттуда."
        )
    else:
        lines.append("Уведомления о счетах приходят в этот чат.")
    return "\n".join(lines)


def linked_text(lang: str) -> str:
    if lang == "en":
        return (
            "✅ This chat is linked: alerts about your accounts will arrive here.\n"
            "/balance shows every account now."
        )
    return (
        "✅ Чат связан: уведомления о счетах будут приходить сюда.\n"
        "/balance покажет все счета прямо сейчас."
    )


def wrong_code_text(lang: str) -> str:
    if lang == "en":
        return (
            "This code is unknown or has expired (codes last 30 minutes and work once). "
            "Take a fresh one from the dashboard: Settings → Telegram."
        )
    return (
        "Код не подошёл: он неверный или устарел (код действует 30 минут и один раз). "
        "Возьмите новый на панели: Настройки → Telegram."
    )


def not_linked_text(lang: str) -> str:
    if lang == "en":
        return "This chat is not linked to a household. Send /start CODE with the dashboard's code."
    return "Этот чат не связан с семьёй. Отправьте /start КОД с кодом с панели."


def balance_text(lines: Sequence[AccountLine], lang: str) -> str:
    """One line per account: a mark (✅ ok, ⚠️ needs attention, ⏳ not read yet), title,
    balance, status."""
    if not lines:
        return "No accounts yet." if lang == "en" else "Счетов пока нет."
    out = ["<b>Balances</b>" if lang == "en" else "<b>Балансы</b>"]
    for line in lines:
        mark = "⚠️" if line.attention else ("✅" if line.balance else "⏳")
        balance = line.balance or ("no balance yet" if lang == "en" else "баланса ещё нет")
        text = f"{mark} {html.escape(line.title)}: {html.escape(balance)}"
        if line.attention:
            text += f" — {html.escape(line.status_text)}"
        elif line.days_left is not None:
            lasts = "lasts" if lang == "en" else "хватит на"
            text += f" ({lasts} {format_days(line.days_left, lang)})"
        out.append(text)
    return _cut("\n".join(out))
