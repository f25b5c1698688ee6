"""The netbynet provider against the reference provider, in-process and over loopback.

Every test here runs twice (the ``where`` fixture): through ``httpx.ASGITransport`` and
through a real uvicorn server on a free loopback port.
"""

from __future__ import annotations

import datetime as dt
from decimal import Decimal
from typing import Any

import httpx
import pytest
from aggregator_netbynet.provider import RECOVERY, NetbynetProvider
from reference_provider.backend import Backend

from aggregator import (
    AccountLocked,
    Challenge,
    ChallengeAnswer,
    ChallengeKind,
    FlowExpired,
    InvalidCredentials,
    OperationRejected,
    ParseError,
    ProviderContext,
    RateLimited,
    Secret,
    Session,
    SessionExpired,
    Timeout,
    Unavailable,
)
from aggregator.core.models import (
    AccountState,
    AutopaySettings,
    BonusPoints,
    ChatAuthor,
    Money,
    PaymentKind,
    SuspensionState,
)

from .conftest import Customer, new_customer


def first_of_next_month(day: dt.date) -> dt.date:
    return (day.replace(day=28) + dt.timedelta(days=4)).replace(day=1)


async def test_login_by_contract_number_then_a_poll(
    provider: NetbynetProvider, customer: Customer, http: httpx.AsyncClient
) -> None:
    session = await provider.start_login(customer.credentials())
    assert isinstance(session, Session)
    # the session cookie is AUTHO..., its value quoted (AnyBalance main.js lines 110-116)
    cookies = session.data["cookies"]
    assert set(cookies) == {"AUTHORIZATION"}
    assert cookies["AUTHORIZATION"].startswith('"') and cookies["AUTHORIZATION"].endswith('"')
    poll = await provider.poll(session, "")
    assert poll.balance.amount.amount == Decimal("800.00")
    assert poll.tariff_name == "Wifire 300"
    assert poll.state is AccountState.ACTIVE
    stored = Session.model_validate_json(session.model_dump_json())
    http.cookies.clear()
    assert (await provider.balance(stored, "")).amount.amount == Decimal("800.00")


async def test_the_region_is_the_persons_not_the_wires(
    provider: NetbynetProvider, customer: Customer
) -> None:
    """The real login body has no region (AnyBalance main.js line 95; MobileBalance
    WiFire_API_inet1.js lines 45-51): a region picked wrongly still logs in."""
    session = await provider.start_login(customer.credentials(region="kursk"))
    assert isinstance(session, Session)


async def test_a_wrong_password_is_invalid_credentials_and_five_lock_the_login(
    provider: NetbynetProvider, customer: Customer
) -> None:
    for _ in range(4):
        with pytest.raises(InvalidCredentials):
            await provider.start_login(customer.credentials(password="Wrong-Pass-1"))
    with pytest.raises(AccountLocked):
        await provider.start_login(customer.credentials(password="Wrong-Pass-1"))


async def test_a_captcha_becomes_a_challenge_and_the_device_is_then_remembered(
    provider: NetbynetProvider, backend: Backend
) -> None:
    customer = new_customer(backend, policy="new_device")
    challenge = await provider.start_login(customer.credentials())
    assert isinstance(challenge, Challenge)
    assert challenge.kind is ChallengeKind.CAPTCHA
    assert challenge.image is not None and challenge.image.startswith(b"\x89PNG")
    wrong = await provider.continue_login(challenge, ChallengeAnswer(text=Secret("00000")))
    assert isinstance(wrong, Challenge)
    assert "Неверно" in wrong.message
    with pytest.raises(FlowExpired):
        await provider.continue_login(challenge, ChallengeAnswer(text=Secret("00000")))
    answer = backend.captcha_answer("netbynet")
    session = await provider.continue_login(wrong, ChallengeAnswer(text=Secret(answer)))
    assert isinstance(session, Session)
    # the same device logs in again without a captcha (an unattended re-login works)
    again = await provider.start_login(customer.credentials())
    assert isinstance(again, Session)


async def test_a_demanded_captcha_stops_the_unattended_re_login(
    provider: NetbynetProvider, session: Session, backend: Backend, customer: Customer
) -> None:
    backend.faults.add("captcha", operator="netbynet", path="/netbynet/api/v1/get-balance")
    with pytest.raises(SessionExpired):
        await provider.balance(session, "")
    backend.faults.clear()
    relogin = await provider.start_login(customer.credentials())
    assert isinstance(relogin, Challenge)
    assert relogin.kind is ChallengeKind.CAPTCHA
    await provider.context.flows.aclose()


async def test_a_temporary_password_must_be_changed_before_the_cabinet_opens(
    provider: NetbynetProvider, backend: Backend
) -> None:
    customer = new_customer(backend, temp_password=True)
    challenge = await provider.start_login(customer.credentials())
    assert isinstance(challenge, Challenge)
    assert challenge.kind is ChallengeKind.NEW_PASSWORD
    assert challenge.password_policy is not None
    with pytest.raises(OperationRejected):
        bad = ChallengeAnswer(new_password=Secret("123"))
        flows = provider.context.flows
        await provider.continue_login(challenge, bad)
    assert challenge.flow_id not in flows
    challenge = await provider.start_login(customer.credentials())
    assert isinstance(challenge, Challenge)
    session = await provider.continue_login(
        challenge, ChallengeAnswer(new_password=Secret("New-Pass-2024"))
    )
    assert isinstance(session, Session)
    assert (await provider.balance(session, "")).amount.amount == Decimal("800.00")
    with pytest.raises(InvalidCredentials):
        await provider.start_login(customer.credentials())
    assert isinstance(
        await provider.start_login(customer.credentials(password="New-Pass-2024")), Session
    )


async def test_balance_details_bonus_and_next_payment(
    provider: NetbynetProvider, backend: Backend
) -> None:
    customer = new_customer(backend, bonus=120_00)
    session = await provider.start_login(customer.credentials())
    assert isinstance(session, Session)
    balance = await provider.balance(session, "")
    assert balance.bonus == BonusPoints(points=Decimal("120.00"))
    due, amount = backend.next_payment(customer.account)
    assert balance.next_charge_date == due
    assert balance.next_charge_amount is not None
    assert balance.next_charge_amount.amount == Decimal(amount) / 100


async def test_profile_and_subaccount(
    provider: NetbynetProvider, session: Session, customer: Customer
) -> None:
    profile = await provider.profile(session, "")
    assert profile.full_name == "Тест Тестович Тестов"
    assert profile.contract_number == customer.contract
    assert profile.account_number == customer.account.number  # not the contract's
    assert profile.phone == f"+7{customer.phone}"
    [sub] = await provider.subaccounts(session)
    assert sub.id == customer.contract


async def test_tariff_change_from_the_next_period(
    provider: NetbynetProvider, session: Session, backend: Backend, customer: Customer
) -> None:
    result = await provider.change_tariff(session, "", "nbn-100")
    assert not isinstance(result, Challenge)
    assert result.effective_date == first_of_next_month(backend.clock.today())
    catalogue = await provider.tariffs(session, "")
    assert catalogue.pending is not None and catalogue.pending.id == "nbn-100"
    with pytest.raises(OperationRejected, match="не найден"):
        await provider.change_tariff(session, "", "no-such-tariff")


async def test_services_switch_on_and_off(
    provider: NetbynetProvider, session: Session, customer: Customer
) -> None:
    on = await provider.set_service(session, "", "nbn-mobile", True)
    assert not isinstance(on, Challenge) and on.service.enabled
    assert "nbn-mobile" in customer.account.services
    off = await provider.set_service(session, "", "nbn-mobile", False)
    assert not isinstance(off, Challenge) and not off.service.enabled
    with pytest.raises(OperationRejected):
        await provider.set_service(session, "", "nbn-mobile", False)


async def test_voluntary_block_request_approval_60_free_days_then_a_daily_fee(
    provider: NetbynetProvider, session: Session, backend: Backend, customer: Customer
) -> None:
    today = backend.clock.today()
    start, end = today + dt.timedelta(days=1), today + dt.timedelta(days=90)
    quote = await provider.quote_suspension(session, "", start, end)
    assert (quote.days, quote.free_days, quote.paid_days) == (90, 60, 30)
    assert quote.total.amount == Decimal("150.00")
    assert quote.cost_rule.free_days == 60
    block = await provider.suspend(session, "", start, end)
    assert not isinstance(block, Challenge)
    assert block.state is SuspensionState.REQUESTED
    with pytest.raises(OperationRejected):  # one block at a time
        await provider.suspend(session, "", start, end)
    notices = [n for n in await provider.news(session, "") if n.id.startswith("block-")]
    assert [n.title for n in notices] == [f"Заявка №{_block_id(backend, customer)} на "
                                          "добровольную блокировку принята"]  # fmt: skip
    backend.advance(hours=3)  # approved 2 hours after the request
    assert (await provider.suspension(session, "")).state is SuspensionState.SCHEDULED
    notices = [n for n in await provider.news(session, "") if n.id.startswith("block-")]
    assert notices[0].title.endswith("одобрена")  # notified in the cabinet
    resumed = await provider.resume(session, "")
    assert resumed.state is SuspensionState.ACTIVE


def _block_id(backend: Backend, customer: Customer) -> int:
    block = backend.current_suspension(customer.account)
    assert block is not None
    return block.id


async def test_a_block_longer_than_allowed_is_rejected(
    provider: NetbynetProvider, session: Session, backend: Backend
) -> None:
    start = backend.clock.today() + dt.timedelta(days=1)
    with pytest.raises(OperationRejected, match="180"):
        await provider.quote_suspension(session, "", start, start + dt.timedelta(days=200))


async def test_top_up_payments_and_charges(
    provider: NetbynetProvider, session: Session, backend: Backend
) -> None:
    result = await provider.top_up(session, "", Decimal("250.50"))
    assert not isinstance(result, Challenge)
    assert result.payment.amount.amount == Decimal("250.50")
    assert result.balance is not None and result.balance.amount == Decimal("1050.50")
    today = backend.clock.today()
    history = await provider.payments(session, "", today - dt.timedelta(days=80), today)
    assert history[0].kind is PaymentKind.PAYMENT
    assert history[0].amount.amount == Decimal("250.50")
    assert any(p.kind is PaymentKind.CHARGE for p in history)
    with pytest.raises(OperationRejected):
        await provider.top_up(session, "", Decimal("0"))
    with pytest.raises(OperationRejected):
        await provider.top_up(session, "", Decimal("1000000"))


async def test_autopay_on_and_off(provider: NetbynetProvider, session: Session) -> None:
    assert not (await provider.autopay(session, "")).enabled
    wanted = AutopaySettings(enabled=True, threshold=Money.rub(100), amount=Money.rub(500))
    on = await provider.set_autopay(session, "", wanted)
    assert isinstance(on, AutopaySettings) and on.enabled
    assert on.amount == Money.rub(500)
    off = await provider.set_autopay(session, "", AutopaySettings(enabled=False))
    assert isinstance(off, AutopaySettings) and not off.enabled


async def test_support_request_gets_the_bot_at_once_and_an_operator_later(
    provider: NetbynetProvider, session: Session, backend: Backend
) -> None:
    topics = await provider.chat_topics(session, "")
    assert [t.id for t in topics] == ["support", "billing"]
    replies = await provider.send_chat_message(session, "", "billing", "Сколько денег на счёте?")
    assert [m.author for m in replies] == [ChatAuthor.BOT]
    await provider.send_chat_message(session, "", "support", "Мигает лампочка на приставке")
    backend.advance(minutes=11)
    history = await provider.chat_history(session, "")
    assert history[-1].author is ChatAuthor.AGENT
    assert [m.author for m in history].count(ChatAuthor.USER) == 2


async def test_promotions(provider: NetbynetProvider, session: Session) -> None:
    news = await provider.news(session, "")
    assert any(n.kind == "offer" and "Мобильный интернет" in n.title for n in news)


async def test_password_recovery_by_sms_or_email(
    provider: NetbynetProvider, backend: Backend, customer: Customer
) -> None:
    def request(channel: str, region: str | None = None, phone: str | None = None) -> Any:
        return RECOVERY.build_request(
            phone or f"8 {customer.phone}",
            extras={
                "region": region or customer.region,
                "account_number": customer.account.number,
            },
            channel=channel,
        )

    sent = await provider.start_recovery(request("email"))
    assert isinstance(sent, Challenge) and sent.channel == "email"
    assert sent.masked_destination and sent.masked_destination.endswith("@example.ru")
    assert "***" in sent.masked_destination
    assert backend.outbox_for("netbynet", purpose="password_reset")[-1].channel == "email"
    sms = await provider.start_recovery(request("sms", phone=customer.phone))
    assert isinstance(sms, Challenge) and sms.channel == "sms"
    assert sms.masked_destination and sms.masked_destination.startswith("+7 916")
    with pytest.raises(OperationRejected, match="не найден"):
        await provider.start_recovery(request("sms", region="moscow"))


async def test_an_expired_session_is_session_expired(
    provider: NetbynetProvider, session: Session, backend: Backend, customer: Customer
) -> None:
    backend.expire_sessions(subscriber_id=customer.account.subscriber_id)
    with pytest.raises(SessionExpired):
        await provider.poll(session, "")


async def test_logout(provider: NetbynetProvider, session: Session) -> None:
    await provider.logout(session)
    with pytest.raises(SessionExpired):
        await provider.balance(session, "")


# -- every fault kind of the simulation API ---------------------------------------------------
@pytest.mark.parametrize(
    ("kind", "error"),
    [
        ("500", Unavailable),
        ("502", Unavailable),
        ("503", Unavailable),
        ("429", RateLimited),
        ("malformed_json", ParseError),
        ("truncated", ParseError),
        ("changed_html", ParseError),
        ("expired_session", SessionExpired),
        ("captcha", SessionExpired),
        ("timeout", Unavailable),  # the server gives up with 504 first
    ],
)
async def test_each_fault_ends_in_its_contract_error_and_no_reading(
    provider: NetbynetProvider,
    session: Session,
    backend: Backend,
    kind: str,
    error: type[Exception],
) -> None:
    backend.faults.add(kind, operator="netbynet", count=3, seconds=0.01, retry_after=7)
    with pytest.raises(error) as caught:
        await provider.poll(session, "")
    if isinstance(caught.value, RateLimited):
        assert caught.value.retry_after == 7
    if isinstance(caught.value, ParseError):
        payload = caught.value.payload or ""
        assert all(secret not in payload for secret in session.secrets())
    backend.faults.clear()
    if kind not in ("expired_session", "captcha"):
        assert (await provider.poll(session, "")).balance.amount.amount == Decimal("800.00")


async def test_latency_only_delays(
    provider: NetbynetProvider, session: Session, backend: Backend
) -> None:
    backend.faults.add("latency", operator="netbynet", count=3, seconds=0.01)
    assert (await provider.poll(session, "")).balance.amount.amount == Decimal("800.00")


async def test_a_faulty_login_is_mapped_too(
    provider: NetbynetProvider, customer: Customer, backend: Backend
) -> None:
    backend.faults.add("malformed_json", operator="netbynet", path="/netbynet/api/v3/login")
    with pytest.raises(ParseError) as caught:
        await provider.start_login(customer.credentials())
    assert customer.password not in (caught.value.payload or "")
    backend.faults.clear()
    backend.faults.add("503", operator="netbynet", path="/netbynet/api/v3/login", count=1)
    with pytest.raises(Unavailable):
        await provider.start_login(customer.credentials())


async def test_a_server_slower_than_the_client_timeout_is_timeout(
    live_server: str, backend: Backend
) -> None:
    customer = new_customer(backend)
    async with httpx.AsyncClient(timeout=0.3) as client:
        provider = NetbynetProvider(
            ProviderContext(http=client, base_url=f"{live_server}/netbynet")
        )
        session = await provider.start_login(customer.credentials())
        assert isinstance(session, Session)
        backend.faults.add("timeout", operator="netbynet", seconds=2, count=3)
        with pytest.raises(Timeout):
            await provider.balance(session, "")


async def test_a_balance_is_dated_by_the_operators_clock(
    provider: NetbynetProvider, backend: Backend
) -> None:
    """No timestamp in the body: ``as_of`` comes from the answer's Date header, i.e. the
    operator's (here the billing) clock, not the aggregator's wall clock."""
    customer = new_customer(backend)
    backend.advance(days=20)  # the billing clock runs ahead of the wall clock
    session = await provider.start_login(customer.credentials())
    assert isinstance(session, Session)
    balance = await provider.balance(session, "")
    assert abs((balance.as_of - backend.now()).total_seconds()) < 5
    poll = await provider.poll(session, "")
    assert abs((poll.balance.as_of - backend.now()).total_seconds()) < 5
