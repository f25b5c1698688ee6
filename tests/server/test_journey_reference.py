"""The reference operator's whole journey through the dashboard, over HTTP in-process:
link accounts by every login path, see balances, change a tariff with a code, toggle a
service, suspend, chat with the bot and the agent, download reports."""

from __future__ import annotations

import datetime as dt
import io
import re
from urllib.parse import urlsplit

import openpyxl
import pypdf
from sqlalchemy import func, select

from aggregator.storage.models import LinkedAccount, LoginLease

from .conftest import Harness

FLOW = re.compile(r"/flows/([A-Za-z0-9_-]+)")


def _location(response) -> str:  # type: ignore[no-untyped-def]
    assert response.status_code in (302, 303), (response.status_code, response.text[:300])
    return response.headers["location"]


async def _start(h: Harness, scheme: str, **fields: str) -> str:
    await h.page(f"/accounts/add/reference?scheme={scheme}")
    response = await h.post("/accounts/add/reference", {"scheme": scheme, **fields})
    return _location(response)


async def _choose(h: Harness, step: str, *numbers: str) -> str:
    """Tick the numbers shown on the choice step; return where the wizard goes next."""
    page = await h.page(step)
    ids = dict((n, i) for i, n in re.findall(r'value="([^"]+)"(?: checked)?> ([^ <]+)', page.text))
    response = await h.post(step, {"subaccount": [ids[n] for n in numbers]})
    return _location(response)


async def _accounts(h: Harness) -> list[LinkedAccount]:
    server = h.app.state.server
    async with server.db() as db:
        return list(await db.scalars(select(LinkedAccount).order_by(LinkedAccount.id)))


async def test_password_login_links_the_chosen_numbers(signed_in: Harness) -> None:
    h = signed_in
    step = await _start(h, "password", identifier="demo", password="demo-password", label="Семья")
    assert FLOW.fullmatch(step), step
    page = await h.page(step)
    assert "REF-0001" in page.text and "REF-0004" in page.text
    assert await _choose(h, step, "REF-0001", "REF-0002") == "/?linked=2"
    accounts = await _accounts(h)
    assert [a.number_masked for a in accounts] == ["•••• 01", "•••• 02"]
    assert all(a.credentials_sealed and a.session_sealed for a in accounts)
    dashboard = await h.page("/?linked=2")
    assert "Подключено 2 счёта" in dashboard.text


async def test_captcha_code_sso_and_new_password_steps(signed_in: Harness) -> None:
    h = signed_in
    # A captcha on a new device: the picture is served from the flow, the answer continues.
    step = await _start(h, "password", identifier="captcha", password="demo-password")
    page = await h.page(step)
    assert "captcha" in page.text
    picture = await h.client.get(f"{step}/captcha")
    assert picture.status_code == 200 and picture.content.startswith(b"\x89PNG")
    response = await h.post(step, {"answer": await h.ref.captcha_answer()})
    assert _location(response).startswith("/accounts/")

    # A one-time code by SMS, naming the masked destination.
    step = await _start(h, "sms_code", identifier="+7 903 123-45-67")
    page = await h.page(step)
    assert "***" in page.text or "•" in page.text
    response = await h.post(step, {"answer": await h.ref.last_code()})
    await _choose(h, _location(response), "REF-0003")

    # SSO: the button leaves for the identity provider, which comes back to our callback.
    step = await _start(h, "sso", sso_provider="gosuslugi")
    page = await h.page(step)
    authorize = re.search(r'href="([^"]+)" id="sso-go"', page.text)
    assert authorize is not None
    url = authorize.group(1).replace("&amp;", "&")
    done = await h.ref.sim(
        "POST",
        "/idp/complete",
        json={"authorize_url": url, "username": "ivan.smirnov", "password": "sso-demo-2024"},
    )
    callback = urlsplit(done["callback_url"])
    assert callback.path == "/accounts/sso/callback"
    response = await h.client.get(f"{callback.path}?{callback.query}", follow_redirects=False)
    await _choose(h, _location(response), "REF-0004")

    # A temporary password must be replaced by a permanent one.
    step = await _start(h, "password", identifier="newbie", password="temp-123456")
    page = await h.page(step)
    assert 'name="new_password"' in page.text
    bad = await h.post(step, {"new_password": "abc", "new_password_confirm": "abc"})
    assert bad.status_code == 400
    response = await h.post(
        step, {"new_password": "Permanent-2025", "new_password_confirm": "Permanent-2025"}
    )
    assert _location(response).startswith("/accounts/")

    numbers = sorted(a.number_masked for a in await _accounts(h))
    assert numbers == ["•••• 03", "•••• 04", "•••• 10", "•••• 20"]


async def test_wrong_password_says_so_and_keeps_nothing(signed_in: Harness) -> None:
    h = signed_in
    await h.page("/accounts/add/reference?scheme=password")
    response = await h.post(
        "/accounts/add/reference",
        {"scheme": "password", "identifier": "demo", "password": "wrong-password"},
    )
    assert response.status_code == 400
    assert "не принял логин или пароль" in response.text
    assert "wrong-password" not in response.text
    assert await _accounts(h) == []


async def _link_demo(h: Harness) -> int:
    step = await _start(h, "password", identifier="demo", password="demo-password")
    await _choose(h, step, "REF-0001")
    (account,) = await _accounts(h)
    response = await h.post(f"/accounts/{account.id}/refresh")
    assert _location(response) == f"/accounts/{account.id}"
    return account.id


async def test_account_page_operations(signed_in: Harness) -> None:
    h = signed_in
    account_id = await _link_demo(h)
    page = await h.page(f"/accounts/{account_id}")
    assert page.status_code == 200
    assert "850,00\u00a0₽" in page.text
    for section in ("tariffs", "services", "suspension", "payments", "chat", "news"):
        assert f'hx-get="/accounts/{account_id}/{section}"' in page.text
    # The packages a poll brought are shown at the top: the live section adds the traffic only.
    assert f'hx-get="/accounts/{account_id}/usage?packages=0"' in page.text
    traffic = await h.htmx("GET", f"/accounts/{account_id}/usage?packages=0")
    assert traffic.status_code == 200 and "<meter" not in traffic.text
    assert 'name="packages" value="0"' in traffic.text or "traffic-" in traffic.text

    # Tariff: the catalogue, the confirmation page, then a one-time code.
    tariffs = await h.htmx("GET", f"/accounts/{account_id}/tariffs")
    assert tariffs.status_code == 200
    choice = re.search(r"tariffs/confirm\?tariff_id=([^\"&]+)", tariffs.text)
    assert choice is not None
    confirm = await h.htmx(
        "GET", f"/accounts/{account_id}/tariffs/confirm?tariff_id={choice.group(1)}"
    )
    assert "Подтвердить смену" in confirm.text
    asked = await h.htmx("POST", f"/accounts/{account_id}/tariff", {"tariff_id": choice.group(1)})
    token = FLOW.search(asked.text)
    assert token is not None, asked.text[:500]
    wrong = await h.htmx("POST", f"/flows/{token.group(1)}/confirm", {"code": "000000"})
    assert wrong.status_code == 400
    done = await h.htmx(
        "POST", f"/flows/{token.group(1)}/confirm", {"code": await h.ref.last_code()}
    )
    assert done.status_code == 200, done.text[:500]
    assert "Заявка на смену тарифа принята" in done.text
    assert "Вступает в силу" in done.text

    # A free service switched off and on again.
    services = await h.htmx("GET", f"/accounts/{account_id}/services")
    toggle = re.search(rf'hx-post="/accounts/{account_id}/services/([^"]+)"', services.text)
    assert toggle is not None
    changed = await h.htmx(
        "POST", f"/accounts/{account_id}/services/{toggle.group(1)}", {"enabled": "0"}
    )
    assert changed.status_code == 200
    assert 'role="switch"' in changed.text

    # Suspension: the cost before confirming, then the request.
    quote = await h.htmx(
        "GET",
        f"/accounts/{account_id}/suspension/quote",
        {"start": "2030-01-01", "end": "2030-02-15"},
    )
    assert "Итого" in quote.text and "₽" in quote.text
    suspended = await h.htmx(
        "POST", f"/accounts/{account_id}/suspension", {"start": "2030-01-01", "end": "2030-02-15"}
    )
    assert suspended.status_code == 200, re.findall(r"<p[^>]*>([^<]+)</p>", suspended.text)

    # Reports: real PDF and XLSX files.
    today = dt.date.fromisoformat((await h.ref.sim("GET", "/clock"))["today"])
    period = {"start": (today - dt.timedelta(days=30)).isoformat(), "end": today.isoformat()}
    pdf = await h.client.get(f"/accounts/{account_id}/report", params={**period, "format": "pdf"})
    assert pdf.status_code == 200 and pdf.headers["content-type"] == "application/pdf"
    assert len(pypdf.PdfReader(io.BytesIO(pdf.content)).pages) >= 1
    xlsx = await h.client.get(f"/accounts/{account_id}/report", params={**period, "format": "xlsx"})
    assert xlsx.status_code == 200
    assert openpyxl.load_workbook(io.BytesIO(xlsx.content)).sheetnames


async def test_chat_bot_answers_at_once_and_the_agent_later(signed_in: Harness) -> None:
    h = signed_in
    account_id = await _link_demo(h)
    chat = await h.htmx("GET", f"/accounts/{account_id}/chat")
    assert chat.status_code == 200
    topic = re.search(r'<option value="([^"]+)"', chat.text)
    assert topic is not None
    bot = await h.htmx(
        "POST",
        f"/accounts/{account_id}/chat",
        {"topic": topic.group(1), "text": "Какой у меня баланс?"},
    )
    assert "msg-bot" in bot.text
    count = int(re.findall(r'data-count="(\d+)"', bot.text)[-1])
    unchanged = await h.htmx("GET", f"/accounts/{account_id}/chat/messages", {"seen": str(count)})
    assert unchanged.status_code == 204
    await h.htmx(
        "POST",
        f"/accounts/{account_id}/chat",
        {"topic": topic.group(1), "text": "Почему у соседа интернет быстрее?"},
    )
    await h.ref.sim("POST", "/clock/advance", json={"minutes": 30})
    later = await h.htmx("GET", f"/accounts/{account_id}/chat/messages", {"seen": "0"})
    assert "msg-agent" in later.text
    server = h.app.state.server
    async with server.db() as db:
        from aggregator.storage.models import ChatTranscript

        stored = await db.scalar(select(func.count()).select_from(ChatTranscript))
    assert stored and stored >= 4


async def test_relogin_renews_an_account_that_needs_a_person(signed_in: Harness) -> None:
    h = signed_in
    account_id = await _link_demo(h)
    server = h.app.state.server
    async with server.db() as db:
        account = await db.get(LinkedAccount, account_id)
        assert account is not None
        account.status = "needs_login"
        account.last_error_key = "auth.invalid_credentials"
        await db.commit()
    # Nothing calls the operator with the stored password any more: the page says what to do.
    blocked = await h.htmx("GET", f"/accounts/{account_id}/tariffs")
    assert blocked.status_code == 409
    assert "повторный вход" in blocked.text
    # The section says why in a line; the one action sits once on the page, not in every section.
    assert f"/accounts/{account_id}/relogin" not in blocked.text
    account_page = await h.page(f"/accounts/{account_id}")
    assert account_page.text.count(f'href="/accounts/{account_id}/relogin"') == 1
    dashboard = await h.page("/")
    assert f'href="/accounts/{account_id}/relogin"' in dashboard.text
    form = await h.page(f"/accounts/{account_id}/relogin")
    assert 'value="demo"' in form.text and "demo-password" not in form.text
    response = await h.post(
        f"/accounts/{account_id}/relogin",
        {
            "scheme": "password",
            "identifier_kind": "login",
            "identifier": "demo",
            "password": "demo-password",
        },
    )
    assert _location(response) == f"/accounts/{account_id}?relogin=1"
    async with server.db() as db:
        account = await db.get(LinkedAccount, account_id)
        assert account is not None and account.status == "new" and account.last_error_key is None
    renewed = await h.htmx("GET", f"/accounts/{account_id}/tariffs")
    assert renewed.status_code == 200


async def test_operations_on_sibling_accounts_take_the_logins_turn(signed_in: Harness) -> None:
    """Without the embedded scheduler the dashboard takes the login's cluster lease itself: a
    section read and a service switched on two accounts of one login work, and every lease is
    given back (aggregator.polling.login_lease)."""
    h = signed_in
    step = await _start(h, "password", identifier="demo", password="demo-password")
    await _choose(h, step, "REF-0001", "REF-0002")
    first, second = await _accounts(h)
    server = h.app.state.server
    leases = server.operations.leases
    assert leases is not None and await leases.shared(first)
    for account in (first, second):
        tariffs = await h.htmx("GET", f"/accounts/{account.id}/tariffs")
        assert tariffs.status_code == 200, tariffs.text
    services = await h.htmx("GET", f"/accounts/{first.id}/services")
    toggle = re.search(rf'hx-post="/accounts/{first.id}/services/([^"]+)"', services.text)
    assert toggle is not None
    changed = await h.htmx(
        "POST", f"/accounts/{first.id}/services/{toggle.group(1)}", {"enabled": "0"}
    )
    assert changed.status_code == 200, changed.text[-1500:]
    async with server.db() as db:
        assert list(await db.scalars(select(LoginLease))) == []
