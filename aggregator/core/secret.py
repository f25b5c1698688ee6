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

import re
import threading
from collections import OrderedDict
from typing import Any

from pydantic import GetCoreSchemaHandler
from pydantic_core import core_schema

__all__ = ["Secret", "reveal", "scrub"]

_MIN_SCRUBBED = 4  # shorter values ("1", "ok") would shred ordinary text
_KEEP = 4096  # the most recent secret values remembered (a bounded memory)
_values: OrderedDict[str, None] = OrderedDict()
_lock = threading.Lock()
_pattern: re.Pattern[str] | None = None


def _remember(value: str) -> None:
    global _pattern
    if len(value) < _MIN_SCRUBBED:
        return
    with _lock:
        if value in _values:
            _values.move_to_end(value)
            return
        _values[value] = None
        if len(_values) > _KEEP:
            _values.popitem(last=False)
        _pattern = None


def scrub(text: str) -> str:
    """``text`` with every secret value this process has seen replaced by ``***``."""
    global _pattern
    if not text or not _values:
        return text
    pattern = _pattern
    if pattern is None:
        with _lock:
            ordered = sorted(_values, key=len, reverse=True)  # longest first
            pattern = _pattern = re.compile("|".join(re.escape(v) for v in ordered))
    return pattern.sub("***", text)


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
