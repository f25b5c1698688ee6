"""The states a household reads at a glance: a coming block has its own badge and dates, an
old balance says how old it is, a login the operator refused is said once with one action."""

from __future__ import annotations

import datetime as dt
import re

from sqlalchemy import update

from aggregator.storage.models import LinkedAccount, utcnow

from .conftest import Harness
from .test_journey_reference import _link_demo


async def _set(h: Harness, account_id: int, **values: object) -> None:
    async with h.app.state.server.db() as db:
        await db.execute(
            update(LinkedAccount).where(LinkedAccount.id == account_id).values(**values)
        )
        await db.commit()


async def test_a_scheduled_suspension_is_not_all_is_well(signed_in: Harness) -> None:
    h = signed_in
    account_id = await _link_demo(h)
    before = await h.page("/")
    assert "Всё в порядке" in before.text and "Приостановка запланирована" not in before.text
    today = dt.date.fromisoformat((await h.ref.sim("GET", "/clock"))["today"])
    start, end = today + dt.timedelta(days=10), today + dt.timedelta(days=20)
    done = await h.htmx(
        "POST",
        f"/accounts/{account_id}/suspension",
        {"start": start.isoformat(), "end": end.isoformat()},
    )
    assert done.status_code == 200, done.text[:300]
    async with h.app.state.server.db() as db:
        account = await db.get(LinkedAccount, account_id)
        assert account is not None
        assert account.suspension_state in ("scheduled", "requested")
        assert (account.suspension_start, account.suspension_planned_end) == (start, end)
    board = await h.page("/")
    card = board.text[board.text.index('class="card card-') :]
    assert re.search(r'badge-info">(Приостановка запланирована|Заявка на приостановку)<', card)
    assert "Всё в порядке" not in card and "Активен" not in card
    note = re.search(r'card-note">([^<]+)<', card)
    assert note is not None and note.group(1).startswith(f"с {start.day}")  # the block's dates
    (listed,) = (await h.api("GET", "/accounts")).json()["accounts"]
    assert listed["suspension_start"] == start.isoformat()
    assert listed["badge"] == f"suspension_{listed['suspension_state']}"
    page = await h.page(f"/accounts/{account_id}")
    state = re.search(r"<dt>Состояние</dt><dd>([^<]+)</dd>", page.text)
    assert state is not None and "Активен" not in state.group(1), state

    # Resumed before it started: the badge goes back to normal.
    resumed = await h.htmx("POST", f"/accounts/{account_id}/suspension/resume")
    assert resumed.status_code == 200
    assert "Всё в порядке" in (await h.page("/")).text


async def test_an_old_balance_says_how_old_it_is(signed_in: Harness) -> None:
    h = signed_in
    account_id = await _link_demo(h)
    fresh = await h.page(f"/accounts/{account_id}")
    assert "Баланс устарел" not in fresh.text
    # A poll that failed a minute after a good one: not old yet.
    await _set(h, account_id, status="stale", last_success_at=utcnow() - dt.timedelta(minutes=1))
    assert "Баланс устарел" not in (await h.page(f"/accounts/{account_id}")).text
    await _set(
        h,
        account_id,
        status="stale",
        last_error_key="transport.timeout",
        last_success_at=utcnow() - dt.timedelta(hours=3),
    )
    page = await h.page(f"/accounts/{account_id}")
    assert "Баланс устарел: последнее удачное обновление 3 часа назад" in page.text
    assert "850,00\u00a0₽" in page.text  # the last known balance is still shown
    board = await h.page("/")
    assert 'class="stale">3 часа назад (устарело)<' in board.text
    (account,) = (await h.api("GET", "/accounts")).json()["accounts"]
    assert account["stale_since"] is not None and account["badge"] == "stale"


async def test_needs_login_is_said_once_with_one_action(signed_in: Harness) -> None:
    h = signed_in
    account_id = await _link_demo(h)
    await _set(h, account_id, status="needs_login", last_error_key="auth.invalid_credentials")
    page = await h.page(f"/accounts/{account_id}")
    assert 'hx-trigger="load"' not in page.text  # no section asks the operator
    assert page.text.count('class="alert ') == 1
    assert page.text.count(f'href="/accounts/{account_id}/relogin"') == 1
    assert page.text.count("Откроется после входа") >= 5


async def test_a_section_that_fails_to_load_is_one_quiet_line(signed_in: Harness) -> None:
    h = signed_in
    account_id = await _link_demo(h)
    await h.ref.sim("POST", "/faults", json={"kind": "503", "count": 20})
    failed = await h.htmx("GET", f"/accounts/{account_id}/tariffs")
    assert failed.status_code >= 400
    assert 'class="section-error"' in failed.text and 'role="alert"' not in failed.text


async def test_the_account_page_has_an_in_page_navigation(signed_in: Harness) -> None:
    """Every section of the account page is one tap away (sticky at the top on phones)."""
    h = signed_in
    account_id = await _link_demo(h)
    page = await h.page(f"/accounts/{account_id}")
    nav = re.search(r'<nav class="section-nav"[^>]*>(.*?)</nav>', page.text, re.S)
    assert nav is not None
    targets = re.findall(r'href="#([a-z_-]+)"', nav.group(1))
    assert targets[0] == "history" and targets[-2:] == ["alerts", "manage"]
    assert {"tariffs", "services", "suspension", "payments", "chat"} <= set(targets)
    assert len(targets) == len(set(targets))
    for target in targets:  # each link lands on a section of the page
        assert f'id="{target}"' in page.text, target
