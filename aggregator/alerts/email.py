"""The built-in e-mail notifier: multipart text + HTML over SMTP with aiosmtplib.

STARTTLS, implicit TLS ("ssl") or plain (the embedded sink on loopback), with login when a
username is set. The ``Message-ID`` is the one the outbox recorded for the row before the send
(:func:`message_id_for` of the row), so a message that had to be sent again after a crash
carries the same id and a mail client (or the embedded sink) shows it once.

Errors: a server that cannot be reached, times out, answers 4xx or refuses the login raises
:class:`~aggregator.core.errors.TemporaryError` (the outbox retries with backoff: fixing the
SMTP settings delivers the queued mail); a permanent 5xx refusal of the message or of every
recipient raises :class:`~aggregator.core.errors.OperationRejected` (the row is marked failed).
"""

from __future__ import annotations

import asyncio
import re
from email.charset import QP, Charset
from email.header import Header
from email.message import Message
from email.mime.multipart import MIMEMultipart
from email.mime.nonmultipart import MIMENonMultipart
from email.utils import formatdate
from typing import Any, cast

import aiosmtplib

from ..core.errors import OperationRejected, TemporaryError, Timeout, Unavailable
from ..core.notify import Notification, Notifier

__all__ = ["EmailNotifier", "build_message", "message_id_for"]

_ATEXT = re.compile(r"[^A-Za-z0-9!#$%&'*+/=?^_`{|}~.-]")


def message_id_for(idempotency_key: str, sender: str) -> str:
    """A stable ``Message-ID`` for one outbox row."""
    domain = sender.rpartition("@")[2] or "localhost"
    domain = _ATEXT.sub("", domain) or "localhost"
    local = _ATEXT.sub(".", idempotency_key).strip(".") or "alert"
    return f"<aggregator.{local}@{domain}>"


def _text(body: str, subtype: str) -> MIMENonMultipart:
    part = MIMENonMultipart("text", subtype)
    charset = Charset("utf-8")
    charset.body_encoding = QP  # readable in the .eml files, safe for any line length
    part.set_payload(body, charset=charset)
    return part


def build_message(notification: Notification, sender: str) -> Message:
    """A multipart/alternative message: text first, then HTML.

    Built with the classic API and an explicit :class:`~email.header.Header` for the subject:
    the newer ``EmailMessage`` folds a long non-ASCII subject so that a space between two
    encoded words is lost when it is read back.
    """
    message: Message
    if notification.html:
        message = MIMEMultipart("alternative")
        message.attach(_text(notification.text, "plain"))
        message.attach(_text(notification.html, "html"))
    else:
        message = _text(notification.text, "plain")
    message["Subject"] = cast(Any, Header(notification.subject, "utf-8"))
    message["From"] = sender
    message["To"] = ", ".join(notification.recipients)
    message["Date"] = formatdate(localtime=False, usegmt=True)
    message["Message-ID"] = notification.message_id or message_id_for(
        notification.idempotency_key, sender
    )
    message["Content-Language"] = notification.lang
    message["Auto-Submitted"] = "auto-generated"
    message["X-Aggregator-Alert"] = notification.kind
    return message


def _secret(value: Any) -> str | None:
    if value is None:
        return None
    reveal = getattr(value, "get_secret_value", None)
    return str(reveal()) if reveal is not None else str(value)


class EmailNotifier(Notifier):
    """Sends alerts by e-mail. Settings: the aggregator's ``smtp_*`` settings."""

    id = "email"
    name = "E-mail"

    def __init__(self, settings: dict[str, Any] | None = None) -> None:
        super().__init__(settings)
        s = self.settings
        self.host: str = s.get("smtp_host") or "127.0.0.1"
        embedded = not s.get("smtp_host")
        self.port: int = int(s.get("mail_sink_port", 8025) if embedded else s.get("smtp_port", 587))
        self.tls: str = "none" if embedded else str(s.get("smtp_tls", "starttls"))
        self.username: str | None = None if embedded else s.get("smtp_username")
        self.password: str | None = None if embedded else _secret(s.get("smtp_password"))
        self.sender: str = s.get("smtp_from") or "aggregator@localhost"
        self.timeout: float = float(s.get("smtp_timeout_s", 30.0))
        self._closing: set[asyncio.Task[None]] = set()

    @staticmethod
    async def _quit(client: aiosmtplib.SMTP) -> None:
        try:
            await client.quit()
        except Exception:
            client.close()

    def __repr__(self) -> str:
        return f"EmailNotifier(host={self.host!r}, port={self.port}, tls={self.tls!r})"

    async def send(self, notification: Notification) -> None:
        if not notification.recipients:
            raise OperationRejected("no recipient for this alert")
        message = build_message(notification, self.sender)
        client = aiosmtplib.SMTP(
            hostname=self.host,
            port=self.port,
            username=self.username,
            password=self.password,
            use_tls=self.tls == "ssl",
            start_tls=self.tls == "starttls",
            timeout=self.timeout,
        )
        try:
            await client.connect()
            try:
                await client.send_message(
                    message, sender=self.sender, recipients=list(notification.recipients)
                )
            except BaseException:
                client.close()
                raise
            # Accepted: return now so the outbox marks it sent at once (the window in which a
            # crash means a resend is as short as can be); say goodbye in the background.
            task = asyncio.create_task(self._quit(client))
            self._closing.add(task)
            task.add_done_callback(self._closing.discard)
        except aiosmtplib.SMTPRecipientsRefused as exc:
            codes = [error.code for error in exc.recipients]
            if all(500 <= code < 600 for code in codes):
                raise OperationRejected("every recipient was refused", code=str(codes[0])) from None
            raise Unavailable("the mail server refused the recipients for now") from None
        except aiosmtplib.SMTPAuthenticationError:
            raise TemporaryError(
                "the mail server refused the login; check the SMTP settings"
            ) from None
        except aiosmtplib.SMTPResponseException as exc:
            if 500 <= exc.code < 600:
                raise OperationRejected(
                    "the mail server refused the message", code=str(exc.code)
                ) from None
            raise Unavailable(f"the mail server answered {exc.code}") from None
        except (aiosmtplib.SMTPTimeoutError, TimeoutError):
            raise Timeout("the mail server did not answer in time") from None
        except (aiosmtplib.SMTPException, OSError) as exc:
            raise Unavailable(f"cannot reach the mail server ({type(exc).__name__})") from None
