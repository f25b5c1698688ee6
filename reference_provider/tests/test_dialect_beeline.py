"""The Beeline dialect on the wire: shapes, error codes, temporary passwords, the rate limit."""

from __future__ import annotations

import datetime as dt
from collections.abc import AsyncIterator
from typing import Any

import httpx
import pytest
import pytest_asyncio
from litestar import Litestar
from reference_provider.app import create_app
from reference_provider.backend import Backend
from reference_provider.dialects import beeline

API = "/beeline/api/"
AUTH = "2.0/auth/auth"
LOGIN = "9031234567"
PASSWORD = "Beeline-2024"


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


async def token_for(http: httpx.AsyncClient, login: str = LOGIN, password: str = PASSWORD) -> str:
    r = await http.put(API + "2.0/auth/auth", params={"login": login}, json={"password": password})
    assert r.status_code == 200, r.text
    body = r.json()
    assert body["meta"] == {"status": "OK", "code": 20000, "message": None}
    return str(body["token"])


def meta(r: httpx.Response) -> dict[str, Any]:
    data = r.json()
    assert set(data["meta"]) == {"status", "code", "message"}
    return dict(data["meta"])


async def test_login_returns_a_token_sent_as_x_auth_token(client: Any) -> None:
    _, http = client
    token = await token_for(http)
    r = await http.get(API + "1.0/sso/subscribers", headers={"X-Auth-Token": token})
    ctns = [s["ctn"] for s in r.json()["subscribers"]]
    assert ctns == ["9031234567", "9037654321", "9161112233", "9169998877", "9168887766"]


@pytest.mark.parametrize(
    ("method", "path", "kwargs", "status", "code"),
    [
        ("PUT", AUTH, {"params": {"login": LOGIN}, "json": {"password": "x"}}, 401, 20002),
        ("PUT", AUTH, {"params": {"login": "123"}, "json": {"password": "x"}}, 400, 20001),
        ("PUT", AUTH, {"params": {"login": LOGIN}, "content": b"{oops"}, 400, 20001),
        ("PUT", AUTH, {"params": {"login": LOGIN}, "json": [1]}, 400, 20001),
        ("PUT", AUTH, {"params": {"login": LOGIN}, "json": {"password": 5}}, 400, 20001),
        ("GET", "1.0/info/payType", {}, 401, 20004),
        ("GET", "1.0/info/payType", {"headers": {"X-Auth-Token": "nope"}}, 401, 20004),
        ("GET", "1.0/no/such/method", {}, 404, 20001),
        ("DELETE", "1.0/info/payType", {}, 405, 20001),
    ],
)
async def test_errors_keep_the_meta_format(
    client: Any, method: str, path: str, kwargs: dict[str, Any], status: int, code: int
) -> None:
    _, http = client
    r = await http.request(method, API + path, **kwargs)
    assert r.status_code == status
    assert meta(r)["status"] == "ERROR" and meta(r)["code"] == code
    assert meta(r)["message"]


async def test_the_chosen_number_goes_in_x_ctn(client: Any) -> None:
    _, http = client
    h = {"X-Auth-Token": await token_for(http)}
    r = await http.get(API + "1.0/info/payType", headers={**h, "X-CTN": "9161112233"})
    assert r.json()["payType"] == "POSTPAID"
    r = await http.get(API + "1.0/info/prepaidBalance", headers={**h, "X-CTN": "9161112233"})
    assert r.status_code == 409 and meta(r)["code"] == 20007
    r = await http.get(API + "1.0/info/postpaidBalance", headers={**h, "X-CTN": "9161112233"})
    assert r.json()["balance"] == -350 and r.json()["creditLimit"] == 1000
    r = await http.get(API + "1.0/info/prepaidBalance", headers={**h, "X-CTN": "9052223344"})
    assert r.status_code == 403 and meta(r)["code"] == 20008
    r = await http.get(API + "1.0/info/prepaidBalance", headers={**h, "X-CTN": "90312"})
    assert meta(r)["code"] == 20001
    r = await http.get(API + "1.0/info/prepaidBalance", headers=h)  # default: the first number
    assert r.json()["balance"] == 412.5 and r.json()["currency"] == "RUB"
    assert r.json()["nextBillingDate"].endswith("T00:00:00.000+0300")


async def test_temporary_password_by_sms_must_be_changed(client: Any) -> None:
    backend, http = client
    r = await http.post(API + "1.0/passReset", params={"login": "9052223344"})
    assert r.json()["ctnMask"] == "+7 905 ***-**-44"
    sms = backend.outbox_for("beeline", "9052223344", purpose="temp_password")[-1]
    assert sms.channel == "sms" and sms.code and sms.code in sms.text
    r = await http.put(
        API + "2.0/auth/auth", params={"login": "9052223344"}, json={"password": sms.code}
    )
    assert r.json()["tempPassInd"] is True
    h = {"X-Auth-Token": r.json()["token"]}
    r = await http.get(API + "1.0/info/payType", headers=h)
    assert r.status_code == 403 and meta(r)["code"] == 20005
    body = {"oldPassword": sms.code, "newPassword": "abc"}
    r = await http.put(API + "1.0/setting/changePassword", headers=h, json=body)
    assert r.status_code == 400 and "от 6 до 64" in meta(r)["message"]
    body["newPassword"] = "Olga-2024-x"
    r = await http.put(API + "1.0/setting/changePassword", headers=h, json=body)
    assert meta(r)["status"] == "OK"
    assert (await http.get(API + "1.0/info/payType", headers=h)).json()["payType"] == "PREPAID"
    await token_for(http, "9052223344", "Olga-2024-x")


async def test_pass_reset_of_an_unknown_number(client: Any) -> None:
    _, http = client
    r = await http.post(API + "1.0/passReset", params={"login": "9990000000"})
    assert meta(r)["code"] == 20002


async def test_captcha_after_failures_is_served_as_png(client: Any) -> None:
    backend, http = client
    for _ in range(2):
        await http.put(API + "2.0/auth/auth", params={"login": LOGIN}, json={"password": "x"})
    r = await http.put(API + "2.0/auth/auth", params={"login": LOGIN}, json={"password": PASSWORD})
    assert meta(r)["code"] == 20006
    captcha = r.json()["captcha"]
    image = await http.get(API + captcha["url"])
    assert image.headers["content-type"] == "image/png" and image.content[:4] == b"\x89PNG"
    answer = backend.captcha_answer(captcha_id=captcha["id"])
    r = await http.put(
        API + "2.0/auth/auth",
        params={"login": LOGIN},
        json={"password": PASSWORD, "captchaId": captcha["id"], "captchaText": answer},
    )
    assert meta(r)["status"] == "OK"


async def test_polled_too_fast_answers_429_with_retry_after(client: Any) -> None:
    _, http = client
    h = {"X-Auth-Token": await token_for(http)}
    statuses = []
    for _ in range(beeline.RATE_LIMIT * 3):
        r = await http.get(API + "1.0/info/status", headers=h)
        statuses.append(r.status_code)
        if r.status_code == 429:
            assert r.headers["retry-after"] == "1" and meta(r)["code"] == 20009
            break
    assert statuses[-1] == 429
    # another token is not slowed down by this one
    other = {"X-Auth-Token": await token_for(http)}
    assert (await http.get(API + "1.0/info/status", headers=other)).status_code == 200


async def test_services_accumulators_detail_offers_chat(client: Any) -> None:
    backend, http = client
    h = {"X-Auth-Token": await token_for(http), "X-CTN": LOGIN}
    services = (await http.get(API + "1.0/info/serviceList", headers=h)).json()["services"]
    assert {s["soc"] for s in services} == {"bee-kto", "bee-hello"}
    assert all({"entityName", "rcRate", "rcRatePeriodText"} <= set(s) for s in services)
    r = await http.put(API + "1.0/request/addService", headers=h, json={"soc": "bee-music"})
    assert r.json()["service"]["soc"] == "bee-music"
    r = await http.put(API + "1.0/request/addService", headers=h, json={"soc": "bee-trust"})
    assert r.status_code == 409
    acc = (await http.get(API + "1.0/info/accumulators", headers=h)).json()["accumulators"]
    assert {a["unit"] for a in acc} == {"SECONDS", "SMS", "KBYTE"}
    assert all(0 <= a["rest"] <= a["size"] for a in acc)
    today = backend.clock.today()
    q = {"startDate": (today - dt.timedelta(days=31)).isoformat(), "endDate": today.isoformat()}
    pdf = await http.get(API + "1.0/info/detail", headers=h, params={**q, "format": "pdf"})
    assert pdf.headers["content-type"] == "application/pdf" and pdf.content[:5] == b"%PDF-"
    xls = await http.get(API + "1.0/info/detail", headers=h, params={**q, "format": "xls"})
    assert xls.content[:4] == b"PK\x03\x04"
    bad = await http.get(API + "1.0/info/detail", headers=h, params={**q, "format": "doc"})
    assert meta(bad)["code"] == 20001
    offers = (await http.get(API + "1.0/info/recommendedOffers", headers=h)).json()["offers"]
    assert offers and all({"id", "title"} <= set(o) for o in offers)
    unseen = (await http.get(API + "1.0/chat/unseen", headers=h)).json()["messages"]
    assert [m["author"] for m in unseen] == ["OPERATOR"]
    r = await http.put(API + "1.0/chat/message", headers=h, json={"topicId": "x", "text": "hi"})
    assert r.status_code == 404


async def test_trusted_payment_is_credited_then_taken_back(client: Any) -> None:
    backend, http = client
    h = {"X-Auth-Token": await token_for(http), "X-CTN": "9037654321"}
    offer = (await http.get(API + "1.0/info/trustPayment", headers=h)).json()
    assert offer["available"] is True and offer["maxSum"] == 550
    r = await http.put(API + "1.0/request/trustPayment", headers=h, json={"amount": 999})
    assert meta(r)["code"] == 20001
    r = await http.put(API + "1.0/request/trustPayment", headers=h, json={"amount": 100})
    assert meta(r)["status"] == "OK"
    balance = (await http.get(API + "1.0/info/prepaidBalance", headers=h)).json()["balance"]
    assert balance == 123.1
    offer = (await http.get(API + "1.0/info/trustPayment", headers=h)).json()
    assert offer["available"] is False and offer["debt"] == 100
    acc = backend.account_by_number("beeline", "9037654321")
    backend.advance(days=2)
    await http.get(API + "1.0/info/prepaidBalance", headers=h)
    assert not [e for e in acc.ledger if e.description.startswith("Погашение")]
    backend.advance(days=1)
    await http.get(API + "1.0/info/prepaidBalance", headers=h)
    await http.get(API + "1.0/info/prepaidBalance", headers=h)
    repaid = [e for e in acc.ledger if e.description == "Погашение доверительного платежа"]
    assert len(repaid) == 1 and repaid[0].amount == -100_00
    assert (await http.get(API + "1.0/info/trustPayment", headers=h)).json()["available"]


async def test_bulk_sessions_for_benchmarks(client: Any) -> None:
    _, http = client
    r = await http.post("/sim/accounts/bulk", json={"operator": "beeline", "count": 2})
    assert r.status_code == 201
    account = r.json()["accounts"][0]
    session = account["session"]
    assert set(session) == {"token", "login"}
    h = {"X-Auth-Token": session["token"], "X-CTN": account["number"]}
    assert (await http.get(API + "1.0/info/prepaidBalance", headers=h)).json()["balance"] == 500


async def test_openapi_schema_still_builds(client: Any) -> None:
    _, http = client
    r = await http.get("/schema/openapi.json")
    assert r.status_code == 200
    assert "/beeline/api/2.0/auth/auth" in r.json()["paths"]
