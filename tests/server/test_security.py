"""The dashboard's security: CSRF, cookie flags, headers, household isolation, throttling."""

from __future__ import annotations

import hashlib
from pathlib import Path

import pytest
from litestar.testing import AsyncTestClient
from sqlalchemy import select

from aggregator.runtime import Runtime
from aggregator.server.app import create_app
from aggregator.server.throttle import SignInThrottle
from aggregator.storage.models import LinkedAccount, WebSession

from .conftest import PASSWORD, Harness, Reference, make_settings

STATE_CHANGES = [
    ("POST", "/logout"),
    ("POST", "/lang"),
    ("POST", "/settings"),
    ("POST", "/settings/alerts"),
    ("POST", "/members/invite"),
    ("POST", "/accounts/add/reference"),
    ("POST", "/accounts/1/tariff"),
    ("POST", "/accounts/1/delete"),
]
API_CHANGES = [
    ("PUT", "/api/v1/alerts", {"recipients": []}),
    ("PATCH", "/api/v1/accounts/1", {"label": "x"}),
    ("DELETE", "/api/v1/accounts/1", None),
    ("POST", "/api/v1/accounts/1/tariff", {"tariff_id": "x"}),
]


@pytest.mark.parametrize(("method", "path"), STATE_CHANGES)
async def test_form_without_csrf_token_is_refused(
    signed_in: Harness, method: str, path: str
) -> None:
    response = await signed_in.client.request(method, path, data={"lang": "en"})
    assert response.status_code == 403
    wrong = await signed_in.client.request(method, path, data={"_csrf": "forged", "lang": "en"})
    assert wrong.status_code == 403


@pytest.mark.parametrize(("method", "path", "body"), API_CHANGES)
async def test_api_change_without_csrf_header_is_refused(
    signed_in: Harness, method: str, path: str, body: object
) -> None:
    response = await signed_in.client.request(method, path, json=body)
    assert response.status_code == 403
    assert response.json()["error"]["key"] == "http.csrf"


async def test_signed_out_forms_need_the_cookie_token(harness: Harness) -> None:
    await harness.sign_up()
    await harness.sign_out()
    # The sign-in form: no token, or a token that is not the cookie's, is refused.
    refused = await harness.client.post("/login", data={"email": "a@b.ru", "password": "x"})
    assert refused.status_code == 403
    await harness.page("/login")
    forged = await harness.client.post(
        "/login", data={"_csrf": "x" * 43, "email": "a@b.ru", "password": "x"}
    )
    assert forged.status_code == 403
    accepted = await harness.post("/login", {"email": "owner@example.ru", "password": PASSWORD})
    assert accepted.status_code == 303


async def test_cookie_flags(tmp_path: Path, ref: Reference) -> None:
    settings = make_settings(tmp_path, secure_cookies=True)
    async with Runtime(settings, http=ref.http) as runtime:
        app = create_app(settings, runtime=runtime)
        async with AsyncTestClient(app, base_url="https://127.0.0.1:8000") as client:
            h = Harness(app, client, settings, ref)
            await h.page("/setup")
            response = await h.post(
                "/setup",
                {
                    "email": "owner@example.ru",
                    "password": PASSWORD,
                    "password_confirm": PASSWORD,
                },
            )
    cookies = response.headers.get_list("set-cookie")
    session = next(c for c in cookies if c.startswith("__Host-agg_session="))
    flags = {part.strip().lower() for part in session.split(";")}
    assert {"httponly", "secure", "samesite=lax", "path=/"} <= flags
    assert not any(f.startswith("domain=") for f in flags)


async def test_session_token_is_stored_hashed_and_ends_on_sign_out(signed_in: Harness) -> None:
    token = signed_in.client.cookies.get("agg_session")
    assert token
    server = signed_in.app.state.server
    async with server.db() as db:
        ids = list(await db.scalars(select(WebSession.id)))
    assert ids == [hashlib.sha256(token.encode()).hexdigest()]
    await signed_in.post("/logout")
    async with server.db() as db:
        assert list(await db.scalars(select(WebSession.id))) == []
    signed_in.client.cookies.set("agg_session", token)
    again = await signed_in.client.get("/", follow_redirects=False)
    assert again.status_code == 303 and again.headers["location"] == "/login"


@pytest.mark.parametrize(
    "path", ["/", "/login", "/static/css/app.css", "/nowhere", "/api/v1/accounts", "/api/schema"]
)
async def test_security_headers_everywhere(signed_in: Harness, path: str) -> None:
    response = await signed_in.client.get(path)
    csp = response.headers["content-security-policy"]
    assert "frame-ancestors 'none'" in csp
    script_src = next(d for d in csp.split(";") if d.strip().startswith("script-src"))
    assert "unsafe-inline" not in script_src and "unsafe-eval" not in script_src
    assert response.headers["x-content-type-options"] == "nosniff"
    assert response.headers["referrer-policy"] == "same-origin"


async def test_pages_have_no_inline_script(signed_in: Harness) -> None:
    for path in (
        "/",
        "/accounts/add",
        "/settings/alerts",
        "/members",
        "/outbox",
        "/plugins",
        "/settings",
        "/api/schema",
    ):
        text = (await signed_in.client.get(path)).text
        for chunk in text.split("<script")[1:]:
            head, _, rest = chunk.partition(">")
            assert "src=" in head, (path, head)
            assert rest.startswith("</script>"), path
        assert " style=" not in text and " onclick=" not in text, path


async def _link_demo(h: Harness) -> int:
    await h.page("/accounts/add/reference?scheme=password")
    response = await h.post(
        "/accounts/add/reference",
        {"scheme": "password", "identifier": "captcha", "password": "demo-password"},
    )
    step = response.headers["location"]
    await h.post(step, {"answer": await h.ref.captcha_answer()})
    server = h.app.state.server
    async with server.db() as db:
        return int(await db.scalar(select(LinkedAccount.id)) or 0)


async def test_another_households_objects_answer_404(harness: Harness) -> None:
    await harness.sign_up("first@example.ru")
    account_id = await _link_demo(harness)
    assert (await harness.client.get(f"/accounts/{account_id}")).status_code == 200
    # A second household, signed in through an invitation-free path: the CLI helper.
    server = harness.app.state.server
    from aggregator.services.households import create_household_with_owner

    async with server.db() as db:
        await create_household_with_owner(db, email="second@example.ru", password=PASSWORD)
        await db.commit()
    await harness.sign_out()
    await harness.sign_in("second@example.ru", PASSWORD)
    paths = [
        f"/accounts/{account_id}",
        f"/accounts/{account_id}/tariffs",
        f"/accounts/{account_id}/chat",
        f"/accounts/{account_id}/relogin",
        f"/accounts/{account_id}/report?start=2024-01-01&end=2024-02-01",
        f"/api/v1/accounts/{account_id}",
        f"/api/v1/accounts/{account_id}/readings",
        f"/api/v1/accounts/{account_id}/tariffs",
        f"/api/v1/accounts/{account_id}/alerts",
    ]
    for path in paths:
        assert (await harness.client.get(path)).status_code == 404, path
    for path in [
        f"/accounts/{account_id}/delete",
        f"/accounts/{account_id}/label",
        f"/accounts/{account_id}/tariff",
    ]:
        response = await harness.post(path, {"label": "mine", "tariff_id": "x"})
        assert response.status_code == 404, path
    for method, path, body in [
        ("PATCH", f"/api/v1/accounts/{account_id}", {"label": "mine"}),
        ("DELETE", f"/api/v1/accounts/{account_id}", None),
        ("PUT", f"/api/v1/accounts/{account_id}/alerts", {"threshold": "1"}),
    ]:
        assert (await harness.api(method, path, json=body)).status_code == 404, path
    listing = await harness.api("GET", "/accounts")
    assert listing.json()["accounts"] == []
    async with server.db() as db:
        account = await db.get(LinkedAccount, account_id)
        assert account is not None and account.label == ""


async def test_sign_in_is_throttled_per_account(signed_in: Harness) -> None:
    h = signed_in
    await h.sign_out()
    await h.page("/login")
    for _ in range(SignInThrottle().address_failures):
        response = await h.post("/login", {"email": "owner@example.ru", "password": "wrong"})
        assert response.status_code == 400
    # Now even the right password is refused for this address, with a Retry-After...
    refused = await h.post("/login", {"email": "Owner@Example.ru", "password": PASSWORD})
    assert refused.status_code == 429
    assert int(refused.headers["retry-after"]) > 0
    assert "Слишком много попыток" in refused.text
    # ...while another address is not affected.
    other = await h.post("/login", {"email": "nobody@example.ru", "password": "wrong"})
    assert other.status_code == 400


async def test_no_traceback_reaches_a_page(signed_in: Harness) -> None:
    response = await signed_in.client.get("/accounts/not-a-number")
    assert response.status_code == 404
    bad = await signed_in.api("GET", "/accounts/1/readings", params={"since": "yesterday"})
    assert bad.status_code == 422  # the API names the field it could not accept
    for text in (response.text, bad.text):
        assert "Traceback" not in text and 'File "' not in text
