"""Log records never carry a secret: every record is scrubbed of every secret value.

:class:`RedactingFilter` formats a record's message (and its traceback) once and replaces each
secret value the process has seen (:func:`aggregator.core.secret.scrub`) with ``***``.
:func:`install_redaction` puts it on every handler of the root logger and of uvicorn's loggers,
and makes every record scrubbed when it is created, so handlers added later (a test's log
capture, a library's own) get clean records too. ``serve``, ``worker``, ``demo`` and every CLI
command call it.
"""

from __future__ import annotations

import logging
import traceback
from collections.abc import Callable, Iterator
from contextlib import contextmanager
from typing import Any

from .core.secret import scrub

__all__ = ["RedactingFilter", "install_redaction", "scrub_record", "unscrubbed_records"]

_MARK = "_aggregator_scrubbed"


def scrub_record(record: logging.LogRecord) -> logging.LogRecord:
    """Format ``record``'s message and traceback now, without secrets (idempotent)."""
    if getattr(record, _MARK, False):
        return record
    try:
        message = record.getMessage()
    except Exception:  # a malformed log call: keep what logging would show
        message = str(record.msg)
    record.msg = scrub(message)
    record.args = None
    if record.exc_info and not record.exc_text:
        record.exc_text = "".join(traceback.format_exception(*record.exc_info)).rstrip("\n")
    if record.exc_text:
        record.exc_text = scrub(record.exc_text)
    if record.stack_info:
        record.stack_info = scrub(record.stack_info)
    setattr(record, _MARK, True)
    return record


class RedactingFilter(logging.Filter):
    """A handler filter: the record is scrubbed of every secret value, then passed on."""

    def filter(self, record: logging.LogRecord) -> bool:
        scrub_record(record)
        return True


_installed = False
_raw_factory: Callable[..., logging.LogRecord] | None = None


def install_redaction() -> None:
    """Scrub every log record of this process (see the module docstring)."""
    global _installed, _raw_factory
    loggers = [logging.getLogger(), *(logging.getLogger(n) for n in ("uvicorn", "uvicorn.error"))]
    for logger in loggers:
        for handler in logger.handlers:
            if not any(isinstance(f, RedactingFilter) for f in handler.filters):
                handler.addFilter(RedactingFilter())
    if _installed:
        return
    _installed = True
    previous = logging.getLogRecordFactory()
    _raw_factory = previous

    def factory(*args: Any, **kwargs: Any) -> logging.LogRecord:
        return scrub_record(previous(*args, **kwargs))

    logging.setLogRecordFactory(factory)


@contextmanager
def unscrubbed_records() -> Iterator[None]:
    """Records are made as logging makes them (not scrubbed at creation) while the block runs.

    The contract kit's leak guard needs this: it must see what a plugin really logs, because the
    scrubbing is the aggregator's second line of defence, not a licence for a plugin to log a
    password. Handlers that carry a :class:`RedactingFilter` still scrub what they write.
    """
    if _raw_factory is None:
        yield
        return
    current = logging.getLogRecordFactory()
    logging.setLogRecordFactory(_raw_factory)
    try:
        yield
    finally:
        logging.setLogRecordFactory(current)
