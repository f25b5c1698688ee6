"""Full flows of the reference plugin against the reference provider, in-process."""

from __future__ import annotations

import datetime as dt
from decimal import Decimal

import httpx
import pytest
from aggregator_reference import ReferenceProvider
from reference_provider.backend import Backend

from aggregator import (
    AccountLocked,
    Challenge,
    ChallengeAnswer,
    ChallengeKind,
    CodeRejected,
    InvalidCredentials,
    OperationRejected,
    ParseError,
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
    ChatAuthor,
    Money,
    OperationResult,
    ReportFormat,
    ServiceChangeResult,
)
from aggregator.plugins import load_plugins

SCHEMES = {s.id: s for s in ReferenceProvider.login_schemes}


def code_answer(backend: Backend) -> ChallengeAnswer:
    return ChallengeAnswer(text=Secret(backend.last_code("reference")))


async def password_login(
    provider: ReferenceProvider, login: str = "demo", password: str = "demo-password"
) -> Session:
    result = await provider.start_login(SCHEMES["password"].build_credentials(login, password))
    assert isinstance(result, Session)
    return result


async def account_of(provider: ReferenceProvider, session: Session, number: str) -> str:
    return next(s.id for s in await provider.subaccounts(session) if s.number == number)


def test_the_entry_point_registers_the_provider() -> None:
    registry = load_plugins(allow=["reference"], block=[])
    assert registry.provider("reference") is ReferenceProvider


async def test_captcha_then_a_known_device(provider: ReferenceProvider, backend: Backend) -> None:
    creds = SCHEMES["password"].build_credentials("captcha", "demo-password")
    challenge = await provider.start_login(creds)
    assert isinstance(challenge, Challenge) and challenge.kind is ChallengeKind.CAPTCHA
    assert challenge.image and challenge.image.startswith(b"\x89PNG")
    wrong = await provider.continue_login(challenge, ChallengeAnswer(text=Secret("XXXXX")))
    assert isinstance(wrong, Challenge) and wrong.kind is ChallengeKind.CAPTCHA
    answer = ChallengeAnswer(text=Secret(backend.captcha_answer("reference")))
    session = await provider.continue_login(wrong, answer)
    assert isinstance(session, Session) and session.expires_at is not None
    assert isinstance(await provider.start_login(creds), Session)  # same device: no captcha


async def test_temporary_password_asks_for_a_new_one(provider: ReferenceProvider) -> None:
    creds = SCHEMES["password"].build_credentials("newbie", "temp-123456")
    challenge = await provider.start_login(creds)
    assert isinstance(challenge, Challenge) and challenge.kind is ChallengeKind.NEW_PASSWORD
    assert challenge.password_policy is not None
    session = await provider.continue_login(
        challenge, ChallengeAnswer(new_password=Secret("Permanent-pass-1"))
    )
    assert isinstance(session, Session)
    assert len(await provider.subaccounts(session)) == 1
    again = await password_login(provider, "newbie", "Permanent-pass-1")
    assert isinstance(again, Session)


@pytest.mark.parametrize(("scheme", "channel"), [("sms_code", "sms"), ("email_code", "email")])
async def test_one_time_code_login(
    provider: ReferenceProvider, backend: Backend, scheme: str, channel: str
) -> None:
    challenge = await provider.start_login(SCHEMES[scheme].build_credentials("demo"))
    assert isinstance(challenge, Challenge) and challenge.channel == channel
    assert challenge.masked_destination and "***" in challenge.masked_destination
    assert challenge.resend_after_s == 30 and challenge.resend_wait() in (29, 30)
    with pytest.raises(CodeRejected, match="Неверный или просроченный код") as wrong:
        await provider.continue_login(challenge, ChallengeAnswer(text=Secret("000000x")))
    assert not wrong.value.expired
    with pytest.raises(OperationRejected, match="через"):  # the operator's countdown
        await provider.resend_code(challenge)
    first = backend.last_code("reference")
    backend.advance(seconds=31)
    again = await provider.resend_code(challenge)
    assert again.kind is ChallengeKind.CODE and again.sent_at > challenge.sent_at
    if backend.last_code("reference") != first:
        with pytest.raises(CodeRejected):
            await provider.continue_login(again, ChallengeAnswer(text=Secret(first)))
    session = await provider.continue_login(again, code_answer(backend))
    assert isinstance(session, Session)


@pytest.mark.parametrize(
    ("idp", "user"), [("gosuslugi", "ivan.smirnov"), ("tbank", "+79031234567")]
)
async def test_sso_login(
    provider: ReferenceProvider, backend: Backend, idp: str, user: str
) -> None:
    challenge = await provider.start_login(SCHEMES["sso"].build_credentials(sso_provider=idp))
    assert isinstance(challenge, Challenge) and challenge.kind is ChallengeKind.SSO_REDIRECT
    assert challenge.url and f"/idp/{idp}/authorize" in challenge.url
    callback = backend.idp_complete_as_user(challenge.url, user, "sso-demo-2024")
    session = await provider.continue_login(challenge, ChallengeAnswer(callback_url=callback))
    assert isinstance(session, Session)
    assert len(await provider.subaccounts(session)) == 4


async def test_sso_denied_or_unlinked_is_invalid(
    provider: ReferenceProvider, backend: Backend
) -> None:
    creds = SCHEMES["sso"].build_credentials(sso_provider="gosuslugi")
    challenge = await provider.start_login(creds)
    assert isinstance(challenge, Challenge) and challenge.url
    denied = backend.idp_complete_as_user(
        challenge.url, "ivan.smirnov", "sso-demo-2024", allow=False
    )
    with pytest.raises(InvalidCredentials):
        await provider.continue_login(challenge, ChallengeAnswer(callback_url=denied))
    challenge = await provider.start_login(creds)
    assert isinstance(challenge, Challenge) and challenge.url
    stranger = backend.idp_complete_as_user(challenge.url, "stranger", "sso-demo-2024")
    with pytest.raises(InvalidCredentials):
        await provider.continue_login(challenge, ChallengeAnswer(callback_url=stranger))


async def test_wrong_password_and_lockout(provider: ReferenceProvider, backend: Backend) -> None:
    creds = SCHEMES["password"].build_credentials("demo", "wrong-password")
    errors: list[type[Exception]] = []
    for _ in range(5):
        result: object = None
        try:
            result = await provider.start_login(creds)
            while isinstance(result, Challenge):  # a captcha after two failures
                answer = ChallengeAnswer(text=Secret(backend.captcha_answer("reference")))
                result = await provider.continue_login(result, answer)
        except (InvalidCredentials, AccountLocked) as exc:
            errors.append(type(exc))
    assert errors == [InvalidCredentials] * 4 + [AccountLocked]


async def test_polling_states(provider: ReferenceProvider) -> None:
    session = await password_login(provider)
    states = {}
    for sub in await provider.subaccounts(session):
        poll = await provider.poll(session, sub.id)
        states[sub.number] = (poll.state, poll.balance.amount.amount)
    assert states == {
        "REF-0001": (AccountState.ACTIVE, Decimal("850.00")),
        "REF-0002": (AccountState.ACTIVE, Decimal("45.50")),
        "REF-0003": (AccountState.SUSPENDED, Decimal("120.00")),
        "REF-0004": (AccountState.BLOCKED, Decimal("-75.00")),
    }


async def test_operations_confirmed_by_code(provider: ReferenceProvider, backend: Backend) -> None:
    session = await password_login(provider)
    acc = await account_of(provider, session, "REF-0001")
    challenge = await provider.change_tariff(session, acc, "ref-plus")
    assert isinstance(challenge, Challenge) and challenge.operation == "change_tariff"
    with pytest.raises(CodeRejected, match="Неверный или просроченный код"):  # the step stays open
        await provider.confirm(session, challenge, ChallengeAnswer(text=Secret("000000")))
    backend.advance(seconds=31)
    challenge = await provider.resend_code(challenge, session)  # a new code for the same step
    result = await provider.confirm(session, challenge, code_answer(backend))
    assert isinstance(result, OperationResult) and result.effective_date == dt.date(2025, 2, 1)
    catalogue = await provider.tariffs(session, acc)
    assert catalogue.pending is not None and catalogue.pending.id == "ref-plus"

    free = await provider.set_service(session, acc, "ref-notify", True)
    assert isinstance(free, ServiceChangeResult)
    paid = await provider.set_service(session, acc, "ref-roaming", True)
    assert isinstance(paid, Challenge)
    await provider.confirm(session, paid, code_answer(backend))
    assert {s.id for s in await provider.services(session, acc) if s.enabled} >= {
        "ref-notify",
        "ref-roaming",
    }

    top_up = await provider.top_up(session, acc, Decimal("150"))
    assert isinstance(top_up, Challenge) and top_up.code_length == 6
    done = await provider.confirm(session, top_up, code_answer(backend))
    assert isinstance(done, OperationResult) and done.details["balance"] == "1000.00"
    with pytest.raises(OperationRejected):
        await provider.top_up(session, acc, Decimal("0.10"))


async def test_autopay_suspension_and_the_rest(provider: ReferenceProvider) -> None:
    session = await password_login(provider)
    acc = await account_of(provider, session, "REF-0002")
    settings = await provider.set_autopay(
        session, acc, AutopaySettings(enabled=True, threshold=Money.rub(100), amount=Money.rub(500))
    )
    assert isinstance(settings, AutopaySettings) and settings.enabled
    assert (await provider.autopay(session, acc)).amount == Money.rub(500)
    start = dt.date(2025, 1, 20)
    quote = await provider.quote_suspension(session, acc, start, start + dt.timedelta(days=44))
    assert (quote.free_days, quote.paid_days) == (30, 15)
    block = await provider.suspend(session, acc, start, start + dt.timedelta(days=44))
    assert not isinstance(block, Challenge) and block.state == "scheduled"
    assert (await provider.resume(session, acc)).state == "active"
    assert (await provider.usage(session, acc)).traffic is not None
    assert await provider.news(session, acc)
    assert (await provider.profile(session, acc)).full_name == "Иван Петрович Смирнов"
    payments = await provider.payments(session, acc, dt.date(2025, 1, 1), dt.date(2025, 1, 15))
    assert payments and payments == sorted(payments, key=lambda p: p.at)
    for fmt, magic in ((ReportFormat.PDF, b"%PDF"), (ReportFormat.XLSX, b"PK")):
        report = await provider.report(session, acc, dt.date(2025, 1, 1), dt.date(2025, 1, 15), fmt)
        assert report.content.startswith(magic)


async def test_chat_bot_now_agent_later(provider: ReferenceProvider, backend: Backend) -> None:
    session = await password_login(provider)
    acc = await account_of(provider, session, "REF-0001")
    topics = await provider.chat_topics(session, acc)
    replies = await provider.send_chat_message(
        session, acc, topics[0].id, "Можно ли подключить умную кормушку для собаки?"
    )
    assert [m.author for m in replies] == [ChatAuthor.BOT]
    sent_at = replies[0].sent_at
    backend.advance(minutes=16)
    later = await provider.chat_history(session, acc, since=sent_at)
    assert [m.author for m in later] == [ChatAuthor.AGENT]


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
    ],
)
async def test_faults_map_to_the_contract(
    provider: ReferenceProvider, backend: Backend, kind: str, error: type[Exception]
) -> None:
    session = await password_login(provider)
    acc = await account_of(provider, session, "REF-0001")
    backend.faults.add(kind, operator="reference", count=1, retry_after=9)
    with pytest.raises(error) as caught:
        await provider.poll(session, acc)
    if isinstance(caught.value, RateLimited):
        assert caught.value.retry_after == 9
    if kind == "captcha":  # the next login needs a person
        again = await provider.start_login(
            SCHEMES["password"].build_credentials("demo", "demo-password")
        )
        assert isinstance(again, Challenge) and again.kind is ChallengeKind.CAPTCHA
    else:
        fresh = await password_login(provider) if kind in ("expired_session",) else session
        assert (await provider.poll(fresh, acc)).balance.amount == Money.rub(850)


async def test_latency_passes_and_a_timeout_is_a_timeout(backend: Backend) -> None:
    from reference_provider.app import create_app
    from reference_provider.testing import running_server

    from aggregator import FlowRegistry, ProviderContext

    with running_server(create_app(backend=backend, sim=True)) as url:
        async with httpx.AsyncClient(timeout=0.5) as http:
            provider = ReferenceProvider(
                ProviderContext(http=http, base_url=f"{url}/reference/api/v1", flows=FlowRegistry())
            )
            session = await password_login(provider)
            acc = (await provider.subaccounts(session))[0].id
            await http.post(
                f"{url}/sim/faults",
                json={"kind": "latency", "seconds": 0.05, "operator": "reference", "count": 1},
            )
            assert (await provider.balance(session, acc)).amount == Money.rub(850)
            await http.post(
                f"{url}/sim/faults",
                json={"kind": "timeout", "seconds": 1, "operator": "reference", "count": 1},
            )
            with pytest.raises(Timeout):
                await provider.balance(session, acc)
            await provider.logout(session)
            with pytest.raises(SessionExpired):
                await provider.balance(session, acc)
