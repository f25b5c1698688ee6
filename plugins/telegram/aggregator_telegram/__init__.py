"""Telegram for the aggregator: alerts in the household's chats and a bot answering
``/balance`` and ``/help``, through the household's own bot (its token typed on the settings
page). Built only on the public face ``aggregator`` (as any third-party channel would be).

- :mod:`.api`: a small Bot API client (``sendMessage``, ``getUpdates``) and its errors;
- :mod:`.notifier`: :class:`TelegramNotifier`, registered by :mod:`.plugin`;
- :mod:`.bot`: what the bot says, in Russian and English;
- :mod:`.fake`: a fake Bot API server for tests (loopback), shaped like the real one.
"""

from __future__ import annotations

from .notifier import TelegramNotifier

__all__ = ["TelegramNotifier"]
