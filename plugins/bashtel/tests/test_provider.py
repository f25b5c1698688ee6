"""The bashtel provider against the reference provider in-process (no browser needed here).

The session comes from a form login done with httpx (see conftest); everything after the login
is what the plugin does in production: plain HTTP with the session cookies.
"""

from __future__ import annotations

import datetime as dt
from decimal import Decimal

import httpx
import pytest
from aggregator_bashtel.provider import BashtelProvider
from reference_provider.backend import Backend

from aggregator import (
    Challenge,
    ChallengeAnswer,
    ChallengeKind,
    FlowExpired,
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
    ChatAuthor,
    NoticeKind,
    OperationResult,
    PaymentKind,
    ReportFormat,
    SuspensionState,
)

from .conftest import Customer, form_login, new_customer


def first_of_next_month(day: dt.date) -> dt.date:
    return (day.replace(day=28) + dt.timedelta(days=4)).replace(day=1)


async def test_a_poll_reads_one_page_and_gives_balance_tariff_state(
    provider: BashtelProvider, session: Session, http: httpx.AsyncClient
) -> None:
    seen: list[str] = []

    async def count(request: httpx.Request) -> None:
        seen.append(request.url.path)

    http.event_hooks["request"].append(count)
    poll = await provider.poll(session, "")
    assert seen == ["/bashtel/cabinet"]
    assert poll.balance.amount.amount == Decimal("600.00")
    assert poll.tariff_name == "Летай Интернет + ТВ"
    assert poll.state is AccountState.ACTIVE
    assert poll.suspension_end is None


async def test_the_session_works_after_being_stored_as_json_and_cookies_stay_out_of_the_jar(
    provider: BashtelProvider, session: Session, http: httpx.AsyncClient
) -> None:
    stored = Session.model_validate_json(session.model_dump_json())
    balance = await provider.balance(stored, "")
    assert balance.amount.amount == Decimal("600.00")
    assert "BTSESSID" not in http.cookies
    assert session.data["cookies"]
    assert "BTSESSID" not in repr(session)


async def test_balance_follows_the_billing_clock(
    provider: BashtelProvider, session: Session, backend: Backend
) -> None:
    backend.advance(days=1)
    balance = await provider.balance(session, "")
    assert balance.amount.amount < Decimal("600.00")
    assert balance.amount.amount == Decimal(backend.balance(_account(backend, session))) / 100


def _account(backend: Backend, session: Session):
    token = session.data["cookies"]["BTSESSID"]
    return backend.account(backend.sessions[token].current_account_id or "")


async def test_subaccount_is_the_account_chosen_by_the_three_digits(
    provider: BashtelProvider, session: Session, customer: Customer
) -> None:
    [sub] = await provider.subaccounts(session)
    assert sub.number == customer.account.number
    assert sub.label.startswith("Уфа, ул. Тестовая")


async def test_tariff_change_takes_effect_next_billing_period(
    provider: BashtelProvider, session: Session, customer: Customer, backend: Backend
) -> None:
    next_period = first_of_next_month(backend.clock.today())
    result = await provider.change_tariff(session, "", "bt-inet200")
    assert not isinstance(result, Challenge)
    assert result.tariff.id == "bt-inet200"
    assert result.effective_date == next_period
    assert customer.account.pending_tariff_id == "bt-inet200"
    catalogue = await provider.tariffs(session, "")
    assert catalogue.current.id == "bt-combo"
    assert catalogue.pending is not None and catalogue.pending.id == "bt-inet200"
    again = await provider.change_tariff(session, "", "bt-inet200")
    assert not isinstance(again, Challenge)
    assert again.effective_date == next_period


@pytest.mark.parametrize("tariff", ["bt-phone", "no-such-tariff", "bt-combo"])
async def test_a_tariff_change_the_cabinet_refuses_is_rejected(
    provider: BashtelProvider, session: Session, tariff: str
) -> None:
    with pytest.raises(OperationRejected):
        await provider.change_tariff(session, "", tariff)


async def test_services_are_ordered_and_cancelled(
    provider: BashtelProvider, session: Session, customer: Customer
) -> None:
    ordered = await provider.set_service(session, "", "bt-av", True)
    assert not isinstance(ordered, Challenge)
    assert ordered.service.enabled
    assert "bt-av" in customer.account.services
    unchanged = await provider.set_service(session, "", "bt-av", True)
    assert not isinstance(unchanged, Challenge)
    assert unchanged.service.enabled
    cancelled = await provider.set_service(session, "", "bt-av", False)
    assert not isinstance(cancelled, Challenge)
    assert not cancelled.service.enabled
    assert "bt-av" not in customer.account.services
    with pytest.raises(OperationRejected):
        await provider.set_service(session, "", "no-such-service", True)


async def test_voluntary_block_is_quoted_requested_approved_and_lifted(
    provider: BashtelProvider, session: Session, backend: Backend
) -> None:
    today = backend.clock.today()
    start, end = today + dt.timedelta(days=1), today + dt.timedelta(days=20)
    quote = await provider.quote_suspension(session, "", start, end)
    assert (quote.days, quote.free_days, quote.paid_days) == (20, 20, 0)
    assert quote.total.amount == Decimal("0.00")
    assert (await provider.suspension(session, "")).state is SuspensionState.ACTIVE

    block = await provider.suspend(session, "", start, end)
    assert not isinstance(block, Challenge)
    assert block.state is SuspensionState.REQUESTED
    assert (block.start, block.end) == (start, end)

    backend.advance(days=1, hours=1)  # approved after 30 minutes, starts the next day
    assert (await provider.suspension(session, "")).state is SuspensionState.SUSPENDED
    poll = await provider.poll(session, "")
    assert poll.state is AccountState.SUSPENDED
    assert poll.suspension_end == end

    resumed = await provider.resume(session, "")  # lifted from tomorrow
    assert resumed.state is SuspensionState.SUSPENDED
    assert resumed.end == today + dt.timedelta(days=1)
    backend.advance(days=1)
    assert (await provider.suspension(session, "")).state is SuspensionState.ACTIVE


async def test_a_block_too_short_is_rejected_with_the_cabinets_words(
    provider: BashtelProvider, session: Session, backend: Backend
) -> None:
    start = backend.clock.today() + dt.timedelta(days=1)
    with pytest.raises(OperationRejected) as caught:
        await provider.quote_suspension(session, "", start, start + dt.timedelta(days=2))
    assert "не менее чем на 7 дней" in caught.value.reason


async def test_top_up_is_confirmed_by_the_code_sent_by_sms(
    provider: BashtelProvider, session: Session, backend: Backend, customer: Customer
) -> None:
    challenge = await provider.top_up(session, "", Decimal("250.00"))
    assert isinstance(challenge, Challenge)
    assert challenge.kind is ChallengeKind.CODE
    assert challenge.operation == "top_up"
    assert challenge.masked_destination is not None
    assert challenge.masked_destination.endswith(customer.login[-0:] and "")  # masked, shown
    assert "***" in challenge.masked_destination
    assert challenge.code_length == 6

    wrong = await provider.confirm(session, challenge, ChallengeAnswer(text=Secret("000000")))
    assert isinstance(wrong, Challenge)
    assert "Неверный" in wrong.message

    code = backend.last_code("bashtel", purpose="top_up")
    done = await provider.confirm(session, wrong, ChallengeAnswer(text=Secret(code)))
    assert isinstance(done, OperationResult)
    assert done.operation == "top_up"
    assert done.details["amount"] == "250.00"
    assert (await provider.balance(session, "")).amount.amount == Decimal("850.00")
    today = backend.clock.today()
    payments = await provider.payments(session, "", today - dt.timedelta(days=1), today)
    assert payments[0].amount.amount == Decimal("250.00")
    assert payments[0].kind is PaymentKind.PAYMENT


async def test_a_top_up_code_wrong_three_times_is_rejected(
    provider: BashtelProvider, session: Session
) -> None:
    challenge = await provider.top_up(session, "", Decimal("100"))
    assert isinstance(challenge, Challenge)
    for _ in range(2):
        result = await provider.confirm(session, challenge, ChallengeAnswer(text=Secret("1")))
        assert isinstance(result, Challenge)
    with pytest.raises(OperationRejected, match="попыток"):
        await provider.confirm(session, challenge, ChallengeAnswer(text=Secret("1")))


async def test_an_expired_confirmation_is_flow_expired(
    provider: BashtelProvider, session: Session
) -> None:
    challenge = await provider.top_up(session, "", Decimal("100"))
    assert isinstance(challenge, Challenge)
    stale = challenge.model_copy(update={"expires_at": challenge.expires_at - dt.timedelta(1)})
    with pytest.raises(FlowExpired):
        await provider.confirm(session, stale, ChallengeAnswer(text=Secret("123456")))


@pytest.mark.parametrize("amount", [Decimal("0"), Decimal("-5"), Decimal("100001")])
async def test_a_top_up_of_a_wrong_amount_is_rejected(
    provider: BashtelProvider, session: Session, amount: Decimal
) -> None:
    with pytest.raises(OperationRejected):
        await provider.top_up(session, "", amount)


@pytest.mark.parametrize(
    ("fmt", "magic"), [(ReportFormat.PDF, b"%PDF"), (ReportFormat.XLSX, b"PK")]
)
async def test_the_detail_of_a_billing_period_downloads_as_a_file(
    provider: BashtelProvider, session: Session, fmt: ReportFormat, magic: bytes, backend: Backend
) -> None:
    last_month_end = backend.clock.today().replace(day=1) - dt.timedelta(days=1)
    last_month = last_month_end.replace(day=1)
    report = await provider.report(
        session, "", last_month + dt.timedelta(days=9), last_month + dt.timedelta(days=19), fmt
    )
    assert report.content.startswith(magic)
    assert (report.period_start, report.period_end) == (last_month, last_month_end)
    assert report.format is fmt
    assert report.filename.endswith(f".{fmt.value}")


async def test_a_report_over_three_months_holds_three_months(
    provider: BashtelProvider, session: Session, backend: Backend, customer: Customer
) -> None:
    """The cabinet details one month at a time; three months are three files joined."""
    import io

    import openpyxl
    import pypdf

    today = backend.clock.today()  # the account was opened 75 days ago: three periods
    this_month = today.replace(day=1)
    first = (this_month - dt.timedelta(days=40)).replace(day=1)  # two months back
    months = [first, (first + dt.timedelta(days=32)).replace(day=1), this_month]
    last_end = (this_month + dt.timedelta(days=32)).replace(day=1) - dt.timedelta(days=1)
    start, end = first + dt.timedelta(days=14), today

    xlsx = await provider.report(session, "", start, end, ReportFormat.XLSX)
    assert (xlsx.period_start, xlsx.period_end) == (first, last_end)
    book = openpyxl.load_workbook(io.BytesIO(xlsx.content))
    assert book.sheetnames == [f"{m:%Y-%m}" for m in months]
    for month, sheet in zip(months, book.worksheets, strict=True):
        rows = list(sheet.iter_rows(values_only=True))
        month_end = (month + dt.timedelta(days=32)).replace(day=1) - dt.timedelta(days=1)
        assert ("Период", month.isoformat(), month_end.isoformat()) == rows[2][:3]
        own = backend.report(customer.account, month, month_end, "xlsx").content
        alone = openpyxl.load_workbook(io.BytesIO(own)).worksheets[0]
        assert rows == list(alone.iter_rows(values_only=True))  # the month's own file, whole

    pdf = await provider.report(session, "", start, end, ReportFormat.PDF)
    assert (pdf.period_start, pdf.period_end) == (first, last_end)
    text = "\n".join(p.extract_text() for p in pypdf.PdfReader(io.BytesIO(pdf.content)).pages)
    for month in months:
        month_end = (month + dt.timedelta(days=32)).replace(day=1) - dt.timedelta(days=1)
        assert f"{month:%d.%m.%Y} – {month_end:%d.%m.%Y}" in text


async def test_a_period_before_the_account_was_opened_is_rejected(
    provider: BashtelProvider, session: Session
) -> None:
    with pytest.raises(OperationRejected):
        await provider.report(
            session, "", dt.date(2023, 1, 1), dt.date(2023, 1, 31), ReportFormat.PDF
        )


async def test_traffic_over_three_months_is_the_whole_period(
    provider: BashtelProvider, session: Session, backend: Backend, customer: Customer
) -> None:
    today = backend.clock.today()
    start = (today.replace(day=1) - dt.timedelta(days=40)).replace(day=1)
    traffic = await provider.traffic(session, "", start, today)
    assert (traffic.period_start, traffic.period_end) == (start, today)
    expected = backend.traffic(customer.account, start, today)
    # The page shows sizes rounded to its unit; the exact bytes ride in data attributes.
    assert traffic.downloaded_bytes == expected.downloaded
    assert traffic.uploaded_bytes == expected.uploaded
    this_month = await provider.usage(session, "")
    assert this_month.traffic is not None
    assert this_month.traffic.downloaded_bytes < traffic.downloaded_bytes


async def test_usage_is_the_traffic_of_this_period(
    provider: BashtelProvider, session: Session, backend: Backend
) -> None:
    usage = await provider.usage(session, "")
    today = backend.clock.today()
    assert usage.traffic is not None
    assert usage.traffic.period_start == today.replace(day=1)
    assert usage.traffic.period_end == today
    assert usage.traffic.downloaded_bytes > usage.traffic.uploaded_bytes > 0


async def test_chat_gets_the_bots_answer_at_once_and_the_agents_later(
    provider: BashtelProvider, session: Session, backend: Backend
) -> None:
    topics = await provider.chat_topics(session, "")
    assert {"support", "quality"} <= {t.id for t in topics}
    replies = await provider.send_chat_message(session, "", "support", "Какой у меня баланс?")
    assert [m.author for m in replies] == [ChatAuthor.BOT]
    assert "600,00" in replies[0].text

    waiting = await provider.send_chat_message(
        session, "", "quality", "По вечерам пропадает канал «Россия 1»"
    )
    assert all(m.author is ChatAuthor.BOT for m in waiting)
    backend.advance(minutes=5)
    history = await provider.chat_history(session, "")
    assert history[-1].author is ChatAuthor.AGENT
    assert [m.author for m in history].count(ChatAuthor.USER) == 2
    since = await provider.chat_history(session, "", since=history[-2].sent_at)
    assert since == [history[-1]]


async def test_chat_on_an_unknown_topic_or_empty_is_rejected(
    provider: BashtelProvider, session: Session
) -> None:
    with pytest.raises(OperationRejected):
        await provider.send_chat_message(session, "", "no-such-topic", "Здравствуйте")
    with pytest.raises(OperationRejected):
        await provider.send_chat_message(session, "", "support", "   ")


async def test_news_profile_and_speed_test(
    provider: BashtelProvider, session: Session, customer: Customer
) -> None:
    news = await provider.news(session, "")
    assert {n.kind for n in news} == {"news", "offer", "maintenance"}
    profile = await provider.profile(session, "")
    assert profile.account_number == customer.account.number
    assert profile.full_name == "Тест Тестович Тестов"
    speed = await provider.speed_test(session)
    assert speed.tariff_mbps == 200
    assert speed.down_mbps is not None and Decimal(0) < speed.down_mbps <= 200


async def test_an_expired_session_is_session_expired(
    provider: BashtelProvider, session: Session, backend: Backend
) -> None:
    backend.expire_sessions(operator="bashtel")
    with pytest.raises(SessionExpired):
        await provider.poll(session, "")


async def test_the_session_expires_after_two_idle_days_and_lives_while_polled(
    provider: BashtelProvider, session: Session, backend: Backend
) -> None:
    for _ in range(5):
        backend.advance(days=1)
        await provider.poll(session, "")  # sliding expiry: each poll renews it
    backend.advance(days=3)
    with pytest.raises(SessionExpired):
        await provider.poll(session, "")


async def test_logout_ends_the_session(provider: BashtelProvider, session: Session) -> None:
    await provider.logout(session)
    with pytest.raises(SessionExpired):
        await provider.balance(session, "")


async def test_a_session_without_cookies_is_expired(provider: BashtelProvider) -> None:
    with pytest.raises(SessionExpired):
        await provider.balance(Session(provider="bashtel", data={}), "")


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
        ("timeout", Unavailable),  # the server gives up with 504 before the client does
    ],
)
async def test_each_fault_ends_in_its_contract_error_and_no_reading(
    provider: BashtelProvider,
    session: Session,
    backend: Backend,
    kind: str,
    error: type[Exception],
) -> None:
    backend.faults.add(kind, operator="bashtel", count=1, seconds=0.01, retry_after=7)
    with pytest.raises(error) as caught:
        await provider.poll(session, "")
    if isinstance(caught.value, RateLimited):
        assert caught.value.retry_after == 7
    if isinstance(caught.value, ParseError):
        payload = caught.value.payload or ""
        assert all(secret not in payload for secret in session.secrets())
    if kind not in ("expired_session", "captcha"):
        assert (await provider.poll(session, "")).balance.amount.amount == Decimal("600.00")


async def test_latency_only_delays(
    provider: BashtelProvider, session: Session, backend: Backend
) -> None:
    backend.faults.add("latency", operator="bashtel", count=1, seconds=0.01)
    assert (await provider.poll(session, "")).balance.amount.amount == Decimal("600.00")


async def test_a_fault_on_a_form_post_is_mapped_too(
    provider: BashtelProvider, session: Session, backend: Backend
) -> None:
    backend.faults.add("503", operator="bashtel", path="/bashtel/tariff/change", count=1)
    with pytest.raises(Unavailable):
        await provider.change_tariff(session, "", "bt-inet60")
    assert (await provider.tariffs(session, "")).pending is None


# -- over loopback: a real server, a plain client --------------------------------------------
async def test_over_loopback_a_form_login_polls_and_a_slow_cabinet_is_timeout(
    live_server: str, backend: Backend
) -> None:
    customer = new_customer(backend)
    async with httpx.AsyncClient(timeout=0.5) as client:
        session = await form_login(
            httpx.AsyncHTTPTransport(), f"{live_server}/bashtel", backend, customer
        )
        provider = BashtelProvider(ProviderContext(http=client, base_url=f"{live_server}/bashtel"))
        poll = await provider.poll(session, "")
        assert poll.balance.amount.amount == Decimal("600.00")
        catalogue = await provider.tariffs(session, "")
        assert catalogue.current.id == "bt-combo"
        backend.faults.add("timeout", operator="bashtel", seconds=3, count=1)
        with pytest.raises(Timeout):
            await provider.poll(session, "")
        backend.faults.add("502", operator="bashtel", count=1)
        with pytest.raises(Unavailable):
            await provider.poll(session, "")
        assert (await provider.poll(session, "")).state is AccountState.ACTIVE


async def test_works_announced_are_a_maintenance_notice_of_the_poll(
    provider: BashtelProvider, session: Session, backend: Backend
) -> None:
    assert (await provider.poll(session, "")).notices == []  # past works are history
    works = backend.announce("bashtel", "Работы на линии в Стерлитамаке", in_days=2)
    (notice,) = (await provider.poll(session, "")).notices
    assert notice.kind is NoticeKind.MAINTENANCE and notice.id == f"maintenance:{works.id}"
    assert notice.title == "Работы на линии в Стерлитамаке"
