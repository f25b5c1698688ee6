"""The entry point of the reference plugin (``reference = "aggregator_reference.plugin"``)."""

from __future__ import annotations

from collections.abc import Callable

from aggregator import Provider, hookimpl

from .provider import ReferenceProvider

__all__ = ["register_providers"]


@hookimpl
def register_providers(register: Callable[[type[Provider]], None]) -> None:
    register(ReferenceProvider)
