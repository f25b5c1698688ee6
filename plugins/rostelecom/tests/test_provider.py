"""The Rostelecom plugin on the cabinet's cookie session, against the reference provider in its
real shape (in-process): readings, the SMS-confirmed operations, the chat, a lost session.

The session comes from a plain HTTP login (conftest.http_login); the browser login itself is in
test_browser_login.py."""

from __future__ import annotations

import datetime as dt
from decimal import Decimal
from typing import TYPE_CHECKING

import pytest

from aggregator import (
    Challenge,
    ChallengeAnswer,
    ChallengeKind,
    OperationRejected,
    Secret,
    Session,
    SessionExpired,
)
from aggregator.core.models import (
    AccountState,
    BonusPoints,
    ChatAuthor,
    Money,
    OperationResult,
    ReportFormat,
    TariffChangeResult,
    UsageUnit,
)

if TYPE_CHECKING:
    from conftest import World


async def accounts(world: World, session: Session) -> dict[str, str]:
    """Account number (digits) -> the subaccount id."""
    subs = await world.provider.subaccounts(session)
    return {s.number.replace(" ", ""): s.id for s in subs}


async def test_readings_of_every_account(world: World, session: Session) -> None:
    ids = await accounts(world, session)
    assert set(ids) == {"361000000001", "361000000002", "361000000003", "361000000004"}
    flat = await world.provider.poll(session, ids["361000000001"])
    # the money split over sub-accounts adds up to the account's balance
    assert flat.balance.amount == Money.rub("1540.00")
    assert flat.balance.bonus == BonusPoints(points=350)  # the «Бонус» programme: points
    assert flat.tariff_name == "Интернет + ТВ" and flat.state is AccountState.ACTIVE
    dacha = await world.provider.poll(session, ids["361000000002"])
    assert dacha.state is AccountState.SUSPENDED and dacha.suspension_end is not None
    garage = await world.provider.poll(session, ids["361000000004"])
    assert garage.balance.amount == Money.rub("-210.00")
    assert garage.state is AccountState.BLOCKED  # cut off for non-payment


async def test_mobile_package_remainders(world: World, session: Session) -> None:
    ids = await accounts(world, session)
    usage = await world.provider.usage(session, ids["361000000003"])
    units = {r.unit: r for r in usage.remainders}
    assert set(units) == {UsageUnit.SECONDS, UsageUnit.SMS, UsageUnit.BYTES}
    assert units[UsageUnit.SECONDS].size == Decimal(600 * 60)
    assert (await world.provider.usage(session, ids["361000000004"])).remainders == []


async def test_profile(world: World, session: Session) -> None:
    ids = await accounts(world, session)
    profile = await world.provider.profile(session, ids["361000000001"])
    assert profile.full_name == "Смирнов Иван Петрович"
    assert profile.email == "ivan.smirnov@example.ru"
    assert profile.account_number == "361 000 000 001"


async def test_chat_round_trip(world: World, session: Session) -> None:
    ids = await accounts(world, session)
    account = ids["361000000001"]
    topics = await world.provider.chat_topics(session, account)
    assert "general" in {t.id for t in topics}
    answer = await world.provider.send_chat_message(session, account, "general", "Как бонус?")
    assert [m.author for m in answer] == [ChatAuthor.USER, ChatAuthor.BOT]
    history = await world.provider.chat_history(session, account)
    assert history[-1].text == answer[-1].text
    with pytest.raises(OperationRejected):
        await world.provider.send_chat_message(session, account, "general", "  ")


async def test_a_tariff_change_is_confirmed_by_sms(world: World, session: Session) -> None:
    ids = await accounts(world, session)
    account = ids["361000000004"]
    catalogue = await world.provider.tariffs(session, account)
    target = next(t for t in catalogue.available if t.id != catalogue.current.id)
    challenge = await world.provider.change_tariff(session, account, target.id)
    if isinstance(challenge, TariffChangeResult):  # cheaper tariffs need no code
        assert challenge.tariff.id == target.id
        return
    assert isinstance(challenge, Challenge) and challenge.kind is ChallengeKind.CODE
    wrong = await world.provider.confirm(session, challenge, ChallengeAnswer(text=Secret("000000")))
    assert isinstance(wrong, Challenge) and "попыт" in (wrong.message or "")
    code = world.backend.last_code("rostelecom", purpose="change_tariff")
    done = await world.provider.confirm(session, challenge, ChallengeAnswer(text=Secret(code)))
    assert isinstance(done, OperationResult) and done.effective_date


async def test_a_top_up_is_confirmed_by_sms(world: World, session: Session) -> None:
    ids = await accounts(world, session)
    challenge = await world.provider.top_up(session, ids["361000000004"], Decimal("300"))
    assert isinstance(challenge, Challenge) and challenge.operation == "top_up"
    code = world.backend.last_code("rostelecom", purpose="top_up")
    done = await world.provider.confirm(session, challenge, ChallengeAnswer(text=Secret(code)))
    assert isinstance(done, OperationResult)
    poll = await world.provider.poll(session, ids["361000000004"])
    assert poll.balance.amount == Money.rub("90.00")


async def test_services_suspension_payments_reports_news(world: World, session: Session) -> None:
    ids = await accounts(world, session)
    account = ids["361000000001"]
    services = await world.provider.services(session, account)
    assert services and any(s.enabled for s in services)
    today = dt.date(2026, 1, 1)
    quote = await world.provider.quote_suspension(
        session, account, today + dt.timedelta(days=400), today + dt.timedelta(days=410)
    )
    assert quote.days == 11
    suspension = await world.provider.suspension(session, account)
    assert suspension.cost_rule is not None
    assert isinstance(await world.provider.payments(session, account, today, today), list)
    report = await world.provider.report(
        session, account, dt.date(2025, 1, 1), dt.date(2025, 1, 31), ReportFormat.PDF
    )
    assert report.content.startswith(b"%PDF-")
    assert await world.provider.news(session, account)


async def test_a_lost_session_is_session_expired(world: World, session: Session) -> None:
    ids = await accounts(world, session)
    assert await world.provider.check_session(session)
    world.backend.expire_sessions(operator="rostelecom")
    assert not await world.provider.check_session(session)
    with pytest.raises(SessionExpired):
        await world.provider.poll(session, ids["361000000001"])


async def test_changes_carry_the_csrf_token(world: World, session: Session) -> None:
    ids = await accounts(world, session)
    session.data["cookies"]["CSRF-TOKEN"] = "stale"
    with pytest.raises(OperationRejected):
        await world.provider.top_up(session, ids["361000000004"], Decimal("100"))
    # reading needs no token
    assert (await world.provider.poll(session, ids["361000000004"])).balance
