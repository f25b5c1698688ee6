"""The simulation API: only with sim=True, only for loopback clients; what it can do."""

from __future__ import annotations

import datetime as dt

import httpx
from reference_provider.app import create_app
from reference_provider.backend import Backend

from .conftest import NATIVE


async def test_sim_api_is_absent_without_sim(backend: Backend) -> None:
    transport = httpx.ASGITransport(app=create_app(backend=backend, sim=False))
    async with httpx.AsyncClient(transport=transport, base_url="http://127.0.0.1") as c:
        assert (await c.get("/sim/clock")).status_code == 404


async def test_sim_api_refuses_other_clients(backend: Backend) -> None:
    app = create_app(backend=backend, sim=True)
    for host, allowed in (
        ("10.0.0.7", False),
        ("192.168.1.2", False),
        ("::1", True),
        ("127.0.0.1", True),
    ):
        transport = httpx.ASGITransport(app=app, client=(host, 5555))
        async with httpx.AsyncClient(transport=transport, base_url="http://x") as c:
            r = await c.post("/sim/clock/advance", json={"days": 1})
            assert (r.status_code == 200) is allowed, host
            assert (r.status_code == 403) is not allowed, host


async def test_clock(client: httpx.AsyncClient) -> None:
    before = (await client.get("/sim/clock")).json()
    assert before["today"] == "2025-01-15" and before["speed"] == 0
    after = (await client.post("/sim/clock/advance", json={"days": 2, "hours": 1})).json()
    assert after["today"] == "2025-01-17" and after["manual_advance_seconds"] == 2 * 86400 + 3600
    speed = (await client.put("/sim/clock/speed", json={"speed": 60})).json()
    assert speed["speed"] == 60
    bad = await client.post("/sim/clock/advance", json={"days": -1})
    assert bad.status_code == 400


async def test_set_balance_and_read_an_account(client: httpx.AsyncClient) -> None:
    r = await client.put("/sim/accounts/reference/REF-0001/balance", json={"amount": "-10.50"})
    assert r.json()["balance"] == "-10.50"
    account = (await client.get("/sim/accounts/reference/REF-0001")).json()
    assert account["state"] == "blocked" and account["balance"] == "-10.50"
    missing = await client.get("/sim/accounts/reference/NOPE")
    assert missing.status_code == 404


async def test_outbox_and_captcha(client: httpx.AsyncClient) -> None:
    sent = await client.post(f"{NATIVE}/auth/code", json={"login": "demo", "channel": "email"})
    assert sent.json()["masked_destination"] == "iv***@example.ru"
    outbox = (
        await client.get(
            "/sim/outbox",
            params={"operator": "reference", "destination": "ivan.smirnov@example.ru"},
        )
    ).json()
    code = outbox["messages"][-1]["code"]
    assert outbox["messages"][-1]["channel"] == "email" and code
    last = (await client.get("/sim/outbox/last-code", params={"operator": "reference"})).json()
    assert last["code"] == code
    assert (await client.get("/sim/captcha", params={"operator": "bashtel"})).status_code == 404
    demanded = await client.post(
        f"{NATIVE}/auth/login", json={"login": "captcha", "password": "demo-password"}
    )
    answer = (await client.get("/sim/captcha", params={"operator": "reference"})).json()["answer"]
    by_id = await client.get(
        "/sim/captcha", params={"captcha_id": demanded.json()["error"]["captcha"]["id"]}
    )
    assert by_id.json()["answer"] == answer and len(answer) == 5


async def test_bulk_accounts_come_with_live_sessions(
    client: httpx.AsyncClient, backend: Backend
) -> None:
    r = await client.post(
        "/sim/accounts/bulk", json={"operator": "reference", "count": 300, "balance": "250.00"}
    )
    assert r.status_code == 201
    accounts = r.json()["accounts"]
    assert len({a["number"] for a in accounts}) == 300
    for a in accounts[::60]:
        h = {"authorization": f"Bearer {a['token']}"}
        balance = await client.get(f"{NATIVE}/accounts/{a['account_id']}/balance", headers=h)
        assert balance.json()["amount"] == "250.00"
        other = accounts[0]["account_id"] if a is not accounts[0] else accounts[1]["account_id"]
        assert (
            await client.get(f"{NATIVE}/accounts/{other}/balance", headers=h)
        ).status_code == 403
    login = await client.post(
        f"{NATIVE}/auth/login",
        json={"login": accounts[5]["login"], "password": accounts[5]["password"]},
    )
    assert login.status_code == 200
    for operator in ("beeline", "rostelecom", "bashtel", "netbynet"):
        made = backend.bulk_create(operator, 3)
        assert all(backend.session(b.token).operator == operator for b in made)
    assert (
        await client.post("/sim/accounts/bulk", json={"operator": "nosuch", "count": 1})
    ).status_code == 404


async def test_expire_sessions_and_read_a_chat(client: httpx.AsyncClient) -> None:
    r = await client.post(
        f"{NATIVE}/auth/login", json={"login": "demo", "password": "demo-password"}
    )
    h = {"authorization": f"Bearer {r.json()['token']}"}
    expired = await client.post(
        "/sim/sessions/expire", json={"operator": "reference", "login": "demo"}
    )
    assert expired.json() == {"expired": 1}
    assert (await client.get(f"{NATIVE}/accounts", headers=h)).status_code == 401
    chat = (await client.get("/sim/chat/reference/REF-0001")).json()["messages"]
    assert any(not m["seen"] for m in chat)


async def test_openapi_schema_is_served(client: httpx.AsyncClient) -> None:
    schema = (await client.get("/schema/openapi.json")).json()
    assert schema["info"]["title"] == "Reference operator provider"
    assert f"{NATIVE}/accounts/{{account_id}}/balance" in schema["paths"]
    assert "/idp/{provider}/authorize" in schema["paths"]
    assert not any(p.startswith("/sim") for p in schema["paths"])


async def test_answers_are_dated_with_the_billing_clock() -> None:
    import email.utils

    import httpx
    from reference_provider.app import create_app

    app = create_app(sim=True, clock_speed=0)
    backend = app.state.backend
    async with httpx.AsyncClient(
        transport=httpx.ASGITransport(app=app), base_url="http://127.0.0.1"
    ) as client:
        backend.advance(days=10)
        response = await client.get("/schema/openapi.json")
    (date,) = response.headers.get_list("date")
    sent = email.utils.parsedate_to_datetime(date)
    assert abs((sent - backend.now()).total_seconds()) < 2


async def test_demo_page_lists_logins_codes_and_captchas(
    backend: Backend, client: httpx.AsyncClient
) -> None:
    """The crib sheet the dashboard's demo banner points to: Russian HTML, not raw JSON."""
    backend.send_login_code("reference", "demo")
    code = backend.last_code("reference")
    captcha = backend.new_captcha("rostelecom")
    r = await client.get("/sim/demo")
    assert r.status_code == 200 and r.headers["content-type"].startswith("text/html")
    page = r.text
    assert '<html lang="ru">' in page and "Демо-входы операторов" in page
    assert code in page and "код входа" in page
    assert captcha.answer in page and "data:image/png;base64," in page
    for login, password in (("smirnov.ivan", "Rostelecom2024"), ("smirnov_ufa", "Bashtel-2024")):
        assert login in page and password in page
    assert "ivan.smirnov" in page and "sso-demo-2024" in page  # Gosuslugi
    transport = httpx.ASGITransport(
        app=create_app(backend=backend, sim=True), client=("10.0.0.7", 1)
    )
    async with httpx.AsyncClient(transport=transport, base_url="http://x") as other:
        assert (await other.get("/sim/demo")).status_code == 403


async def test_the_billing_calendar_can_start_in_the_past() -> None:
    """The demo starts its fast calendar a month back, so what it shows is not dated ahead of
    today (the demo data, months of history, ends on the calendar's first day)."""
    import datetime as dt

    days_ago = 30  # what aggregator.demo.CLOCK_START_DAYS_AGO asks for
    start = dt.datetime.now(dt.UTC) - dt.timedelta(days=days_ago)
    app = create_app(sim=True, clock_speed=0, clock_start=start)
    transport = httpx.ASGITransport(app=app, client=("127.0.0.1", 5555))
    async with httpx.AsyncClient(transport=transport, base_url="http://x") as c:
        today = dt.date.fromisoformat((await c.get("/sim/clock")).json()["today"])
    assert abs((dt.date.today() - today).days - days_ago) <= 1


async def test_reset_renews_the_world_in_place_for_an_app_that_holds_it() -> None:
    backend = Backend(seed=1, clock_speed=0)
    app = create_app(backend=backend, sim=True)
    faults, in_flight = backend.faults, backend.in_flight
    transport = httpx.ASGITransport(app=app, client=("127.0.0.1", 5555))
    async with httpx.AsyncClient(transport=transport, base_url="http://127.0.0.1") as c:
        await c.put("/sim/accounts/reference/REF-0001/balance", json={"amount": "-10.50"})
        await c.post("/sim/clock/advance", json={"days": 2})
        backend.faults.add("503", operator="beeline")
        in_flight.enter("beeline")  # a request answered before the reset
        in_flight.leave("beeline")
        backend.rng = None  # type: ignore[assignment]  # as a test scripting the codes would
        backend.scratch = "left by a test"  # type: ignore[attr-defined]

        assert backend.reset() is backend
        assert app.state.backend is backend and backend.faults is faults and not faults.rules
        assert backend.in_flight is in_flight and not in_flight.requests
        assert backend.sim is True and not hasattr(backend, "scratch")
        assert backend.rng is not None
        account = (await c.get("/sim/accounts/reference/REF-0001")).json()
        assert account["balance"] != "-10.50" and account["state"] != "blocked"
        assert (await c.get("/sim/clock")).json()["manual_advance_seconds"] == 0


async def test_in_flight_counts_each_operators_requests_in_flight_and_its_peak(
    client: httpx.AsyncClient, backend: Backend
) -> None:
    import asyncio

    assert (await client.get("/sim/in-flight")).json() == {"operators": {}}
    backend.in_flight.enter("reference")  # as the middleware does around a request: one open
    logins = [
        client.post(f"{NATIVE}/auth/login", json={"login": "demo", "password": "demo-password"})
        for _ in range(3)
    ]
    assert all(r.status_code == 200 for r in await asyncio.gather(*logins))
    snapshot = (await client.get("/sim/in-flight")).json()["operators"]
    assert set(snapshot) == {"reference"}  # the sim API is not an operator
    assert snapshot["reference"]["requests"] == 4
    assert snapshot["reference"]["in_flight"] == 1
    assert snapshot["reference"]["peak"] >= 2
    backend.in_flight.leave("reference")
    reset = (await client.delete("/sim/in-flight")).json()
    assert reset == {"operators": {}}


async def test_an_operator_announces_works(client: httpx.AsyncClient) -> None:
    made = await client.post(
        "/sim/news", json={"operator": "reference", "title": "Работы на сети", "in_days": 2}
    )
    assert made.status_code == 201, made.text
    item = made.json()
    assert item["kind"] == "maintenance"
    today = dt.date.fromisoformat((await client.get("/sim/clock")).json()["today"])
    assert item["published"] == (today + dt.timedelta(days=2)).isoformat()
    unknown = await client.post("/sim/news", json={"operator": "nobody", "title": "x"})
    assert unknown.status_code == 404
    empty = await client.post("/sim/news", json={"operator": "reference", "title": ""})
    assert empty.status_code == 400
