"""The hooks a plugin implements. Hooks are synchronous and only register things.

A plugin is a module (or object) with ``@hookimpl`` functions, found through the entry point
group ``aggregator``. The core passes a ``register`` callback and keeps the rules (duplicate ids,
validation), as simonw's ``llm`` does. Every hook here has a section in docs/plugins.md and a
test of its own; a test fails otherwise.
"""

from __future__ import annotations

from collections.abc import Callable
from typing import TYPE_CHECKING

import pluggy

if TYPE_CHECKING:
    from .notify import Notifier
    from .provider import Provider

__all__ = ["hookimpl", "hookspec"]

hookspec = pluggy.HookspecMarker("aggregator")
hookimpl = pluggy.HookimplMarker("aggregator")


@hookspec
def register_providers(register: Callable[[type[Provider]], None]) -> None:
    """Register operator providers.

    :param register: call it once per :class:`~aggregator.core.provider.Provider` subclass;
        a duplicate id or a class that breaks the contract is refused and reported.
    """


@hookspec
def register_notifiers(register: Callable[[type[Notifier]], None]) -> None:
    """Register notification channels (e-mail is built in; chat bots and others by plugins).

    :param register: call it once per :class:`~aggregator.core.notify.Notifier` subclass.
    """
