"""A diagnostics trace as one HAR 1.2 file, redacted before anything is written.

HAR (HTTP Archive 1.2, http://www.softwareishard.com/blog/har-12-spec/) opens in every browser's
developer tools (Network -> Import HAR). The file holds, in this order:

- ``log.comment``: the summary of what was redacted, in words, first thing a reader sees;
- ``log._aggregator``: the aggregator's version, the plugin's name and version, the operator,
  the steps run (login, poll) and their outcome (the contract error's key, never a secret);
- ``log._redaction``: the same summary as counts;
- ``log.pages``: each browser page's HTML after its scripts ran (``_html``);
- ``log.entries``: every HTTP exchange, httpx and browser alike (``_source``).

Credentials, codes, tokens, cookies and authorisation headers are removed; personal data is
masked consistently (see :mod:`aggregator.diagnostics.redaction`).
"""

from __future__ import annotations

import json
import urllib.parse
from collections.abc import Mapping
from typing import Any

from .recorder import Exchange, PageSnapshot, Recording
from .redaction import REMOVED, Redactor

__all__ = ["HAR_MEDIA_TYPE", "build_har", "dump_har"]

HAR_MEDIA_TYPE = "application/json"

# Headers that carry credentials or sessions: their values never reach the file.
_SECRET_HEADERS = {
    "authorization",
    "proxy-authorization",
    "cookie",
    "set-cookie",
    "x-auth-token",
    "x-csrf-token",
    "x-xsrf-token",
    "x-api-key",
    "x-session-id",
    "x-access-token",
}
_TEXT_MEDIA = ("json", "text", "html", "xml", "javascript", "x-www-form-urlencoded", "csv")


def _header(headers: list[tuple[str, str]], name: str) -> str:
    return next((v for k, v in headers if k.lower() == name), "")


def _is_text(media_type: str, body: bytes) -> bool:
    if any(kind in media_type.lower() for kind in _TEXT_MEDIA):
        return True
    if not media_type and body:
        try:
            body.decode("utf-8")
        except UnicodeDecodeError:
            return False
        return True
    return False


def _learn_exchange(redactor: Redactor, exchange: Exchange) -> None:
    """First pass: every sensitive value the trace itself reveals becomes known."""
    for name, value in exchange.request_headers + exchange.response_headers:
        lowered = name.lower()
        if lowered in _SECRET_HEADERS or redactor.key_kind(name, value) == "secret":
            redactor.secret(value)
            for part in value.replace(",", ";").split(";"):  # cookie values one by one
                key, _, cookie = part.strip().partition("=")
                if cookie and key.lower() not in {"path", "domain", "expires", "max-age"}:
                    redactor.secret(cookie)
            bearer = value.split(" ", 1)[-1]
            redactor.secret(bearer)
    query = urllib.parse.urlsplit(exchange.url).query
    redactor.learn(dict(urllib.parse.parse_qsl(query, keep_blank_values=True)))
    for body, media in (
        (exchange.request_body, _header(exchange.request_headers, "content-type")),
        (exchange.response_body, _header(exchange.response_headers, "content-type")),
    ):
        parsed = _structured(body, media)
        if parsed is not None:
            redactor.learn(parsed)


def _structured(body: bytes, media: str) -> Any:
    if not body:
        return None
    if "json" in media or body[:1] in (b"{", b"["):
        try:
            return json.loads(body)
        except ValueError:
            return None
    if "x-www-form-urlencoded" in media:
        try:
            return dict(urllib.parse.parse_qsl(body.decode(), keep_blank_values=True))
        except UnicodeDecodeError:
            return None
    return None


def _body_text(redactor: Redactor, body: bytes, media: str) -> tuple[str, str | None]:
    """The redacted text of a body, or ("", note) for a binary body (left out)."""
    if not body:
        return "", None
    if not _is_text(media, body):
        return "", f"binary body of {len(body)} bytes left out"
    parsed = _structured(body, media)
    if parsed is not None and "x-www-form-urlencoded" in media:
        cleaned = redactor.data(parsed)
        return urllib.parse.urlencode(cleaned), None
    if parsed is not None:
        return json.dumps(redactor.data(parsed), ensure_ascii=False), None
    return redactor.text(body.decode("utf-8", errors="replace")), None


def _url(redactor: Redactor, url: str) -> str:
    parts = urllib.parse.urlsplit(url)
    query = urllib.parse.parse_qsl(parts.query, keep_blank_values=True)
    cleaned = redactor.data(dict(query)) if query else {}
    new_query = urllib.parse.urlencode(list(cleaned.items())) if query else ""
    path = redactor.text(urllib.parse.unquote(parts.path))
    return urllib.parse.urlunsplit(
        (parts.scheme, parts.netloc, urllib.parse.quote(path, safe="/%@:+,;=-_.~[]"), new_query, "")
    )


def _headers(redactor: Redactor, headers: list[tuple[str, str]]) -> list[dict[str, str]]:
    out = []
    for name, value in headers:
        lowered = name.lower()
        if lowered in _SECRET_HEADERS or redactor.key_kind(name, value) == "secret":
            redactor.removed[f"{lowered} headers"] += 1
            out.append({"name": name, "value": REMOVED})
        else:
            out.append({"name": name, "value": redactor.text(value)})
    return out


def _entry(redactor: Redactor, exchange: Exchange) -> dict[str, Any]:
    request_media = _header(exchange.request_headers, "content-type")
    response_media = _header(exchange.response_headers, "content-type")
    url = _url(redactor, exchange.url)
    request: dict[str, Any] = {
        "method": exchange.method,
        "url": url,
        "httpVersion": "HTTP/1.1",
        "cookies": [],
        "headers": _headers(redactor, exchange.request_headers),
        "queryString": [
            {"name": k, "value": v}
            for k, v in urllib.parse.parse_qsl(
                urllib.parse.urlsplit(url).query, keep_blank_values=True
            )
        ],
        "headersSize": -1,
        "bodySize": len(exchange.request_body),
    }
    if exchange.request_body:
        text, note = _body_text(redactor, exchange.request_body, request_media)
        request["postData"] = {
            "mimeType": request_media or "application/octet-stream",
            "text": text,
        }
        if note:
            request["postData"]["comment"] = note
    text, note = _body_text(redactor, exchange.response_body, response_media)
    content: dict[str, Any] = {
        "size": len(exchange.response_body),
        "mimeType": response_media or "application/octet-stream",
        "text": text,
    }
    if note:
        content["comment"] = note
    location = _header(exchange.response_headers, "location")
    entry: dict[str, Any] = {
        "startedDateTime": exchange.started.isoformat(),
        "time": round(exchange.elapsed_ms, 3),
        "request": request,
        "response": {
            "status": exchange.status,
            "statusText": exchange.reason,
            "httpVersion": "HTTP/1.1",
            "cookies": [],
            "headers": _headers(redactor, exchange.response_headers),
            "content": content,
            "redirectURL": _url(redactor, location) if location else "",
            "headersSize": -1,
            "bodySize": len(exchange.response_body),
        },
        "cache": {},
        "timings": {"send": 0, "wait": round(exchange.elapsed_ms, 3), "receive": 0},
        "_source": exchange.source,
    }
    if exchange.error:
        entry["response"]["_error"] = exchange.error
    return entry


def _page(redactor: Redactor, index: int, page: PageSnapshot) -> dict[str, Any]:
    return {
        "startedDateTime": page.taken.isoformat(),
        "id": f"page_{index}",
        "title": redactor.text(page.title) or _url(redactor, page.url),
        "pageTimings": {},
        "_url": _url(redactor, page.url),
        "_html": redactor.text(page.html),
    }


def _summary_text(summary: Mapping[str, Any]) -> str:
    removed = ", ".join(f"{n} {what}" for what, n in summary["removed"].items()) or "nothing"
    masked = ", ".join(f"{n} {kind}" for kind, n in summary["masked"].items()) or "nothing"
    return (
        "Redacted by the aggregator before writing. Removed (credentials, codes, tokens, "
        f"cookies, authorisation headers): {removed}. Masked consistently (the same value has "
        f"the same stand-in): {masked}."
    )


def build_har(recording: Recording, redactor: Redactor, meta: Mapping[str, Any]) -> dict[str, Any]:
    """The HAR document of ``recording``, redacted. ``meta`` goes to ``log._aggregator``."""
    for exchange in recording.exchanges:
        _learn_exchange(redactor, exchange)
    exchanges = sorted(recording.exchanges, key=lambda e: e.started)
    entries = [_entry(redactor, exchange) for exchange in exchanges]
    pages = [_page(redactor, i, page) for i, page in enumerate(recording.pages, start=1)]
    aggregator_meta = json.loads(redactor.scrub(json.dumps(redactor.data(dict(meta)))))
    summary = redactor.summary()
    document = {
        "log": {
            "version": "1.2",
            "comment": _summary_text(summary),
            "_redaction": summary,
            "_aggregator": aggregator_meta,
            "creator": {
                "name": "aggregator",
                "version": str(meta.get("aggregator_version", "")),
            },
            "pages": pages,
            "entries": entries,
        }
    }
    # The last pass over the whole file: no known value in any encoding.
    text = redactor.scrub(json.dumps(document, ensure_ascii=False))
    result: dict[str, Any] = json.loads(text)
    return result


def dump_har(document: Mapping[str, Any]) -> bytes:
    """The file's bytes (UTF-8 JSON, indented for a reader)."""
    return json.dumps(document, ensure_ascii=False, indent=1).encode()
