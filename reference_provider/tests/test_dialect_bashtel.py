"""The bashtel dialect: an HTML cabinet with a form login, a captcha on new devices, CSRF."""

from __future__ import annotations

import datetime as dt
import itertools
import re
from collections.abc import AsyncIterator, Iterator

import httpx
import pytest
import pytest_asyncio
from reference_provider.app import create_app
from reference_provider.backend import Backend
from reference_provider.domain import MSK

START = dt.datetime(2025, 1, 15, 12, 0, tzinfo=MSK)
BT = "/bashtel"
PASSWORD = "Bashtel-2024"
_serial = itertools.count(1)


@pytest.fixture(scope="module")
def bt_backend() -> Backend:
    """One demo backend per module (building the app costs ~0.3 s); mutating tests use
    subscribers of their own."""
    return Backend(seed=1, clock_speed=0, start=START)


@pytest.fixture(autouse=True)
def _clear_faults(bt_backend: Backend) -> Iterator[None]:
    yield
    bt_backend.faults.clear()


@pytest.fixture(scope="module")
def bt_transport(bt_backend: Backend) -> httpx.ASGITransport:
    return httpx.ASGITransport(app=create_app(backend=bt_backend, sim=True))


@pytest_asyncio.fixture
async def browser(bt_transport: httpx.ASGITransport) -> AsyncIterator[httpx.AsyncClient]:
    """A client with its own cookie jar, like one browser."""
    async with httpx.AsyncClient(transport=bt_transport, base_url="http://127.0.0.1") as c:
        yield c


def fresh_subscriber(backend: Backend, policy: str | None = None) -> tuple[str, str]:
    """A bashtel login of its own: (login, last 3 digits)."""
    n = next(_serial)
    sub = backend.create_subscriber(
        "bashtel", f"dialect{n}", PASSWORD, "Проверка Диалекта", phone=f"937555{n:04d}",
        captcha_policy=policy,
    )  # fmt: skip
    acc = backend.create_account(
        sub, kind="internet", tariff_id="bt-inet60", balance=500_00,
        opened=backend.clock.today() - dt.timedelta(days=40),
    )  # fmt: skip
    backend.set_balance(acc, 500_00)
    return sub.login, acc.number[-3:]


def hidden(html: str, name: str) -> str | None:
    match = re.search(rf'name="{name}" value="([^"]*)"', html)
    return match.group(1) if match else None


async def post_login(
    client: httpx.AsyncClient,
    backend: Backend,
    login: str,
    digits: str,
    *,
    password: str = PASSWORD,
    solve: bool = True,
) -> httpx.Response:
    """Open the form and submit it (answering its captcha when it shows one)."""
    html = (await client.get(f"{BT}/login")).text
    data = {"csrf_token": hidden(html, "csrf_token") or "", "login": login, "ls3": digits}
    data["password"] = password
    captcha_id = hidden(html, "captcha_id")
    if captcha_id:
        data["captcha_id"] = captcha_id
        data["captcha"] = backend.captcha_answer(captcha_id=captcha_id) if solve else "WRONG"
    return await client.post(f"{BT}/login", data=data)


async def logged_in(client: httpx.AsyncClient, backend: Backend, login: str, digits: str) -> str:
    response = await post_login(client, backend, login, digits)
    assert response.status_code == 303, response.text
    assert response.headers["location"] == f"{BT}/cabinet"
    return (await client.get(f"{BT}/cabinet")).text


def assert_cabinet_page(response: httpx.Response) -> None:
    """The cabinet's own HTML, whole, never a traceback."""
    assert response.headers["content-type"].startswith("text/html")
    assert response.text.rstrip().endswith("</html>")
    assert 'id="lk-footer"' in response.text
    assert "Traceback" not in response.text


# -- the login form ---------------------------------------------------------------------------
async def test_a_new_device_gets_the_form_with_a_captcha_picture(
    browser: httpx.AsyncClient,
) -> None:
    response = await browser.get(f"{BT}/login")
    assert response.status_code == 200
    html = response.text
    for field in ("login", "password", "ls3", "captcha", "csrf_token", "captcha_id"):
        assert f'name="{field}"' in html
    assert ">Вход</button>" in html
    assert {"bt_device", "bt_csrf"} <= set(browser.cookies)
    src = re.search(r'id="captcha-image" src="([^"]+)"', html)
    assert src is not None
    picture = await browser.get(src.group(1))
    assert picture.headers["content-type"] == "image/png"
    assert picture.content.startswith(b"\x89PNG")
    assert (await browser.get(f"{BT}/captcha/nope.png")).status_code == 404


async def test_login_with_the_captcha_sets_the_session_and_remembers_the_device(
    browser: httpx.AsyncClient, bt_backend: Backend
) -> None:
    html = await logged_in(browser, bt_backend, "smirnov_ufa", "123")
    assert 'id="balance"' in html
    assert "0274000123" in html
    device = browser.cookies["bt_device"]
    assert device.endswith(".sub-" + device.rsplit(".sub-", 1)[1])
    # the same device: no captcha on the form, and a login without one succeeds
    form = (await browser.get(f"{BT}/login")).text
    assert 'id="captcha-image"' not in form
    response = await post_login(browser, bt_backend, "smirnov_ufa", "123")
    assert response.status_code == 303


async def test_the_three_digits_choose_the_account(
    browser: httpx.AsyncClient, bt_backend: Backend
) -> None:
    html = await logged_in(browser, bt_backend, "smirnov_ufa", "456")
    assert '<dd id="account-number">0274000456</dd>' in html
    assert "Домашний телефон" in html


async def test_digits_of_no_account_are_refused_like_a_wrong_password(
    browser: httpx.AsyncClient, bt_backend: Backend
) -> None:
    login, _ = fresh_subscriber(bt_backend)
    response = await post_login(browser, bt_backend, login, "999")
    assert response.status_code == 401
    assert 'data-code="invalid_credentials"' in response.text
    assert "BTSESSID" not in browser.cookies


async def test_a_wrong_captcha_brings_a_new_picture(
    browser: httpx.AsyncClient, bt_backend: Backend
) -> None:
    login, digits = fresh_subscriber(bt_backend)
    response = await post_login(browser, bt_backend, login, digits, solve=False)
    assert response.status_code == 401
    assert 'data-code="captcha_required"' in response.text
    assert "Неверно введены символы" in response.text
    assert 'id="captcha-image"' in response.text
    assert f'value="{login}"' in response.text  # the login is kept, the password is not


async def test_failures_demand_a_captcha_even_on_a_known_device(
    browser: httpx.AsyncClient, bt_backend: Backend
) -> None:
    login, digits = fresh_subscriber(bt_backend)
    await logged_in(browser, bt_backend, login, digits)  # the device is now known
    for _ in range(2):
        response = await post_login(browser, bt_backend, login, digits, password="wrong-pass")
        assert response.status_code == 401
    form = (await browser.get(f"{BT}/login")).text
    assert 'id="captcha-image"' in form
    html = form
    data = {"csrf_token": hidden(html, "csrf_token") or "", "login": login, "ls3": digits}
    data["password"] = PASSWORD
    refused = await browser.post(f"{BT}/login", data=data)  # the captcha left out
    assert 'data-code="captcha_required"' in refused.text
    assert (await post_login(browser, bt_backend, login, digits)).status_code == 303


async def test_a_device_known_for_someone_else_still_needs_the_captcha(
    browser: httpx.AsyncClient, bt_backend: Backend
) -> None:
    first, first_digits = fresh_subscriber(bt_backend)
    other, other_digits = fresh_subscriber(bt_backend)
    await logged_in(browser, bt_backend, first, first_digits)
    html = (await browser.get(f"{BT}/login")).text
    data = {"csrf_token": hidden(html, "csrf_token") or "", "login": other, "ls3": other_digits}
    data["password"] = PASSWORD
    response = await browser.post(f"{BT}/login", data=data)
    assert response.status_code == 401
    assert 'data-code="captcha_required"' in response.text


async def test_a_login_without_its_csrf_token_is_refused(browser: httpx.AsyncClient) -> None:
    await browser.get(f"{BT}/login")
    response = await browser.post(
        f"{BT}/login", data={"login": "smirnov_ufa", "password": PASSWORD, "ls3": "123"}
    )
    assert response.status_code == 403
    assert 'data-code="csrf"' in response.text
    assert_cabinet_page(response)


@pytest.mark.parametrize(
    "data",
    [{}, {"login": "smirnov_ufa"}, {"login": "smirnov_ufa", "password": "x", "ls3": "12a"}],
)
async def test_an_incomplete_form_is_answered_with_the_form_and_a_message(
    browser: httpx.AsyncClient, data: dict[str, str]
) -> None:
    html = (await browser.get(f"{BT}/login")).text
    response = await browser.post(
        f"{BT}/login", data={**data, "csrf_token": hidden(html, "csrf_token") or ""}
    )
    assert response.status_code == 400
    assert 'id="login-error"' in response.text
    assert_cabinet_page(response)


# -- the cabinet ------------------------------------------------------------------------------
CABINET_PAGES = {
    "/cabinet": 'id="account-state"',
    "/detail": 'id="detail-table"',
    "/tariff": 'id="tariff-catalogue"',
    "/services": 'id="services-table"',
    "/block": 'id="block-state"',
    "/pay": 'id="pay-form"',
    "/payments": 'id="payments-table"',
    "/traffic": 'id="traffic-table"',
    "/speedtest": 'id="speedtest"',
    "/support": 'id="chat-log"',
    "/news": 'class="news news--',
    "/profile": 'id="profile"',
}


async def test_every_page_of_the_cabinet_renders(
    browser: httpx.AsyncClient, bt_backend: Backend
) -> None:
    await logged_in(browser, bt_backend, "smirnov_ufa", "123")
    for path, marker in CABINET_PAGES.items():
        response = await browser.get(f"{BT}{path}")
        assert response.status_code == 200, path
        assert marker in response.text, path
        assert_cabinet_page(response)


@pytest.mark.parametrize("path", list(CABINET_PAGES))
async def test_without_a_session_every_page_leads_to_the_login_form(
    browser: httpx.AsyncClient, path: str
) -> None:
    response = await browser.get(f"{BT}{path}")
    assert response.status_code == 303
    assert response.headers["location"] == f"{BT}/login?expired=1"


async def test_an_expired_session_says_so_on_the_form(
    browser: httpx.AsyncClient, bt_backend: Backend
) -> None:
    login, digits = fresh_subscriber(bt_backend)
    await logged_in(browser, bt_backend, login, digits)
    sub = bt_backend.find_subscriber("bashtel", login, "login")
    assert sub is not None
    bt_backend.expire_sessions(subscriber_id=sub.id)
    response = await browser.get(f"{BT}/cabinet", follow_redirects=True)
    assert 'id="login-notice"' in response.text
    assert "Сеанс работы истёк" in response.text


async def test_a_cabinet_form_without_the_csrf_token_is_refused(
    browser: httpx.AsyncClient, bt_backend: Backend
) -> None:
    login, digits = fresh_subscriber(bt_backend)
    await logged_in(browser, bt_backend, login, digits)
    response = await browser.post(f"{BT}/tariff/change", data={"tariff_id": "bt-inet200"})
    assert response.status_code == 403
    assert_cabinet_page(response)
    acc = bt_backend.account_by_number("bashtel", _number(bt_backend, login))
    assert acc.pending_tariff_id is None


def _number(backend: Backend, login: str) -> str:
    sub = backend.find_subscriber("bashtel", login, "login")
    assert sub is not None
    return backend.accounts_of(sub.id)[0].number


@pytest.mark.parametrize(
    ("method", "path", "status"),
    [
        ("GET", "/detail?period=garbage", 400),
        ("GET", "/detail?period=2019-01", 404),
        ("GET", "/detail/export?format=doc", 400),
        ("GET", "/payments?from=yesterday", 400),
        ("GET", "/traffic?from=2025-01-10&to=2025-01-01", 400),
        ("GET", "/logout", 405),
        ("GET", "/no-such-page", 404),
        ("POST", "/cabinet", 405),
    ],
)
async def test_bad_requests_get_the_cabinets_error_page_never_a_500(
    browser: httpx.AsyncClient, bt_backend: Backend, method: str, path: str, status: int
) -> None:
    login, digits = fresh_subscriber(bt_backend)
    await logged_in(browser, bt_backend, login, digits)
    response = await browser.request(method, f"{BT}{path}")
    assert response.status_code == status
    assert 'id="error-page"' in response.text
    assert_cabinet_page(response)


async def test_tariff_change_is_ordered_for_the_next_period(
    browser: httpx.AsyncClient, bt_backend: Backend
) -> None:
    login, digits = fresh_subscriber(bt_backend)
    html = await logged_in(browser, bt_backend, login, digits)
    html = (await browser.get(f"{BT}/tariff")).text
    response = await browser.post(
        f"{BT}/tariff/change",
        data={"csrf_token": hidden(html, "csrf_token") or "", "tariff_id": "bt-inet200"},
        follow_redirects=True,
    )
    assert "будет подключён с 01.02.2025" in response.text
    assert 'id="pending-tariff" class="lk-alert lk-alert--info" data-tariff-id="bt-inet200"' in (
        response.text
    )
    acc = bt_backend.account_by_number("bashtel", _number(bt_backend, login))
    assert acc.pending_tariff_id == "bt-inet200"
    assert acc.pending_from == dt.date(2025, 2, 1)


async def test_block_shows_its_cost_before_it_is_confirmed(
    browser: httpx.AsyncClient, bt_backend: Backend
) -> None:
    login, digits = fresh_subscriber(bt_backend)
    await logged_in(browser, bt_backend, login, digits)
    token = hidden((await browser.get(f"{BT}/block")).text, "csrf_token") or ""
    dates = {"start": "2025-02-01", "end": "2025-02-14"}
    quote = await browser.post(f"{BT}/block/quote", data={"csrf_token": token, **dates})
    assert quote.status_code == 200
    assert '<dd id="quote-days">14</dd>' in quote.text
    acc = bt_backend.account_by_number("bashtel", _number(bt_backend, login))
    assert bt_backend.current_suspension(acc) is None  # nothing until confirmed
    done = await browser.post(
        f"{BT}/block/confirm", data={"csrf_token": token, **dates}, follow_redirects=True
    )
    assert 'data-state="requested"' in done.text
    assert bt_backend.current_suspension(acc) is not None
    bad = await browser.post(
        f"{BT}/block/quote",
        data={"csrf_token": token, "start": "когда-нибудь", "end": "2025-02-14"},
        follow_redirects=True,
    )
    assert "lk-alert--error" in bad.text


async def test_top_up_waits_for_the_sms_code(
    browser: httpx.AsyncClient, bt_backend: Backend
) -> None:
    login, digits = fresh_subscriber(bt_backend)
    await logged_in(browser, bt_backend, login, digits)
    acc = bt_backend.account_by_number("bashtel", _number(bt_backend, login))
    token = hidden((await browser.get(f"{BT}/pay")).text, "csrf_token") or ""
    page = await browser.post(
        f"{BT}/pay", data={"csrf_token": token, "amount": "300,50", "method": "card"}
    )
    assert 'id="pay-confirm"' in page.text
    assert bt_backend.balance(acc) == 500_00  # not before the code
    ticket = hidden(page.text, "ticket") or ""
    wrong = await browser.post(
        f"{BT}/pay/confirm", data={"csrf_token": token, "ticket": ticket, "code": "000000"}
    )
    assert 'id="pay-confirm"' in wrong.text and "lk-alert--error" in wrong.text
    code = bt_backend.last_code("bashtel", purpose="top_up")
    done = await browser.post(
        f"{BT}/pay/confirm",
        data={"csrf_token": token, "ticket": ticket, "code": code},
        follow_redirects=True,
    )
    assert "Платёж на сумму 300,50" in done.text
    assert bt_backend.balance(acc) == 800_50
    bad = await browser.post(
        f"{BT}/pay", data={"csrf_token": token, "amount": "много"}, follow_redirects=True
    )
    assert "Некорректная сумма" in bad.text


@pytest.mark.parametrize(("fmt", "magic"), [("pdf", b"%PDF"), ("xlsx", b"PK")])
async def test_detail_downloads_as_pdf_and_xlsx(
    browser: httpx.AsyncClient, bt_backend: Backend, fmt: str, magic: bytes
) -> None:
    await logged_in(browser, bt_backend, "smirnov_ufa", "123")
    response = await browser.get(f"{BT}/detail/export?period=2024-12&format={fmt}")
    assert response.status_code == 200
    assert response.content.startswith(magic)
    assert "attachment" in response.headers["content-disposition"]
    assert "20241201_20241231" in response.headers["content-disposition"]


async def test_chat_answers_and_complaints(browser: httpx.AsyncClient, bt_backend: Backend) -> None:
    login, digits = fresh_subscriber(bt_backend)
    await logged_in(browser, bt_backend, login, digits)
    token = hidden((await browser.get(f"{BT}/support")).text, "csrf_token") or ""
    page = await browser.post(
        f"{BT}/support/send",
        data={"csrf_token": token, "topic": "quality", "text": "Пропадает ТВ по вечерам"},
        follow_redirects=True,
    )
    assert 'data-topic="quality"' in page.text
    assert "chat-msg--bot" in page.text
    bt_backend.advance(minutes=4)
    later = (await browser.get(f"{BT}/support")).text
    assert "chat-msg--agent" in later


@pytest.mark.parametrize(
    ("kind", "check"),
    [
        ("changed_html", lambda r: 'id="balance"' not in r.text and 'id="v2-balance"' in r.text),
        ("truncated", lambda r: not r.text.rstrip().endswith("</html>")),
        ("expired_session", lambda r: r.status_code == 303),
        ("503", lambda r: r.status_code == 503),
    ],
)
async def test_faults_reach_the_cabinet_pages(
    browser: httpx.AsyncClient, bt_backend: Backend, kind: str, check: object
) -> None:
    login, digits = fresh_subscriber(bt_backend)
    await logged_in(browser, bt_backend, login, digits)
    bt_backend.faults.add(kind, operator="bashtel", path=f"{BT}/cabinet", count=1)
    response = await browser.get(f"{BT}/cabinet")
    assert check(response)  # type: ignore[operator]


async def test_a_bulk_account_session_opens_the_cabinet(
    browser: httpx.AsyncClient,
) -> None:
    response = await browser.post("/sim/accounts/bulk", json={"operator": "bashtel", "count": 2})
    assert response.status_code in (200, 201), response.text
    account = response.json()["accounts"][1]
    cookies = account["session"]["cookies"]
    page = await browser.get(f"{BT}/cabinet", headers={"Cookie": f"BTSESSID={cookies['BTSESSID']}"})
    assert page.status_code == 200
    assert account["number"] in page.text
