"""The Beeline plugin against the reference provider's Beeline dialect, in-process."""

from __future__ import annotations

import datetime as dt
import io
from decimal import Decimal
from typing import TYPE_CHECKING

import pytest
from aggregator_beeline.provider import SCHEME_PASSWORD, SCHEME_SMS
from openpyxl import load_workbook
from pypdf import PdfReader

from aggregator import (
    AccountLocked,
    Capability,
    Challenge,
    ChallengeAnswer,
    ChallengeKind,
    InvalidCredentials,
    OperationRejected,
    RateLimited,
    Secret,
    SecretKind,
    Session,
    SessionExpired,
)
from aggregator.core.models import (
    AccountState,
    ChatAuthor,
    Money,
    NoticeKind,
    ReportFormat,
    SuspensionState,
    UsageUnit,
)

if TYPE_CHECKING:
    from conftest import World

LOGIN = "9031234567"
PASSWORD = "Beeline-2024"
NO_PASSWORD_LOGIN = "9052223344"


async def login(world: World) -> Session:
    result = await world.provider.start_login(SCHEME_PASSWORD.build_credentials(LOGIN, PASSWORD))
    assert isinstance(result, Session)
    return result


def test_capabilities_are_what_the_dialect_supports() -> None:
    from aggregator_beeline import BeelineProvider

    caps = BeelineProvider.capabilities()
    expected = {
        Capability.BALANCE,
        Capability.SUBACCOUNTS,
        Capability.TARIFFS,
        Capability.TARIFF_CHANGE,
        Capability.SERVICES,
        Capability.SERVICE_TOGGLE,
        Capability.CHAT,
        Capability.PAYMENTS,
        Capability.TRUSTED_PAYMENT,
        Capability.TAKE_TRUSTED_PAYMENT,
        Capability.SUSPENSION,
        Capability.SUSPEND,
        Capability.REPORTS,
        Capability.USAGE,
        Capability.NEWS,
        Capability.PROFILE,
        Capability.RECOVERY,
    }
    assert caps == expected


def test_no_scheme_says_a_code_follows_a_password() -> None:
    """The password login ends in a token, never in a code (lkapi.js lines 156-163), so it
    re-logs in silently; the SMS scheme has no password at all: its secret *is* the code
    (SecretKind.SMS_CODE), so no password is followed by one, and a scheduled re-login must
    not text the user (silent_relogin off)."""
    assert not SCHEME_PASSWORD.code_follows and SCHEME_PASSWORD.silent_relogin
    assert SCHEME_SMS.secret is SecretKind.SMS_CODE
    assert not SCHEME_SMS.code_follows and not SCHEME_SMS.silent_relogin


@pytest.mark.parametrize("typed", ["+7 (903) 123-45-67", "8 903 123 45 67", "9031234567"])
def test_phone_is_normalised_to_ten_digits(typed: str) -> None:
    assert SCHEME_PASSWORD.build_credentials(typed, "x").identifier == "9031234567"


@pytest.mark.parametrize("typed", ["12345", "+1 650 555 1234", "903-123"])
def test_a_bad_phone_is_refused_with_a_message(typed: str) -> None:
    with pytest.raises(ValueError):
        SCHEME_PASSWORD.build_credentials(typed, "x")


async def test_password_login_and_every_number_is_a_subaccount(world: World) -> None:
    session = await login(world)
    assert session.provider == "beeline"
    assert PASSWORD not in repr(session) and session.data["token"] not in repr(session)
    subs = await world.provider.subaccounts(session)
    assert [s.id for s in subs] == [
        "9031234567",
        "9037654321",
        "9161112233",
        "9169998877",
        "9168887766",
    ]
    assert subs[0].label == "Иван" and subs[0].kind == "mobile"


async def test_poll_reads_each_number_exactly(world: World) -> None:
    session = await login(world)
    p = world.provider
    healthy = await p.poll(session, "9031234567")
    assert healthy.balance.amount == Money.rub("412.50")
    assert healthy.state is AccountState.ACTIVE
    assert healthy.tariff_name == "ВСЁ за 400"
    low = await p.poll(session, "9037654321")
    assert low.balance.amount == Money.rub("23.10")
    postpaid = await p.poll(session, "9161112233")
    assert postpaid.balance.amount == Money.rub("-350.00")
    assert postpaid.balance.credit_limit == Money.rub(1000)
    assert postpaid.state is AccountState.ACTIVE
    assert (await p.poll(session, "9169998877")).state is AccountState.SUSPENDED
    blocked = await p.poll(session, "9168887766")
    assert blocked.state is AccountState.BLOCKED
    assert blocked.balance.amount == Money.rub("-12.40")


async def test_a_number_of_another_login_is_refused(world: World) -> None:
    session = await login(world)
    with pytest.raises(OperationRejected):
        await world.provider.balance(session, NO_PASSWORD_LOGIN)


async def test_wrong_password_then_captcha_then_lockout(world: World) -> None:
    p = world.provider
    wrong = SCHEME_PASSWORD.build_credentials(LOGIN, "Wrong-pass-1")
    for _ in range(2):
        with pytest.raises(InvalidCredentials):
            await p.start_login(wrong)
    challenge = await p.start_login(wrong)
    assert isinstance(challenge, Challenge) and challenge.kind is ChallengeKind.CAPTCHA
    assert challenge.image and challenge.image.startswith(b"\x89PNG")
    assert "Wrong-pass-1" not in repr(challenge) and "Wrong-pass-1" not in str(challenge.state)
    # the right password with the right captcha answer logs in
    good = await p.start_login(SCHEME_PASSWORD.build_credentials(LOGIN, PASSWORD))
    assert isinstance(good, Challenge) and good.kind is ChallengeKind.CAPTCHA
    answer = world.backend.captcha_answer("beeline")
    session = await p.continue_login(good, ChallengeAnswer(text=Secret(answer)))
    assert isinstance(session, Session)


async def test_repeated_failures_lock_the_account(world: World) -> None:
    p = world.provider
    wrong = SCHEME_PASSWORD.build_credentials(LOGIN, "Wrong-pass-1")
    locked = False
    for _ in range(8):
        try:
            result = await p.start_login(wrong)
        except InvalidCredentials:
            continue
        except AccountLocked:
            locked = True
            break
        assert isinstance(result, Challenge)
        captcha = world.backend.captcha_answer("beeline")
        try:
            await p.continue_login(result, ChallengeAnswer(text=Secret(captcha)))
        except InvalidCredentials:
            continue
        except AccountLocked:
            locked = True
            break
    assert locked


async def test_sms_temporary_password_then_a_new_password(world: World) -> None:
    p = world.provider
    creds = SCHEME_SMS.build_credentials("8 905 222 33 44")
    challenge = await p.start_login(creds)
    assert isinstance(challenge, Challenge)
    assert challenge.kind is ChallengeKind.CODE and challenge.channel == "sms"
    assert challenge.masked_destination == "+7 905 ***-**-44"
    temp = world.backend.last_code("beeline", NO_PASSWORD_LOGIN)
    step = await p.continue_login(challenge, ChallengeAnswer(text=Secret(temp)))
    assert isinstance(step, Challenge) and step.kind is ChallengeKind.NEW_PASSWORD
    assert step.password_policy is not None
    assert temp not in repr(step) and temp not in str(step.state)
    # a password the operator's policy refuses asks again, in the same flow
    again = await p.continue_login(step, ChallengeAnswer(new_password=Secret("abc")))
    assert isinstance(again, Challenge) and again.kind is ChallengeKind.NEW_PASSWORD
    session = await p.continue_login(again, ChallengeAnswer(new_password=Secret("Olga-2024-x")))
    assert isinstance(session, Session)
    assert (await p.balance(session, NO_PASSWORD_LOGIN)).amount == Money.rub(150)
    # the permanent password works from now on
    relogin = await p.start_login(
        SCHEME_PASSWORD.build_credentials(NO_PASSWORD_LOGIN, "Olga-2024-x")
    )
    assert isinstance(relogin, Session)


async def test_a_wrong_temporary_password_is_invalid_credentials(world: World) -> None:
    challenge = await world.provider.start_login(SCHEME_SMS.build_credentials(NO_PASSWORD_LOGIN))
    assert isinstance(challenge, Challenge)
    with pytest.raises(InvalidCredentials):
        await world.provider.continue_login(challenge, ChallengeAnswer(text=Secret("000000")))


async def test_tariff_catalogue_and_change_from_next_month(world: World) -> None:
    session = await login(world)
    p = world.provider
    catalogue = await p.tariffs(session, LOGIN)
    assert catalogue.current.id == "bee-vse4" and catalogue.current.price == Money.rub(400)
    assert {t.id for t in catalogue.available} >= {"bee-vse6", "bee-up"}
    assert "bee-nol" not in {t.id for t in catalogue.available}  # archived
    result = await p.change_tariff(session, LOGIN, "bee-vse6")
    today = world.backend.clock.today()
    first_next = (today.replace(day=1) + dt.timedelta(days=32)).replace(day=1)
    assert result.effective_date == first_next
    assert result.tariff.name == "ВСЁ за 650"
    again = await p.tariffs(session, LOGIN)
    assert again.pending is not None and again.pending.id == "bee-vse6"
    assert again.pending_from == first_next
    with pytest.raises(OperationRejected):
        await p.change_tariff(session, LOGIN, "bee-nol")


async def test_services_and_toggles(world: World) -> None:
    session = await login(world)
    p = world.provider
    services = {s.id: s for s in await p.services(session, LOGIN)}
    assert services["bee-kto"].enabled and services["bee-kto"].price == Money.rub(65)
    assert not services["bee-music"].enabled
    on = await p.set_service(session, LOGIN, "bee-music", True)
    assert on.service.enabled and on.service.id == "bee-music"
    assert {s.id: s.enabled for s in await p.services(session, LOGIN)}["bee-music"]
    off = await p.set_service(session, LOGIN, "bee-kto", False)
    assert not off.service.enabled
    with pytest.raises(OperationRejected):
        await p.set_service(session, LOGIN, "bee-kto", False)


async def test_a_paid_subscription_is_listed_and_removed(world: World) -> None:
    session = await login(world)
    p = world.provider
    number = "9037654321"
    acc = world.backend.account_by_number("beeline", number)
    (paid,) = acc.subscriptions
    services = {s.id: s for s in await p.services(session, number)}
    listed = services[f"subscription:{paid.id}"]
    assert listed.name == "Гороскоп на каждый день" and listed.enabled and listed.can_toggle
    assert listed.price == Money.rub(9) and listed.period == "day"
    with pytest.raises(OperationRejected):
        await p.set_service(session, number, listed.id, True)
    removed = await p.set_service(session, number, listed.id, False)
    assert not removed.service.enabled and removed.service.id == listed.id
    assert removed.effective_date is not None
    assert acc.subscriptions == []
    assert listed.id not in {s.id for s in await p.services(session, number)}
    with pytest.raises(OperationRejected):
        await p.set_service(session, number, listed.id, False)


async def test_usage_remainders_in_contract_units(world: World) -> None:
    session = await login(world)
    usage = await world.provider.usage(session, LOGIN)
    units = {r.unit: r for r in usage.remainders}
    assert units[UsageUnit.SECONDS].size == 500 * 60
    assert units[UsageUnit.SMS].size == 500
    assert units[UsageUnit.BYTES].size == Decimal(20_480 * 1024 * 1024)
    assert all(r.rest <= (r.size or 0) for r in usage.remainders)


async def test_postpaid_remainders_come_from_rests_with_mms(world: World) -> None:
    session = await login(world)
    usage = await world.provider.usage(session, "9161112233")  # postpaid, ВСЁ за 650
    units = {r.unit: r for r in usage.remainders}
    assert units[UsageUnit.SECONDS].size == 1200 * 60
    assert units[UsageUnit.MMS].size == 100 and units[UsageUnit.MMS].name == "MMS"
    assert units[UsageUnit.BYTES].size == Decimal(40_960 * 1024 * 1024)


async def test_the_terms_are_accepted_once_on_the_first_login(world: World) -> None:
    """A new subscriber's first login answers ``offerUrl``; the plugin accepts and goes on."""
    sub = world.backend.find_subscriber("beeline", LOGIN)
    assert sub is not None
    sub.extra["offer_pending"] = True
    session = await login(world)
    assert sub.extra["offer_pending"] is False
    assert (await world.provider.balance(session, LOGIN)).amount == Money.rub("412.50")


async def test_an_expired_token_is_session_expired_for_a_silent_relogin(world: World) -> None:
    session = await login(world)
    world.backend.logout(str(session.data["token"]))
    with pytest.raises(SessionExpired):
        await world.provider.balance(session, LOGIN)
    again = await login(world)
    assert (await world.provider.balance(again, LOGIN)).amount == Money.rub("412.50")


async def test_payments_history(world: World) -> None:
    session = await login(world)
    today = world.backend.clock.today()
    payments = await world.provider.payments(session, LOGIN, today - dt.timedelta(days=200), today)
    assert payments and all(p.amount.amount > 0 for p in payments)
    assert payments == sorted(payments, key=lambda x: x.at, reverse=True)


async def test_trusted_payment_credits_now_and_is_taken_back(world: World) -> None:
    session = await login(world)
    p = world.provider
    number = "9037654321"
    today = world.backend.clock.today()
    offer = await p.trusted_payment(session, number)
    assert offer.available and not offer.owed
    assert Money.rub(200) in [o.amount for o in offer.options]
    result = await p.take_trusted_payment(session, number, Decimal("200"))
    assert result.balance == Money.rub("223.10")
    assert result.fee == Money.rub(10) and result.debt == Money.rub(210)
    assert result.due_date == today + dt.timedelta(days=3)
    owed = await p.trusted_payment(session, number)
    assert owed.owed and owed.debt == Money.rub(210) and owed.due_date == result.due_date
    poll = await p.poll(session, number)
    assert poll.trusted_payment == owed  # the dashboard and the due-date alert read this
    with pytest.raises(OperationRejected):  # one at a time
        await p.take_trusted_payment(session, number, Decimal("50"))
    world.backend.advance(days=3)
    after = await p.balance(session, number)
    # taken back with its fee, and three days of fees accrued
    assert after.amount.amount < Decimal("13.10")
    assert not (await p.trusted_payment(session, number)).owed
    with pytest.raises(OperationRejected):
        await p.take_trusted_payment(session, "9031234567", Decimal("100000"))


async def test_beeline_has_no_card_top_up(world: World) -> None:
    """«Пополнить» without a card is the trusted payment: no top-up pretends to take money."""
    assert not world.provider.has(Capability.TOP_UP)
    assert world.provider.has(Capability.TAKE_TRUSTED_PAYMENT)


async def test_a_reply_while_away_is_a_notice_of_the_poll_once(world: World) -> None:
    session = await login(world)
    first = await world.provider.poll(session, LOGIN)
    assert [n.kind for n in first.notices] == [NoticeKind.CHAT_REPLY]
    assert first.notices[0].text
    again = await world.provider.poll(session, LOGIN)
    assert again.notices == []


@pytest.mark.parametrize("fmt", list(ReportFormat))
async def test_detail_report_is_a_real_file(world: World, fmt: ReportFormat) -> None:
    session = await login(world)
    today = world.backend.clock.today()
    report = await world.provider.report(session, LOGIN, today - dt.timedelta(days=30), today, fmt)
    assert report.format is fmt and report.content
    if fmt is ReportFormat.PDF:
        assert len(PdfReader(io.BytesIO(report.content)).pages) >= 1
    else:
        assert load_workbook(io.BytesIO(report.content)).worksheets


async def test_offers_and_profile(world: World) -> None:
    session = await login(world)
    offers = await world.provider.news(session, LOGIN)
    assert offers and all(o.kind == "offer" for o in offers)
    profile = await world.provider.profile(session, LOGIN)
    assert profile.full_name == "Иван Петрович Смирнов" and profile.phone == "+79031234567"


async def test_chat_bot_answers_at_once_specialist_later(world: World) -> None:
    session = await login(world)
    p = world.provider
    topics = await p.chat_topics(session, LOGIN)
    assert [t.title for t in topics] == ["Общая консультация", "Вопрос по услугам"]
    # the demo history holds one reply that arrived while the user was away
    unseen = await p.unseen_chat_messages(session, LOGIN)
    assert [m.author for m in unseen] == [ChatAuthor.AGENT]
    assert await p.unseen_chat_messages(session, LOGIN) == []
    known = await p.send_chat_message(session, LOGIN, "general", "Какой у меня тариф?")
    assert [m.author for m in known] == [ChatAuthor.BOT]
    assert "ВСЁ за 400" in known[0].text
    unknown = await p.send_chat_message(session, LOGIN, "services", "Почему шипит в трубке?")
    assert [m.author for m in unknown] == [ChatAuthor.BOT]
    assert await p.unseen_chat_messages(session, LOGIN) == []
    world.backend.advance(minutes=16)
    later = await p.unseen_chat_messages(session, LOGIN)
    assert len(later) == 1 and later[0].author is ChatAuthor.AGENT
    assert later[0].author_name and later[0].topic_id == "services"
    history = await p.chat_history(session, LOGIN)
    assert [m.author for m in history[-5:]] == [
        ChatAuthor.USER,
        ChatAuthor.BOT,
        ChatAuthor.USER,
        ChatAuthor.BOT,
        ChatAuthor.AGENT,
    ]
    since = await p.chat_history(session, LOGIN, since=history[-2].sent_at)
    assert [m.id for m in since] == [history[-1].id]


async def test_normal_polling_is_never_rate_limited_but_a_tight_loop_is(world: World) -> None:
    session = await login(world)
    subs = await world.provider.subaccounts(session)
    for sub in subs:  # one poll of every number, back to back
        await world.provider.poll(session, sub.id)
    with pytest.raises(RateLimited) as caught:
        for _ in range(200):
            await world.provider.balance(session, LOGIN)
    assert caught.value.retry_after is not None and caught.value.retry_after >= 1


async def test_logout_ends_the_token(world: World) -> None:
    from aggregator import SessionExpired

    session = await login(world)
    await world.provider.logout(session)
    with pytest.raises(SessionExpired):
        await world.provider.subaccounts(session)
    await world.provider.logout(session)  # twice is harmless


async def test_password_recovery_is_a_temporary_password_by_sms(world: World) -> None:
    from aggregator_beeline.provider import RECOVERY

    from aggregator import RecoveryDone, RecoveryOutcome
    from aggregator.services import recovery

    p = world.provider
    request = RECOVERY.build_request("+7 905 222-33-44")
    step = await recovery.start(p, request)
    assert isinstance(step, Challenge) and step.kind is ChallengeKind.CODE
    assert step.masked_destination == "+7 905 ***-**-44"
    temp = world.backend.last_code("beeline", NO_PASSWORD_LOGIN)
    step = await recovery.answer(p, step, text=temp)
    assert isinstance(step, Challenge) and step.kind is ChallengeKind.NEW_PASSWORD
    done = await recovery.answer(p, step, new_password="Olga-2025-y", confirm="Olga-2025-y")
    assert isinstance(done, RecoveryDone) and done.outcome is RecoveryOutcome.PASSWORD_SET
    assert done.credentials is not None and done.credentials.scheme == SCHEME_PASSWORD.id
    session = await recovery.log_in(p, done)
    assert session is done.session and isinstance(session, Session)
    relogin = await p.start_login(done.credentials)
    assert isinstance(relogin, Session)


async def test_the_voluntary_number_block_from_a_date_and_back(world: World) -> None:
    """``1.0/request/suspendRestore`` (block=true from a date, block=false to restore)."""
    session = await login(world)
    p = world.provider
    number = "9037654321"
    assert (await p.suspension(session, number)).state is SuspensionState.ACTIVE
    start = world.backend.clock.today() + dt.timedelta(days=1)
    end = start + dt.timedelta(days=13)
    quote = await p.quote_suspension(session, number, start, end)
    assert (quote.days, quote.paid_days, quote.total) == (14, 0, Money.rub(0))
    with pytest.raises(OperationRejected):  # longer than the operator allows
        await p.quote_suspension(session, number, start, start + dt.timedelta(days=120))
    planned = await p.suspend(session, number, start, end)
    assert (planned.state, planned.start, planned.end) == (SuspensionState.SCHEDULED, start, end)
    world.backend.advance(days=2)
    blocked = await p.poll(session, number)
    assert blocked.state is AccountState.SUSPENDED and blocked.suspension_end == end
    resumed = await p.resume(session, number)  # from tomorrow: today is the last blocked day
    assert resumed.end == world.backend.clock.today()
    world.backend.advance(days=1)
    assert (await p.suspension(session, number)).state is SuspensionState.ACTIVE
    assert (await p.poll(session, number)).state is not AccountState.SUSPENDED  # (low balance)
