"""The ``Secret`` type: a string whose ``repr`` and ``str`` never show the value.

Passwords, one-time codes, tokens and cookies travel through the aggregator wrapped in
``Secret`` so that a stray ``print``, log line, traceback or pydantic ``repr`` shows ``'***'``.
The value is read only on purpose, through :meth:`Secret.reveal`.

Every ``Secret`` also joins a bounded, process-wide list of values that must never be shown:
:func:`scrub` replaces each of them in a text with ``***``. The CLI passes every error line
through it, :mod:`aggregator.logs` every log record, :func:`~aggregator.core.errors.redact`
every stored error, so a plugin's exception that quotes a password (``str(exc)``) shows
nothing of it anywhere.
"""

from __future__ import annotations

import threading
from collections import OrderedDict
from typing import Any

from pydantic import GetCoreSchemaHandler
from pydantic_core import core_schema

__all__ = ["Secret", "reveal", "scrub"]

_MIN_SCRUBBED = 6  # shorter values would shred ordinary text
_MIN_DIGITS = 8  # an all-digit value shorter than this (a one-time code) is not scrubbed
_KEEP = 4096  # the most recent secret values remembered (a bounded memory)
_PREFIX = 3
_values: OrderedDict[str, None] = OrderedDict()
_by_prefix: dict[str, list[str]] = {}  # the first characters -> values, longest first
_lock = threading.Lock()


def _remember(value: str) -> None:
    if len(value) < _MIN_SCRUBBED or (value.isdigit() and len(value) < _MIN_DIGITS):
        return
    with _lock:
        if value in _values:
            _values.move_to_end(value)
            return
        _values[value] = None
        bucket = _by_prefix.setdefault(value[:_PREFIX], [])
        bucket.append(value)
        bucket.sort(key=len, reverse=True)
        if len(_values) > _KEEP:
            old, _ = _values.popitem(last=False)
            bucket = _by_prefix.get(old[:_PREFIX], [])
            if old in bucket:
                bucket.remove(old)
            if not bucket:
                _by_prefix.pop(old[:_PREFIX], None)


def scrub(text: str) -> str:
    """``text`` with every secret value this process has seen replaced by ``***``.

    One dictionary look-up per position (by the first characters of the values), so a log
    line costs microseconds however many secrets the process holds.
    """
    if not text or not _by_prefix:
        return text
    out: list[str] = []
    start = i = 0
    end = len(text) - _PREFIX + 1
    buckets = _by_prefix
    while i < end:
        bucket = buckets.get(text[i : i + _PREFIX])
        if bucket:
            for value in tuple(bucket):
                if text.startswith(value, i):
                    out.append(text[start:i])
                    out.append("***")
                    i += len(value)
                    start = i
                    break
            else:
                i += 1
            continue
        i += 1
    if not out:
        return text
    out.append(text[start:])
    return "".join(out)


class Secret:
    """An opaque secret string. ``str()``, ``repr()`` and ``format()`` show ``***``."""

    __slots__ = ("_value",)

    def __init__(self, value: str | Secret) -> None:
        if isinstance(value, Secret):
            value = value.reveal()
        if not isinstance(value, str):
            raise TypeError("Secret takes a str")
        self._value = value
        _remember(value)

    def reveal(self) -> str:
        """Return the plain value. Call it only where the value is sent to the operator."""
        return self._value

    def __repr__(self) -> str:
        return "Secret('***')"

    def __str__(self) -> str:
        return "***"

    def __format__(self, spec: str) -> str:
        return "***"

    def __eq__(self, other: object) -> bool:
        return isinstance(other, Secret) and other._value == self._value

    def __hash__(self) -> int:
        return hash(("Secret", self._value))

    def __bool__(self) -> bool:
        return bool(self._value)

    def __len__(self) -> int:
        return len(self._value)

    def __reduce__(self) -> Any:
        # Pickling would write the value into job arguments or caches: refuse.
        raise TypeError("a Secret cannot be pickled")

    @classmethod
    def __get_pydantic_core_schema__(
        cls, source: Any, handler: GetCoreSchemaHandler
    ) -> core_schema.CoreSchema:
        # Accept str or Secret; serialise to '***' unless the caller asks for
        # ``model_dump(context={"reveal_secrets": True})`` (used only when sealing).
        def serialize(value: Secret, info: core_schema.SerializationInfo) -> str:
            context = info.context or {}
            if context.get("reveal_secrets"):
                return value.reveal()
            return "***"

        return core_schema.no_info_after_validator_function(
            cls,
            core_schema.union_schema(
                [core_schema.is_instance_schema(cls), core_schema.str_schema()]
            ),
            serialization=core_schema.plain_serializer_function_ser_schema(
                serialize, info_arg=True
            ),
        )


def reveal(value: Secret | str | None) -> str | None:
    """The plain value of a ``Secret`` (or a plain string, passed through)."""
    if value is None:
        return None
    return value.reveal() if isinstance(value, Secret) else value
