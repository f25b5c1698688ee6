"""Diagnostics: one poll (and a login, when asked) recorded, redacted, written as HAR 1.2.

What a household sends to a plugin's author when an operator changed its cabinet: every HTTP
exchange and each browser page of a login, the plugin's and the aggregator's versions, with
credentials, codes, tokens, cookies and authorisation headers removed and personal data masked
consistently (see :mod:`.redaction`). The workflow that finds the account and opens its secrets
is :mod:`aggregator.services.diagnostics`; :func:`record_diagnostics` is the machinery, and
:mod:`aggregator.testing.replay` turns the file back into a transport for a regression test.
"""

from __future__ import annotations

import datetime as dt
import logging
from collections.abc import Awaitable, Callable, Iterable, Mapping
from dataclasses import dataclass
from typing import TYPE_CHECKING, Any

import httpx

from ..core.errors import AggregatorError
from ..core.flows import Challenge, ChallengeAnswer, Session
from ..core.login import Credentials
from ..core.provider import Capability
from ..plugins import report_url
from .har import HAR_MEDIA_TYPE, build_har, dump_har
from .recorder import Recording, RecordingBrowser, RecordingTransport
from .redaction import Redactor

if TYPE_CHECKING:
    from ..runtime import Runtime

__all__ = ["HAR_MEDIA_TYPE", "Diagnostics", "Redactor", "record_diagnostics"]

log = logging.getLogger(__name__)


@dataclass(frozen=True)
class Diagnostics:
    """A redacted trace: the HAR document, its bytes and a file name for it."""

    har: dict[str, Any]
    filename: str
    outcome: str  # "ok" or the contract error's key of the step that failed
    operator: str
    report_url: str | None  # where the plugin's author takes reports (its [project.urls])

    @property
    def content(self) -> bytes:
        return dump_har(self.har)


def _aggregator_version() -> str:
    from .. import __version__

    return __version__


def _transport_of(http: httpx.AsyncClient) -> httpx.AsyncBaseTransport:
    """The transport the process-wide client sends through (a loopback ASGI app in tests)."""
    transport = getattr(http, "_transport", None)
    if isinstance(transport, httpx.AsyncBaseTransport):
        return transport
    return httpx.AsyncHTTPTransport()  # pragma: no cover - httpx always has one


def _step(error: BaseException) -> dict[str, Any]:
    if isinstance(error, AggregatorError):
        return {"error": error.key, "message": error.message, "details": error.details}
    return {"error": "plugin_crash", "message": type(error).__name__}


async def record_diagnostics(
    runtime: Runtime,
    provider_id: str,
    *,
    subaccount_id: str,
    credentials: Credentials | None,
    session: Session | None,
    personal: Mapping[str, str] | Iterable[tuple[str, str]] = (),
    login: bool = False,
    name: str = "account",
    answer: Callable[[Challenge], Awaitable[ChallengeAnswer | None]] | None = None,
) -> Diagnostics:
    """Run one poll of ``subaccount_id`` (after a login when ``login`` is true or when there is
    no session) through a recording transport and browser, and return the redacted HAR.

    Nothing is stored: the session a login opens lives only for this run. A failure of the
    login or of the poll is recorded in the file (its key and message), never raised: a failing
    account is exactly what diagnostics are for. A login challenge (a captcha, a code) is put
    to ``answer`` when given (a person at a terminal); without it, or when it gives None, the
    trace ends at the challenge.
    """
    from ..runtime import Runtime as _Runtime

    recording = Recording()
    redactor = Redactor(personal=personal)
    if credentials is not None:
        for secret in credentials.secrets():
            redactor.secret(secret)
        for key, value in credentials.extras.items():
            redactor.learn({key: value})
        if credentials.identifier:
            kind = str(credentials.identifier_kind or "account")
            redactor.personal(credentials.identifier, _IDENTIFIER_KINDS.get(kind, "account"))
    if session is not None:
        for secret in session.secrets():
            redactor.secret(secret)

    client = httpx.AsyncClient(
        transport=RecordingTransport(_transport_of(runtime.http), recording),
        timeout=runtime.http.timeout,
        follow_redirects=runtime.http.follow_redirects,
        headers=runtime.http.headers,
    )
    browser = RecordingBrowser(runtime.browser, recording)
    steps: list[dict[str, Any]] = []
    outcome = "ok"
    async with (
        client,
        _Runtime(
            runtime.settings, registry=runtime.registry, http=client, browser=browser
        ) as recorder,
    ):
        provider = recorder.provider(provider_id)
        step = "login"
        try:
            if login or session is None:
                if credentials is None:
                    steps.append({"step": "login", "error": "no_credentials"})
                    outcome = "no_credentials"
                else:
                    reply = await provider.start_login(credentials)
                    while isinstance(reply, Challenge) and answer is not None:
                        given = await answer(reply)
                        if given is None:
                            break
                        for typed in (given.text, given.new_password):
                            if typed is not None:
                                redactor.secret(typed.reveal())
                        steps.append({"step": "login", "challenge": str(reply.kind)})
                        reply = await provider.continue_login(reply, given)
                    if isinstance(reply, Challenge):
                        steps.append(
                            {"step": "login", "challenge": str(reply.kind), "stopped": True}
                        )
                        outcome = "challenge"
                        session = None
                    else:
                        session = reply
                        for secret in session.secrets():
                            redactor.secret(secret)
                        steps.append({"step": "login", "result": "ok"})
            if session is not None:
                step = "poll"
                result = await provider.poll(session, subaccount_id)
                steps.append({"step": "poll", "result": "ok", "state": str(result.state)})
                refreshed = provider.refreshed_session(session)
                if refreshed is not None:
                    session = refreshed
                    for secret in refreshed.secrets():
                        redactor.secret(secret)
        except Exception as exc:  # recorded, not raised: see the docstring
            steps.append({"step": step, **_step(exc)})
            outcome = exc.key if isinstance(exc, AggregatorError) else "plugin_crash"
            log.info("diagnostics of %s: the %s failed (%s)", provider_id, step, outcome)
        if session is not None and provider.has(Capability.PROFILE):
            # The household's own data, read so that it is masked wherever it appears.
            try:
                profile = await provider.profile(session, subaccount_id)
            except Exception as exc:
                steps.append({"step": "profile", **_step(exc)})
            else:
                for field_name, kind in _PROFILE_KINDS.items():
                    redactor.personal(getattr(profile, field_name), kind)
                steps.append({"step": "profile", "result": "ok"})
        await browser.snapshot_open_pages()
        await browser.drain()
    plugin = runtime.registry.plugins.get(runtime.registry.provider_plugin.get(provider_id, ""))
    taken = dt.datetime.now(dt.UTC)
    meta = {
        "aggregator_version": _aggregator_version(),
        "plugin": {
            "name": plugin.distribution or plugin.name if plugin else None,
            "entry_point": plugin.name if plugin else None,
            "version": plugin.version if plugin else None,
        },
        "operator": provider_id,
        "base_url": runtime.base_url(provider_id),
        "hosts": runtime.host_urls(provider_id),
        "account": subaccount_id,
        "report_url": report_url(runtime.registry, provider_id, runtime.settings.dashboard_url),
        "taken_at": taken.isoformat(),
        "login_asked": login,
        "steps": steps,
        "outcome": outcome,
    }
    document = build_har(recording, redactor, meta)
    filename = f"diagnostics-{provider_id}-{name}-{taken:%Y%m%d-%H%M%S}.har"
    return Diagnostics(
        har=document,
        filename=filename,
        outcome=outcome,
        operator=provider_id,
        report_url=report_url(runtime.registry, provider_id, runtime.settings.dashboard_url),
    )


_PROFILE_KINDS = {
    "full_name": "name",
    "phone": "phone",
    "email": "email",
    "account_number": "account",
    "address": "address",
}
_IDENTIFIER_KINDS = {
    "phone": "phone",
    "email": "email",
    "login": "account",
    "account": "account",
    "contract": "account",
}
