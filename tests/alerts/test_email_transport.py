"""The e-mail notifier against real aiosmtpd servers: STARTTLS or implicit TLS, with a login;
what a refusal means (retry later, or give up)."""

from __future__ import annotations

import datetime as dt
import ipaddress
import ssl
from collections.abc import Iterator
from pathlib import Path
from typing import Any

import pytest
from aiosmtpd.controller import Controller
from aiosmtpd.smtp import AuthResult, LoginPassword
from cryptography import x509
from cryptography.hazmat.primitives import hashes, serialization
from cryptography.hazmat.primitives.asymmetric import ec
from cryptography.x509.oid import NameOID
from reference_provider.testing import free_port

from aggregator import Notification, OperationRejected, TemporaryError
from aggregator.alerts.email import EmailNotifier

USER, PASSWORD = "mailer", "s3cret-SMTP"


@pytest.fixture(scope="module")
def certificate(tmp_path_factory: pytest.TempPathFactory) -> tuple[Path, Path]:
    """A self-signed certificate for 127.0.0.1."""
    key = ec.generate_private_key(ec.SECP256R1())
    name = x509.Name([x509.NameAttribute(NameOID.COMMON_NAME, "127.0.0.1")])
    now = dt.datetime.now(dt.UTC)
    cert = (
        x509.CertificateBuilder()
        .subject_name(name)
        .issuer_name(name)
        .public_key(key.public_key())
        .serial_number(x509.random_serial_number())
        .not_valid_before(now - dt.timedelta(days=1))
        .not_valid_after(now + dt.timedelta(days=1))
        .add_extension(
            x509.SubjectAlternativeName([x509.IPAddress(ipaddress.ip_address("127.0.0.1"))]),
            critical=False,
        )
        .add_extension(x509.BasicConstraints(ca=True, path_length=None), critical=True)
        .sign(key, hashes.SHA256())
    )
    folder = tmp_path_factory.mktemp("tls")
    cert_path, key_path = folder / "cert.pem", folder / "key.pem"
    cert_path.write_bytes(cert.public_bytes(serialization.Encoding.PEM))
    key_path.write_bytes(
        key.private_bytes(
            serialization.Encoding.PEM,
            serialization.PrivateFormat.PKCS8,
            serialization.NoEncryption(),
        )
    )
    return cert_path, key_path


class Inbox:
    def __init__(self) -> None:
        self.messages: list[Any] = []

    async def handle_RCPT(
        self, server: Any, session: Any, envelope: Any, address: str, options: Any
    ) -> str:
        if address.startswith("nobody@"):
            return "550 5.1.1 no such user"
        envelope.rcpt_tos.append(address)
        return "250 OK"

    async def handle_DATA(self, server: Any, session: Any, envelope: Any) -> str:
        self.messages.append(envelope)
        return "250 OK"


def authenticate(server: Any, session: Any, envelope: Any, mechanism: str, data: Any) -> Any:
    ok = isinstance(data, LoginPassword) and (data.login, data.password) == (
        USER.encode(),
        PASSWORD.encode(),
    )
    return AuthResult(success=ok, handled=False)  # aiosmtpd answers 535 on a failure


@pytest.fixture(params=["starttls", "ssl"])
def server(
    request: pytest.FixtureRequest,
    certificate: tuple[Path, Path],
    monkeypatch: pytest.MonkeyPatch,
) -> Iterator[tuple[str, int, Inbox]]:
    cert, key = certificate
    monkeypatch.setenv("SSL_CERT_FILE", str(cert))  # the client trusts our test CA
    context = ssl.create_default_context(ssl.Purpose.CLIENT_AUTH)
    context.load_cert_chain(cert, key)
    inbox = Inbox()
    port = free_port()
    if request.param == "ssl":
        controller = Controller(
            inbox,
            hostname="127.0.0.1",
            port=port,
            ssl_context=context,
            authenticator=authenticate,
            auth_required=True,
            # aiosmtpd counts only STARTTLS as TLS for AUTH; this connection is TLS throughout.
            auth_require_tls=False,
        )
    else:
        controller = Controller(
            inbox,
            hostname="127.0.0.1",
            port=port,
            tls_context=context,
            require_starttls=True,
            authenticator=authenticate,
            auth_required=True,
        )
    controller.start()
    try:
        yield request.param, port, inbox
    finally:
        controller.stop()


def notification(*recipients: str) -> Notification:
    return Notification(
        kind="low_balance",
        subject="Билайн +7 903 ***-**-67: на счёте 45,20\u00a0₽, хватит на 2\u00a0дня",
        text="текст",
        html="<p>html</p>",
        recipients=list(recipients),
        idempotency_key="o1.email:episode:1:0:ru",
    )


def notifier(mode: str, port: int, password: str = PASSWORD) -> EmailNotifier:
    return EmailNotifier(
        {
            "smtp_host": "127.0.0.1",
            "smtp_port": port,
            "smtp_tls": mode,
            "smtp_username": USER,
            "smtp_password": password,
            "smtp_from": "alerts@example.ru",
            "smtp_timeout_s": 10,
        }
    )


async def test_sends_over_tls_with_a_login(server: tuple[str, int, Inbox]) -> None:
    mode, port, inbox = server
    await notifier(mode, port).send(notification("ivan@example.ru"))
    (envelope,) = inbox.messages
    assert envelope.mail_from == "alerts@example.ru"
    assert envelope.rcpt_tos == ["ivan@example.ru"]
    raw = envelope.original_content
    assert b"Message-ID: <aggregator.o1.email.episode.1.0.ru@example.ru>" in raw
    assert b"multipart/alternative" in raw


async def test_a_refused_login_is_retried_later(server: tuple[str, int, Inbox]) -> None:
    mode, port, inbox = server
    with pytest.raises(TemporaryError):
        await notifier(mode, port, password="wrong").send(notification("ivan@example.ru"))
    assert inbox.messages == []


async def test_refused_recipients_fail_for_good(server: tuple[str, int, Inbox]) -> None:
    mode, port, _ = server
    with pytest.raises(OperationRejected):
        await notifier(mode, port).send(notification("nobody@example.ru"))


async def test_no_server_is_temporary() -> None:
    with pytest.raises(TemporaryError):
        await notifier("none", free_port()).send(notification("ivan@example.ru"))
