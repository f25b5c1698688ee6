"""What each operator sees of its clients: requests in flight now, the most at once, the total.

:class:`InFlightMiddleware` counts every request to an operator's dialect (the first path
segment: ``beeline``, ``rostelecom``, ...) while it is being answered, the body included. The
simulation API reads it (``GET /sim/in-flight``) and resets the peaks (``DELETE /sim/in-flight``),
so a test of several aggregator workers can check that, together, they never sent one
operator more requests at once than its plugin declares.
"""

from __future__ import annotations

from collections.abc import Collection
from dataclasses import dataclass, field
from typing import Any

from litestar.types import ASGIApp, Receive, Scope, Send

__all__ = ["InFlight", "InFlightMiddleware"]


@dataclass
class InFlight:
    in_flight: dict[str, int] = field(default_factory=dict)
    peak: dict[str, int] = field(default_factory=dict)
    requests: dict[str, int] = field(default_factory=dict)

    def enter(self, operator: str) -> None:
        now = self.in_flight.get(operator, 0) + 1
        self.in_flight[operator] = now
        if now > self.peak.get(operator, 0):
            self.peak[operator] = now
        self.requests[operator] = self.requests.get(operator, 0) + 1

    def leave(self, operator: str) -> None:
        self.in_flight[operator] -= 1

    def snapshot(self) -> dict[str, Any]:
        operators = sorted(set(self.peak) | set(self.requests))
        return {
            "operators": {
                op: {
                    "in_flight": self.in_flight.get(op, 0),
                    "peak": self.peak.get(op, 0),
                    "requests": self.requests.get(op, 0),
                }
                for op in operators
            }
        }

    def reset(self) -> None:
        """Forget the peaks and totals (what is in flight stays counted)."""
        self.peak = {op: n for op, n in self.in_flight.items() if n}
        self.requests = {}


class InFlightMiddleware:
    """ASGI middleware counting the requests of each operator (see the module docstring)."""

    def __init__(self, app: ASGIApp, in_flight: InFlight, operators: Collection[str]) -> None:
        self.app = app
        self.counts = in_flight
        self.operators = frozenset(operators)

    async def __call__(self, scope: Scope, receive: Receive, send: Send) -> None:
        if scope["type"] != "http":  # type: ignore[comparison-overlap]
            await self.app(scope, receive, send)
            return
        operator = scope["path"].split("/", 2)[1] if scope["path"].count("/") else ""
        if operator not in self.operators:
            await self.app(scope, receive, send)
            return
        self.counts.enter(operator)
        try:
            await self.app(scope, receive, send)
        finally:
            self.counts.leave(operator)
