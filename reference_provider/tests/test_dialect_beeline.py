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
    backend: Backend = app.state.backend.reset()
    transport = httpx.ASGITransport(app=app, client=("127.0.0.1", 40000))
    async with httpx.AsyncClient(transport=transport, base_url="http://127.0.0.1") as http:
        yield backend, http


async def token_for(http: httpx.AsyncClient, login: str = LOGIN, password: str = PASSWORD) -> str:
    r = await http.put(
        API + AUTH, params={"login": login, "userType": "Mobile"}, json={"password": password}
    )
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
    ("method", "path", "kwargs", "status", "message"),
    [
        ("PUT", AUTH, {"params": {"login": LOGIN}, "json": {"password": "x"}}, 200, "AUTH_ERROR"),
        ("PUT", AUTH, {"params": {"login": "123"}, "json": {"password": "x"}}, 400, None),
        ("PUT", AUTH, {"params": {"login": LOGIN}, "content": b"{oops"}, 400, None),
        ("PUT", AUTH, {"params": {"login": LOGIN}, "json": [1]}, 400, None),
        ("PUT", AUTH, {"params": {"login": LOGIN}, "json": {"password": 5}}, 400, None),
        ("GET", "1.0/info/payType", {}, 200, "TOKEN_NOT_FOUND"),
        ("GET", "1.0/info/payType", {"headers": {"X-Auth-Token": "nope"}}, 200, "TOKEN_NOT_FOUND"),
        ("GET", "1.0/info/payType", {"headers": {"Cookie": "token=nope"}}, 200, "TOKEN_NOT_FOUND"),
        ("GET", "1.0/no/such/method", {}, 404, None),
        ("DELETE", "1.0/info/payType", {}, 405, None),
    ],
)
async def test_errors_keep_the_meta_format_and_name_themselves(
    client: Any, method: str, path: str, kwargs: dict[str, Any], status: int, message: str | None
) -> None:
    """A named error keeps HTTP 200 (BeeOptions reads AUTH_ERROR from a 2xx body)."""
    _, http = client
    r = await http.request(method, API + path, **kwargs)
    assert r.status_code == status
    assert meta(r)["status"] == "ERROR" and meta(r)["message"]
    if message is not None:
        assert meta(r)["message"] == message


async def test_the_number_goes_in_the_ctn_query_or_x_ctn(client: Any) -> None:
    _, http = client
    h = {"X-Auth-Token": await token_for(http)}
    r = await http.get(API + "1.0/info/payType", headers=h, params={"ctn": "9161112233"})
    assert r.json()["payType"] == "POSTPAID"
    r = await http.get(API + "1.0/info/prepaidBalance", headers=h, params={"ctn": "9161112233"})
    assert r.status_code == 200 and meta(r)["code"] == 49999
    r = await http.get(API + "1.0/info/postpaidBalance", headers={**h, "X-CTN": "9161112233"})
    assert r.json()["balance"] == -350 and r.json()["creditLimit"] == 1000
    r = await http.get(API + "1.0/info/prepaidBalance", headers=h, params={"ctn": "9052223344"})
    assert meta(r)["message"] == "CTN_NOT_FOUND"
    r = await http.get(API + "1.0/info/prepaidBalance", headers=h, params={"ctn": "90312"})
    assert r.status_code == 400
    r = await http.get(API + "1.0/info/prepaidBalance", headers=h)  # default: the first number
    assert r.json()["balance"] == 412.5 and r.json()["currency"] == "RUB"
    assert r.json()["nextBillingDate"].endswith("T00:00:00.000+0300")
    # the token also travels as the cookie "token"
    r = await http.get(API + "1.0/info/payType", headers={"Cookie": "token=" + h["X-Auth-Token"]})
    assert r.json()["payType"] == "PREPAID"


async def test_the_login_lists_its_numbers_the_default_first(client: Any) -> None:
    _, http = client
    h = {"X-Auth-Token": await token_for(http)}
    subs = (await http.get(API + "1.0/sso/subscribers", headers=h, params={"login": LOGIN})).json()
    assert [s["ctnDefault"] for s in subs["subscribers"]][:2] == [True, False]
    r = await http.get(API + "1.0/sso/subscribers", headers=h, params={"login": "9990000000"})
    assert meta(r)["message"] == "AUTH_ERROR"
    sso = (await http.get(API + "1.0/sso/list", headers=h, params={"login": LOGIN})).json()
    assert sso["ssoAccountList"] == [{"name": LOGIN, "type": "MOBILE"}]
    data = (await http.get(API + "1.0/sso/contactData", headers=h, params={"login": LOGIN})).json()
    assert {"firstName", "lastName", "invoiceAddr", "market", "ban"} <= set(data)


async def test_temporary_password_by_sms_then_the_terms_then_a_new_password(client: Any) -> None:
    backend, http = client
    r = await http.get(API + "1.0/passReset", params={"login": "9052223344", "channelType": "CTN"})
    assert r.json()["channel"] == "SMS"
    sms = backend.outbox_for("beeline", "9052223344", purpose="temp_password")[-1]
    assert sms.channel == "sms" and sms.code and sms.code in sms.text
    r = await http.put(
        API + AUTH,
        params={"login": "9052223344", "userType": "Mobile"},
        json={"password": sms.code},
    )
    # a new user accepts the terms first: offerUrl + a one-time token
    assert "tempPassInd" not in r.json()
    offer_url, offer_token = r.json()["offerUrl"], r.json()["token"]
    assert offer_url.startswith("http://127.0.0.1/beeline/api/1.0/offer/accept")
    assert (await http.get(offer_url, headers={"X-Offer-Token": "wrong"})).json()["meta"][
        "message"
    ] == "AUTH_ERROR"
    r = await http.get(offer_url, headers={"X-Offer-Token": offer_token})
    assert r.json()["tempPassInd"] is True
    h = {"X-Auth-Token": r.json()["token"]}
    r = await http.get(API + "1.0/info/payType", headers=h)
    assert meta(r)["message"] == "PASSWORD_CHANGE_REQUIRED"
    q = {"login": "9052223344", "newPassword": "abc"}
    r = await http.put(API + "1.0/setting/changePassword", headers=h, params=q)
    assert r.status_code == 400 and "от 6 до 64" in meta(r)["message"]
    q["newPassword"] = "Olga-2024-x"
    r = await http.put(
        API + "1.0/setting/changePassword",
        headers={"Cookie": "token=" + h["X-Auth-Token"]},
        params=q,
    )
    assert meta(r)["status"] == "OK"
    assert (await http.get(API + "1.0/info/payType", headers=h)).json()["payType"] == "PREPAID"
    await token_for(http, "9052223344", "Olga-2024-x")  # the terms are not asked again


async def test_a_permanent_password_is_changed_with_the_old_one(client: Any) -> None:
    _, http = client
    h = {"X-Auth-Token": await token_for(http)}
    r = await http.put(
        API + "1.0/setting/changePassword", headers=h, params={"newPassword": "X-2025-y"}
    )
    assert meta(r)["code"] == 49999
    body = {"oldPassword": PASSWORD, "newPassword": "X-2025-y"}
    r = await http.put(API + "1.0/setting/changePassword", headers=h, json=body)
    assert meta(r)["status"] == "OK"
    await token_for(http, LOGIN, "X-2025-y")


async def test_pass_reset_of_an_unknown_number(client: Any) -> None:
    _, http = client
    r = await http.get(API + "1.0/passReset", params={"login": "9990000000"})
    assert meta(r)["message"] == "for.existent.users.only"


async def test_captcha_after_failures_is_served_as_png(client: Any) -> None:
    backend, http = client
    for _ in range(2):
        await http.put(API + AUTH, params={"login": LOGIN}, json={"password": "x"})
    r = await http.put(API + AUTH, params={"login": LOGIN}, json={"password": PASSWORD})
    assert meta(r)["message"] == "CAPTCHA_REQUIRED"
    captcha = r.json()["captcha"]
    image = await http.get(API + captcha["url"])
    assert image.headers["content-type"] == "image/png" and image.content[:4] == b"\x89PNG"
    answer = backend.captcha_answer(captcha_id=captcha["id"])
    r = await http.put(
        API + AUTH,
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
            assert r.headers["retry-after"] == "1" and "Too Many Requests" in r.text
            break
    assert statuses[-1] == 429
    # another token is not slowed down by this one
    other = {"X-Auth-Token": await token_for(http)}
    assert (await http.get(API + "1.0/info/status", headers=other)).status_code == 200


async def test_services_remainders_detail_offers_chat(client: Any) -> None:
    backend, http = client
    h = {"X-Auth-Token": await token_for(http)}
    q = {"ctn": LOGIN}
    services = (await http.get(API + "1.0/info/serviceList", headers=h, params=q)).json()
    assert {s["name"] for s in services["services"]} == {"bee-kto", "bee-hello"}
    assert all({"entityName", "removeInd", "viewInd"} <= set(s) for s in services["services"])
    r = await http.put(
        API + "1.0/request/serviceActivate", headers=h, params={**q, "serviceName": "bee-music"}
    )
    assert isinstance(r.json()["requestId"], int)
    r = await http.put(
        API + "1.0/request/serviceActivate", headers=h, params={**q, "serviceName": "bee-trust"}
    )
    assert meta(r)["code"] == 49999
    r = await http.get(
        API + "1.0/request/serviceDeactivate", headers=h, params={**q, "serviceName": "bee-music"}
    )
    assert meta(r)["status"] == "OK"
    available = (await http.get(API + "1.0/info/serviceAvailableList", headers=h, params=q)).json()
    assert "bee-music" in {s["name"] for s in available["services"]}
    acc = (await http.get(API + "1.0/info/accumulators", headers=h, params=q)).json()
    assert {a["unit"] for a in acc["accumulators"]} == {"SECONDS", "SMS", "KBYTE"}
    assert all(0 <= a["rest"] <= a["size"] for a in acc["accumulators"])
    rests = (
        await http.get(API + "1.0/info/rests", headers=h, params={"ctn": "9161112233"})
    ).json()["rests"]
    assert {r["unitType"] for r in rests} == {"VOICE", "SMS_MMS", "MMS", "INTERNET"}
    today = backend.clock.today()
    period = {
        "startDate": (today - dt.timedelta(days=31)).isoformat(),
        "endDate": today.isoformat(),
    }
    for kind, magic in (("PDF", b"%PDF-"), ("XLS", b"PK\x03\x04")):
        r = await http.get(
            API + "request/prepaidDetail", headers=h, params={**q, **period, "reportType": kind}
        )
        file = await http.get(
            API + "1.0/request/requestAttachment",
            headers=h,
            params={"requestId": r.json()["requestId"]},
        )
        assert file.content.startswith(magic)
    bad = await http.get(
        API + "request/prepaidDetail", headers=h, params={**q, **period, "reportType": "DOC"}
    )
    assert bad.status_code == 400
    offers = (await http.get(API + "1.0/info/targetedOffers", headers=h, params=q)).json()
    assert offers["offers"] and all({"id", "title"} <= set(o) for o in offers["offers"])
    unseen = (await http.get(API + "1.0/chat/unseen", headers=h, params=q)).json()["messages"]
    assert [m["author"] for m in unseen] == ["OPERATOR"]
    r = await http.put(
        API + "1.0/chat/message", headers=h, params=q, json={"topicId": "x", "text": "hi"}
    )
    assert r.status_code == 404


async def test_payments_history_and_tariff_change_as_requests(client: Any) -> None:
    backend, http = client
    h = {"X-Auth-Token": await token_for(http)}
    q = {"ctn": LOGIN}
    today = backend.clock.today()
    window = {
        "periodStart": (today - dt.timedelta(days=200)).isoformat(),
        "periodEnd": today.isoformat(),
    }
    history = (
        await http.get(API + "1.0/info/payments/history", headers=h, params={**q, **window})
    ).json()
    assert history["paymentsHistory"]
    assert {"dateStart", "value", "paymentType", "paymentStatus", "payTypeName"} <= set(
        history["paymentsHistory"][0]
    )
    plans = (await http.get(API + "1.0/info/pricePlanAvailableList", headers=h, params=q)).json()
    assert "bee-vse6" in {p["name"] for p in plans["pricePlans"]}
    r = await http.put(
        API + "request/changePricePlan", headers=h, params={**q, "pricePlan": "bee-vse6"}
    )
    assert isinstance(r.json()["requestId"], int)
    plan = (await http.get(API + "1.0/info/pricePlan", headers=h, params=q)).json()
    assert plan["futurePricePlan"]["name"] == "bee-vse6"


async def test_paid_subscriptions_are_charged_daily_until_removed(client: Any) -> None:
    backend, http = client
    h = {"X-Auth-Token": await token_for(http)}
    q = {"ctn": "9037654321"}
    acc = backend.account_by_number("beeline", "9037654321")
    backend.top_up(acc, 500_00)
    listed = (await http.get(API + "1.0/info/subscriptions", headers=h, params=q)).json()
    (paid,) = listed["subscriptions"]
    assert paid["name"] == "Гороскоп на каждый день" and paid["rcRate"] == 9
    assert paid["type"] == "CONTENT" and paid["rcRatePeriod"] == "kb.period.daily"
    before = backend.balance(acc)
    backend.advance(days=2)
    charges = [e for e in backend.ledger(acc) if e.description == "Подписка: " + paid["name"]]
    assert [e.amount for e in charges] == [-9_00, -9_00]
    assert backend.balance(acc) < before
    wrong = await http.get(
        API + "1.0/request/subscription/remove", headers=h, params={**q, "subscriptionId": "x"}
    )
    assert meta(wrong) == {"status": "ERROR", "code": 49999, "message": "Подписка не найдена"}
    r = await http.get(
        API + "request/subscription/remove",
        headers=h,
        params={**q, "subscriptionId": paid["id"], "type": paid["type"]},
    )
    assert meta(r)["status"] == "OK" and isinstance(r.json()["requestId"], int)
    listed = (await http.get(API + "1.0/info/subscriptions", headers=h, params=q)).json()
    assert listed["subscriptions"] == []
    backend.advance(days=3)
    assert len([e for e in backend.ledger(acc) if e.description.startswith("Подписка")]) == 2


async def test_trusted_payment_is_credited_then_taken_back(client: Any) -> None:
    backend, http = client
    h = {"X-Auth-Token": await token_for(http), "X-CTN": "9037654321"}
    offer = (await http.get(API + "1.0/info/trustPayment", headers=h)).json()
    assert offer["available"] is True and offer["maxSum"] == 550
    assert [s["sum"] for s in offer["sums"]] == [50, 100, 200, 300, 500]
    assert [s["fee"] for s in offer["sums"]] == [0, 10, 10, 25, 50]
    r = await http.put(API + "1.0/request/trustPayment", headers=h, params={"sum": "999"})
    assert meta(r)["status"] == "ERROR"
    r = await http.put(API + "1.0/request/trustPayment", headers=h, params={"sum": "100"})
    assert meta(r)["status"] == "OK"
    taken = r.json()
    assert taken["debt"] == 110 and taken["fee"] == 10 and taken["days"] == 3
    due = taken["dueDate"]
    balance = (await http.get(API + "1.0/info/prepaidBalance", headers=h)).json()["balance"]
    assert balance == 123.1
    offer = (await http.get(API + "1.0/info/trustPayment", headers=h)).json()
    assert offer["available"] is False and offer["debt"] == 110 and offer["dueDate"] == due
    acc = backend.account_by_number("beeline", "9037654321")
    backend.advance(days=2)
    await http.get(API + "1.0/info/prepaidBalance", headers=h)
    assert not [e for e in acc.ledger if e.description.startswith("Погашение")]
    backend.advance(days=1)
    await http.get(API + "1.0/info/prepaidBalance", headers=h)
    await http.get(API + "1.0/info/prepaidBalance", headers=h)
    repaid = [e for e in acc.ledger if e.description == "Погашение доверительного платежа"]
    assert len(repaid) == 1 and repaid[0].amount == -110_00
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
