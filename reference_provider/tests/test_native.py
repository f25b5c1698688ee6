"""The native dialect: every feature over HTTP, and bad input in its own error format."""

from __future__ import annotations

import io

import httpx
import pytest
from openpyxl import load_workbook
from pypdf import PdfReader
from reference_provider.backend import Backend

from .conftest import NATIVE, native_login


async def account_id(client: httpx.AsyncClient, h: dict[str, str], number: str) -> str:
    accounts = (await client.get(f"{NATIVE}/accounts", headers=h)).json()["accounts"]
    return next(a["id"] for a in accounts if a["number"] == number)


async def test_several_accounts_under_one_login(client: httpx.AsyncClient) -> None:
    h = await native_login(client)
    accounts = (await client.get(f"{NATIVE}/accounts", headers=h)).json()["accounts"]
    assert [(a["number"], a["state"]) for a in accounts] == [
        ("REF-0001", "active"),
        ("REF-0002", "active"),
        ("REF-0003", "suspended"),
        ("REF-0004", "blocked"),
    ]
    summary = (await client.get(f"{NATIVE}/accounts/REF-0003", headers=h)).json()
    assert summary["state"] == "suspended" and summary["suspension_end"] == "2025-02-09"


async def test_reports_are_real_files(client: httpx.AsyncClient) -> None:
    h = await native_login(client)
    acc = await account_id(client, h, "REF-0001")
    params = {"start": "2024-12-01", "end": "2025-01-15"}
    pdf = await client.get(
        f"{NATIVE}/accounts/{acc}/report", headers=h, params={**params, "format": "pdf"}
    )
    assert pdf.headers["content-type"] == "application/pdf"
    text = "".join(page.extract_text() for page in PdfReader(io.BytesIO(pdf.content)).pages)
    assert "REF-0001" in text and "Абонентская плата" in text
    xlsx = await client.get(
        f"{NATIVE}/accounts/{acc}/report", headers=h, params={**params, "format": "xlsx"}
    )
    book = load_workbook(io.BytesIO(xlsx.content))
    assert book.sheetnames == ["Начисления и платежи", "Звонки и SMS"]
    rows = list(book["Начисления и платежи"].values)
    assert rows[1] == ("Лицевой счёт", "REF-0001", None)
    assert any(r and r[1] == "Абонентская плата: Базовый" for r in rows)


async def test_paid_operations_need_a_code(client: httpx.AsyncClient, backend: Backend) -> None:
    h = await native_login(client)
    acc = await account_id(client, h, "REF-0001")
    free = await client.put(
        f"{NATIVE}/accounts/{acc}/services/ref-notify", headers=h, json={"enabled": True}
    )
    assert free.status_code == 200 and free.json()["service"]["enabled"] is True
    paid = await client.put(
        f"{NATIVE}/accounts/{acc}/services/ref-kino", headers=h, json={"enabled": True}
    )
    assert paid.status_code == 202
    ticket = paid.json()["confirmation"]
    wrong = await client.post(
        f"{NATIVE}/confirmations/{ticket['id']}", headers=h, json={"code": "000000"}
    )
    assert wrong.status_code == 401 and wrong.json()["error"]["code"] == "code_invalid"
    ok = await client.post(
        f"{NATIVE}/confirmations/{ticket['id']}",
        headers=h,
        json={"code": backend.last_code("reference")},
    )
    assert ok.json()["service"]["enabled"] is True


async def test_suspension_over_http(client: httpx.AsyncClient) -> None:
    h = await native_login(client)
    acc = await account_id(client, h, "REF-0002")
    q = await client.post(
        f"{NATIVE}/accounts/{acc}/suspension/quote",
        headers=h,
        json={"start": "2025-01-20", "end": "2025-03-20"},
    )
    assert q.json()["days"] == 60 and q.json()["paid_days"] == 30 and q.json()["total"] == "90.00"
    s = await client.post(
        f"{NATIVE}/accounts/{acc}/suspension",
        headers=h,
        json={"start": "2025-01-20", "end": "2025-03-20"},
    )
    assert s.json()["state"] == "scheduled"
    r = await client.delete(f"{NATIVE}/accounts/{acc}/suspension", headers=h)
    assert r.json()["state"] == "active"


async def test_autopay_over_http(client: httpx.AsyncClient) -> None:
    h = await native_login(client)
    acc = await account_id(client, h, "REF-0002")
    before = (await client.get(f"{NATIVE}/accounts/{acc}/autopay", headers=h)).json()
    assert before["enabled"] is False and before["card_mask"].startswith("****")
    on = await client.put(
        f"{NATIVE}/accounts/{acc}/autopay",
        headers=h,
        json={"enabled": True, "threshold": "100", "amount": "500"},
    )
    assert on.json()["enabled"] is True and on.json()["amount"] == "500.00"


@pytest.mark.parametrize(
    ("method", "path", "body", "status", "code"),
    [
        ("POST", "/auth/login", b"{not json", 400, "invalid_input"),
        ("POST", "/auth/login", b'{"login": 5}', 400, "invalid_input"),
        ("POST", "/auth/code", b'{"login": "demo", "channel": "pigeon"}', 400, "invalid_input"),
        ("POST", "/auth/sso", b'{"provider": "facebook"}', 400, "invalid_input"),
        ("GET", "/accounts/REF-0001/report?start=2025-01-01", None, 400, "invalid_input"),
        (
            "GET",
            "/accounts/REF-0001/report?start=2025-01-10&end=2025-01-01",
            None,
            400,
            "invalid_input",
        ),
        ("GET", "/accounts/REF-0001/payments?since=yesterday", None, 400, "invalid_input"),
        ("POST", "/accounts/REF-0001/top-up", b'{"amount": "lots"}', 400, "invalid_input"),
        ("POST", "/accounts/REF-0001/top-up", b'{"amount": "0"}', 400, "invalid_input"),
        ("POST", "/accounts/REF-0001/tariff", b'{"tariff_id": "nope"}', 404, "not_found"),
        ("POST", "/accounts/REF-0001/tariff", b'{"tariff_id": "ref-basic"}', 409, "rejected"),
        ("POST", "/accounts/REF-0001/chat", b'{"topic_id": "x", "text": "hi"}', 404, "not_found"),
        (
            "POST",
            "/accounts/REF-0001/suspension/quote",
            b'{"start": "2025-01-20"}',
            400,
            "invalid_input",
        ),
        ("GET", "/accounts/acc-999999/balance", None, 404, "not_found"),
        ("GET", "/accounts/9031234567/balance", None, 404, "not_found"),
        ("GET", "/auth/captcha/nope", None, 404, "not_found"),
        ("POST", "/confirmations/nope", b'{"code": "1"}', 404, "not_found"),
        ("GET", "/no/such/path", None, 404, "not_found"),
        ("PATCH", "/accounts", None, 405, "method_not_allowed"),
    ],
)
async def test_bad_input_gets_the_native_error_format(
    client: httpx.AsyncClient,
    method: str,
    path: str,
    body: bytes | None,
    status: int,
    code: str,
) -> None:
    h = await native_login(client)
    r = await client.request(
        method, f"{NATIVE}{path}", content=body, headers={**h, "content-type": "application/json"}
    )
    assert r.status_code == status, r.text
    assert r.json()["error"]["code"] == code
    assert r.json()["error"]["message"]
    assert "Traceback" not in r.text


async def test_no_token_and_someone_elses_account(
    client: httpx.AsyncClient, backend: Backend
) -> None:
    r = await client.get(f"{NATIVE}/accounts")
    assert r.status_code == 401 and r.json()["error"]["code"] == "session_expired"
    h = await native_login(client, "newbie", "temp-123456")
    assert (await client.get(f"{NATIVE}/accounts/REF-0001", headers=h)).status_code == 403
    mine = await native_login(client)
    other = backend.account_by_number("reference", "REF-0020").id
    r = await client.get(f"{NATIVE}/accounts/{other}/balance", headers=mine)
    assert r.status_code == 403 and r.json()["error"]["code"] == "forbidden"
