"""The plugin module named by the entry point ``beeline`` in the group ``aggregator``."""

from __future__ import annotations

from collections.abc import Callable

from aggregator import Provider, hookimpl

from .provider import BeelineProvider

__all__ = ["register_providers"]


@hookimpl
def register_providers(register: Callable[[type[Provider]], None]) -> None:
    """Register the Beeline provider."""
    register(BeelineProvider)
