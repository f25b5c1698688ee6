"""The built-in e-mail notifier, registered like any third-party plugin's notifier.

Declared as the entry point ``email`` in the group ``aggregator`` of the root pyproject.
"""

from __future__ import annotations

from collections.abc import Callable

from ..core.hookspecs import hookimpl
from ..core.notify import Notifier
from .email import EmailNotifier

__all__ = ["register_notifiers"]


@hookimpl
def register_notifiers(register: Callable[[type[Notifier]], None]) -> None:
    register(EmailNotifier)
