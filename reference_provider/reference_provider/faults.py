"""Injected faults: one ASGI middleware applying to every dialect.

A :class:`Fault` matches requests by operator (the first path segment: ``reference``,
``bashtel``, ``beeline``, ``rostelecom``, ``netbynet``, ``idp``) and path (a prefix, or a glob
when it holds ``*?[``), and fires ``count`` times (None: until cleared) with ``probability``.
The simulation API (``/sim``) is never faulted. With no fault configured the middleware costs
one attribute check per request.

Kinds:
  latency           wait ``seconds`` (default 1), then answer normally
  timeout           wait ``seconds`` (default 30), then 504 (the client should give up first)
  500, 502, 503     that status with a small HTML error page
  429               429 with ``Retry-After: retry_after`` (default 30; seconds, or any text
                    as the header's value: an HTTP-date, or garbage as some servers send)
  malformed_json    200, ``application/json``, a body that is not JSON
  truncated         the real answer cut in half (Content-Length matches the cut body)
  changed_html      the real answer with its markup changed: HTML ``id``/``class`` attributes
                    renamed, JSON keys renamed (what a redesign of the operator's site does)
  expired_session   the session used by this request is ended (the dialect answers with its
                    own "session expired" error) — see ``FORCED_FAULTS`` in the domain
  captcha           like expired_session, and the next login demands a captcha; a login
                    request itself gets the captcha demanded
"""

from __future__ import annotations

import asyncio
import datetime as dt
import email.utils
import fnmatch
import itertools
import json
import random
import re
import threading
from collections.abc import Callable
from dataclasses import asdict, dataclass, field
from typing import Any

from litestar.types import ASGIApp, Message, Receive, Scope, Send

from .domain.errors import InvalidInput
from .domain.state import FORCED_FAULTS

__all__ = ["FAULT_KINDS", "Fault", "FaultMiddleware", "FaultSet"]

FAULT_KINDS = (
    "latency",
    "timeout",
    "500",
    "502",
    "503",
    "429",
    "malformed_json",
    "truncated",
    "changed_html",
    "expired_session",
    "captcha",
)


@dataclass
class Fault:
    id: int
    kind: str
    operator: str | None = None
    path: str | None = None
    count: int | None = None  # remaining; None = unlimited
    probability: float = 1.0
    seconds: float | None = None
    retry_after: int | str = 30
    hits: int = 0
    _glob: bool = field(default=False, repr=False)

    def matches(self, operator: str, path: str) -> bool:
        if self.operator is not None and self.operator != operator:
            return False
        if self.path:
            if self._glob:
                return fnmatch.fnmatchcase(path, self.path)
            return path.startswith(self.path)
        return True

    def to_dict(self) -> dict[str, Any]:
        d = asdict(self)
        d.pop("_glob")
        return d


class FaultSet:
    """The configured faults; shared by the middleware, the sim API and in-process tests."""

    def __init__(self, seed: int = 1) -> None:
        self.rules: list[Fault] = []
        self._rng = random.Random(seed)
        self._ids = itertools.count(1)
        self._lock = threading.Lock()

    def add(
        self,
        kind: str,
        *,
        operator: str | None = None,
        path: str | None = None,
        count: int | None = None,
        probability: float = 1.0,
        seconds: float | None = None,
        retry_after: int | str = 30,
    ) -> Fault:
        kind = str(kind)
        if kind not in FAULT_KINDS:
            raise InvalidInput(f"unknown fault kind {kind!r}; one of {', '.join(FAULT_KINDS)}")
        if count is not None and count < 1:
            raise InvalidInput("count must be >= 1 (or omitted for unlimited)")
        if not 0.0 < probability <= 1.0:
            raise InvalidInput("probability must be in (0, 1]")
        if seconds is not None and not 0 <= seconds <= 600:
            raise InvalidInput("seconds must be in [0, 600]")
        fault = Fault(
            next(self._ids),
            kind,
            operator or None,
            path or None,
            count,
            probability,
            seconds,
            retry_after,
        )
        fault._glob = bool(path and any(c in path for c in "*?["))
        with self._lock:
            self.rules.append(fault)
        return fault

    def clear(self, operator: str | None = None) -> int:
        with self._lock:
            before = len(self.rules)
            self.rules = [f for f in self.rules if operator is not None and f.operator != operator]
            return before - len(self.rules)

    def remove(self, fault_id: int) -> bool:
        with self._lock:
            before = len(self.rules)
            self.rules = [f for f in self.rules if f.id != fault_id]
            return len(self.rules) != before

    def pick(self, operator: str, path: str) -> Fault | None:
        """The fault that fires for this request, if any (spends one of its count)."""
        with self._lock:
            for fault in self.rules:
                if not fault.matches(operator, path):
                    continue
                if fault.probability < 1.0 and self._rng.random() >= fault.probability:
                    continue
                fault.hits += 1
                if fault.count is not None:
                    fault.count -= 1
                    if fault.count <= 0:
                        self.rules.remove(fault)
                return fault
        return None


_ERROR_PAGE = (
    "<html><head><title>{status} {reason}</title></head><body><center><h1>{status} {reason}"
    "</h1></center><hr><center>nginx</center></body></html>"
)
_REASONS = {
    500: "Internal Server Error",
    502: "Bad Gateway",
    503: "Service Unavailable",
    504: "Gateway Time-out",
    429: "Too Many Requests",
}
_ATTR = re.compile(rb'\b(id|class)="([^"]*)"')


async def _respond(
    send: Send,
    status: int,
    body: bytes,
    content_type: bytes,
    extra: list[tuple[bytes, bytes]] | None = None,
) -> None:
    headers = [(b"content-type", content_type), (b"content-length", str(len(body)).encode())]
    await send(
        {"type": "http.response.start", "status": status, "headers": headers + (extra or [])}
    )
    await send({"type": "http.response.body", "body": body, "more_body": False})


def _rename_keys(value: Any) -> Any:
    if isinstance(value, dict):
        return {f"v2_{k}": _rename_keys(v) for k, v in value.items()}
    if isinstance(value, list):
        return [_rename_keys(v) for v in value]
    return value


def _change_markup(body: bytes, content_type: str) -> bytes:
    if "json" in content_type:
        try:
            return json.dumps(_rename_keys(json.loads(body)), ensure_ascii=False).encode()
        except ValueError:
            return body
    return _ATTR.sub(
        lambda m: m.group(1) + b'="v2-' + m.group(2).replace(b" ", b" v2-") + b'"', body
    )


class FaultMiddleware:
    """ASGI middleware applying :class:`FaultSet` rules; see the module docstring."""

    def __init__(self, app: ASGIApp, faults: FaultSet) -> None:
        self.app = app
        self.faults = faults

    async def __call__(self, scope: Scope, receive: Receive, send: Send) -> None:
        if not self.faults.rules or scope["type"] != "http":  # type: ignore[comparison-overlap]
            await self.app(scope, receive, send)
            return
        path: str = scope["path"]
        operator = path.split("/", 2)[1] if path.count("/") >= 1 else ""
        if operator == "sim":
            await self.app(scope, receive, send)
            return
        fault = self.faults.pick(operator, path)
        if fault is None:
            await self.app(scope, receive, send)
            return
        await self._apply(fault, scope, receive, send)

    async def _apply(self, fault: Fault, scope: Scope, receive: Receive, send: Send) -> None:
        kind = fault.kind
        if kind == "latency":
            await asyncio.sleep(1.0 if fault.seconds is None else fault.seconds)
            await self.app(scope, receive, send)
        elif kind == "timeout":
            await asyncio.sleep(30.0 if fault.seconds is None else fault.seconds)
            await _respond(
                send,
                504,
                _ERROR_PAGE.format(status=504, reason=_REASONS[504]).encode(),
                b"text/html",
            )
        elif kind in ("500", "502", "503"):
            status = int(kind)
            await _respond(
                send,
                status,
                _ERROR_PAGE.format(status=status, reason=_REASONS[status]).encode(),
                b"text/html",
            )
        elif kind == "429":
            await _respond(
                send,
                429,
                b'{"error": "too many requests"}',
                b"application/json",
                [(b"retry-after", str(fault.retry_after).encode())],
            )
        elif kind == "malformed_json":
            await _respond(
                send, 200, b'{"status": "ok", "data": {"balance": 12.5,, "curr', b"application/json"
            )
        elif kind in ("truncated", "changed_html"):
            await self._rewrite(kind, scope, receive, send)
        else:  # expired_session, captcha: the domain reads the flag
            token = FORCED_FAULTS.set(frozenset({kind}))
            try:
                await self.app(scope, receive, send)
            finally:
                FORCED_FAULTS.reset(token)

    async def _rewrite(self, kind: str, scope: Scope, receive: Receive, send: Send) -> None:
        start: dict[str, Any] = {}
        chunks: list[bytes] = []

        async def capture(message: Message) -> None:
            if message["type"] == "http.response.start":
                start.update(message)
            elif message["type"] == "http.response.body":
                chunks.append(message.get("body", b""))

        await self.app(scope, receive, capture)
        body = b"".join(chunks)
        headers = [(k, v) for k, v in start.get("headers", []) if k.lower() != b"content-length"]
        content_type = next((v.decode() for k, v in headers if k.lower() == b"content-type"), "")
        body = body[: len(body) // 2] if kind == "truncated" else _change_markup(body, content_type)
        headers.append((b"content-length", str(len(body)).encode()))
        await send(
            {"type": "http.response.start", "status": start.get("status", 200), "headers": headers}
        )
        await send({"type": "http.response.body", "body": body, "more_body": False})


class OperatorDateMiddleware:
    """Dates every answer with the billing clock, as an operator's server dates its answers.

    Plugins read a balance's "as of" from the ``Date`` header; with a fast simulated clock that
    must be the simulated time. Run uvicorn with ``date_header=False`` so there is one Date.
    """

    def __init__(self, app: ASGIApp, now: Callable[[], dt.datetime]) -> None:
        self.app = app
        self.now = now

    async def __call__(self, scope: Scope, receive: Receive, send: Send) -> None:
        if scope["type"] != "http":  # type: ignore[comparison-overlap]
            await self.app(scope, receive, send)
            return

        async def dated(message: Message) -> None:
            if message["type"] == "http.response.start":
                stamp = email.utils.formatdate(self.now().timestamp(), usegmt=True).encode()
                headers = [(k, v) for k, v in message.get("headers", []) if k.lower() != b"date"]
                headers.append((b"date", stamp))
                message = {**message, "headers": headers}
            await send(message)

        await self.app(scope, receive, dated)
