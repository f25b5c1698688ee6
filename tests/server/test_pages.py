"""Pages render in Russian and English from one translation table; money and dates are
formatted the Russian way; the dashboard's queries do not grow with the number of accounts."""

from __future__ import annotations

import datetime as dt
import json
import re
from decimal import Decimal
from pathlib import Path

import pytest
from sqlalchemy import event, insert

from aggregator.i18n import format_points
from aggregator.server.assets import find_web_dir
from aggregator.server.i18n import Translator, format_money_minor, plural_form
from aggregator.services.dashboard import days_left, household_dashboard
from aggregator.storage.models import BalanceReading, LinkedAccount, utcnow

from .conftest import Harness

WEB = find_web_dir()
KEY_CALL = re.compile(r"""\bt\(\s*["']([a-z_][a-z0-9_.]*[a-z0-9_])["']""")


def _tables() -> dict[str, dict[str, object]]:
    return {
        lang: json.loads((WEB / "locales" / f"{lang}.json").read_text(encoding="utf-8"))
        for lang in ("ru", "en")
    }


def test_both_languages_have_the_same_keys() -> None:
    tables = _tables()
    assert set(tables["ru"]) == set(tables["en"])
    for key, value in tables["ru"].items():
        other = tables["en"][key]
        assert isinstance(value, str) == isinstance(other, str), key
        placeholders = set(re.findall(r"\{(\w+)\}", json.dumps(value)))
        assert placeholders == set(re.findall(r"\{(\w+)\}", json.dumps(other))), key


def test_every_literal_key_used_by_templates_and_code_exists() -> None:
    ru = _tables()["ru"]
    sources = [*WEB.joinpath("templates").rglob("*.html")]
    sources += [*Path(__file__).resolve().parents[2].joinpath("aggregator/server").rglob("*.py")]
    missing = set()
    for path in sources:
        for key in KEY_CALL.findall(path.read_text(encoding="utf-8")):
            if key not in ru and not key.endswith((".", "_")):
                missing.add(f"{path.name}: {key}")
    assert not missing, sorted(missing)


def test_every_error_key_of_the_contract_is_translated() -> None:
    from aggregator.core import errors

    translator = Translator(WEB / "locales")
    for name in errors.__all__:
        cls = getattr(errors, name)
        if isinstance(cls, type) and issubclass(cls, errors.AggregatorError):
            for lang in ("ru", "en"):
                assert translator.has(f"error.{cls.key}", lang), (lang, cls.key)


def test_russian_money_days_and_plurals() -> None:
    assert format_money_minor(123456) == "1\u00a0234,56\u00a0₽"
    assert format_money_minor(-4520, lang="en") == "−₽45.20"
    assert [plural_form("ru", n) for n in (1, 2, 5, 11, 21, 22)] == [
        "one",
        "few",
        "many",
        "many",
        "one",
        "few",
    ]
    translator = Translator(WEB / "locales")
    assert translator.translate("ru", "unit.days", count=2) == "2 дня"
    assert translator.translate("en", "unit.days", count=1) == "1 day"


@pytest.mark.parametrize("lang", ["ru", "en"])
async def test_every_page_renders(signed_in: Harness, lang: str) -> None:
    h = signed_in
    if lang == "en":
        await h.post("/lang", {"lang": "en", "next": "/"})
        await h.page("/")
    pages = [
        "/",
        "/accounts/add",
        "/accounts/add/reference",
        "/settings/alerts",
        "/members",
        "/outbox",
        "/plugins",
        "/settings",
        "/help/report?plugin=reference",
        "/api/schema",
    ]
    for path in pages:
        response = await h.client.get(path)
        assert response.status_code == 200, path
        assert f'lang="{lang}"' in response.text or path == "/api/schema", path
        assert "{" + "{" not in response.text, path  # no unrendered template syntax
    text = (await h.client.get("/")).text
    assert ("Счета" in text) == (lang == "ru")
    assert ("Accounts" in text) == (lang == "en")


async def test_first_start_offers_the_first_account(harness: Harness) -> None:
    response = await harness.client.get("/", follow_redirects=True)
    assert str(response.url).endswith("/setup")
    await harness.sign_up()
    again = await harness.client.get("/setup", follow_redirects=False)
    assert again.status_code == 303 and again.headers["location"] == "/login"


async def test_invitation_adds_a_member(signed_in: Harness) -> None:
    h = signed_in
    await h.page("/members")
    response = await h.post("/members/invite", {"email": "anna@example.ru"})
    link = re.search(r'value="(http[^"]+/invite/[^"]+)"', response.text)
    assert link is not None
    path = "/invite/" + link.group(1).rsplit("/invite/", 1)[1]
    await h.sign_out()
    page = await h.page(path)
    assert "anna@example.ru" in page.text
    joined = await h.post(
        path, {"name": "Анна", "password": "anna-secret-1", "password_confirm": "anna-secret-1"}
    )
    assert joined.status_code == 303
    members = await h.page("/members")
    assert "anna@example.ru" in members.text and "Участник" in members.text
    reused = await h.client.get(path)
    assert reused.status_code == 404


async def test_dashboard_query_count_does_not_grow(signed_in: Harness) -> None:
    """Four queries, whether the household has one account or fifty (no N+1)."""
    server = signed_in.app.state.server
    async with server.db() as db:
        user_household = 1
        counts = []
        for total in (1, 50):
            await db.execute(
                insert(LinkedAccount),
                [
                    {
                        "household_id": user_household,
                        "provider_id": "reference",
                        "login_scheme": "password",
                        "login_key": f"k{total}",
                        "subaccount_id": f"{total}-{i}",
                        "status": "ok",
                    }
                    for i in range(total)
                ],
            )
            await db.commit()
            statements: list[str] = []

            def count(*args: object, statements: list[str] = statements) -> None:
                statements.append(str(args[2]))

            engine = server.engine.sync_engine
            event.listen(engine, "before_cursor_execute", count)
            try:
                board = await household_dashboard(db, user_household)
            finally:
                event.remove(engine, "before_cursor_execute", count)
            counts.append(len(statements))
            assert len(board.accounts) in (1, 51)
        assert counts[0] == counts[1] <= 4, counts


async def test_dashboard_orders_by_urgency_and_sums(signed_in: Harness) -> None:
    server = signed_in.app.state.server
    now = utcnow()
    async with server.db() as db:
        rows = [
            ("healthy", 900_00, "ok"),
            ("blocked", -10_00, "ok"),
            ("login", 500_00, "needs_login"),
            ("low", 50_00, "ok"),
        ]
        for label, minor, status in rows:
            account = LinkedAccount(
                household_id=1,
                provider_id="reference",
                login_scheme="password",
                login_key=label,
                label=label,
                status=status,
            )
            db.add(account)
            await db.flush()
            for day in range(5):
                db.add(
                    BalanceReading(
                        account_id=account.id,
                        at=now - dt.timedelta(days=4 - day),
                        amount_minor=minor + (4 - day) * 10_00,
                    )
                )
        await db.commit()
        board = await household_dashboard(db, 1)
    order = [a.label for a in board.accounts]
    assert order[:2] == ["login", "blocked"] or order[:2] == ["blocked", "login"]
    assert order[2] == "low" and order[-1] == "healthy"
    assert board.totals == {"RUB": 900_00 - 10_00 + 500_00 + 50_00}
    # The page shows the money and the debt apart: a debt is not netted against a balance.
    assert board.money == {"RUB": 900_00 + 500_00 + 50_00} and board.debts == {"RUB": 10_00}
    healthy = board.accounts[-1]
    assert healthy.badge == "ok" and healthy.days_left == 90  # 10 ₽ a day
    assert len(healthy.history) == 5 and healthy.sparkline().count(",") == 5
    assert board.needing_action == 3


async def test_a_bonus_in_points_shows_as_points_money_only_when_the_operator_says_money(
    signed_in: Harness,
) -> None:
    server = signed_in.app.state.server
    ids: dict[str, int] = {}
    async with server.db() as db:
        for key, minor, unit in (("points", 1250_00, "points"), ("roubles", 75_50, "RUB")):
            account = LinkedAccount(
                household_id=1,
                provider_id="reference",
                login_scheme="password",
                login_key=f"bonus-{key}",
                label=f"Бонус {key}",
                status="ok",
            )
            db.add(account)
            await db.flush()
            db.add(
                BalanceReading(
                    account_id=account.id,
                    at=utcnow(),
                    amount_minor=100_00,
                    bonus_minor=minor,
                    bonus_unit=unit,
                )
            )
            ids[key] = account.id
        await db.commit()
    page = await signed_in.page(f"/accounts/{ids['points']}")
    assert 'id="account-bonus">1\u00a0250\u00a0баллов<' in page.text and "₽</dd>" not in page.text
    page = await signed_in.page(f"/accounts/{ids['roubles']}")
    assert 'id="account-bonus">75,50\u00a0₽<' in page.text
    board = await signed_in.page("/")
    assert 'class="card-bonus">1\u00a0250\u00a0баллов<' in board.text
    assert 'class="card-bonus">75,50\u00a0₽<' in board.text
    body = (await signed_in.client.get("/api/v1/accounts")).json()
    bonus = {a["id"]: a["bonus"] for a in body["accounts"]}
    assert bonus[ids["points"]] == {
        "amount": "1250.00",
        "unit": "points",
        "text": "1\u00a0250\u00a0баллов",
    }
    assert bonus[ids["roubles"]] == {"amount": "75.50", "unit": "RUB", "text": "75,50\u00a0₽"}
    # Babel's plural rules, both languages
    assert [format_points(n) for n in (1, 3, 5, 21, Decimal("1.5"))] == [
        "1\u00a0балл",
        "3\u00a0балла",
        "5\u00a0баллов",
        "21\u00a0балл",
        "1,5\u00a0балла",
    ]
    assert [format_points(n, "en") for n in (1, 1250)] == ["1\u00a0point", "1,250\u00a0points"]


def test_days_left_uses_the_next_charge() -> None:
    from aggregator.alerts.forecast import SpendHistory

    history = SpendHistory.from_readings([])
    today = dt.date(2026, 1, 10)
    assert days_left(history, None, today) is None
    assert days_left(history, -5, today) == 0
    assert days_left(history, 100_00, today, dt.date(2026, 1, 15), 300_00) == 5


async def test_a_loyalty_bonus_shows_on_the_account_page_and_in_the_api(
    signed_in: Harness,
) -> None:
    server = signed_in.app.state.server
    async with server.db() as db:
        account = LinkedAccount(
            household_id=1,
            provider_id="reference",
            login_scheme="password",
            login_key="bonus",
            label="С бонусами",
            status="ok",
        )
        db.add(account)
        await db.flush()
        db.add(
            BalanceReading(
                account_id=account.id,
                at=utcnow(),
                amount_minor=1540_00,
                bonus_minor=350_00,
                remainders=[
                    {
                        "name": "Интернет",
                        "unit": "bytes",
                        "rest": "1610612736",
                        "size": "10737418240",
                    },
                    {"name": "Звонки", "unit": "seconds", "rest": "0", "unlimited": True},
                    {
                        "name": "Ночной интернет",
                        "unit": "bytes",
                        "rest": "2147483648",
                        "size": "2147483648",
                    },
                ],
            )
        )
        await db.commit()
        account_id = account.id
    page = await signed_in.page(f"/accounts/{account_id}")
    assert page.status_code == 200
    assert "Бонусы" in page.text and 'id="account-bonus">350,00' in page.text
    reply = await signed_in.client.get("/api/v1/accounts")
    assert reply.status_code == 200, reply.text
    body = reply.json()
    items = body["accounts"] if isinstance(body, dict) else body
    mine = next(a for a in items if a["id"] == account_id)
    assert mine["bonus"] is not None and "350" in str(mine["bonus"])
    board = await signed_in.page("/")
    assert 'class="card-bonus">350,00' in board.text  # the overview card says it too
    # The reading's package remainders: on the card, the account page and in the API.
    assert "осталось 3,5\u00a0ГБ из 12\u00a0ГБ" in board.text  # both data packages
    assert "Минуты</dt><dd>безлимит" in board.text
    assert "Остатки пакетов" in page.text
    # The account page totals only the unit of two packages; one package reads on its meter.
    assert page.text.count('<li class="remainder-total') == 1
    assert 'data-unit="bytes"><strong>Интернет</strong>: осталось 3,5\u00a0ГБ из 12' in page.text
    assert "осталось 1,5\u00a0ГБ из 10\u00a0ГБ" in page.text
    assert [(r["unit"], r["rest"], r["total"], r["unlimited"]) for r in mine["remainders"]] == [
        ("bytes", 1610612736, 10737418240, False),
        ("seconds", 0, None, True),
        ("bytes", 2147483648, 2147483648, False),
    ]


def test_a_phone_reads_as_people_write_it() -> None:
    from aggregator.server.rendering import phone_text

    assert phone_text("9031234567") == "+7 903 123-45-67"
    assert phone_text("+7 (903) 123-45-67") == "+7 903 123-45-67"
    assert phone_text("89031234567") == "+7 903 123-45-67"
    assert phone_text("REF-0001") == "REF-0001" and phone_text("123") == "123"
