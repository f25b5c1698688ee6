"""The Rostelecom plugin against the reference provider's Rostelecom dialect, in-process."""

from __future__ import annotations

import datetime as dt
import io
from collections.abc import Awaitable, Callable
from decimal import Decimal
from typing import TYPE_CHECKING, Any

import pytest
from aggregator_rostelecom import RostelecomProvider
from aggregator_rostelecom.provider import (
    PASSWORD_POLICY,
    SCHEME_EMAIL,
    SCHEME_PASSWORD,
    SCHEME_SMS,
    SCHEME_SSO,
)
from openpyxl import load_workbook
from pypdf import PdfReader

from aggregator import (
    AccountLocked,
    Capability,
    Challenge,
    ChallengeAnswer,
    ChallengeKind,
    FlowExpired,
    FlowRegistry,
    IdentifierKind,
    InvalidCredentials,
    OperationRejected,
    ProviderContext,
    Secret,
    Session,
    SessionExpired,
)
from aggregator.core.models import (
    AccountState,
    AutopaySettings,
    Money,
    OperationResult,
    ReportFormat,
    ServiceChangeResult,
    SuspensionState,
)

if TYPE_CHECKING:
    from conftest import World

SsoBrowser = Callable[..., Awaitable[str]]
LOGIN = "smirnov.ivan"
PASSWORD = "Rostelecom2024"
IDP_LOGINS = {
    "gosuslugi": "ivan.smirnov",
    "tbank": "+79031234567",
    "vk": "ivan.smirnov@vk.com",
    "ok": "ivan.smirnov.ok",
    "mailru": "ivan.smirnov@mail.ru",
}
BUNDLE, DACHA, MAMA, GARAGE = "361000000001", "361000000002", "361000000003", "361000000004"


async def login(world: World, identifier: str = LOGIN, kind: str = "login") -> Session:
    creds = SCHEME_PASSWORD.build_credentials(identifier, PASSWORD, identifier_kind=kind)
    result = await world.provider.start_login(creds)
    assert isinstance(result, Session), result
    return result


async def accounts(world: World, session: Session) -> dict[str, str]:
    """Account number (12 digits) -> subaccount id."""
    subs = await world.provider.subaccounts(session)
    return {s.number.replace(" ", ""): s.id for s in subs}


def test_declared_capabilities_and_schemes() -> None:
    caps = RostelecomProvider.capabilities()
    assert caps >= {
        Capability.BALANCE,
        Capability.SUBACCOUNTS,
        Capability.TARIFFS,
        Capability.TARIFF_CHANGE,
        Capability.SERVICES,
        Capability.SERVICE_TOGGLE,
        Capability.SUSPENSION,
        Capability.SUSPEND,
        Capability.PAYMENTS,
        Capability.TOP_UP,
        Capability.AUTOPAY,
        Capability.REPORTS,
        Capability.NEWS,
        Capability.PROFILE,
    }
    kinds = {i.kind for i in SCHEME_PASSWORD.identifiers}
    assert kinds == {
        IdentifierKind.PHONE,
        IdentifierKind.EMAIL,
        IdentifierKind.LOGIN,
        IdentifierKind.ACCOUNT_NUMBER,
    }
    assert (PASSWORD_POLICY.min_length, PASSWORD_POLICY.max_length) == (8, 20)
    assert PASSWORD_POLICY.check("Rostelecom2024") == []
    assert PASSWORD_POLICY.check("rostelecom2024") == ["password.upper"]
    assert "password.latin" in PASSWORD_POLICY.check("Ростелеком2024Ab")
    assert PASSWORD_POLICY.check("Ab1") == ["password.length"]
    assert SCHEME_SSO.sso_providers and len(SCHEME_SSO.sso_providers) == 5


def test_account_number_must_be_twelve_digits() -> None:
    creds = SCHEME_PASSWORD.build_credentials(
        "3610 0000 0001", "x", identifier_kind="account_number"
    )
    assert creds.identifier == BUNDLE
    with pytest.raises(ValueError):
        SCHEME_PASSWORD.build_credentials("12345", "x", identifier_kind="account_number")


@pytest.mark.parametrize(
    ("identifier", "kind"),
    [
        (LOGIN, "login"),
        ("+7 (903) 123-45-67", "phone"),
        ("Ivan.Smirnov@Example.ru", "email"),
        ("3610-0000-0001", "account_number"),
    ],
)
async def test_password_login_with_each_identifier(
    world: World, identifier: str, kind: str
) -> None:
    session = await login(world, identifier, kind)
    assert set(session.data) >= {"access_token", "refresh_token", "expires_at"}
    assert PASSWORD not in repr(session)
    assert len(await world.provider.subaccounts(session)) == 4


async def test_every_account_polled_in_kopecks(world: World) -> None:
    session = await login(world)
    ids = await accounts(world, session)
    p = world.provider
    bundle = await p.poll(session, ids[BUNDLE])
    assert bundle.balance.amount == Money.rub("1540.00")
    assert bundle.state is AccountState.ACTIVE and bundle.tariff_name == "Интернет + ТВ"
    dacha = await p.poll(session, ids[DACHA])
    assert dacha.state is AccountState.SUSPENDED
    assert dacha.suspension_end == world.backend.clock.today() + dt.timedelta(days=40)
    assert (await p.poll(session, ids[MAMA])).balance.amount == Money.rub("30.00")
    garage = await p.poll(session, ids[GARAGE])
    assert garage.state is AccountState.BLOCKED and garage.balance.amount == Money.rub("-210.00")
    assert await p.bonus_balance(session, ids[BUNDLE]) == Money.rub(350)


async def test_an_account_of_someone_else_is_refused(world: World) -> None:
    session = await login(world)
    anna = world.backend.account_by_number("rostelecom", "361000000010")
    with pytest.raises(OperationRejected):
        await world.provider.balance(session, anna.id.removeprefix("acc-"))


async def test_wrong_password_is_invalid_credentials_then_captcha_then_lock(
    world: World,
) -> None:
    p = world.provider
    wrong = SCHEME_PASSWORD.build_credentials(LOGIN, "Wrong-pass-1", identifier_kind="login")
    for _ in range(2):
        with pytest.raises(InvalidCredentials):
            await p.start_login(wrong)
    challenge = await p.start_login(wrong)
    assert isinstance(challenge, Challenge) and challenge.kind is ChallengeKind.CAPTCHA
    assert challenge.image and challenge.image.startswith(b"\x89PNG")
    assert "Wrong-pass-1" not in repr(challenge) and not challenge.state
    locked = False
    for _ in range(6):
        answer = world.backend.captcha_answer("rostelecom")
        try:
            result = await p.continue_login(challenge, ChallengeAnswer(text=Secret(answer)))
        except AccountLocked:
            locked = True
            break
        except InvalidCredentials:
            result = await p.start_login(wrong)
        assert isinstance(result, Challenge)
        challenge = result
    assert locked


async def test_captcha_on_a_new_device_then_login(world: World) -> None:
    p = world.provider
    creds = SCHEME_PASSWORD.build_credentials("9161234567", "Petrova2024", identifier_kind="phone")
    challenge = await p.start_login(creds)
    assert isinstance(challenge, Challenge) and challenge.kind is ChallengeKind.CAPTCHA
    wrong = await p.continue_login(challenge, ChallengeAnswer(text=Secret("wrong")))
    assert isinstance(wrong, Challenge) and wrong.kind is ChallengeKind.CAPTCHA
    assert wrong.message == "Неверно введены символы с картинки"
    answer = world.backend.captcha_answer("rostelecom")
    session = await p.continue_login(wrong, ChallengeAnswer(text=Secret(answer)))
    assert isinstance(session, Session)
    subs = await p.subaccounts(session)
    assert [s.number for s in subs] == ["361 000 000 010"]


async def test_an_answered_step_cannot_be_answered_twice(world: World) -> None:
    p = world.provider
    creds = SCHEME_PASSWORD.build_credentials("9161234567", "Petrova2024", identifier_kind="phone")
    challenge = await p.start_login(creds)
    assert isinstance(challenge, Challenge)
    answer = ChallengeAnswer(text=Secret(world.backend.captcha_answer("rostelecom")))
    assert isinstance(await p.continue_login(challenge, answer), Session)
    with pytest.raises(FlowExpired):
        await p.continue_login(challenge, answer)


@pytest.mark.parametrize(
    ("scheme", "identifier", "kind", "masked"),
    [
        (SCHEME_SMS, "8 903 123 45 67", "phone", "+7 903 ***-**-67"),
        (SCHEME_EMAIL, "ivan.smirnov@example.ru", "email", "iv***@example.ru"),
        (SCHEME_SMS, BUNDLE, "account_number", "+7 903 ***-**-67"),
    ],
)
async def test_one_time_code_login(
    world: World, scheme: Any, identifier: str, kind: str, masked: str
) -> None:
    p = world.provider
    challenge = await p.start_login(
        scheme.build_credentials(identifier, None, identifier_kind=kind)
    )
    assert isinstance(challenge, Challenge) and challenge.kind is ChallengeKind.CODE
    assert challenge.masked_destination == masked and challenge.code_length == 6
    assert challenge.channel == ("email" if scheme is SCHEME_EMAIL else "sms")
    again = await p.continue_login(challenge, ChallengeAnswer(text=Secret("000000")))
    assert isinstance(again, Challenge) and again.kind is ChallengeKind.CODE
    assert again.message == "Неверный или просроченный код подтверждения"
    code = world.backend.last_code("rostelecom", purpose="login")
    session = await p.continue_login(again, ChallengeAnswer(text=Secret(code)))
    assert isinstance(session, Session)


async def test_a_code_wrong_three_times_ends_the_login(world: World) -> None:
    p = world.provider
    step = await p.start_login(
        SCHEME_SMS.build_credentials("9031234567", None, identifier_kind="phone")
    )
    with pytest.raises(InvalidCredentials):
        for _ in range(3):
            assert isinstance(step, Challenge)
            step = await p.continue_login(step, ChallengeAnswer(text=Secret("000000")))


async def test_an_unknown_user_asking_for_a_code(world: World) -> None:
    with pytest.raises(InvalidCredentials):
        await world.provider.start_login(
            SCHEME_SMS.build_credentials("nobody.here", None, identifier_kind="login")
        )


@pytest.mark.parametrize("idp", ["gosuslugi", "tbank", "vk", "ok", "mailru"])
async def test_sso_through_each_identity_provider(
    world: World, sso_browser: SsoBrowser, idp: str
) -> None:
    p = world.provider
    challenge = await p.start_login(SCHEME_SSO.build_credentials(sso_provider=idp))
    assert isinstance(challenge, Challenge) and challenge.kind is ChallengeKind.SSO_REDIRECT
    assert challenge.url and "kc_idp_hint=" + idp in challenge.url
    callback = await sso_browser(world.http, challenge.url, IDP_LOGINS[idp])
    assert "code=" in callback
    session = await p.continue_login(challenge, ChallengeAnswer(callback_url=callback))
    assert isinstance(session, Session)
    assert len(await p.subaccounts(session)) == 4


async def test_sso_denied_unlinked_or_forged(world: World, sso_browser: SsoBrowser) -> None:
    p = world.provider
    start = SCHEME_SSO.build_credentials(sso_provider="gosuslugi")
    denied = await p.start_login(start)
    assert isinstance(denied, Challenge) and denied.url
    callback = await sso_browser(world.http, denied.url, "ivan.smirnov", allow=False)
    with pytest.raises(InvalidCredentials):
        await p.continue_login(denied, ChallengeAnswer(callback_url=callback))
    stranger = await p.start_login(start)
    assert isinstance(stranger, Challenge) and stranger.url
    callback = await sso_browser(world.http, stranger.url, "stranger")
    with pytest.raises(InvalidCredentials):
        await p.continue_login(stranger, ChallengeAnswer(callback_url=callback))
    mine = await p.start_login(start)
    other = await p.start_login(start)
    assert isinstance(mine, Challenge) and isinstance(other, Challenge) and other.url
    callback = await sso_browser(world.http, other.url, "ivan.smirnov")
    with pytest.raises(FlowExpired):  # the state belongs to another login
        await p.continue_login(mine, ChallengeAnswer(callback_url=callback))


async def test_sso_back_to_the_dashboards_own_callback(
    world: World, sso_browser: SsoBrowser
) -> None:
    own = "http://127.0.0.1:8000/accounts/sso/callback"
    provider = RostelecomProvider(
        ProviderContext(
            http=world.http,
            base_url=world.base_url,
            flows=FlowRegistry(),
            settings={"sso_redirect_uri": own},
        )
    )
    challenge = await provider.start_login(SCHEME_SSO.build_credentials(sso_provider="vk"))
    assert isinstance(challenge, Challenge) and challenge.url
    callback = await sso_browser(world.http, challenge.url, "ivan.smirnov@vk.com")
    assert callback.startswith(own + "?")
    session = await provider.continue_login(challenge, ChallengeAnswer(callback_url=callback))
    assert isinstance(session, Session)


async def test_an_expired_access_token_is_renewed_silently(world: World) -> None:
    session = await login(world)
    ids = await accounts(world, session)
    old = session.data["access_token"]
    world.backend.advance(minutes=11)
    poll = await world.provider.poll(session, ids[BUNDLE])
    assert poll.balance.amount.amount > 0
    assert session.data["access_token"] != old
    assert world.provider.refreshed_session(session) is session
    assert world.provider.refreshed_session(session) is None
    assert await world.provider.check_session(session)


async def test_a_session_the_operator_dropped_is_session_expired(world: World) -> None:
    session = await login(world)
    ids = await accounts(world, session)
    world.backend.expire_sessions(operator="rostelecom")
    with pytest.raises(SessionExpired):
        await world.provider.balance(session, ids[BUNDLE])
    assert not await world.provider.check_session(session)


async def test_logout_ends_the_session(world: World) -> None:
    session = await login(world)
    await world.provider.logout(session)
    with pytest.raises(SessionExpired):
        await world.provider.subaccounts(session)


async def test_tariff_change_confirmed_by_sms(world: World) -> None:
    session = await login(world)
    ids = await accounts(world, session)
    p = world.provider
    catalogue = await p.tariffs(session, ids[BUNDLE])
    assert catalogue.current.id == "rt-combo" and catalogue.current.price == Money.rub(1100)
    challenge = await p.change_tariff(session, ids[BUNDLE], "rt-inet500")
    assert isinstance(challenge, Challenge)
    assert challenge.operation == "change_tariff" and challenge.kind is ChallengeKind.CODE
    assert challenge.masked_destination == "+7 903 ***-**-67"
    retry = await p.confirm(session, challenge, ChallengeAnswer(text=Secret("000000")))
    assert isinstance(retry, Challenge) and "осталось попыток: 2" in retry.message
    code = world.backend.last_code("rostelecom", purpose="change_tariff")
    result = await p.confirm(session, retry, ChallengeAnswer(text=Secret(code)))
    assert isinstance(result, OperationResult) and result.operation == "change_tariff"
    today = world.backend.clock.today()
    assert result.effective_date == (today.replace(day=1) + dt.timedelta(days=32)).replace(day=1)
    after = await p.tariffs(session, ids[BUNDLE])
    assert after.pending is not None and after.pending.id == "rt-inet500"


async def test_a_confirmation_wrong_three_times_is_rejected(world: World) -> None:
    session = await login(world)
    ids = await accounts(world, session)
    step: object = await world.provider.change_tariff(session, ids[BUNDLE], "rt-inet100")
    with pytest.raises(OperationRejected):
        for _ in range(3):
            assert isinstance(step, Challenge)
            step = await world.provider.confirm(
                session, step, ChallengeAnswer(text=Secret("000000"))
            )


async def test_paid_service_needs_a_code_free_one_and_switching_off_do_not(
    world: World,
) -> None:
    session = await login(world)
    ids = await accounts(world, session)
    p = world.provider
    services = {s.id: s for s in await p.services(session, ids[BUNDLE])}
    assert services["rt-wink"].enabled and services["rt-wink"].price == Money.rub(349)
    paid = await p.set_service(session, ids[BUNDLE], "rt-antivirus", True)
    assert isinstance(paid, Challenge) and paid.operation == "enable_paid_service"
    code = world.backend.last_code("rostelecom", purpose="set_service")
    done = await p.confirm(session, paid, ChallengeAnswer(text=Secret(code)))
    assert isinstance(done, OperationResult)
    off = await p.set_service(session, ids[BUNDLE], "rt-wink", False)
    assert isinstance(off, ServiceChangeResult) and not off.service.enabled
    free = await p.set_service(session, ids[DACHA], "rt-caller", True)
    assert isinstance(free, ServiceChangeResult) and free.service.enabled
    now = {s.id: s.enabled for s in await p.services(session, ids[BUNDLE])}
    assert now["rt-antivirus"] and not now["rt-wink"]
    with pytest.raises(OperationRejected):
        await p.set_service(session, ids[BUNDLE], "rt-router", False)


async def test_top_up_confirmed_by_sms_in_kopecks(world: World) -> None:
    session = await login(world)
    ids = await accounts(world, session)
    p = world.provider
    challenge = await p.top_up(session, ids[GARAGE], Decimal("250.50"))
    assert isinstance(challenge, Challenge) and challenge.operation == "top_up"
    code = world.backend.last_code("rostelecom", purpose="top_up")
    result = await p.confirm(session, challenge, ChallengeAnswer(text=Secret(code)))
    assert isinstance(result, OperationResult)
    assert (await p.balance(session, ids[GARAGE])).amount == Money.rub("40.50")
    assert (await p.poll(session, ids[GARAGE])).state is AccountState.ACTIVE
    with pytest.raises(OperationRejected):
        await p.top_up(session, ids[GARAGE], Decimal("10.005"))


async def test_block_services_from_a_date_to_a_date(world: World) -> None:
    session = await login(world)
    ids = await accounts(world, session)
    p = world.provider
    today = world.backend.clock.today()
    start, end = today + dt.timedelta(days=1), today + dt.timedelta(days=100)
    quote = await p.quote_suspension(session, ids[BUNDLE], start, end)
    assert (quote.days, quote.free_days, quote.paid_days) == (100, 90, 10)
    assert quote.total == Money.rub(20)
    block = await p.suspend(session, ids[BUNDLE], start, end)
    assert block.state is SuspensionState.SCHEDULED and (block.start, block.end) == (start, end)
    assert (await p.suspension(session, ids[BUNDLE])).state is SuspensionState.SCHEDULED
    world.backend.advance(days=2)  # longer than the operator's session lives: log in again
    session = await login(world)
    poll = await p.poll(session, ids[BUNDLE])
    assert poll.state is AccountState.SUSPENDED and poll.suspension_end == end
    resumed = await p.resume(session, ids[BUNDLE])
    assert resumed.state in (SuspensionState.SUSPENDED, SuspensionState.ACTIVE)
    with pytest.raises(OperationRejected):
        await p.suspend(session, ids[BUNDLE], today + dt.timedelta(days=3), today)


async def test_payments_autopay_reports_profile_news_notifications(world: World) -> None:
    session = await login(world)
    ids = await accounts(world, session)
    p = world.provider
    today = world.backend.clock.today()
    payments = await p.payments(session, ids[BUNDLE], today - dt.timedelta(days=60), today)
    assert payments and {x.kind.value for x in payments} == {"payment", "charge"}

    autopay = await p.autopay(session, ids[BUNDLE])
    assert not autopay.enabled
    wanted = AutopaySettings(enabled=True, threshold=Money.rub(100), amount=Money.rub(500))
    on = await p.set_autopay(session, ids[BUNDLE], wanted)
    assert on.enabled and on.amount == Money.rub(500) and on.card_mask
    off = await p.set_autopay(session, ids[BUNDLE], AutopaySettings(enabled=False))
    assert not off.enabled

    for fmt in ReportFormat:
        report = await p.report(session, ids[MAMA], today - dt.timedelta(days=30), today, fmt)
        if fmt is ReportFormat.PDF:
            assert len(PdfReader(io.BytesIO(report.content)).pages) >= 1
        else:
            assert load_workbook(io.BytesIO(report.content)).worksheets

    profile = await p.profile(session, ids[BUNDLE])
    assert profile.full_name == "Иван Петрович Смирнов" and profile.email
    assert {n.kind for n in await p.news(session, ids[BUNDLE])} >= {"offer", "news"}
    channels = await p.notification_settings(session)
    assert channels == {"sms": True, "email": True, "push": False}
    changed = await p.set_notification_settings(session, {"push": True, "sms": False})
    assert changed == {"sms": False, "email": True, "push": True}
