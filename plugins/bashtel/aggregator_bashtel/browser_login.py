"""The Bashtel login form, driven in a real Chromium through Playwright.

One login = one fresh browser context from the host's shared browser (``context.browser``).
The form asks for the login, the password, the last 3 digits of the account number and, on a
device the cabinet does not know, the characters of a captcha picture. When a captcha shows,
the live page (credentials already typed) waits in the host's :class:`~aggregator.FlowRegistry`
under the challenge's ``flow_id``; the person's answer is typed into that same page. A page
left unanswered is closed by the registry when its time runs out.

After a successful login the context's cookies are returned: the session cookie for polling
over plain HTTP, and the long-lived device cookie the cabinet sets so that a later silent
re-login from this "device" needs no captcha.
"""

from __future__ import annotations

import contextlib
import datetime as dt
from dataclasses import dataclass, field
from typing import Any
from urllib.parse import urljoin

from aggregator import (
    AccountLocked,
    Challenge,
    ChallengeKind,
    Credentials,
    InvalidCredentials,
    ParseError,
    Unavailable,
)
from aggregator.core.flows import utcnow
from aggregator.transport import mapped_errors, open_browser_page

from . import parsing

__all__ = ["CAPTCHA_TTL_S", "LiveLogin", "LoginDone", "open_login", "submit_login"]

#: How long a captcha page waits for the person's answer.
CAPTCHA_TTL_S = 300.0
#: How long one page load or form submission may take.
NAVIGATION_TIMEOUT_MS = 20_000


@dataclass
class LiveLogin:
    """A login page waiting for a captcha answer; kept only in memory (FlowRegistry)."""

    context: Any  # playwright BrowserContext
    page: Any  # playwright Page
    credentials: Credentials = field(repr=False)
    rounds: int = 0

    async def close(self) -> None:
        with contextlib.suppress(Exception):
            await self.context.close()


@dataclass(frozen=True)
class LoginDone:
    """A finished login: every cookie of the cabinet (session and device)."""

    cookies: list[dict[str, Any]] = field(repr=False)


async def open_login(
    browser: Any, base_url: str, credentials: Credentials, device_cookies: list[dict[str, Any]]
) -> LiveLogin:
    """A fresh context on the login form, with the remembered device cookie restored."""
    context, page = await open_browser_page(
        browser,
        f"{base_url}/login",
        timeout_ms=NAVIGATION_TIMEOUT_MS,
        cookies=device_cookies,
        cookie_url=base_url,
    )
    return LiveLogin(context=context, page=page, credentials=credentials)


async def _fill_credentials(live: LiveLogin) -> None:
    credentials = live.credentials
    secret = credentials.secret.reveal() if credentials.secret else ""
    page = live.page
    await page.fill("#login", credentials.identifier)
    await page.fill("#password", secret)
    await page.fill("#ls3", credentials.extras.get("account_last3", ""))


async def _captcha_png(live: LiveLogin, src: str | None) -> bytes:
    """The captcha picture as the cabinet served it (PNG), or a screenshot of it."""
    page = live.page
    if src:
        with contextlib.suppress(Exception):
            response = await live.context.request.get(urljoin(page.url, src))
            body: bytes = await response.body()
            if response.ok and body.startswith(b"\x89PNG"):
                return body
    shot: bytes = await page.locator("#captcha-image").screenshot(type="png")
    return shot


async def submit_login(
    live: LiveLogin, provider_id: str, captcha_answer: str | None
) -> LoginDone | tuple[Challenge, LiveLogin]:
    """Type the credentials (and the captcha answer) and press «Вход».

    Returns the cookies after success, or a captcha challenge together with the live page to
    keep for the answer. Raises InvalidCredentials, AccountLocked or ParseError (the form
    changed); transport failures become TemporaryError.
    """
    page = live.page
    secrets = live.credentials.secrets()
    answer = captcha_answer
    for _ in range(3):
        html = await page.content()
        try:
            form = parsing.parse_login_page(html)
        except ParseError as exc:
            raise parsing.redacted(exc, secrets) from None
        if form.error == "invalid_credentials":
            raise InvalidCredentials(form.message or "wrong login or password")
        if form.error == "locked":
            raise AccountLocked(form.message or "the account is locked")
        await _fill_credentials(live)
        if form.captcha:
            if answer is None:
                png = await _captcha_png(live, form.captcha_src)
                live.rounds += 1
                challenge = Challenge(
                    kind=ChallengeKind.CAPTCHA,
                    provider=provider_id,
                    step="captcha",
                    image=png,
                    image_type="image/png",
                    expires_at=utcnow() + dt.timedelta(seconds=CAPTCHA_TTL_S),
                    message=form.message or "Введите символы с картинки",
                )
                return challenge, live
            await page.fill("#captcha", answer)
            answer = None  # one answer per picture
        async with mapped_errors(), page.expect_navigation(wait_until="domcontentloaded"):
            await page.click("#login-submit")
        html = await page.content()
        if not parsing.is_login_page(html):
            if parsing.parse_error_page(html) is not None:
                raise Unavailable("the cabinet showed an error page after the login")
            try:
                parsing.check_complete(html)
                if 'id="account-state"' not in html:
                    raise ParseError("bashtel: after the login came an unknown page", payload=html)
            except ParseError as exc:
                raise parsing.redacted(exc, secrets) from None
            cookies = await live.context.cookies()
            return LoginDone(cookies=[dict(c) for c in cookies])
    raise ParseError(
        "bashtel: the login form keeps coming back", payload=await page.content(), secrets=secrets
    )
