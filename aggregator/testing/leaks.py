"""Finding secrets where they must not be: log records, exception texts, reprs.

:class:`LeakGuard` collects the secrets a test handled (passwords, codes, tokens), captures every
log record at DEBUG while it is active, and fails with a readable message when one of those
secrets shows up, raw or encoded (base64, URL-encoded, hex).
"""

from __future__ import annotations

import base64
import binascii
import json
import logging
import re
import traceback
import urllib.parse
from collections.abc import Iterable, Iterator, Mapping
from contextlib import contextmanager
from typing import Any

from ..core.secret import Secret

__all__ = [
    "MIN_SECRET_LENGTH",
    "LeakGuard",
    "SecretLeak",
    "byte_forms",
    "encodings_of",
    "sensitive_values",
]

# Shorter values (a 4-digit code) match by chance in timestamps and ports: not looked for.
MIN_SECRET_LENGTH = 6

_SENSITIVE_KEY = re.compile(
    r"pass|secret|token|cookie|session|auth|code|otp|captcha|csrf|sid|key|bearer", re.I
)


class SecretLeak(AssertionError):
    """A secret was found where it must not be. The message names the place, not the secret."""


def encodings_of(secret: str) -> set[str]:
    """The forms a leaked secret may take: raw, URL-encoded, base64 (three alignments), hex."""
    raw = secret.encode()
    forms = {secret, urllib.parse.quote(secret), urllib.parse.quote_plus(secret)}
    forms.add(binascii.hexlify(raw).decode())
    forms.add(binascii.hexlify(raw).decode().upper())
    for prefix in (b"", b"x", b"xx"):
        # base64 of the secret at each alignment, with the unstable edge characters cut off.
        encoded = base64.b64encode(prefix + raw).decode().rstrip("=")
        start = {0: 0, 1: 2, 2: 3}[len(prefix)]
        core = encoded[start:-2] if len(encoded) - start > 4 else ""
        if len(core) >= MIN_SECRET_LENGTH:
            forms.add(core)
    return {f for f in forms if len(f) >= MIN_SECRET_LENGTH}


def byte_forms(secret: str) -> dict[bytes, str]:
    """Every byte pattern a value may take in a file, with a name for a failure message: raw,
    URL-encoded, base64 (every alignment), hex, UTF-16, Python- and JSON-escaped."""
    forms: dict[bytes, str] = {}
    for form in encodings_of(secret):
        forms[form.encode()] = "raw" if form == secret else "encoded (url/base64/hex)"
    forms[secret.encode("utf-16-le")] = "utf-16"
    forms[secret.encode("utf-16-be")] = "utf-16"
    forms[secret.encode("unicode_escape")] = "escaped"
    forms[json.dumps(secret)[1:-1].encode()] = "JSON-escaped"
    return {form: kind for form, kind in forms.items() if len(form) >= MIN_SECRET_LENGTH}


def sensitive_values(data: Any, *, under_sensitive_key: bool = False) -> list[str]:
    """String values stored under sensitive keys (token, cookie, session, ...) in ``data``."""
    out: list[str] = []
    if isinstance(data, Mapping):
        for key, value in data.items():
            sensitive = under_sensitive_key or bool(_SENSITIVE_KEY.search(str(key)))
            out.extend(sensitive_values(value, under_sensitive_key=sensitive))
    elif isinstance(data, list | tuple):
        for value in data:
            out.extend(sensitive_values(value, under_sensitive_key=under_sensitive_key))
    elif isinstance(data, Secret):
        out.append(data.reveal())
    elif isinstance(data, str) and under_sensitive_key:
        out.append(data)
    return out


class _Collector(logging.Handler):
    def __init__(self) -> None:
        super().__init__(level=logging.DEBUG)
        self.setFormatter(logging.Formatter("%(levelname)s %(name)s: %(message)s"))
        self.lines: list[str] = []

    def emit(self, record: logging.LogRecord) -> None:
        try:
            self.lines.append(self.format(record))
        except Exception as exc:  # a broken log call is itself worth reporting
            self.lines.append(f"<unformattable log record from {record.name}: {exc!r}>")


class LeakGuard:
    """Collects secrets and captured log lines; :meth:`check` fails when a secret leaked."""

    def __init__(self) -> None:
        self._secrets: set[str] = set()
        self._handler = _Collector()
        self._texts: list[tuple[str, str]] = []  # (where, text) checked at the end

    # -- secrets -------------------------------------------------------------------------
    def add(self, *values: str | Secret | Iterable[str] | None) -> None:
        """Remember secret values (strings, Secrets, or iterables of strings)."""
        for value in values:
            if value is None:
                continue
            if isinstance(value, Secret):
                value = value.reveal()
            if isinstance(value, str):
                if len(value) >= MIN_SECRET_LENGTH:
                    self._secrets.add(value)
            else:
                self.add(*value)

    @property
    def secrets(self) -> frozenset[str]:
        return frozenset(self._secrets)

    # -- places to look ------------------------------------------------------------------
    @property
    def log_lines(self) -> list[str]:
        return list(self._handler.lines)

    def remember(self, where: str, obj: object) -> None:
        """Keep ``str`` and ``repr`` of ``obj`` to be checked by :meth:`check`."""
        self._texts.append((f"str({where})", _safe(str, obj)))
        self._texts.append((f"repr({where})", _safe(repr, obj)))
        if isinstance(obj, BaseException):
            text = "".join(traceback.format_exception(obj))
            self._texts.append((f"the traceback of {where}", text))
            to_dict = getattr(obj, "to_dict", None)
            if callable(to_dict):
                self._texts.append((f"{where}.to_dict()", _safe(lambda o: str(to_dict()), obj)))

    @contextmanager
    def capture_logs(self) -> Iterator[LeakGuard]:
        """Capture every log record at DEBUG (root logger) while the block runs."""
        from ..logs import unscrubbed_records

        root = logging.getLogger()
        old_level = root.level
        # First among the handlers, before any redacting filter rewrites the record in place.
        root.handlers.insert(0, self._handler)
        root.setLevel(logging.DEBUG)
        try:
            with unscrubbed_records():
                yield self
        finally:
            root.removeHandler(self._handler)
            root.setLevel(old_level)

    # -- the check -----------------------------------------------------------------------
    def find(self, text: str) -> str | None:
        """The form of a known secret found in ``text`` (a description, not the secret)."""
        for secret in self._secrets:
            for form in encodings_of(secret):
                if form in text:
                    kind = "raw" if form == secret else "encoded"
                    return f"a secret of {len(secret)} characters ({kind})"
        return None

    def check(self, extra: Iterable[tuple[str, str]] = ()) -> None:
        """Raise :class:`SecretLeak` naming where a secret appeared (never the secret)."""
        places = [*self._texts, *extra]
        places.extend((f"log line {i + 1}", line) for i, line in enumerate(self._handler.lines))
        for where, text in places:
            found = self.find(text)
            if found:
                raise SecretLeak(f"{found} appears in {where}: {_mask(text, self._secrets)}")


def _safe(fn: Any, obj: object) -> str:
    try:
        return str(fn(obj))
    except Exception as exc:
        return f"<{fn.__name__} failed: {exc!r}>"


def _mask(text: str, secrets: Iterable[str]) -> str:
    """The offending text with every secret form starred out, cut short, for the message."""
    for secret in secrets:
        for form in encodings_of(secret):
            text = text.replace(form, "<SECRET>")
    return text if len(text) <= 300 else text[:300] + "…"
