"""Every authentication path: password, captcha, one-time codes, temporary passwords, reset,
lockout, session expiry, and the OpenID Connect identity provider (pages and endpoints)."""

from __future__ import annotations

import re

import httpx
import pytest
from reference_provider.backend import Backend
from reference_provider.domain import (
    AccountLocked,
    CaptchaRequired,
    CodeInvalid,
    InvalidCredentials,
    InvalidInput,
    PasswordChangeRequired,
    SessionExpired,
)

from .conftest import NATIVE


def test_password_login_by_any_identifier(backend: Backend) -> None:
    for identifier in (
        "smirnov.ivan",
        "+7 (903) 123-45-67",
        "IVAN.SMIRNOV@example.ru",
        "361000000001",
    ):
        result = backend.login_password("rostelecom", identifier, "Rostelecom2024")
        assert result.subscriber.login == "smirnov.ivan"
        assert backend.session(result.session.token).subscriber_id == result.subscriber.id


def test_password_is_hashed(backend: Backend) -> None:
    sub = backend.find_subscriber("reference", "demo")
    assert sub is not None and sub.password_hash is not None
    assert b"demo-password" not in sub.password_hash and len(sub.salt) == 16


def test_wrong_password_then_captcha_then_lockout(backend: Backend) -> None:
    for _ in range(2):
        with pytest.raises(InvalidCredentials):
            backend.login_password("reference", "demo", "wrong")
    with pytest.raises(CaptchaRequired) as demanded:  # after 2 failures
        backend.login_password("reference", "demo", "wrong")
    captcha = demanded.value.captcha
    assert captcha.png.startswith(b"\x89PNG")
    with pytest.raises(CaptchaRequired) as again:  # a wrong answer: a new captcha
        backend.login_password(
            "reference", "demo", "demo-password", captcha_id=captcha.id, captcha_answer="nope"
        )
    assert again.value.wrong
    for i in range(3):  # failures 3, 4, 5: the fifth locks
        c = backend.new_captcha("reference")
        expected = AccountLocked if i == 2 else InvalidCredentials
        with pytest.raises(expected):
            backend.login_password(
                "reference", "demo", "wrong", captcha_id=c.id, captcha_answer=c.answer
            )
    with pytest.raises(AccountLocked):  # even the right password while locked
        backend.login_password("reference", "demo", "demo-password")
    backend.advance(minutes=31)
    assert backend.login_password("reference", "demo", "demo-password").session.token


def test_captcha_on_a_new_device_only(backend: Backend) -> None:
    with pytest.raises(CaptchaRequired) as demanded:
        backend.login_password("reference", "captcha", "demo-password", device="phone-1")
    c = demanded.value.captcha
    backend.login_password(
        "reference",
        "captcha",
        "demo-password",
        device="phone-1",
        captcha_id=c.id,
        captcha_answer=backend.captcha_answer("reference"),
    )
    backend.login_password("reference", "captcha", "demo-password", device="phone-1")
    with pytest.raises(CaptchaRequired):
        backend.login_password("reference", "captcha", "demo-password", device="laptop")


def test_bashtel_checks_the_last_three_digits(backend: Backend) -> None:
    def attempt(digits: str) -> None:
        c = backend.new_captcha("bashtel")
        backend.login_password(
            "bashtel",
            "smirnov_ufa",
            "Bashtel-2024",
            account_digits=digits,
            captcha_id=c.id,
            captcha_answer=c.answer,
        )

    attempt("456")  # the second account's digits are fine too
    with pytest.raises(InvalidCredentials):
        attempt("999")
    with pytest.raises(CaptchaRequired):  # bashtel always demands a captcha
        backend.login_password("bashtel", "smirnov_ufa", "Bashtel-2024", account_digits="123")


@pytest.mark.parametrize(
    ("channel", "destination"), [("sms", "9031234567"), ("email", "ivan.smirnov@example.ru")]
)
def test_one_time_code_login(backend: Backend, channel: str, destination: str) -> None:
    ticket = backend.send_login_code("reference", "demo", channel)  # type: ignore[arg-type]
    assert ticket.masked_destination != destination
    message = backend.outbox_for("reference", destination)[-1]
    assert message.channel == channel and message.code and message.code in message.text
    result = backend.login_code(ticket.id, backend.last_code("reference", destination))
    assert result.subscriber.login == "demo"
    with pytest.raises(CodeInvalid):  # a code works once
        backend.login_code(ticket.id, message.code)


def test_one_time_code_attempts_and_expiry(backend: Backend) -> None:
    ticket = backend.send_login_code("reference", "demo")
    for _ in range(3):
        with pytest.raises(CodeInvalid):
            backend.login_code(ticket.id, "000000x")
    with pytest.raises(CodeInvalid):  # spent after 3 wrong tries
        backend.login_code(ticket.id, backend.last_code("reference"))
    with pytest.raises(CaptchaRequired):  # the wrong codes count as failed logins
        backend.send_login_code("reference", "demo")
    c = backend.new_captcha("reference")
    ticket = backend.send_login_code("reference", "demo", captcha_id=c.id, captcha_answer=c.answer)
    backend.advance(minutes=6)
    with pytest.raises(CodeInvalid, match="истёк"):
        backend.login_code(ticket.id, backend.last_code("reference"))


def test_temporary_password_must_be_changed(backend: Backend) -> None:
    sub = backend.find_subscriber("beeline", "9052223344")
    assert sub is not None and sub.password_hash is None  # no password yet
    with pytest.raises(InvalidCredentials):
        backend.login_password("beeline", "9052223344", "")
    backend.issue_temp_password(sub)
    temp = backend.last_code("beeline", "9052223344", purpose="temp_password")
    result = backend.login_password("beeline", "9052223344", temp)
    assert result.must_change_password
    token = result.session.token
    with pytest.raises(PasswordChangeRequired):
        backend.session(token)
    session = backend.session(token, allow_restricted=True)
    with pytest.raises(InvalidInput):
        backend.change_password(session, temp, "1")  # too short
    backend.change_password(session, temp, "New-password-1")
    assert backend.session(token).token == token
    assert not backend.login_password(
        "beeline", "9052223344", "New-password-1"
    ).must_change_password


def test_rostelecom_password_policy_and_reset(backend: Backend) -> None:
    ticket = backend.start_password_reset("rostelecom", "ivan.smirnov@example.ru", "email")
    code = backend.last_code("rostelecom", "ivan.smirnov@example.ru", purpose="password_reset")
    with pytest.raises(InvalidInput, match="заглавные"):
        backend.finish_password_reset(ticket.id, code, "alllowercase1")
    with pytest.raises(InvalidInput, match="от 8 до 20"):
        backend.finish_password_reset(ticket.id, code, "Short1")
    backend.finish_password_reset(ticket.id, code, "Brand-New-Pass1")
    backend.login_password("rostelecom", "smirnov.ivan", "Brand-New-Pass1")
    with pytest.raises(InvalidCredentials):
        backend.login_password("rostelecom", "smirnov.ivan", "Rostelecom2024")


def test_sessions_expire_after_idle_time_and_slide_on_use(backend: Backend) -> None:
    token = backend.login_password("rostelecom", "smirnov.ivan", "Rostelecom2024").session.token
    backend.advance(hours=23)
    backend.session(token)  # used: renewed for another day
    backend.advance(hours=23)
    backend.session(token)
    backend.advance(hours=25)
    with pytest.raises(SessionExpired):
        backend.session(token)
    with pytest.raises(SessionExpired):
        backend.session("no-such-token")
    beeline = backend.login_password("beeline", "9031234567", "Beeline-2024").session.token
    with pytest.raises(SessionExpired):  # another operator's token
        backend.session(beeline, operator="rostelecom")


def test_logout_and_expire_sessions(backend: Backend) -> None:
    token = backend.login_password("reference", "demo", "demo-password").session.token
    backend.logout(token)
    with pytest.raises(SessionExpired):
        backend.session(token)
    backend.login_password("reference", "demo", "demo-password")
    assert backend.expire_sessions(operator="reference") == 1


# -- the identity provider, through its pages ---------------------------------------------
async def test_idp_authorization_code_flow(client: httpx.AsyncClient, backend: Backend) -> None:
    page = await client.get(
        "/idp/vk/authorize",
        params={
            "client_id": "lk_b2c",
            "redirect_uri": "http://127.0.0.1:9/cb",
            "state": "s1",
            "response_type": "code",
            "scope": "openid",
            "nonce": "n1",
        },
    )
    assert page.status_code == 200 and "VK ID" in page.text
    request_id = re.search(r'name="request_id" value="([^"]+)"', page.text).group(1)  # type: ignore[union-attr]
    bad = await client.post(
        "/idp/vk/login",
        data={"request_id": request_id, "username": "ivan.smirnov@vk.com", "password": "wrong"},
    )
    assert bad.status_code == 401 and "Неверный логин или пароль" in bad.text
    consent = await client.post(
        "/idp/vk/login",
        data={
            "request_id": request_id,
            "username": "ivan.smirnov@vk.com",
            "password": "sso-demo-2024",
        },
    )
    assert "Разрешить" in consent.text and "lk_b2c" in consent.text
    redirect = await client.post(
        "/idp/vk/consent", data={"request_id": request_id, "decision": "allow"}
    )
    assert redirect.status_code == 302
    location = httpx.URL(redirect.headers["location"])
    assert location.host == "127.0.0.1" and location.params["state"] == "s1"
    code = location.params["code"]
    token = await client.post(
        "/idp/vk/token",
        data={
            "grant_type": "authorization_code",
            "code": code,
            "client_id": "lk_b2c",
            "redirect_uri": "http://127.0.0.1:9/cb",
        },
    )
    assert token.status_code == 200
    again = await client.post(
        "/idp/vk/token",
        data={"grant_type": "authorization_code", "code": code, "client_id": "lk_b2c"},
    )
    assert again.status_code == 400 and again.json() == {"error": "invalid_grant"}
    info = await client.get(
        "/idp/vk/userinfo", headers={"authorization": f"Bearer {token.json()['access_token']}"}
    )
    assert info.json()["name"] == "Иван Петрович Смирнов"
    login = backend.login_idp("rostelecom", "vk", info.json()["sub"])
    assert login.subscriber.login == "smirnov.ivan"
    with pytest.raises(InvalidCredentials):  # not linked at beeline
        backend.login_idp("beeline", "vk", info.json()["sub"])


async def test_idp_rejects_bad_requests_and_denial(
    client: httpx.AsyncClient, backend: Backend
) -> None:
    unknown = await client.get(
        "/idp/gosuslugi/authorize",
        params={"client_id": "evil", "redirect_uri": "http://x/cb", "state": "s"},
    )
    assert unknown.status_code == 400 and "client_id" in unknown.text
    nowhere = await client.get("/idp/nosuch/authorize", params={"client_id": "lk_b2c"})
    assert nowhere.status_code == 404
    url = (
        "http://127.0.0.1/idp/gosuslugi/authorize?client_id=lk_b2c&state=z"
        "&redirect_uri=http%3A%2F%2F127.0.0.1%2Fcb"
    )
    denied = backend.idp_complete_as_user(url, "ivan.smirnov", "sso-demo-2024", allow=False)
    assert "error=access_denied" in denied and "state=z" in denied
    bad = await client.get("/idp/gosuslugi/userinfo", headers={"authorization": "Bearer nope"})
    assert bad.status_code == 401
    discovery = await client.get("/idp/ok/.well-known/openid-configuration")
    assert discovery.json()["token_endpoint"].endswith("/idp/ok/token")


async def test_native_sso_login(client: httpx.AsyncClient) -> None:
    start = await client.post(f"{NATIVE}/auth/sso", json={"provider": "mailru"})
    url = start.json()["authorize_url"]
    done = await client.post(
        "/sim/idp/complete",
        json={
            "authorize_url": url,
            "username": "ivan.smirnov@mail.ru",
            "password": "sso-demo-2024",
        },
    )
    callback = done.json()["callback_url"]
    assert callback.startswith(f"http://127.0.0.1{NATIVE}/auth/sso/callback?")
    landing = await client.get(callback)
    assert landing.status_code == 200 and "Вход подтверждён" in landing.text
    token = await client.post(f"{NATIVE}/auth/sso/finish", json={"callback_url": callback})
    assert token.status_code == 200 and token.json()["token"]
    replay = await client.post(f"{NATIVE}/auth/sso/finish", json={"callback_url": callback})
    assert replay.status_code == 401


async def test_native_unlinked_identity_is_refused(client: httpx.AsyncClient) -> None:
    start = await client.post(f"{NATIVE}/auth/sso", json={"provider": "gosuslugi"})
    done = await client.post(
        "/sim/idp/complete",
        json={
            "authorize_url": start.json()["authorize_url"],
            "username": "stranger",
            "password": "sso-demo-2024",
        },
    )
    r = await client.post(
        f"{NATIVE}/auth/sso/finish", json={"callback_url": done.json()["callback_url"]}
    )
    assert r.status_code == 401 and r.json()["error"]["code"] == "invalid_credentials"


async def test_native_auth_endpoints(client: httpx.AsyncClient, backend: Backend) -> None:
    wrong = await client.post(f"{NATIVE}/auth/login", json={"login": "demo", "password": "x"})
    assert wrong.status_code == 401 and wrong.json()["error"]["code"] == "invalid_credentials"
    demanded = await client.post(
        f"{NATIVE}/auth/login",
        headers={"x-device-id": "d1"},
        json={"login": "captcha", "password": "demo-password"},
    )
    captcha = demanded.json()["error"]["captcha"]
    image = await client.get(captcha["image_url"])
    assert image.headers["content-type"] == "image/png" and image.content[:4] == b"\x89PNG"
    answer = (await client.get("/sim/captcha", params={"captcha_id": captcha["id"]})).json()
    ok = await client.post(
        f"{NATIVE}/auth/login",
        headers={"x-device-id": "d1"},
        json={
            "login": "captcha",
            "password": "demo-password",
            "captcha_id": captcha["id"],
            "captcha_answer": answer["answer"],
        },
    )
    assert ok.status_code == 200
    temp = await client.post(
        f"{NATIVE}/auth/login", json={"login": "newbie", "password": "temp-123456"}
    )
    assert temp.json()["must_change_password"] is True
    headers = {"authorization": f"Bearer {temp.json()['token']}"}
    blocked = await client.get(f"{NATIVE}/accounts", headers=headers)
    assert blocked.status_code == 403
    assert blocked.json()["error"]["code"] == "password_change_required"
    changed = await client.post(
        f"{NATIVE}/auth/password",
        headers=headers,
        json={"old_password": "temp-123456", "new_password": "Permanent-1"},
    )
    assert changed.status_code == 200
    assert (await client.get(f"{NATIVE}/accounts", headers=headers)).status_code == 200
    reset = await client.post(f"{NATIVE}/auth/password-reset", json={"login": "demo"})
    code = await client.get(
        "/sim/outbox/last-code", params={"operator": "reference", "purpose": "password_reset"}
    )
    done = await client.post(
        f"{NATIVE}/auth/password-reset/confirm",
        json={
            "ticket": reset.json()["ticket"],
            "code": code.json()["code"],
            "new_password": "After-reset-1",
        },
    )
    assert done.status_code == 200
    backend.advance(minutes=31)  # the earlier wrong login left a failure: no matter
    relog = await client.post(
        f"{NATIVE}/auth/login", json={"login": "demo", "password": "After-reset-1"}
    )
    assert relog.status_code == 200
    h = {"authorization": f"Bearer {relog.json()['token']}"}
    assert (await client.get(f"{NATIVE}/session", headers=h)).json()["valid"] is True
    assert (await client.post(f"{NATIVE}/auth/logout", headers=h)).status_code == 200
    gone = await client.get(f"{NATIVE}/session", headers=h)
    assert gone.status_code == 401 and gone.json()["error"]["code"] == "session_expired"


def test_codes_and_sessions_live_in_real_time_on_a_fast_clock(backend: Backend) -> None:
    """The demo's billing clock runs 720 times faster: a code must still live its real five
    minutes (a person reads the SMS and types it), and a session its real day."""
    backend.clock.set_speed(720)
    ticket = backend.send_login_code("reference", "demo")
    session = backend.login_password("rostelecom", "smirnov.ivan", "Rostelecom2024").session
    ttl = backend.operator("rostelecom").session_ttl
    assert backend.real_seconds(session.ttl) == ttl.total_seconds()
    backend.clock.set_speed(0)  # freeze to measure on the billing clock
    assert session.ttl == ttl * 720
    backend.advance(minutes=6)  # six billing minutes are half a real second at x720
    backend.login_code(ticket.id, backend.last_code("reference"))
    backend.advance(hours=5 * 24)  # 120 billing hours are 10 real minutes at x720
    assert backend.session(session.token)
    ticket = backend.send_login_code("reference", "demo")  # frozen clock: billing lifetimes
    backend.advance(minutes=6)
    with pytest.raises(CodeInvalid, match="истёк"):
        backend.login_code(ticket.id, backend.last_code("reference"))
