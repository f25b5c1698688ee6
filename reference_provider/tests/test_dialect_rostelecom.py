"""The Rostelecom dialect on the wire: the passport's pages and tokens, the client-api JSON."""

from __future__ import annotations

import datetime as dt
from collections.abc import AsyncIterator
from typing import Any
from urllib.parse import parse_qs, urljoin, urlsplit

import httpx
import pytest
import pytest_asyncio
from litestar import Litestar
from reference_provider.app import create_app
from reference_provider.backend import Backend
from selectolax.lexbor import LexborHTMLParser as HTMLParser

REALM = "/rostelecom/passport/auth/realms/b2c"
AUTH = REALM + "/protocol/openid-connect/auth"
TOKEN = REALM + "/protocol/openid-connect/token"
API = "/rostelecom/client-api/"
LK = "http://127.0.0.1/rostelecom/lk/sso-auth"


@pytest.fixture(scope="module")
def app() -> Litestar:
    return create_app(backend=Backend(seed=1, clock_speed=0), sim=True)


@pytest_asyncio.fixture
async def client(app: Litestar) -> AsyncIterator[tuple[Backend, httpx.AsyncClient]]:
    """A fresh demo world (renewed in place: building an app costs more than a Backend)."""
    backend: Backend = app.state.backend
    faults = backend.faults
    backend.__dict__.clear()
    backend.__dict__.update(vars(Backend(seed=1, clock_speed=0)))
    faults.clear()
    backend.faults, backend.sim = faults, True
    transport = httpx.ASGITransport(app=app, client=("127.0.0.1", 40000))
    async with httpx.AsyncClient(transport=transport, base_url="http://127.0.0.1") as http:
        yield backend, http


def form(html: str, selector: str) -> tuple[str, dict[str, str]]:
    node = HTMLParser(html).css_first(selector)
    assert node is not None, selector
    hidden = {
        n.attributes.get("name") or "": n.attributes.get("value") or ""
        for n in node.css("input[type=hidden]")
    }
    return node.attributes.get("action") or "", hidden


async def login_page(http: httpx.AsyncClient, redirect_uri: str = LK, **extra: str) -> str:
    q = {"client_id": "lk_b2c", "redirect_uri": redirect_uri, "state": "s-1", **extra}
    r = await http.get(AUTH, params=q)
    assert r.status_code == 200, r.text[:300]
    return r.text


async def code_for(
    http: httpx.AsyncClient,
    tab: str = "LOGIN",
    user: str = "smirnov.ivan",
    password: str = "Rostelecom2024",
) -> str:
    action, hidden = form(await login_page(http), "form#kc-form-login")
    r = await http.post(
        action, data={**hidden, "tab_type": tab, "username": user, "password": password}
    )
    assert r.status_code == 302, r.text[:500]
    location = r.headers["location"]
    assert location.startswith(LK + "?")
    query = parse_qs(urlsplit(location).query)
    assert query["state"] == ["s-1"]
    return query["code"][0]


async def tokens(http: httpx.AsyncClient, **kwargs: str) -> dict[str, Any]:
    code = await code_for(http, **kwargs)
    r = await http.post(
        TOKEN,
        data={
            "grant_type": "authorization_code",
            "code": code,
            "client_id": "lk_b2c",
            "redirect_uri": LK,
        },
    )
    assert r.status_code == 200, r.text
    data: dict[str, Any] = r.json()
    return data


async def api(http: httpx.AsyncClient, token: str, method: str, **body: Any) -> httpx.Response:
    return await http.post(API + method, json=body, headers={"Authorization": f"Bearer {token}"})


async def test_login_page_offers_four_identifiers_codes_and_sso(client: Any) -> None:
    _, http = client
    tree = HTMLParser(await login_page(http))
    assert [t.attributes["data-tab"] for t in tree.css("[data-tab]")] == [
        "PHONE",
        "EMAIL",
        "LOGIN",
        "LS",
    ]
    assert tree.css_first("form#kc-form-login input[name=password]") is not None
    assert tree.css_first("form#kc-form-otp-request input[name=channel][value=email]")
    providers = [a.attributes["data-provider"] for a in tree.css("a.social-link")]
    assert providers == ["gosuslugi", "tbank", "vk", "ok", "mailru"]
    assert tree.css_first("a#reset-password") is not None
    assert tree.css_first("html").attributes["lang"] == "ru"


@pytest.mark.parametrize(
    ("query", "message"),
    [
        ({"client_id": "other", "redirect_uri": LK}, "client_id"),
        ({"client_id": "lk_b2c", "redirect_uri": "https://evil.example/cb"}, "redirect_uri"),
        ({"client_id": "lk_b2c", "redirect_uri": "javascript:alert(1)"}, "redirect_uri"),
        ({"client_id": "lk_b2c", "redirect_uri": LK, "kc_idp_hint": "facebook"}, "способ"),
    ],
)
async def test_bad_authorization_requests_are_refused(
    client: Any, query: dict[str, str], message: str
) -> None:
    _, http = client
    r = await http.get(AUTH, params=query)
    assert r.status_code == 400 and message in r.text


@pytest.mark.parametrize(
    ("tab", "user"),
    [
        ("LOGIN", "smirnov.ivan"),
        ("PHONE", "+7 903 123-45-67"),
        ("EMAIL", "IVAN.SMIRNOV@example.ru"),
        ("LS", "361000000001"),
    ],
)
async def test_each_identifier_logs_in_and_the_code_is_spent_once(
    client: Any, tab: str, user: str
) -> None:
    _, http = client
    code = await code_for(http, tab, user)
    form_data = {
        "grant_type": "authorization_code",
        "code": code,
        "client_id": "lk_b2c",
        "redirect_uri": LK,
    }
    r = await http.post(TOKEN, data=form_data)
    data = r.json()
    assert data["token_type"] == "Bearer" and data["expires_in"] == 600
    assert data["refresh_token"] and r.headers["cache-control"] == "no-store"
    again = await http.post(TOKEN, data=form_data)
    assert again.status_code == 400 and again.json()["error"] == "invalid_grant"


async def test_token_endpoint_refuses_strangers(client: Any) -> None:
    _, http = client
    code = await code_for(http)
    r = await http.post(
        TOKEN,
        data={
            "grant_type": "authorization_code",
            "code": code,
            "client_id": "lk_b2c",
            "redirect_uri": "http://127.0.0.1/x",
        },
    )
    assert r.json()["error"] == "invalid_grant"
    r = await http.post(
        TOKEN, data={"grant_type": "authorization_code", "code": code, "client_id": "someone"}
    )
    assert r.status_code == 401
    r = await http.post(TOKEN, data={"grant_type": "password", "client_id": "lk_b2c"})
    assert r.json()["error"] == "unsupported_grant_type"


async def test_login_errors_are_shown_on_the_page(client: Any) -> None:
    _, http = client
    action, hidden = form(await login_page(http), "form#kc-form-login")
    r = await http.post(
        action, data={**hidden, "tab_type": "LOGIN", "username": "smirnov.ivan", "password": "nope"}
    )
    feedback = HTMLParser(r.text).css_first("#kc-feedback")
    assert feedback is not None and feedback.attributes["data-error"] == "invalid_credentials"
    r = await http.post(
        action, data={**hidden, "tab_type": "LS", "username": "12345", "password": "nope"}
    )
    assert "12 цифр" in r.text
    r = await http.post(action, data={**hidden, "tab_type": "XX", "username": "a"})
    assert HTMLParser(r.text).css_first("#kc-feedback") is not None
    r = await http.post(REALM + "/login-actions/authenticate?session_code=gone", data={})
    assert r.status_code == 400 and "истекло" in r.text


async def test_captcha_is_demanded_on_a_new_device(client: Any) -> None:
    backend, http = client
    action, hidden = form(await login_page(http), "form#kc-form-login")
    data = {**hidden, "tab_type": "PHONE", "username": "9161234567", "password": "Petrova2024"}
    r = await http.post(action, data=data)
    tree = HTMLParser(r.text)
    image = tree.css_first("#captcha-block img#captcha-image")
    captcha_id = tree.css_first("#captcha-block input[name=captchaId]")
    assert image is not None and captcha_id is not None
    png = await http.get(image.attributes["src"] or "")
    assert png.headers["content-type"] == "image/png" and png.content[:4] == b"\x89PNG"
    cid = captcha_id.attributes["value"] or ""
    r = await http.post(
        action, data={**data, "captchaId": cid, "captcha": backend.captcha_answer(captcha_id=cid)}
    )
    assert r.status_code == 302 and "code=" in r.headers["location"]


async def test_one_time_code_by_email(client: Any) -> None:
    backend, http = client
    action, hidden = form(await login_page(http), "form#kc-form-otp-request")
    r = await http.post(
        action, data={**hidden, "tab_type": "LOGIN", "username": "smirnov.ivan", "channel": "email"}
    )
    dest = HTMLParser(r.text).css_first("#otp-destination")
    assert dest is not None and dest.attributes["data-channel"] == "email"
    mail = backend.outbox_for("rostelecom", "ivan.smirnov@example.ru", "email", "login")[-1]
    verify, _ = form(r.text, "form#kc-form-otp")
    r = await http.post(verify, data={"code": mail.code})
    assert r.status_code == 302 and r.headers["location"].startswith(LK)


async def test_password_reset_with_the_policy(client: Any) -> None:
    backend, http = client
    tree = HTMLParser(await login_page(http))
    reset_url = tree.css_first("a#reset-password").attributes["href"] or ""
    page = (await http.get(reset_url)).text
    action, hidden = form(page, "form#kc-reset-password-form")
    base = {"tab_type": "PHONE", "username": "9031234567", "channel": "sms"}
    r = await http.post(action, data={**hidden, **base, "captcha": "wrong"})
    assert 'data-error="captcha_invalid"' in r.text
    action, hidden = form(r.text, "form#kc-reset-password-form")
    answer = backend.captcha_answer(captcha_id=hidden["captchaId"])
    r = await http.post(action, data={**hidden, **base, "captcha": answer})
    confirm, _ = form(r.text, "form#kc-update-password-form")
    code = backend.last_code("rostelecom", "9031234567", purpose="password_reset")
    for bad, error in [
        ("short1A", "password_policy"),
        ("nouppercase1", "password_policy"),
        ("Пароль2024Ab", "password_policy"),
    ]:
        r = await http.post(
            confirm, data={"code": code, "password_new": bad, "password_confirm": bad}
        )
        assert f'data-error="{error}"' in r.text, bad
    r = await http.post(
        confirm,
        data={"code": code, "password_new": "NewPass2024", "password_confirm": "NewPass2025"},
    )
    assert 'data-error="password_mismatch"' in r.text
    r = await http.post(
        confirm,
        data={"code": code, "password_new": "NewPass2024", "password_confirm": "NewPass2024"},
    )
    assert "Пароль изменён" in r.text
    await code_for(http, password="NewPass2024")


async def test_sso_button_goes_through_the_identity_provider(client: Any) -> None:
    _, http = client
    tree = HTMLParser(await login_page(http))
    button = tree.css_first("a#social-gosuslugi").attributes["href"] or ""
    r = await http.get(button)
    assert r.status_code == 302
    idp = urlsplit(r.headers["location"])
    assert idp.path == "/idp/gosuslugi/authorize"
    q = parse_qs(idp.query)
    assert q["client_id"] == ["lk_b2c"]
    assert q["redirect_uri"][0].endswith(REALM + "/broker/gosuslugi/endpoint")
    page = await http.get(r.headers["location"])
    action, hidden = form(page.text, "form")
    consent = await http.post(
        urljoin(str(page.url), action),
        data={**hidden, "username": "ivan.smirnov", "password": "sso-demo-2024"},
    )
    action, hidden = form(consent.text, "form")
    back = await http.post(urljoin(str(consent.url), action), data={**hidden, "decision": "allow"})
    endpoint = await http.get(back.headers["location"])
    assert endpoint.status_code == 302
    final = endpoint.headers["location"]
    assert final.startswith(LK + "?") and "code=" in final and "state=s-1" in final
    lk = await http.get(final)  # the registered page never spends the code
    assert "Вход выполнен" in lk.text
    code = parse_qs(urlsplit(final).query)["code"][0]
    r = await http.post(
        TOKEN,
        data={
            "grant_type": "authorization_code",
            "code": code,
            "client_id": "lk_b2c",
            "redirect_uri": LK,
        },
    )
    assert r.status_code == 200


async def test_refresh_token_lives_as_long_as_the_domain_session(client: Any) -> None:
    backend, http = client
    data = await tokens(http)
    assert (await api(http, data["access_token"], "getAccounts")).status_code == 200
    backend.advance(minutes=11)
    r = await api(http, data["access_token"], "getAccounts")
    assert r.status_code == 401 and r.json()["isSessionLost"] is True
    r = await http.post(
        TOKEN,
        data={
            "grant_type": "refresh_token",
            "client_id": "lk_b2c",
            "refresh_token": data["refresh_token"],
        },
    )
    fresh = r.json()["access_token"]
    assert (await api(http, fresh, "getAccounts")).status_code == 200
    backend.expire_sessions(operator="rostelecom")
    r = await http.post(
        TOKEN,
        data={
            "grant_type": "refresh_token",
            "client_id": "lk_b2c",
            "refresh_token": data["refresh_token"],
        },
    )
    assert r.json()["error"] == "invalid_grant"
    r = await api(http, fresh, "checkSession")
    assert r.status_code == 200 and r.json()["isSessionLost"] is True


async def test_client_api_money_in_kopecks_and_errors(client: Any) -> None:
    backend, http = client
    token = (await tokens(http))["access_token"]
    accounts = (await api(http, token, "getAccounts")).json()["accounts"]
    first = accounts[0]
    assert first["number"] == "361000000001" and isinstance(first["accountId"], int)
    assert [s["type"] for s in first["services"]] == ["INTERNET", "IPTV"]
    balance = (await api(http, token, "getAccountBalanceV2", accountId=first["accountId"])).json()
    acc = backend.account_by_number("rostelecom", "361000000001")
    assert balance["balance"] == backend.balance(acc) == 154000
    assert isinstance(balance["balance"], int)
    info = (
        await api(http, token, "getServiceInfo", serviceId=first["services"][0]["serviceId"])
    ).json()
    assert info["status"] == "CONNECTED"
    blocked = (await api(http, token, "getServiceInfo", accountId=accounts[1]["accountId"])).json()
    assert blocked["status"] == "VOLUNTARY_BLOCKED" and blocked["voluntaryBlockEndDate"]
    anna = backend.account_by_number("rostelecom", "361000000010").id.removeprefix("acc-")
    r = (await api(http, token, "getAccountBalanceV2", accountId=int(anna))).json()
    assert r == {
        "isError": True,
        "errorCode": "ACCESS_DENIED",
        "errorMsg": "Нет доступа к этому счёту",
    }
    assert (await api(http, token, "noSuchMethod")).json()["errorCode"] == "NOT_FOUND"
    r = await http.post(
        API + "getAccounts", content=b"{nope", headers={"Authorization": f"Bearer {token}"}
    )
    assert r.status_code == 200 and r.json()["errorCode"] == "BAD_REQUEST"
    r = await api(http, token, "createPayment", accountId=first["accountId"], amount=100.5)
    assert r.json()["errorCode"] == "BAD_REQUEST"
    r = await http.get(API + "getAccounts")
    assert r.status_code in (404, 405) and r.json()["isError"] is True
    r = await http.get("/rostelecom/passport/nowhere")
    assert r.status_code == 404 and "text/html" in r.headers["content-type"]


async def test_financial_operations_need_the_sms_code(client: Any) -> None:
    backend, http = client
    token = (await tokens(http))["access_token"]
    account = (await api(http, token, "getAccounts")).json()["accounts"][3]["accountId"]
    r = (await api(http, token, "createPayment", accountId=account, amount=30000)).json()
    assert r["needConfirm"] is True and r["maskedPhone"] == "+7 903 ***-**-67"
    wrong = (
        await api(http, token, "confirmOperation", confirmId=r["confirmId"], code="000000")
    ).json()
    assert wrong["errorCode"] == "INVALID_CODE" and wrong["attemptsLeft"] == 2
    code = backend.last_code("rostelecom", purpose="top_up")
    done = (await api(http, token, "confirmOperation", confirmId=r["confirmId"], code=code)).json()
    assert done["operation"] == "top_up" and done["balance"] == -21000 + 30000
    again = (await api(http, token, "confirmOperation", confirmId=r["confirmId"], code=code)).json()
    assert again["errorCode"] == "NOT_FOUND"
    off = (
        await api(http, token, "changeOption", accountId=account, optionId="rt-ip", enabled=True)
    ).json()
    assert off["needConfirm"] is True  # a paid option


async def test_block_reports_autopay_notifications(client: Any) -> None:
    backend, http = client
    token = (await tokens(http))["access_token"]
    account = (await api(http, token, "getAccounts")).json()["accounts"][0]["accountId"]
    today = backend.clock.today()
    start, end = today + dt.timedelta(days=5), today + dt.timedelta(days=10)
    body = {"accountId": account, "startDate": start.isoformat(), "endDate": end.isoformat()}
    cost = (await api(http, token, "getVoluntaryBlockCost", **body)).json()
    assert (cost["days"], cost["total"]) == (6, 0)
    block = (await api(http, token, "blockServices", **body)).json()
    assert block["block"]["state"] == "SCHEDULED"
    assert (await api(http, token, "blockServices", **body)).json()["errorCode"] == "REJECTED"
    assert (await api(http, token, "unblockServices", accountId=account)).json()["block"] is None
    order = (
        await api(
            http,
            token,
            "orderDetail",
            accountId=account,
            format="XLS",
            dateFrom=(today - dt.timedelta(days=10)).isoformat(),
            dateTo=today.isoformat(),
        )
    ).json()
    r = await http.get(
        API + "downloadDetail",
        params={"reportId": order["reportId"]},
        headers={"Authorization": f"Bearer {token}"},
    )
    assert r.content[:4] == b"PK\x03\x04"
    r = await http.get(API + "downloadDetail", params={"reportId": order["reportId"]})
    assert r.status_code == 401
    r = (
        await api(
            http,
            token,
            "setAutopay",
            accountId=account,
            enabled=True,
            threshold=10000,
            amount=50000,
        )
    ).json()
    assert r["autopay"]["enabled"] is True and r["autopay"]["cardMask"]
    assert (r["autopay"]["threshold"], r["autopay"]["amount"]) == (10000, 50000)
    r = (await api(http, token, "setNotificationSettings", channels={"PUSH": True})).json()
    assert r["channels"] == {"SMS": True, "EMAIL": True, "PUSH": True}
    bad = (await api(http, token, "setNotificationSettings", channels={"FAX": True})).json()
    assert bad["errorCode"] == "BAD_REQUEST"


async def test_bulk_sessions_for_benchmarks(client: Any) -> None:
    _, http = client
    r = await http.post("/sim/accounts/bulk", json={"operator": "rostelecom", "count": 2})
    assert r.status_code == 201
    account = r.json()["accounts"][1]
    session = account["session"]
    assert set(session) == {"access_token", "refresh_token", "expires_at"}
    accounts = (await api(http, session["access_token"], "getAccounts")).json()["accounts"]
    assert [a["number"] for a in accounts] == [account["number"]]
    balance = await api(
        http, session["access_token"], "getAccountBalanceV2", accountId=accounts[0]["accountId"]
    )
    assert balance.json()["balance"] == 50000


async def test_openapi_schema_still_builds(client: Any) -> None:
    _, http = client
    r = await http.get("/schema/openapi.json")
    assert r.status_code == 200
    assert "/rostelecom/client-api/{method}" in r.json()["paths"]
