"""The entry point ``telegram`` of the group ``aggregator``: registers the notifier."""

from __future__ import annotations

from collections.abc import Callable

from aggregator import Notifier, hookimpl

from .notifier import TelegramNotifier

__all__ = ["register_notifiers"]


@hookimpl
def register_notifiers(register: Callable[[type[Notifier]], None]) -> None:
    register(TelegramNotifier)
