"""The netbynet dialect: the real login and error conventions (a success names no resultCode;
5 wrong password, 8 captcha), the quoted AUTHORIZATION cookie, captcha, password recovery, and
the voluntary block (a request, approval, 60 free days, then a fee)."""

from __future__ import annotations

import datetime as dt
import itertools
from collections.abc import AsyncIterator, Iterator
from typing import Any

import httpx
import pytest
import pytest_asyncio
from reference_provider.app import create_app
from reference_provider.backend import Backend
from reference_provider.domain import MSK

START = dt.datetime(2025, 1, 15, 12, 0, tzinfo=MSK)
API = "/netbynet/api"
PASSWORD = "Netbynet-2024"
_serial = itertools.count(1)


@pytest.fixture(scope="module")
def nbn_backend() -> Backend:
    return Backend(seed=1, clock_speed=0, start=START)


@pytest.fixture(autouse=True)
def _clear_faults(nbn_backend: Backend) -> Iterator[None]:
    yield
    nbn_backend.faults.clear()


@pytest.fixture(scope="module")
def nbn_transport(nbn_backend: Backend) -> httpx.ASGITransport:
    return httpx.ASGITransport(app=create_app(backend=nbn_backend, sim=True))


@pytest_asyncio.fixture
async def api(nbn_transport: httpx.ASGITransport) -> AsyncIterator[httpx.AsyncClient]:
    async with httpx.AsyncClient(
        transport=nbn_transport, base_url=f"http://127.0.0.1{API}/"
    ) as client:
        yield client


def contract(backend: Backend, **options: Any) -> tuple[str, str, str]:
    """A netbynet subscriber of its own: (contract number, region, account number)."""
    n = next(_serial)
    region = options.pop("region", "belgorod")
    sub = backend.create_subscriber(
        "netbynet", f"6{n:08d}", PASSWORD, "Проверка Диалекта", phone=f"926777{n:04d}",
        email=f"dialect{n}@example.ru", region=region, **options,
    )  # fmt: skip
    acc = backend.create_account(
        sub, kind="internet", tariff_id="nbn-100", balance=600_00,
        opened=backend.clock.today() - dt.timedelta(days=40),
    )  # fmt: skip
    backend.set_balance(acc, 600_00)
    return sub.login, region, acc.number


def login_body(number: str, region: str, password: str = PASSWORD, code: str = "") -> dict:
    """The body the site sends (MobileBalance WiFire_API_inet1.js lines 45-51): no region."""
    del region
    return {
        "login": number,
        "password": password,
        "captchaCode": code,
        "save": False,
        "accountNumber": number,
        "deviceInfo": {"loginType": "SITE"},
    }


def ok(data: dict) -> bool:
    """A success names no resultCode."""
    return "resultCode" not in data


async def login(api: httpx.AsyncClient, number: str, region: str) -> None:
    response = await api.post("v3/login", json=login_body(number, region))
    assert response.json() == {}, response.text


async def test_the_six_regions(api: httpx.AsyncClient) -> None:
    data = (await api.get("v1/get-regions")).json()
    assert ok(data)
    assert len(data["regions"]) == 6
    assert {r["id"] for r in data["regions"]} >= {"moscow", "voronezh", "kursk"}


async def test_login_sets_the_quoted_session_cookie_and_replies_name_no_result(
    api: httpx.AsyncClient, nbn_backend: Backend
) -> None:
    number, region, _ = contract(nbn_backend)
    way = (await api.get("v1/get-way", params={"accountNumber": number})).json()
    assert ok(way)
    response = await api.post("v3/login", json=login_body(number, region))
    assert response.status_code == 200
    assert response.json() == {}
    cookie = api.cookies["AUTHORIZATION"]
    assert cookie.startswith('"') and cookie.endswith('"')
    balance = (await api.get("v1/get-balance")).json()
    assert balance == {"accountBalance": 600.0, "statusCode": 0}
    for version in ("v1", "v2"):
        details = (await api.get(f"{version}/get-balance-details")).json()
        assert details["bonusBalance"] == -1 and ok(details)
        assert details["nextPaymentDate"] == "2025-02-01"
        internet = (await api.get(f"{version}/get-internet-accounts-details")).json()
        assert internet["internetAccounts"][0]["tariffPlan"]["name"] == "Wifire 100"
        assert internet["internetAccounts"][0]["statusName"] == "Активна"
    profile = (await api.get("v1/get-profile-info")).json()
    assert profile["number"] == number
    assert profile["contacts"]["fullName"] == "Проверка Диалекта"
    v2 = (await api.get("v2/get-profile-info")).json()
    assert str(v2["id"]) == number and v2["fullName"] == "Проверка Диалекта"
    assert (await api.get("http://127.0.0.1/netbynet/logout")).json() == {}
    assert (await api.get("v1/get-balance")).status_code == 401


@pytest.mark.parametrize(
    "change",
    [{"password": "wrong-password"}, {"login": "000000001"}],
)
async def test_login_failures_answer_200_with_code_5(
    api: httpx.AsyncClient, nbn_backend: Backend, change: dict[str, str]
) -> None:
    """``{captcha, resultCode: 5, resultText}`` (MobileBalance WiFire_API_inet1.js line 61)."""
    number, region, _ = contract(nbn_backend)
    response = await api.post("v3/login", json={**login_body(number, region), **change})
    assert response.status_code == 200
    assert response.json()["resultCode"] == 5
    assert "Лицевого счета" in response.json()["resultText"]
    assert "AUTHORIZATION" not in api.cookies


async def test_after_failures_the_login_demands_a_captcha(
    api: httpx.AsyncClient, nbn_backend: Backend
) -> None:
    number, region, _ = contract(nbn_backend)
    for _ in range(2):
        await api.post("v3/login", json=login_body(number, region, "wrong-password"))
    demanded = (await api.post("v3/login", json=login_body(number, region))).json()
    assert demanded["resultCode"] == 8 and demanded["captcha"] is True
    assert demanded["resultText"] == "Повторите с использованием проверочного кода."
    picture = await api.get(
        "v2/captcha-challenge", params={"accountNumber": number, "time": "1718000000000"}
    )
    assert picture.headers["content-type"] == "image/png"
    assert picture.content.startswith(b"\x89PNG")
    wrong = (await api.post("v3/login", json=login_body(number, region, code="ZZZZZ"))).json()
    assert wrong["resultCode"] == 8 and wrong["captcha"] is True
    await api.get("v2/captcha-challenge")
    answer = nbn_backend.captcha_answer("netbynet")
    done = (await api.post("v3/login", json=login_body(number, region, code=answer))).json()
    assert done == {}


async def test_a_new_device_policy_remembers_the_device_id_header(
    api: httpx.AsyncClient, nbn_backend: Backend
) -> None:
    number, region, _ = contract(nbn_backend, captcha_policy="new_device")
    headers = {"X-Device-Id": "device-under-test"}
    first = await api.post("v3/login", json=login_body(number, region), headers=headers)
    assert first.json()["resultCode"] == 8
    await api.get("v2/captcha-challenge", headers=headers)
    answer = nbn_backend.captcha_answer("netbynet")
    done = await api.post("v3/login", json=login_body(number, region, code=answer), headers=headers)
    assert done.json() == {}
    api.cookies.clear()
    again = await api.post("v3/login", json=login_body(number, region), headers=headers)
    assert again.json() == {}


async def test_a_temporary_password_must_be_changed_first(
    api: httpx.AsyncClient, nbn_backend: Backend
) -> None:
    number, region, _ = contract(nbn_backend, temp_password=True)
    data = (await api.post("v3/login", json=login_body(number, region))).json()
    assert data == {"needChangePassword": True}
    blocked = await api.get("v1/get-balance")
    assert blocked.status_code == 403 and blocked.json()["resultCode"] == 21
    changed = await api.post(
        "v1/change-password", json={"oldPassword": PASSWORD, "newPassword": "Fresh-Pass-7"}
    )
    assert ok(changed.json())
    assert ok((await api.get("v1/get-balance")).json())


async def test_password_recovery_by_email_or_sms_then_a_new_password(
    api: httpx.AsyncClient, nbn_backend: Backend
) -> None:
    number, region, account = contract(nbn_backend)
    sub = nbn_backend.find_subscriber("netbynet", number, "login")
    assert sub is not None and sub.phone is not None
    body = {"region": region, "phone": f"+7{sub.phone}", "accountNumber": account}
    by_mail = (await api.post("v1/password-recovery", json={**body, "channel": "email"})).json()
    assert ok(by_mail)
    assert by_mail["channel"] == "email" and by_mail["destination"].endswith("@example.ru")
    by_sms = (await api.post("v1/password-recovery", json={**body, "channel": "sms"})).json()
    assert by_sms["destination"].startswith("+7 926")
    code = nbn_backend.last_code("netbynet", purpose="password_reset")
    done = await api.post(
        "v1/password-recovery/complete",
        json={"requestId": by_sms["requestId"], "code": code, "newPassword": "Recovered-1"},
    )
    assert ok(done.json())
    again = await api.post("v3/login", json=login_body(number, region, "Recovered-1"))
    assert again.json() == {}
    stranger = await api.post(
        "v1/password-recovery", json={**body, "region": "moscow", "channel": "sms"}
    )
    assert stranger.json()["resultCode"] == 32


async def test_the_voluntary_block_60_free_days_then_5_roubles_a_day(
    api: httpx.AsyncClient, nbn_backend: Backend
) -> None:
    number, region, account = contract(nbn_backend)
    await login(api, number, region)
    dates = {"dateFrom": "2025-01-16", "dateTo": "2025-04-15"}
    quote = (await api.post("v1/voluntary-block/calculate", json=dates)).json()
    assert (quote["days"], quote["freeDays"], quote["paidDays"]) == (90, 60, 30)
    assert quote["totalCost"] == 150.0 and quote["conditions"]["freeDays"] == 60
    unconfirmed = await api.post("v1/voluntary-block", json=dates)
    assert unconfirmed.json()["resultCode"] == 30
    requested = (await api.post("v1/voluntary-block", json={**dates, "confirm": True})).json()
    assert requested["block"]["status"] == "REQUESTED"
    nbn_backend.advance(hours=3)
    assert (await api.get("v1/voluntary-block")).json()["block"]["status"] == "SCHEDULED"
    nbn_backend.advance(days=1)
    state = (await api.get("v1/get-internet-accounts-details")).json()["internetAccounts"][0]
    assert state["statusCode"] == "VOLUNTARY_BLOCK" and state["blockDateTo"] == "2025-04-15"
    acc = nbn_backend.account_by_number("netbynet", account)
    before = nbn_backend.balance(acc)
    nbn_backend.advance(days=62)  # day 63 of the block: 3 paid days
    assert nbn_backend.balance(acc) == before - 3 * 5_00
    await login(api, number, region)  # the session expired while away
    charges = (
        await api.get("v1/get-charges", params={"dateFrom": "2025-03-15", "dateTo": "2025-03-25"})
    ).json()["charges"]
    fees = [c for c in charges if "блокировк" in c["description"]]
    assert [c["amount"] for c in fees] == [5.0, 5.0, 5.0]


@pytest.mark.parametrize(
    ("method", "path", "body", "status", "code"),
    [
        ("GET", "v1/get-balance", None, 401, 20),
        ("POST", "v3/login", b"{not json", 400, 30),
        ("POST", "v3/login", b"[1, 2]", 400, 30),
        ("POST", "v3/login", {"login": "abc", "password": "x"}, 400, 30),
        ("GET", "v1/no-such-method", None, 404, 32),
        ("DELETE", "v1/get-balance", None, 405, 30),
    ],
)
async def test_bad_requests_answer_in_the_api_format_never_a_500(
    api: httpx.AsyncClient,
    method: str,
    path: str,
    body: Any,
    status: int,
    code: int,
) -> None:
    if isinstance(body, bytes):
        response = await api.request(
            method, path, content=body, headers={"content-type": "application/json"}
        )
    else:
        response = await api.request(method, path, json=body)
    assert response.status_code == status
    data = response.json()
    assert data["resultCode"] == code
    assert isinstance(data["resultText"], str) and data["resultText"]


@pytest.mark.parametrize(
    ("path", "body", "code"),
    [
        ("v1/change-tariff", {"tariffId": "nbn-100"}, 31),  # the current tariff
        ("v1/change-tariff", {}, 30),
        ("v1/change-service", {"serviceId": "nbn-ip", "enabled": "yes"}, 30),
        ("v1/pay", {"amount": "много"}, 30),
        ("v1/pay", {"amount": 0.5}, 30),
        ("v1/voluntary-block/calculate", {"dateFrom": "2025-02-01", "dateTo": "2025-01-01"}, 30),
        ("v1/voluntary-block/cancel", {}, 31),
        ("v1/requests", {"topic": "nope", "text": "Здравствуйте"}, 32),
        ("v1/autopay", {"enabled": True, "threshold": 100}, 30),
    ],
)
async def test_refused_operations_say_why(
    api: httpx.AsyncClient, nbn_backend: Backend, path: str, body: dict, code: int
) -> None:
    number, region, _ = contract(nbn_backend)
    await login(api, number, region)
    data = (await api.post(path, json=body)).json()
    assert data["resultCode"] == code, data
    assert data["resultText"]


async def test_faults_reach_the_api(api: httpx.AsyncClient, nbn_backend: Backend) -> None:
    number, region, _ = contract(nbn_backend)
    await login(api, number, region)
    nbn_backend.faults.add("changed_html", operator="netbynet", count=1)
    renamed = (await api.get("v1/get-balance")).json()
    assert "accountBalance" not in renamed and "v2_accountBalance" in renamed
    nbn_backend.faults.add("expired_session", operator="netbynet", count=1)
    assert (await api.get("v1/get-balance")).status_code == 401
    assert (await api.get("v1/get-balance")).status_code == 401  # the session is gone


async def test_a_bulk_account_session_answers(api: httpx.AsyncClient) -> None:
    response = await api.post(
        "http://127.0.0.1/sim/accounts/bulk", json={"operator": "netbynet", "count": 2}
    )
    assert response.status_code == 201, response.text
    account = response.json()["accounts"][0]
    cookie = account["session"]["cookies"]["AUTHORIZATION"]
    balance = await api.get("v1/get-balance", headers={"Cookie": f"AUTHORIZATION={cookie}"})
    assert ok(balance.json()) and "accountBalance" in balance.json()
