"""The entry point of the bashtel plugin: registers :class:`BashtelProvider`."""

from __future__ import annotations

from collections.abc import Callable

from aggregator import Provider, hookimpl

from .provider import BashtelProvider

__all__ = ["register_providers"]


@hookimpl
def register_providers(register: Callable[[type[Provider]], None]) -> None:
    register(BashtelProvider)
