"""Password recovery on the passport ("Забыл пароль"), driven in the shared Chromium.

The seed (004_704713efd7731850.txt) describes it: «забыли пароль», the phone or the e-mail,
the characters of a picture, a one-time code, a new password of 8-20 characters with upper- and
lower-case Latin letters and digits. On the passport (a Keycloak theme) the link sits under the
password form (``#forgot_password`` -> ``login-actions/reset-credentials``); its first page
asks for the identifier, where the code goes and the captcha (``#kc-reset-password-form``), the
second for the code and the new password twice (``#kc-update-password-form``). The reply of a
successful change is the login page again, saying so. The pages' shape is *seed* (no
independent client recovers passwords); reference_provider/DIALECTS.md says so.

Steps (one live page per recovery, in the host's FlowRegistry between the person's answers):
captcha -> code -> new password -> the login page; a wrong code asks for the code again (and
then the new password), a wrong captcha shows a new picture.
"""

from __future__ import annotations

import contextlib
import datetime as dt
from dataclasses import dataclass, field
from typing import Any

from aggregator import (
    Challenge,
    ChallengeKind,
    IdentifierKind,
    InvalidCredentials,
    OperationRejected,
    ParseError,
    PasswordPolicy,
    RateLimited,
)
from aggregator.core.flows import utcnow
from aggregator.transport import mapped_errors

from . import parsing
from .browser_login import CAPTCHA_TTL_S, LiveLogin, _submit

__all__ = [
    "RESET_TABS",
    "STEP_RESET_CAPTCHA",
    "STEP_RESET_CODE",
    "STEP_RESET_PASSWORD",
    "LiveRecovery",
    "open_reset",
    "submit_new_password",
    "submit_request",
]

STEP_RESET_CAPTCHA = "reset_captcha"
STEP_RESET_CODE = "reset_code"
STEP_RESET_PASSWORD = "reset_new_password"
#: The reset form's ``tab_type`` per identifier kind.
RESET_TABS = {
    IdentifierKind.PHONE: "PHONE",
    IdentifierKind.EMAIL: "EMAIL",
    IdentifierKind.LOGIN: "LOGIN",
}


@dataclass
class LiveRecovery:
    """The passport's reset pages waiting for the person; kept only in memory."""

    live: LiveLogin
    kind: IdentifierKind
    channel: str
    code: str = field(default="", repr=False)
    masked_destination: str | None = None

    async def close(self) -> None:
        await self.live.close()


async def open_reset(live: LiveLogin) -> None:
    """From the first screen to the reset form: «Войти с паролем», then «Забыл пароль»."""
    page = live.page
    if await page.locator("#standard_auth_btn").count():
        await _submit(live, "#standard_auth_btn")
    await page.wait_for_selector("#forgot_password", state="attached")
    await _submit(live, "#forgot_password")
    if not await page.locator("#kc-reset-password-form").count():
        raise ParseError("rostelecom: «Забыл пароль» did not open the reset form")


async def _feedback(page: Any) -> tuple[str, str]:
    """The page's error (text, code), ("", "") when there is none."""
    box = page.locator("#kc-feedback")
    if not await box.count():
        return "", ""
    text = (await box.inner_text()).strip()
    code = await box.get_attribute("data-error") or ""
    return text, code


async def _captcha(live: LiveLogin, provider_id: str, message: str) -> Challenge:
    picture = live.page.locator("#captcha-image")
    image: bytes = b""
    src = await picture.get_attribute("src")
    if src:
        with contextlib.suppress(Exception):
            response = await live.context.request.get(src)
            body: bytes = await response.body()
            if response.ok and body[:4] == b"\x89PNG":
                image = body
    if not image:
        image = await picture.screenshot(type="png")
    return Challenge(
        kind=ChallengeKind.CAPTCHA,
        provider=provider_id,
        step=STEP_RESET_CAPTCHA,
        image=image,
        image_type="image/png",
        expires_at=utcnow() + dt.timedelta(seconds=CAPTCHA_TTL_S),
        message=message or "Введите символы с картинки",
    )


async def _code(recovery: LiveRecovery, provider_id: str, message: str) -> Challenge:
    page = recovery.live.page
    where = page.locator("#otp-destination")
    if await where.count():
        recovery.masked_destination = (await where.inner_text()).strip() or None
        recovery.channel = await where.get_attribute("data-channel") or recovery.channel
    return Challenge(
        kind=ChallengeKind.CODE,
        provider=provider_id,
        step=STEP_RESET_CODE,
        channel="email" if recovery.channel == "email" else "sms",
        masked_destination=recovery.masked_destination,
        expires_at=utcnow() + dt.timedelta(seconds=CAPTCHA_TTL_S),
        message=message or "Введите код из сообщения",
    )


def new_password_challenge(provider_id: str, policy: PasswordPolicy) -> Challenge:
    return Challenge(
        kind=ChallengeKind.NEW_PASSWORD,
        provider=provider_id,
        step=STEP_RESET_PASSWORD,
        password_policy=policy,
        expires_at=utcnow() + dt.timedelta(seconds=CAPTCHA_TTL_S),
        message="Придумайте новый пароль",
    )


def _refusal(text: str, code: str) -> Exception:
    if code == "rate_limited":
        return RateLimited(text or "too many attempts")
    if code in ("user_not_found", "not_found") or "не найден" in text.lower():
        return InvalidCredentials(text or "no such user")
    return OperationRejected(text or code or "the passport refused", code=code or "recovery")


async def submit_request(
    recovery: LiveRecovery, provider_id: str, username: str, answer: str | None
) -> Challenge:
    """The reset form: the identifier's tab, the identifier, the channel, the captcha."""
    page = recovery.live.page
    text, _code_name = await _feedback(page)
    if answer is None:
        return await _captcha(recovery.live, provider_id, text)
    await page.check(f"input[name=tab_type][value={RESET_TABS[recovery.kind]}]")
    await page.fill("#username", username)
    channel = page.locator(f"input[name=channel][value={recovery.channel}]")
    if await channel.count():
        await channel.check()
    await page.fill("#captcha-reset", answer)
    await _submit(recovery.live, "#kc-reset-send")
    if await page.locator("#kc-update-password-form").count():
        return await _code(recovery, provider_id, "")
    text, code = await _feedback(page)
    if await page.locator("#kc-reset-password-form").count() and code == "captcha_invalid":
        return await _captcha(recovery.live, provider_id, text)
    raise _refusal(text, code)


async def submit_new_password(
    recovery: LiveRecovery, provider_id: str, new_password: str
) -> Challenge | str:
    """The code and the new password twice, «Сохранить пароль»; the passport's words when
    the password was changed, else the step to answer again."""
    page = recovery.live.page
    async with mapped_errors():
        await page.fill("#code", recovery.code)
        await page.fill("#password-new", new_password)
        await page.fill("#password-confirm", new_password)
    await _submit(recovery.live, "#kc-update-password")
    text, code = await _feedback(page)
    if await page.locator("#kc-update-password-form").count():
        if code == "code_invalid":
            return await _code(recovery, provider_id, text)
        raise _refusal(text, code)
    if await page.locator("#kc-reset-password-form").count():
        # The code was spent (too many wrong answers): the reset starts over at the captcha.
        return await _captcha(recovery.live, provider_id, text)
    html = await page.content()
    if parsing.parse_merge_config(html) is None:
        raise ParseError("rostelecom: an unknown page after the new password", payload=html)
    message = parsing.parse_page_message(html)
    if message is not None and message.kind != "info":
        raise _refusal(message.summary, message.code or "")
    return message.summary if message is not None else "Пароль изменён"
