"""The Rostelecom dialect on the wire: two hosts (passport, lk), the anti-robot page, forms in
``mergeConfig``, the ``sso-auth`` cookie session with its CSRF token, the client-api JSON.

A plain HTTP client stands in for the passport's JavaScript here, doing what the scripts do
(the anti-robot cookie, reading ``mergeConfig``), as AnyBalance's login.rt.js does; the plugin's
browser tests drive the real pages in Chromium."""

from __future__ import annotations

import json
import re
from collections.abc import AsyncIterator
from typing import Any
from urllib.parse import parse_qs, urlsplit

import httpx
import pytest
import pytest_asyncio
from litestar import Litestar
from reference_provider.app import create_app
from reference_provider.backend import Backend

PASSPORT = "/rostelecom/passport"
REALM = PASSPORT + "/auth/realms/b2c"
AUTH = REALM + "/protocol/openid-connect/auth"
LK = "/rostelecom/lk"
SSO_AUTH = f"http://127.0.0.1{LK}/sso-auth/"
API = LK + "/client-api/"
BODY = {"client_uuid": "0C6E1D2B-1111-4222-8333-444455556666", "current_page": "main"}


@pytest.fixture(scope="module")
def app() -> Litestar:
    return create_app(backend=Backend(seed=1, clock_speed=0), sim=True)


@pytest_asyncio.fixture
async def client(app: Litestar) -> AsyncIterator[tuple[Backend, httpx.AsyncClient]]:
    """A fresh demo world (renewed in place: building an app costs more than a Backend)."""
    backend: Backend = app.state.backend.reset()
    transport = httpx.ASGITransport(app=app, client=("127.0.0.1", 40000))
    async with httpx.AsyncClient(transport=transport, base_url="http://127.0.0.1") as http:
        yield backend, http


def merge_config(html: str) -> dict[str, Any]:
    match = re.search(r"<script[^>]*>\s*mergeConfig\((\{.*?\})\);</script>", html, re.S)
    assert match, html[:400]
    return dict(json.loads(match.group(1)))


def page_message(html: str) -> dict[str, Any] | None:
    match = re.search(r"window\.__config__\s*=\s*\{[^{]*?message:\s*(null|\{.*?\})\};", html, re.S)
    assert match, html[:400]
    value = json.loads(match.group(1))
    return dict(value) if value else None


async def pass_bot_check(http: httpx.AsyncClient, url: str, **params: str) -> httpx.Response:
    """The anti-robot page first; do what its script does (the cookie), then load again."""
    r = await http.get(url, params=params)
    assert r.status_code == 200 and "bobcmn" in r.text, r.text[:300]
    nonce = re.search(r'var n = "([0-9a-f]+)"', r.text)
    assert nonce
    http.cookies.set("rt_bot_pass", nonce.group(1)[::-1], path=PASSPORT + "/")
    return await http.get(url, params=params)


async def start_screen(http: httpx.AsyncClient, redirect_uri: str = SSO_AUTH) -> str:
    params = {
        "response_type": "code",
        "scope": "openid",
        "client_id": "lk_b2c",
        "redirect_uri": redirect_uri,
        "state": '{"uuid":"4FFD0547-33CA-45D7-B795-E0D6C65DE0C5"}',
    }
    r = await pass_bot_check(http, AUTH, **params)
    assert r.status_code == 200
    return r.text


async def password_screen(http: httpx.AsyncClient) -> dict[str, Any]:
    config = merge_config(await start_screen(http))
    assert config["step"] == "start"
    r = await http.post(config["url"]["loginAction"], data={"address": "", "standard_auth_btn": ""})
    assert r.status_code == 200
    config = merge_config(r.text)
    assert config["step"] == "password"
    return config


async def log_in(
    http: httpx.AsyncClient,
    tab: str = "LOGIN",
    user: str = "smirnov.ivan",
    pw: str = "Rostelecom2024",
) -> httpx.Response:
    config = await password_screen(http)
    data = {"tab_type": tab, "username": user, "password": pw, "rememberMe": "on"}
    return await http.post(config["url"]["loginAction"], data=data)


async def into_cabinet(http: httpx.AsyncClient, response: httpx.Response) -> None:
    assert response.status_code == 302, response.text[:400]
    location = response.headers["location"]
    assert location.startswith(SSO_AUTH + "?")
    query = parse_qs(urlsplit(location).query)
    assert query["state"] == ['{"uuid":"4FFD0547-33CA-45D7-B795-E0D6C65DE0C5"}']
    r = await http.get(location)
    assert r.status_code == 302 and r.headers["location"].endswith(LK + "/")
    assert http.cookies.get("SESSION") and http.cookies.get("CSRF-TOKEN")


async def api(http: httpx.AsyncClient, method: str, csrf: bool = True, **body: Any) -> Any:
    headers = {"CSRF-TOKEN": http.cookies.get("CSRF-TOKEN") or ""} if csrf else {}
    r = await http.post(API + method, json={**BODY, **body}, headers=headers)
    return r.status_code, r.json()


@pytest.mark.parametrize(
    ("tab", "user"),
    [
        ("LOGIN", "smirnov.ivan"),
        ("PHONE", "79031234567"),
        ("EMAIL", "ivan.smirnov@example.ru"),
        ("LS", "361000000001"),
    ],
)
async def test_each_tab_logs_in_and_opens_a_cookie_session(
    client: tuple[Backend, httpx.AsyncClient], tab: str, user: str
) -> None:
    _, http = client
    await into_cabinet(http, await log_in(http, tab, user))
    status, reply = await api(http, "checkSession")
    assert (status, reply["isSessionLost"]) == (200, False)


async def test_without_the_script_only_the_anti_robot_page_comes(
    client: tuple[Backend, httpx.AsyncClient],
) -> None:
    _, http = client
    params = {"client_id": "lk_b2c", "redirect_uri": SSO_AUTH, "state": "x"}
    for _ in range(2):
        r = await http.get(AUTH, params=params)
        assert "bobcmn" in r.text and "mergeConfig(" not in r.text


async def test_a_wrong_password_comes_back_in_the_config_message(
    client: tuple[Backend, httpx.AsyncClient],
) -> None:
    _, http = client
    r = await log_in(http, pw="Wrong-Pass-1")
    assert r.status_code == 200
    message = page_message(r.text)
    assert message and message["code"] == "invalid_credentials"
    assert "парол" in message["summary"].lower()


async def test_a_captcha_is_demanded_through_merge_config(
    client: tuple[Backend, httpx.AsyncClient],
) -> None:
    backend, http = client
    r = await log_in(http, "EMAIL", "anna.petrova@example.ru", "Petrova2024")  # a new device
    config = merge_config(r.text)
    assert config["captchaId"] and config["captchaUrl"]
    image = await http.get(f"{config['captchaUrl']}/{config['captchaId']}")
    assert image.headers["content-type"] == "image/png" and image.content.startswith(b"\x89PNG")
    data = {
        "tab_type": "EMAIL",
        "username": "anna.petrova@example.ru",
        "password": "Petrova2024",
        "captcha_id": config["captchaId"],
        "code": backend.captcha_answer(captcha_id=config["captchaId"]),
    }
    await into_cabinet(http, await http.post(config["url"]["loginAction"], data=data))


async def test_a_one_time_code_from_the_first_screen(
    client: tuple[Backend, httpx.AsyncClient],
) -> None:
    backend, http = client
    config = merge_config(await start_screen(http))
    r = await http.post(
        config["url"]["loginAction"], data={"address": "+7 903 123-45-67", "otp_get_code": ""}
    )
    config = merge_config(r.text)
    assert config["step"] == "otp" and config["otp"]["channel"] == "sms"
    wrong = await http.post(config["url"]["otpAction"], data={"code": "000000"})
    assert (page_message(wrong.text) or {}).get("code") == "code_invalid"
    code = backend.last_code("rostelecom")
    await into_cabinet(http, await http.post(config["url"]["otpAction"], data={"code": code}))


async def test_sso_through_the_broker_ends_in_the_cabinet(
    client: tuple[Backend, httpx.AsyncClient],
) -> None:
    _, http = client
    config = merge_config(await start_screen(http))
    gosuslugi = next(s for s in config["social"] if s["id"] == "gosuslugi")
    r = await http.get(gosuslugi["url"])
    assert r.status_code == 302 and "/idp/gosuslugi/authorize" in r.headers["location"]


async def test_the_client_api_reads_as_the_independent_clients_read_it(
    client: tuple[Backend, httpx.AsyncClient],
) -> None:
    backend, http = client
    await into_cabinet(http, await log_in(http))
    _, accounts = await api(http, "getAccounts")
    first = accounts["accounts"][0]
    assert isinstance(first["accountId"], int) and first["number"] == "361000000001"
    services = first["services"]
    assert [s["type"] for s in services] == [1, 8]  # internet and interactive TV
    _, balance = await api(http, "getAccountBalanceV2", accountId=first["accountId"])
    assert balance["balance"] is None  # split over sub-accounts
    assert sum(s["balance"] for s in balance["subAccounts"]) == backend.balance(
        backend.account(f"acc-{first['accountId']}")
    )
    ids = [s["serviceId"] for s in services]
    _, names = await api(http, "getServiceTariffName", servicesId=ids)
    assert names["tariffNames"] == {str(i): "Интернет + ТВ" for i in ids}
    _, info = await api(http, "getServiceInfo", serviceId=ids[0])
    assert info["status"] == "ACTIVE"
    mobile = next(a for a in accounts["accounts"] if a["services"][0]["type"] == 16)
    _, tariff = await api(http, "getServiceTariff", serviceId=mobile["services"][0]["serviceId"])
    units = {o["limits"][0]["unit"] for o in tariff["options"]}
    assert units == {"мин", "SMS", "МБ"} and isinstance(tariff["fee"], int)
    _, fpl = await api(http, "getFplStatus")
    assert fpl["balance"] == 350 and fpl["levelInfo"]["level"] == "STANDARD"
    _, profile = await api(http, "getProfile")
    assert (profile["login"], profile["lastName"]) == ("smirnov.ivan", "Смирнов")
    blocked = next(a for a in accounts["accounts"] if a["number"] == "361000000002")
    _, info = await api(http, "getServiceInfo", serviceId=blocked["services"][0]["serviceId"])
    assert info["status"] == "VOLUNTARY_BLOCKED" and info["voluntaryBlockEndDate"]


async def test_changes_need_the_csrf_header(client: tuple[Backend, httpx.AsyncClient]) -> None:
    _, http = client
    await into_cabinet(http, await log_in(http))
    _, accounts = await api(http, "getAccounts")
    acc = accounts["accounts"][0]["accountId"]
    status, reply = await api(http, "changeTariff", csrf=False, accountId=acc, tariffId="x")
    assert status == 403 and reply["isError"] is True
    status, reply = await api(http, "changeTariff", accountId=acc, tariffId="rt-inet500")
    assert status == 200 and reply["needConfirm"] is True


async def test_a_lost_session(client: tuple[Backend, httpx.AsyncClient]) -> None:
    _, http = client
    status, reply = await api(http, "checkSession")
    assert (status, reply["isSessionLost"]) == (200, True)
    status, reply = await api(http, "getAccounts")
    assert status == 401 and reply["isError"] and reply["isSessionLost"]


async def test_the_chat_answers_at_once_or_later(
    client: tuple[Backend, httpx.AsyncClient],
) -> None:
    _, http = client
    await into_cabinet(http, await log_in(http))
    _, accounts = await api(http, "getAccounts")
    acc = accounts["accounts"][0]["accountId"]
    _, topics = await api(http, "getChatTopics")
    assert {t["topicId"] for t in topics["topics"]} >= {"general", "billing"}
    _, sent = await api(http, "sendChatMessage", accountId=acc, topicId="general", text="бонус?")
    assert [m["author"] for m in sent["messages"]] == ["CLIENT", "BOT"]
    _, history = await api(http, "getChatHistory", accountId=acc)
    assert history["messages"][-1]["author"] == "BOT"
