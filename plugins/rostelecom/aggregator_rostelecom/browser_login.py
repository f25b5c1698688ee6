"""The passport (``b2c.passport.rt.ru``), driven in a real Chromium through Playwright.

The passport answers a plain HTTP client with an anti-robot page whose script must run, and
builds every form with JavaScript from ``mergeConfig({...})``: only a browser gets through, as
mbplugin's rostelecom.py (Chromium) and AwardWallet's checker (Selenium) log in. One login = one
fresh context from the host's shared browser (``context.browser``):

1. open the authorization URL (``client_id=lk_b2c``, ``redirect_uri=<lk>/sso-auth/...``); the
   anti-robot page reloads itself into the first screen;
2. password: press «standard auth» (``#standard_auth_btn``), pick the identifier's tab
   (``div#t-btn-tab-...``), type ``#username`` and ``#password``, tick ``rememberMe``, press
   ``#kc-login``; one-time code: type the phone or e-mail into the first screen's ``#address``
   and press ``#otp_get_code``, then type the code;
3. a captcha in the page's config (``captchaId``, ``captchaUrl``) goes to the person as a
   challenge; the live page (in the host's FlowRegistry) waits for the answer;
4. the passport redirects to the cabinet's ``sso-auth`` page, which opens the cookie session:
   the cabinet's cookies (session and ``CSRF-TOKEN``) are handed to httpx, the passport's
   cookies (the device, the anti-robot pass) are remembered so that a silent re-login from
   this "device" needs no captcha.
"""

from __future__ import annotations

import contextlib
import datetime as dt
from dataclasses import dataclass, field
from typing import Any

from aggregator import (
    Challenge,
    ChallengeKind,
    Credentials,
    IdentifierKind,
    ParseError,
    Unavailable,
)
from aggregator.core.flows import utcnow
from aggregator.transport import mapped_errors, open_browser_page

from . import parsing

__all__ = [
    "CAPTCHA_TTL_S",
    "TABS",
    "LiveLogin",
    "LoginDone",
    "hand_over",
    "open_login",
    "request_code",
    "submit_code",
    "submit_password",
]

#: How long a captcha or code page waits for the person's answer.
CAPTCHA_TTL_S = 300.0
#: How long one page load or form submission may take.
NAVIGATION_TIMEOUT_MS = 20_000
#: The password form's tab per identifier kind (``div#t-btn-tab-<tab>``).
TABS = {
    IdentifierKind.PHONE: "phone",
    IdentifierKind.EMAIL: "mail",
    IdentifierKind.LOGIN: "login",
    IdentifierKind.ACCOUNT_NUMBER: "ls",
}
STEP_CAPTCHA = "captcha"
STEP_CODE = "code"


@dataclass
class LiveLogin:
    """A passport page waiting for the person (captcha or code); kept only in memory."""

    context: Any  # playwright BrowserContext
    page: Any  # playwright Page
    credentials: Credentials = field(repr=False)
    username: str = field(repr=False)
    lk_url: str = ""
    passport_url: str = ""
    mode: str = "password"  # password | otp
    rounds: int = 0

    async def close(self) -> None:
        with contextlib.suppress(Exception):
            await self.context.close()


@dataclass(frozen=True)
class LoginDone:
    """A finished login: the cabinet's cookies and the passport's (device) cookies."""

    cookies: dict[str, str] = field(repr=False)
    device: list[dict[str, Any]] = field(repr=False)


async def open_login(
    browser: Any,
    auth_url: str,
    credentials: Credentials,
    username: str,
    *,
    lk_url: str,
    passport_url: str,
    device: list[dict[str, Any]],
) -> LiveLogin:
    """A fresh context on the passport's first screen (past the anti-robot page, which
    reloads itself into the first screen)."""
    context, page = await open_browser_page(
        browser,
        auth_url,
        timeout_ms=NAVIGATION_TIMEOUT_MS,
        cookies=device,
        cookie_url=passport_url,
        ready_selector="form.login-form",
        who="the passport",
    )
    return LiveLogin(
        context=context,
        page=page,
        credentials=credentials,
        username=username,
        lk_url=lk_url,
        passport_url=passport_url,
    )


async def _captcha_png(live: LiveLogin, config: dict[str, Any]) -> bytes:
    """The captcha picture as the passport served it (``captchaUrl/captchaId``)."""
    url = f"{config.get('captchaUrl')}/{config.get('captchaId')}"
    with contextlib.suppress(Exception):
        response = await live.context.request.get(url)
        body: bytes = await response.body()
        if response.ok and body[:4] in (b"\x89PNG", b"\xff\xd8\xff\xe0", b"GIF8"):
            return body
    shot: bytes = await live.page.locator("#captcha_image").screenshot(type="png")
    return shot


async def _captcha_challenge(
    live: LiveLogin, provider_id: str, config: dict[str, Any], message: str | None
) -> Challenge:
    live.rounds += 1
    return Challenge(
        kind=ChallengeKind.CAPTCHA,
        provider=provider_id,
        step=STEP_CAPTCHA,
        image=await _captcha_png(live, config),
        image_type="image/png",
        expires_at=utcnow() + dt.timedelta(seconds=CAPTCHA_TTL_S),
        message=message or "Введите символы с картинки",
    )


def _code_challenge(provider_id: str, config: dict[str, Any], message: str | None) -> Challenge:
    otp = config.get("otp") if isinstance(config.get("otp"), dict) else {}
    assert isinstance(otp, dict)
    length = otp.get("codeLength")
    return Challenge(
        kind=ChallengeKind.CODE,
        provider=provider_id,
        step=STEP_CODE,
        channel="email" if otp.get("channel") == "email" else "sms",
        masked_destination=str(otp.get("destination") or "") or None,
        code_length=length if isinstance(length, int) and 3 <= length <= 10 else None,
        expires_at=utcnow() + dt.timedelta(seconds=CAPTCHA_TTL_S),
        message=message or "Введите код из сообщения",
    )


async def _done(live: LiveLogin) -> LoginDone:
    cookies = await live.context.cookies([live.lk_url + "/"])
    device = await live.context.cookies([live.passport_url + "/"])
    jar = {str(c["name"]): str(c["value"]) for c in cookies}
    if not jar:
        raise ParseError("rostelecom: the cabinet opened no session after the login")
    return LoginDone(cookies=jar, device=[dict(c) for c in device])


async def _state(live: LiveLogin) -> tuple[dict[str, Any] | None, parsing.PageMessage | None]:
    """Where the login stands: None config once the cabinet is reached."""
    if live.page.url.startswith(live.lk_url):
        return None, None
    html = await live.page.content()
    config = parsing.parse_merge_config(html)
    if config is None:
        raise ParseError(
            "rostelecom: the passport showed a page without its config",
            payload=html,
            secrets=live.credentials.secrets(),
        )
    return config, parsing.parse_page_message(html)


async def _submit(live: LiveLogin, button: str) -> None:
    async with mapped_errors(), live.page.expect_navigation(wait_until="domcontentloaded"):
        await live.page.click(button)


async def submit_password(
    live: LiveLogin, provider_id: str, kind: IdentifierKind, answer: str | None
) -> LoginDone | Challenge:
    """The password form: tab, login, password (and the captcha answer), «Войти»."""
    page = live.page
    secret = live.credentials.secret.reveal() if live.credentials.secret else ""
    for _ in range(3):
        if await page.locator("#standard_auth_btn").count():
            await _submit(live, "#standard_auth_btn")
        await page.wait_for_selector("#kc-form-login", state="attached")
        config, message = await _state(live)
        assert config is not None
        await page.click(f"div#t-btn-tab-{TABS[kind]}")
        await page.fill("#username", live.username)
        await page.fill("#password", secret)
        remember = page.locator("input[name=rememberMe]")
        if await remember.count() and not await remember.is_checked():
            await remember.check()
        if config.get("captchaId") and config.get("captchaUrl"):
            if answer is None:
                return await _captcha_challenge(
                    live, provider_id, config, message.summary if message else None
                )
            await page.fill("#captcha", answer)
            answer = None  # one answer per picture
        await _submit(live, "#kc-login")
        config, message = await _state(live)
        if config is None:
            return await _done(live)
        if config.get("captchaId") and answer is None:
            continue  # the form again with a (new) picture: ask the person
        raise parsing.login_error(message)
    raise ParseError("rostelecom: the password form keeps coming back")


async def request_code(
    live: LiveLogin, provider_id: str, answer: str | None
) -> LoginDone | Challenge:
    """The first screen: a one-time code to the phone or e-mail (``#address``)."""
    page = live.page
    live.mode = "otp"
    config, message = await _state(live)
    assert config is not None
    if config.get("step") != "start":
        raise ParseError("rostelecom: the passport did not show its first screen")
    await page.fill("#address", live.username)
    if config.get("captchaId") and config.get("captchaUrl"):
        if answer is None:
            return await _captcha_challenge(
                live, provider_id, config, message.summary if message else None
            )
        await page.fill("#captcha", answer)
    await _submit(live, "#otp_get_code")
    config, message = await _state(live)
    if config is None:
        return await _done(live)
    if config.get("step") == "otp":
        return _code_challenge(provider_id, config, None)
    if config.get("captchaId"):
        return await _captcha_challenge(
            live, provider_id, config, message.summary if message else None
        )
    raise parsing.login_error(message)


async def submit_code(live: LiveLogin, provider_id: str, code: str) -> LoginDone | Challenge:
    """The code page: type the one-time code, «Войти»."""
    await live.page.fill("#code", code)
    await _submit(live, "#kc-otp-login")
    config, message = await _state(live)
    if config is None:
        return await _done(live)
    if config.get("step") == "otp":  # a wrong code, attempts left
        return _code_challenge(provider_id, config, message.summary if message else None)
    raise parsing.login_error(message)


async def hand_over(browser: Any, url: str, *, lk_url: str, passport_url: str) -> LoginDone | None:
    """The last leg of an SSO round trip: the cabinet's ``sso-auth`` page with the passport's
    code, opened in a fresh context as the person's browser would; None when the cabinet
    opened no session (the code was spent or expired)."""
    async with mapped_errors():
        context = await browser.new_context()
    try:
        context.set_default_timeout(NAVIGATION_TIMEOUT_MS)
        page = await context.new_page()
        async with mapped_errors():
            response = await page.goto(url, wait_until="domcontentloaded")
        if response is not None and response.status >= 500:
            raise Unavailable(f"the cabinet answered {response.status}")
        cookies = await context.cookies([lk_url + "/"])
        if not page.url.startswith(lk_url) or not cookies:
            return None
        return LoginDone(
            cookies={str(c["name"]): str(c["value"]) for c in cookies},
            device=[dict(c) for c in await context.cookies([passport_url + "/"])],
        )
    finally:
        with contextlib.suppress(Exception):
            await context.close()
