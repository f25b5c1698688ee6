"""Replay a diagnostics file: a household's HAR becomes a transport that answers the same requests.

A plugin's author turns the file a household sent (``aggregator accounts diagnose``, or the
account page's "Скачать диагностику") into a regression test in a few lines::

    from aggregator import Session
    from aggregator.testing import load_har, replay_provider, replayed_account

    async def test_the_balance_of_a_households_trace() -> None:
        har = load_har(Path(__file__).parent / "payloads" / "diagnostics.har")
        provider = replay_provider(MyProvider, har)
        result = await provider.poll(Session(provider="my", data={}), replayed_account(har))
        assert result.balance.amount.amount == Decimal("840.32")

Requests are matched by method, path and query (the host is ignored, so the recorded base URL
may point anywhere); the same request asked again gets the next recorded answer, and the last
one after that. Headers and bodies are not compared: tokens and cookies were removed from the
file, so the session given to the provider may hold anything. A request the file does not hold
fails the test with :class:`UnrecordedRequest`, naming it and what was recorded.
"""

from __future__ import annotations

import json
import urllib.parse
from collections import defaultdict, deque
from collections.abc import Mapping
from pathlib import Path
from typing import Any, TypeVar

import httpx

from ..core.flows import FlowRegistry
from ..core.provider import Provider, ProviderContext

__all__ = [
    "ReplayTransport",
    "UnrecordedRequest",
    "load_har",
    "replay_provider",
    "replayed_account",
]

_P = TypeVar("_P", bound=Provider)
_HOP_HEADERS = {"content-encoding", "content-length", "transfer-encoding", "connection"}


class UnrecordedRequest(AssertionError):
    """The provider asked for something the diagnostics file does not hold."""


def load_har(source: str | Path | bytes | Mapping[str, Any]) -> dict[str, Any]:
    """A HAR document from a path, its bytes or an already decoded mapping."""
    if isinstance(source, Mapping):
        return dict(source)
    raw = source if isinstance(source, bytes) else Path(source).read_bytes()
    document = json.loads(raw)
    if not isinstance(document, dict) or "log" not in document:
        raise ValueError("not a HAR file (no log)")
    return document


def _key(method: str, url: str) -> tuple[str, str, tuple[tuple[str, str], ...]]:
    parts = urllib.parse.urlsplit(url)
    query = urllib.parse.parse_qsl(parts.query, keep_blank_values=True)
    return method.upper(), urllib.parse.unquote(parts.path), tuple(sorted(query))


class ReplayTransport(httpx.AsyncBaseTransport):
    """An httpx transport answering from a HAR file's entries (see the module docstring)."""

    def __init__(
        self, har: str | Path | bytes | Mapping[str, Any], *, include_browser: bool = False
    ) -> None:
        document = load_har(har)
        self.answers: dict[tuple[Any, ...], deque[dict[str, Any]]] = defaultdict(deque)
        self.last: dict[tuple[Any, ...], dict[str, Any]] = {}
        for entry in document["log"].get("entries", []):
            if entry.get("_source", "http") != "http" and not include_browser:
                continue
            request = entry["request"]
            self.answers[_key(request["method"], request["url"])].append(entry["response"])
        self.requests: list[httpx.Request] = []  # what the provider asked, in order

    async def handle_async_request(self, request: httpx.Request) -> httpx.Response:
        self.requests.append(request)
        key = _key(request.method, str(request.url))
        queue = self.answers.get(key)
        if queue:
            response = self.last[key] = queue.popleft()
        elif key in self.last:
            response = self.last[key]
        else:
            recorded = "\n".join(f"  {m} {p}{'?' if q else ''}{q}" for m, p, q in self._listing())
            raise UnrecordedRequest(
                f"the diagnostics file holds no answer to {request.method} {key[1]} "
                f"{dict(key[2]) or ''}; it holds:\n{recorded}"
            )
        headers = [
            (h["name"], h["value"])
            for h in response.get("headers", [])
            if h["name"].lower() not in _HOP_HEADERS
        ]
        content = response.get("content", {})
        text = content.get("text") or ""
        body = text.encode() if content.get("encoding") != "base64" else _b64(text)
        return httpx.Response(
            int(response["status"]), headers=headers, content=body, request=request
        )

    def _listing(self) -> list[tuple[str, str, str]]:
        keys = set(self.answers) | set(self.last)
        return sorted((m, p, urllib.parse.urlencode(list(q))) for m, p, q in keys)


def _b64(text: str) -> bytes:
    import base64

    return base64.b64decode(text)


def replayed_account(har: Mapping[str, Any]) -> str:
    """The id of the account the diagnostics polled (as masked in the file)."""
    return str(har["log"]["_aggregator"]["account"])


def replay_provider(
    provider_class: type[_P],
    har: str | Path | bytes | Mapping[str, Any],
    *,
    base_url: str | None = None,
    include_browser: bool = False,
) -> _P:
    """An instance of ``provider_class`` whose HTTP client answers from ``har``.

    ``base_url`` defaults to the one the diagnostics were taken with (only its path matters).
    """
    document = load_har(har)
    meta = document["log"].get("_aggregator", {})
    transport = ReplayTransport(document, include_browser=include_browser)
    http = httpx.AsyncClient(transport=transport, follow_redirects=False)
    context = ProviderContext(
        http=http,
        base_url=base_url or str(meta.get("base_url") or provider_class.default_base_url),
        flows=FlowRegistry(),
        hosts=dict(meta.get("hosts") or {}),
    )
    return provider_class(context)
