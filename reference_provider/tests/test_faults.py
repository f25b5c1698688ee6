"""Every fault kind, applied by the one middleware to a dialect's paths."""

from __future__ import annotations

import json

import httpx
import pytest
from reference_provider.backend import Backend
from reference_provider.domain import InvalidInput

from .conftest import NATIVE, native_login


@pytest.mark.parametrize("kind", ["500", "502", "503"])
async def test_server_errors(client: httpx.AsyncClient, backend: Backend, kind: str) -> None:
    h = await native_login(client)
    backend.faults.add(kind, operator="reference", count=1)
    r = await client.get(f"{NATIVE}/accounts", headers=h)
    assert r.status_code == int(kind) and "nginx" in r.text
    assert (await client.get(f"{NATIVE}/accounts", headers=h)).status_code == 200  # count=1


async def test_rate_limit_with_retry_after(client: httpx.AsyncClient, backend: Backend) -> None:
    backend.faults.add("429", operator="reference", retry_after=42)
    r = await client.get(f"{NATIVE}/accounts")
    assert r.status_code == 429 and r.headers["retry-after"] == "42"


async def test_latency_then_the_real_answer(client: httpx.AsyncClient, backend: Backend) -> None:
    h = await native_login(client)
    backend.faults.add("latency", operator="reference", seconds=0.05, count=1)
    r = await client.get(f"{NATIVE}/accounts", headers=h)
    assert r.status_code == 200 and r.json()["accounts"]
    assert backend.faults.rules == []


async def test_timeout_answers_504_after_waiting(
    client: httpx.AsyncClient, backend: Backend
) -> None:
    backend.faults.add("timeout", operator="reference", seconds=0.01)
    r = await client.get(f"{NATIVE}/accounts")
    assert r.status_code == 504


async def test_timeout_trips_a_client_timeout(backend: Backend) -> None:
    from reference_provider.app import create_app
    from reference_provider.testing import running_server

    backend.faults.add("timeout", operator="reference", seconds=1)
    with running_server(create_app(backend=backend)) as url:
        async with httpx.AsyncClient(timeout=0.2) as real:
            with pytest.raises(httpx.ReadTimeout):
                await real.get(f"{url}{NATIVE}/accounts")


async def test_malformed_json(client: httpx.AsyncClient, backend: Backend) -> None:
    backend.faults.add("malformed_json", operator="reference")
    r = await client.get(f"{NATIVE}/accounts")
    assert r.status_code == 200 and r.headers["content-type"] == "application/json"
    with pytest.raises(ValueError):
        json.loads(r.content)


async def test_truncated_body(client: httpx.AsyncClient, backend: Backend) -> None:
    h = await native_login(client)
    full = await client.get(f"{NATIVE}/accounts", headers=h)
    backend.faults.add("truncated", operator="reference", path=f"{NATIVE}/accounts")
    cut = await client.get(f"{NATIVE}/accounts", headers=h)
    assert cut.content == full.content[: len(full.content) // 2]
    assert int(cut.headers["content-length"]) == len(cut.content)


async def test_changed_markup(client: httpx.AsyncClient, backend: Backend) -> None:
    h = await native_login(client)
    backend.faults.add("changed_html", path="/idp/*/authorize")
    backend.faults.add("changed_html", operator="reference", path=f"{NATIVE}/session")
    page = await client.get(
        "/idp/vk/authorize",
        params={"client_id": "lk_b2c", "redirect_uri": "http://127.0.0.1/cb", "state": "s"},
    )
    assert 'id="v2-username"' in page.text and 'id="username"' not in page.text
    body = (await client.get(f"{NATIVE}/session", headers=h)).json()
    assert set(body) == {"v2_valid", "v2_expires_at", "v2_must_change_password"}


async def test_expired_session(client: httpx.AsyncClient, backend: Backend) -> None:
    h = await native_login(client)
    backend.faults.add("expired_session", operator="reference", count=1)
    r = await client.get(f"{NATIVE}/accounts", headers=h)
    assert r.status_code == 401 and r.json()["error"]["code"] == "session_expired"
    again = await client.get(f"{NATIVE}/accounts", headers=h)  # really ended, not only once
    assert again.status_code == 401


async def test_demanded_captcha(client: httpx.AsyncClient, backend: Backend) -> None:
    h = await native_login(client)
    backend.faults.add("captcha", operator="reference", count=1)
    r = await client.get(f"{NATIVE}/accounts", headers=h)
    assert r.status_code == 401
    login = await client.post(
        f"{NATIVE}/auth/login", json={"login": "demo", "password": "demo-password"}
    )
    assert login.json()["error"]["code"] == "captcha_required"
    backend.faults.add("captcha", path=f"{NATIVE}/auth/login", count=1)  # on a login itself
    c = backend.new_captcha("reference")
    ok = await client.post(
        f"{NATIVE}/auth/login",
        json={
            "login": "demo",
            "password": "demo-password",
            "captcha_id": c.id,
            "captcha_answer": c.answer,
        },
    )
    assert ok.status_code == 200


async def test_probability_and_glob_and_scope(client: httpx.AsyncClient, backend: Backend) -> None:
    h = await native_login(client)
    backend.faults.add("503", path="/reference/*/accounts", probability=0.5)
    codes = [(await client.get(f"{NATIVE}/accounts", headers=h)).status_code for _ in range(40)]
    assert 5 < codes.count(503) < 35 and codes.count(200) == 40 - codes.count(503)
    assert (await client.get(f"{NATIVE}/session", headers=h)).status_code == 200  # not matched
    backend.faults.add("503", operator="beeline")
    assert (await client.get(f"{NATIVE}/session", headers=h)).status_code == 200
    assert (await client.get("/sim/clock")).status_code == 200  # sim is never faulted
    assert backend.faults.clear() == 2
    after = [(await client.get(f"{NATIVE}/accounts", headers=h)).status_code for _ in range(5)]
    assert after == [200] * 5


async def test_faults_through_the_sim_api(client: httpx.AsyncClient) -> None:
    added = await client.post(
        "/sim/faults", json={"kind": "502", "operator": "reference", "count": 2}
    )
    assert added.status_code == 201
    listed = (await client.get("/sim/faults")).json()
    assert listed["faults"][0]["kind"] == "502" and "captcha" in listed["kinds"]
    assert (await client.get(f"{NATIVE}/accounts")).status_code == 502
    bad = await client.post("/sim/faults", json={"kind": "gremlins"})
    assert bad.status_code == 400
    cleared = await client.delete("/sim/faults", params={"operator": "reference"})
    assert cleared.json() == {"removed": 1}


def test_fault_validation() -> None:
    backend = Backend(clock_speed=0, demo=False)
    for kwargs in ({"count": 0}, {"probability": 0.0}, {"seconds": 1000.0}):
        with pytest.raises(InvalidInput):
            backend.faults.add("500", **kwargs)  # type: ignore[arg-type]
