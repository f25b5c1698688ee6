"""The embedded SMTP sink: where alert mail goes when no SMTP server is configured.

For the demo and a first run, ``aggregator serve`` starts an aiosmtpd server on loopback
(``settings.mail_sink_port``) that accepts every message and keeps it as a file,
``<data_dir>/mail/<received>-<hash of Message-ID>.eml``. A message delivered again with the same
``Message-ID`` (a resend after a crash) is acknowledged and not stored twice, as a mail client
would show it once. :class:`MailStore` lists and reads the stored mail for the dashboard's
outbox page::

    store = MailStore.for_settings(settings)
    for mail in store.list():          # newest first
        print(mail.id, mail.subject)
    content = store.read(mail.id)      # subject, sender, recipients, text, html
"""

from __future__ import annotations

import datetime as dt
import email
import email.policy
import hashlib
import logging
import os
import re
import threading
from dataclasses import dataclass, field
from email.message import EmailMessage
from pathlib import Path
from typing import Any

from aiosmtpd.controller import Controller

from ..settings import Settings

__all__ = ["MailContent", "MailSink", "MailStore", "StoredMail"]

log = logging.getLogger(__name__)

_ID = re.compile(r"\d{8}T\d{12}-[0-9a-f]{16}")


@dataclass(frozen=True)
class StoredMail:
    id: str
    received_at: dt.datetime
    subject: str
    sender: str
    recipients: list[str]
    message_id: str
    size: int


@dataclass(frozen=True)
class MailContent:
    id: str
    received_at: dt.datetime
    subject: str
    sender: str
    recipients: list[str]
    message_id: str
    text: str
    html: str
    headers: dict[str, str] = field(default_factory=dict)


def _parse(raw: bytes) -> EmailMessage:
    message = email.message_from_bytes(raw, policy=email.policy.default)
    assert isinstance(message, EmailMessage)
    return message


def _recipients(message: EmailMessage) -> list[str]:
    value = str(message.get("To", ""))
    return [part.strip() for part in value.split(",") if part.strip()]


class MailStore:
    """The stored mail of one directory (thread-safe for one writer and many readers)."""

    def __init__(self, directory: Path) -> None:
        self.directory = Path(directory)
        self._lock = threading.Lock()

    @classmethod
    def for_settings(cls, settings: Settings) -> MailStore:
        return cls(settings.data_dir / "mail")

    @staticmethod
    def key_for(message_id: str, raw: bytes) -> str:
        basis = message_id.strip().encode() if message_id.strip() else raw
        return hashlib.sha256(basis).hexdigest()[:16]

    def save(self, raw: bytes, received_at: dt.datetime | None = None) -> tuple[str, bool]:
        """Store one message; return its id and False when it was a duplicate."""
        message = _parse(raw)
        key = self.key_for(str(message.get("Message-ID", "")), raw)
        received_at = received_at or dt.datetime.now(dt.UTC)
        with self._lock:
            self.directory.mkdir(parents=True, exist_ok=True)
            existing = next(iter(self.directory.glob(f"*-{key}.eml")), None)
            if existing is not None:
                return existing.stem, False
            mail_id = f"{received_at:%Y%m%dT%H%M%S%f}-{key}"
            path = self.directory / f"{mail_id}.eml"
            tmp = path.with_suffix(".tmp")
            with open(tmp, "wb") as handle:
                handle.write(raw)
                handle.flush()
                os.fsync(handle.fileno())
            os.replace(tmp, path)
        return mail_id, True

    def _path(self, mail_id: str) -> Path:
        if not _ID.fullmatch(mail_id):
            raise KeyError(mail_id)
        path = self.directory / f"{mail_id}.eml"
        if not path.is_file():
            raise KeyError(mail_id)
        return path

    def list(self, limit: int | None = 200) -> list[StoredMail]:
        """Stored mail, newest first."""
        if not self.directory.is_dir():
            return []
        paths = sorted(self.directory.glob("*.eml"), reverse=True)
        if limit is not None:
            paths = paths[:limit]
        out: list[StoredMail] = []
        for path in paths:
            try:
                raw = path.read_bytes()
            except OSError:
                continue
            message = _parse(raw)
            out.append(
                StoredMail(
                    id=path.stem,
                    received_at=_received(path.stem),
                    subject=str(message.get("Subject", "")),
                    sender=str(message.get("From", "")),
                    recipients=_recipients(message),
                    message_id=str(message.get("Message-ID", "")),
                    size=len(raw),
                )
            )
        return out

    def raw(self, mail_id: str) -> bytes:
        """The message as received (``KeyError`` for an unknown or malformed id)."""
        return self._path(mail_id).read_bytes()

    def read(self, mail_id: str) -> MailContent:
        """One message, its text and HTML parts decoded (``KeyError`` when unknown)."""
        raw = self.raw(mail_id)
        message = _parse(raw)
        text_part = message.get_body(preferencelist=("plain",))
        html_part = message.get_body(preferencelist=("html",))
        return MailContent(
            id=mail_id,
            received_at=_received(mail_id),
            subject=str(message.get("Subject", "")),
            sender=str(message.get("From", "")),
            recipients=_recipients(message),
            message_id=str(message.get("Message-ID", "")),
            text=text_part.get_content() if text_part is not None else "",
            html=html_part.get_content() if html_part is not None else "",
            headers={k: str(v) for k, v in message.items()},
        )

    def count(self) -> int:
        return len(list(self.directory.glob("*.eml"))) if self.directory.is_dir() else 0


def _received(mail_id: str) -> dt.datetime:
    try:
        return dt.datetime.strptime(mail_id[:21], "%Y%m%dT%H%M%S%f").replace(tzinfo=dt.UTC)
    except ValueError:
        return dt.datetime.fromtimestamp(0, dt.UTC)


class _Handler:
    def __init__(self, sink: MailSink) -> None:
        self.sink = sink

    async def handle_DATA(self, server: Any, session: Any, envelope: Any) -> str:
        raw = envelope.original_content or envelope.content
        if isinstance(raw, str):
            raw = raw.encode("utf-8")
        try:
            _mail_id, new = self.sink.store.save(raw)
        except Exception:
            log.exception("mail sink: cannot store a message")
            return "451 Requested action aborted: local error in processing"
        with self.sink.counter_lock:
            self.sink.deliveries += 1
            if not new:
                self.sink.duplicates += 1
        return "250 Message accepted for delivery"


class MailSink:
    """An SMTP server on loopback storing what it receives in a :class:`MailStore`.

    Runs in its own thread (aiosmtpd's ``Controller``); ``start()``/``stop()`` or use it as a
    context manager. ``deliveries`` counts every accepted DATA, ``duplicates`` those that had a
    ``Message-ID`` already stored.
    """

    def __init__(self, directory: Path, host: str = "127.0.0.1", port: int = 8025) -> None:
        self.store = MailStore(directory)
        self.host = host
        self.port = port
        self.deliveries = 0
        self.duplicates = 0
        self.counter_lock = threading.Lock()
        self._controller: Controller | None = None

    @classmethod
    def for_settings(cls, settings: Settings) -> MailSink:
        return cls(settings.data_dir / "mail", "127.0.0.1", settings.mail_sink_port)

    @property
    def running(self) -> bool:
        return self._controller is not None

    def start(self) -> None:
        if self._controller is not None:
            return
        controller = Controller(
            _Handler(self), hostname=self.host, port=self.port, ready_timeout=10.0
        )
        controller.start()
        self._controller = controller
        log.info(
            "mail sink listening on %s:%s (mail in %s)", self.host, self.port, self.store.directory
        )

    def stop(self) -> None:
        controller, self._controller = self._controller, None
        if controller is not None:
            controller.stop()

    def __enter__(self) -> MailSink:
        self.start()
        return self

    def __exit__(self, *exc: object) -> None:
        self.stop()
