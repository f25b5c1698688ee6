"""The entry point of the netbynet plugin: registers :class:`NetbynetProvider`."""

from __future__ import annotations

from collections.abc import Callable

from aggregator import Provider, hookimpl

from .provider import NetbynetProvider

__all__ = ["register_providers"]


@hookimpl
def register_providers(register: Callable[[type[Provider]], None]) -> None:
    register(NetbynetProvider)
