"""Personal API tokens: shown once, stored hashed, Bearer on the JSON API, read-only really
read-only, revoked tokens fail, another household's ids answer 404, no token in any log."""

from __future__ import annotations

import logging
import re

import pytest
from sqlalchemy import select

from aggregator.services import tokens as token_service
from aggregator.services.households import create_household_with_owner
from aggregator.storage.models import ApiToken, LinkedAccount, User

from .conftest import PASSWORD, Harness
from .test_security import _link_demo

_TOKEN = re.compile(r'data-token="(agg_[A-Za-z0-9_-]+)"')


async def _create_on_page(h: Harness, name: str, scope: str) -> str:
    await h.page("/settings/tokens")
    response = await h.post("/settings/tokens", {"name": name, "scope": scope})
    assert response.status_code == 200, response.text[:300]
    found = _TOKEN.search(response.text)
    assert found, "the new token is shown on the page"
    # Shown once: the list page afterwards has no token value in it.
    again = await h.page("/settings/tokens")
    assert found.group(1) not in again.text
    assert name in again.text
    return found.group(1)


def _bearer(token: str) -> dict[str, str]:
    return {"Authorization": f"Bearer {token}"}


async def test_a_token_is_shown_once_and_stored_hashed(signed_in: Harness) -> None:
    h = signed_in
    token = await _create_on_page(h, "Home Assistant", "read")
    async with h.app.state.server.db() as db:
        row = (await db.execute(select(ApiToken))).scalar_one()
    assert row.token_hash != token and token not in row.token_hash
    assert row.token_hash == token_service.hash_api_token(token)
    assert row.prefix == token[:8] and row.scope == "read" and row.last_used_at is None


async def test_bearer_reads_the_api_and_records_the_last_use(signed_in: Harness) -> None:
    h = signed_in
    account_id = await _link_demo(h)
    token = await _create_on_page(h, "script", "read")
    h.client.cookies.clear()  # no session: the token alone
    response = await h.client.get("/api/v1/accounts", headers=_bearer(token))
    assert response.status_code == 200
    assert [a["id"] for a in response.json()["accounts"]] == [account_id]
    me = await h.client.get("/api/v1/me", headers=_bearer(token))
    assert me.status_code == 200
    async with h.app.state.server.db() as db:
        row = (await db.execute(select(ApiToken))).scalar_one()
    assert row.last_used_at is not None
    # Pages are not for tokens: a page asked with a token alone goes to the sign-in.
    page = await h.client.get("/", headers=_bearer(token), follow_redirects=False)
    assert page.status_code == 303


async def test_a_read_only_token_cannot_change_anything(signed_in: Harness) -> None:
    h = signed_in
    account_id = await _link_demo(h)
    token = await _create_on_page(h, "reader", "read")
    h.client.cookies.clear()
    changes = [
        ("PATCH", f"/api/v1/accounts/{account_id}", {"label": "renamed"}),
        ("PUT", "/api/v1/alerts", {"recipients": []}),
        ("PUT", f"/api/v1/accounts/{account_id}/alerts", {"threshold": "1"}),
        ("POST", f"/api/v1/accounts/{account_id}/tariff", {"tariff_id": "x"}),
        ("DELETE", f"/api/v1/accounts/{account_id}", None),
    ]
    for method, path, body in changes:
        response = await h.client.request(method, path, json=body, headers=_bearer(token))
        assert response.status_code == 403, (method, path)
        assert response.json()["error"]["key"] == "http.token_read_only"
    async with h.app.state.server.db() as db:
        account = await db.get(LinkedAccount, account_id)
        assert account is not None and account.label == ""


async def test_a_write_token_changes_without_csrf(signed_in: Harness) -> None:
    h = signed_in
    account_id = await _link_demo(h)
    token = await _create_on_page(h, "writer", "write")
    h.client.cookies.clear()
    response = await h.client.patch(
        f"/api/v1/accounts/{account_id}", json={"label": "Дача"}, headers=_bearer(token)
    )
    assert response.status_code == 200, response.text
    async with h.app.state.server.db() as db:
        account = await db.get(LinkedAccount, account_id)
        assert account is not None and account.label == "Дача"


async def test_revoked_unknown_and_malformed_tokens_fail(signed_in: Harness) -> None:
    h = signed_in
    token = await _create_on_page(h, "old", "write")
    async with h.app.state.server.db() as db:
        token_id = (await db.execute(select(ApiToken.id))).scalar_one()
    response = await h.post(f"/settings/tokens/{token_id}/revoke")
    assert response.status_code == 303
    h.client.cookies.clear()
    for value in (token, token[:-1] + ("A" if token[-1] != "A" else "B"), "", "agg_short"):
        response = await h.client.get("/api/v1/accounts", headers=_bearer(value))
        assert response.status_code == 401, value
        assert response.headers["www-authenticate"] == "Bearer"
        assert response.json()["error"]["key"] == "http.token_invalid"
    basic = await h.client.get("/api/v1/accounts", headers={"Authorization": "Basic eDp5"})
    assert basic.status_code == 401


async def test_a_token_never_reads_another_household(signed_in: Harness) -> None:
    h = signed_in
    account_id = await _link_demo(h)
    server = h.app.state.server
    async with server.db() as db:
        second = await create_household_with_owner(db, email="second@example.ru", password=PASSWORD)
        await db.commit()
        created = await token_service.create_token(
            db, household_id=second.household_id, user_id=second.id, name="x", scope="write"
        )
    token = created.token.reveal()
    h.client.cookies.clear()
    listing = await h.client.get("/api/v1/accounts", headers=_bearer(token))
    assert listing.status_code == 200 and listing.json()["accounts"] == []
    for path in (
        f"/api/v1/accounts/{account_id}",
        f"/api/v1/accounts/{account_id}/readings",
        f"/api/v1/accounts/{account_id}/alerts",
    ):
        assert (await h.client.get(path, headers=_bearer(token))).status_code == 404, path
    for method, path, body in (
        ("PATCH", f"/api/v1/accounts/{account_id}", {"label": "mine"}),
        ("DELETE", f"/api/v1/accounts/{account_id}", None),
    ):
        response = await h.client.request(method, path, json=body, headers=_bearer(token))
        assert response.status_code == 404, path
    async with server.db() as db:
        account = await db.get(LinkedAccount, account_id)
        assert account is not None and account.label == ""


async def test_a_member_revokes_only_their_own_token(signed_in: Harness) -> None:
    h = signed_in
    server = h.app.state.server
    async with server.db() as db:
        owner = (await db.execute(select(User))).scalar_one()
        other = await create_household_with_owner(db, email="other@example.ru", password=PASSWORD)
        await db.commit()
        foreign = await token_service.create_token(
            db, household_id=other.household_id, user_id=other.id, name="theirs", scope="read"
        )
        with pytest.raises(token_service.TokenError):
            await token_service.create_token(
                db, household_id=owner.household_id, user_id=other.id, name="x", scope="read"
            )
        with pytest.raises(token_service.TokenError):
            await token_service.create_token(
                db, household_id=owner.household_id, user_id=owner.id, name=" ", scope="read"
            )
        with pytest.raises(token_service.TokenError):
            await token_service.create_token(
                db, household_id=owner.household_id, user_id=owner.id, name="x", scope="admin"
            )
    # Another household's token id answers 404 on this household's page.
    response = await h.post(f"/settings/tokens/{foreign.info.id}/revoke")
    assert response.status_code == 404
    bad = await h.post("/settings/tokens", {"name": "", "scope": "read"})
    assert bad.status_code == 400


async def test_tokens_appear_in_no_log(
    signed_in: Harness, caplog: pytest.LogCaptureFixture
) -> None:
    caplog.set_level(logging.DEBUG)
    h = signed_in
    account_id = await _link_demo(h)
    token = await _create_on_page(h, "logged?", "write")
    h.client.cookies.clear()
    await h.client.get("/api/v1/accounts", headers=_bearer(token))
    await h.client.patch(
        f"/api/v1/accounts/{account_id}", json={"label": "x"}, headers=_bearer(token)
    )
    await h.client.get("/api/v1/accounts/999999", headers=_bearer(token))
    await h.client.get("/api/v1/accounts", headers=_bearer(token + "x"))
    async with h.app.state.server.db() as db:
        token_id = (await db.execute(select(ApiToken.id))).scalar_one()
        owner = (await db.execute(select(User))).scalar_one()
        await token_service.revoke_token(db, owner.household_id, token_id)
    await h.client.get("/api/v1/accounts", headers=_bearer(token))
    text = "\n".join(
        record.getMessage() + repr(record.args) + repr(record.__dict__) for record in caplog.records
    )
    assert caplog.records, "the requests logged something"
    assert token not in text and token[8:] not in text
