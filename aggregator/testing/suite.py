"""The contract suite: subclass :class:`ContractSuite` in a plugin's tests to check its provider.

::

    from aggregator.testing import ContractBackend, ContractSuite

    class TestContract(ContractSuite):
        provider_class = MyProvider

        @pytest.fixture
        async def contract_backend(self):
            async with httpx.AsyncClient(transport=httpx.ASGITransport(app=app)) as http:
                yield MyBackend(http, "http://testserver/my")

Every test logs in through the backend (answering captcha, code, SSO and new-password
challenges with its hooks), checks the results, and fails when a password, code or session token
shows up in a log line (captured at DEBUG), an exception, a challenge or a session repr.
Requires pytest-asyncio.
"""

from __future__ import annotations

import datetime as dt
from collections.abc import AsyncIterator, Awaitable, Callable, Mapping
from decimal import Decimal
from typing import Any, ClassVar

import pytest
import pytest_asyncio

from ..core.errors import (
    AggregatorError,
    InvalidCredentials,
    NotSupported,
    OperationRejected,
    ParseError,
    RateLimited,
    SessionExpired,
    Unavailable,
)
from ..core.flows import Challenge, ChallengeKind, Session
from ..core.login import IdentifierKind, SecretKind
from ..core.models import (
    AutopaySettings,
    Balance,
    ChatAuthor,
    ChatMessage,
    ChatTopic,
    Money,
    NewsItem,
    OperationResult,
    Payment,
    PollResult,
    Profile,
    Report,
    ReportFormat,
    Service,
    ServiceChangeResult,
    Subaccount,
    Suspension,
    SuspensionQuote,
    TariffCatalogue,
    TariffChangeResult,
    TopUpResult,
    TrafficStats,
    TrustedPayment,
    TrustedPaymentResult,
    Usage,
)
from ..core.provider import Capability, Provider
from ..core.recovery import RecoveryDone, RecoveryOutcome, RecoveryRequest
from .backend import ContractBackend, Fault
from .checks import (
    ContractViolation,
    check_declaration,
    check_poll,
    check_remainders,
    check_result,
    check_trusted_payment,
    dummy_session,
)
from .harness import ContractHarness
from .leaks import LeakGuard

__all__ = ["ContractSuite"]

_EXPECTED_ERROR: dict[Fault, type[AggregatorError]] = {
    Fault.UNAVAILABLE: Unavailable,
    Fault.RATE_LIMITED: RateLimited,
    Fault.MALFORMED: ParseError,
}


def _undeclared_calls(
    provider: Provider, session: Session, today: dt.date
) -> dict[Capability, list[Callable[[], Awaitable[Any]]]]:
    """For each capability, calls that must raise NotSupported when it is not declared."""
    p, s, a = provider, session, "0"
    later = today + dt.timedelta(days=7)
    return {
        Capability.BALANCE: [lambda: p.balance(s, a)],
        Capability.SUBACCOUNTS: [lambda: p.subaccounts(s)],
        Capability.TARIFFS: [lambda: p.tariffs(s, a)],
        Capability.TARIFF_CHANGE: [lambda: p.change_tariff(s, a, "x")],
        Capability.SERVICES: [lambda: p.services(s, a)],
        Capability.SERVICE_TOGGLE: [lambda: p.set_service(s, a, "x", True)],
        Capability.SUSPENSION: [lambda: p.suspension(s, a)],
        Capability.SUSPEND: [
            lambda: p.suspend(s, a, today, later),
            lambda: p.quote_suspension(s, a, today, later),
            lambda: p.resume(s, a),
        ],
        Capability.CHAT: [
            lambda: p.chat_history(s, a),
            lambda: p.chat_topics(s, a),
            lambda: p.send_chat_message(s, a, "x", "text"),
        ],
        Capability.PAYMENTS: [lambda: p.payments(s, a, today, later)],
        Capability.TOP_UP: [lambda: p.top_up(s, a, Decimal("1"))],
        Capability.TRUSTED_PAYMENT: [lambda: p.trusted_payment(s, a)],
        Capability.TAKE_TRUSTED_PAYMENT: [lambda: p.take_trusted_payment(s, a, Decimal("1"))],
        Capability.AUTOPAY: [
            lambda: p.autopay(s, a),
            lambda: p.set_autopay(s, a, AutopaySettings(enabled=False)),
        ],
        Capability.REPORTS: [lambda: p.report(s, a, today, later, ReportFormat.PDF)],
        Capability.USAGE: [lambda: p.usage(s, a)],
        Capability.TRAFFIC: [lambda: p.traffic(s, a, today, later)],
        Capability.NEWS: [lambda: p.news(s, a)],
        Capability.PROFILE: [lambda: p.profile(s, a)],
        Capability.RECOVERY: [
            lambda: p.start_recovery(
                RecoveryRequest(scheme="x", identifier_kind=IdentifierKind.PHONE, identifier="0")
            )
        ],
    }


class ContractSuite:
    """The provider contract as tests. Set ``provider_class``; define ``contract_backend``.

    ``contract_backend`` is a fixture (in the subclass or in a ``conftest.py``) giving a
    :class:`~aggregator.testing.ContractBackend` for one test.

    Class attributes a subclass may set:

    - ``provider_class`` (required): the :class:`~aggregator.Provider` subclass under test.
    - ``preferred_scheme``: the login scheme used by the non-login tests (default: the first
      scheme the backend has credentials for).
    - ``skip_capabilities``: ``{"top_up": "why"}``: capabilities whose check is skipped, with
      the reason shown in the test report.
    - ``top_up_amount``, ``trusted_amount`` (kept within the offer), ``chat_text``,
      ``suspension_start_in_days``, ``suspension_days``: the inputs of the operation checks.
    """

    __aggregator_contract__: ClassVar[bool] = True

    provider_class: ClassVar[type[Provider]]
    preferred_scheme: ClassVar[str | None] = None
    skip_capabilities: ClassVar[Mapping[str, str]] = {}
    top_up_amount: ClassVar[Decimal] = Decimal("100.00")
    trusted_amount: ClassVar[Decimal] = Decimal("100.00")
    chat_text: ClassVar[str] = "Как узнать баланс?"
    suspension_start_in_days: ClassVar[int] = 1
    suspension_days: ClassVar[int] = 14

    # -- parametrisation and fixtures ----------------------------------------------------
    def pytest_generate_tests(self, metafunc: pytest.Metafunc) -> None:
        cls = type(self)
        if "contract_scheme" in metafunc.fixturenames:
            schemes = [s.id for s in cls.provider_class.login_schemes]
            metafunc.parametrize("contract_scheme", schemes)
        if "contract_capability" in metafunc.fixturenames:
            metafunc.parametrize("contract_capability", [c.value for c in Capability])
        if "contract_password_scheme" in metafunc.fixturenames:
            schemes = [
                s.id for s in cls.provider_class.login_schemes if s.secret is SecretKind.PASSWORD
            ]
            metafunc.parametrize("contract_password_scheme", schemes)
        if "contract_fault" in metafunc.fixturenames:
            metafunc.parametrize("contract_fault", [f.value for f in Fault])

    @pytest_asyncio.fixture
    async def contract(self, contract_backend: ContractBackend) -> AsyncIterator[ContractHarness]:
        """The harness of one test: the provider, its backend, log capture and leak guard."""
        if not isinstance(contract_backend, ContractBackend):
            raise pytest.UsageError("contract_backend must give a ContractBackend")
        guard = LeakGuard()
        harness = ContractHarness(
            type(self).provider_class,
            contract_backend,
            guard,
            preferred_scheme=self.preferred_scheme,
        )
        with guard.capture_logs():
            try:
                yield harness
            finally:
                await harness.aclose()

    # -- helpers -------------------------------------------------------------------------
    async def _login(self, contract: ContractHarness) -> tuple[Session, str]:
        session = await contract.login()
        account = await contract.backend.account(contract.provider, session)
        return session, account

    def _skip_if_asked(self, capability: Capability) -> None:
        reason = self.skip_capabilities.get(capability.value)
        if reason is not None:
            pytest.skip(f"{capability.value}: {reason}")

    # -- the contract --------------------------------------------------------------------
    def test_declaration(self) -> None:
        """Ids, names, login schemes as JSON-safe data, async methods, balance present."""
        check_declaration(type(self).provider_class)

    @pytest.mark.asyncio
    async def test_login(self, contract: ContractHarness, contract_scheme: str) -> None:
        """Each login scheme ends in a session, its challenges answered through the backend."""
        scheme = contract.provider_class.scheme(contract_scheme)
        credentials = await contract.credentials(scheme)
        if credentials is None:
            pytest.skip(f"the backend has no credentials for the scheme {scheme.id!r}")
        await contract.login(credentials)
        contract.check_leaks()

    @pytest.mark.asyncio
    async def test_balance(self, contract: ContractHarness) -> None:
        """A valid balance in Decimal money, also from a stored session in a fresh process."""
        session, account = await self._login(contract)
        balance = await contract.step(contract.provider.balance(session, account), "balance")
        check_result(balance, Balance, "balance")
        poll = await contract.step(contract.provider.poll(session, account), "poll")
        check_result(poll, PollResult, "poll")
        check_remainders(poll.remainders, "poll.remainders")
        check_poll(poll)
        refreshed = contract.provider.refreshed_session(session)
        if refreshed is not None:
            check_result(refreshed, Session, "refreshed_session")
            session = refreshed

        # The poller stores the session sealed as JSON and reuses it from another process,
        # whose HTTP client shares no cookies with this one.
        stored = Session.model_validate_json(session.model_dump_json())
        contract.backend.http.cookies.clear()
        again = await contract.step(contract.new_provider().balance(stored, account), "balance")
        check_result(again, Balance, "balance from a stored session")
        contract.check_leaks()

    @pytest.mark.asyncio
    async def test_capability(self, contract: ContractHarness, contract_capability: str) -> None:
        """Declared capabilities return valid models; undeclared ones raise NotSupported."""
        capability = Capability(contract_capability)
        self._skip_if_asked(capability)
        provider = contract.provider
        if not provider.has(capability):
            today = await contract.backend.today()
            session = dummy_session(contract.provider_class)
            for call in _undeclared_calls(provider, session, today)[capability]:
                await contract.expect(NotSupported, call(), f"undeclared {capability.value}")
            contract.check_leaks()
            return
        if capability is Capability.RECOVERY:
            await self._exercise_recovery(contract)
            contract.check_leaks()
            return
        session, account = await self._login(contract)
        try:
            await self._exercise(contract, capability, session, account)
        except NotSupported as exc:
            raise ContractViolation(
                f"{capability.value} is declared but raised NotSupported: {exc.message}"
            ) from None
        contract.check_leaks()

    @pytest.mark.asyncio
    async def test_wrong_password(
        self, contract: ContractHarness, contract_password_scheme: str
    ) -> None:
        """A wrong password raises InvalidCredentials (after any captcha is answered)."""
        scheme = contract.provider_class.scheme(contract_password_scheme)
        wrong = await contract.backend.wrong_credentials(scheme)
        if wrong is None:
            pytest.skip(f"the backend has no wrong credentials for the scheme {scheme.id!r}")
        await contract.expect(InvalidCredentials, contract.login(wrong), "a wrong password login")
        contract.check_leaks()

    @pytest.mark.asyncio
    async def test_expired_session(self, contract: ContractHarness) -> None:
        """A session the operator dropped raises SessionExpired, not a parse or other error."""
        session, account = await self._login(contract)
        if not await contract.backend.expire_session(session):
            pytest.skip("the backend cannot expire a session")
        await contract.expect(
            SessionExpired, contract.provider.balance(session, account), "balance"
        )
        contract.check_leaks()

    @pytest.mark.asyncio
    async def test_fault(self, contract: ContractHarness, contract_fault: str) -> None:
        """5xx -> Unavailable, 429 -> RateLimited with retry_after, a bad body -> ParseError."""
        fault = Fault(contract_fault)
        session, account = await self._login(contract)
        if not await contract.backend.inject_fault(fault):
            pytest.skip(f"the backend cannot inject {fault.value}")
        error = await contract.expect(
            _EXPECTED_ERROR[fault], contract.provider.balance(session, account), "balance"
        )
        if isinstance(error, RateLimited) and error.retry_after is None:
            raise ContractViolation("RateLimited must carry the Retry-After seconds")
        contract.check_leaks()

    @pytest.mark.asyncio
    async def test_no_secret_in_reprs_or_logs(self, contract: ContractHarness) -> None:
        """Credentials, sessions and errors never show a secret, nor do DEBUG logs."""
        credentials = await contract.credentials()
        if credentials is None:
            pytest.skip("the backend has no credentials")
        contract.guard.remember("the credentials", credentials)
        contract.guard.remember("the credentials as JSON", credentials.model_dump_json())
        session = await contract.login(credentials)
        account = await contract.backend.account(contract.provider, session)
        await contract.step(contract.provider.poll(session, account), "poll")
        contract.guard.remember("the provider", contract.provider)
        contract.check_leaks()

    # -- exercising a declared capability ------------------------------------------------
    async def _exercise_recovery(self, contract: ContractHarness) -> None:
        """Each recovery scheme the backend can run: its challenges carry what a person needs
        (a new password step its policy), it ends in RecoveryDone, and a password it set logs
        in."""
        ran = 0
        provider = contract.provider
        for scheme in contract.provider_class.recovery_schemes:
            request = await contract.backend.recovery_request(scheme)
            if request is None:
                continue
            ran += 1
            result = await contract.step(provider.start_recovery(request), "start_recovery")
            for _ in range(12):
                if not isinstance(result, Challenge):
                    break
                challenge = result
                if challenge.kind is ChallengeKind.NEW_PASSWORD and not challenge.password_policy:
                    raise ContractViolation(
                        f"the recovery step {challenge.step!r} asks for a new password without "
                        "its policy (the application checks it before sending)"
                    )
                answer = await contract.answer(challenge, "recovery")
                result = await contract.step(
                    provider.continue_recovery(challenge, answer), "continue_recovery"
                )
            if not isinstance(result, RecoveryDone):
                raise ContractViolation(
                    f"the recovery {scheme.id!r} ended in {type(result).__name__}, "
                    "expected RecoveryDone"
                )
            # The credentials and session carry secrets (they serialise masked): the rest
            # must be plain data.
            check_result(
                result.model_copy(update={"credentials": None, "session": None}),
                RecoveryDone,
                f"the recovery {scheme.id!r}",
            )
            if result.outcome is RecoveryOutcome.INSTRUCTIONS_SENT:
                if not result.masked_destination:
                    raise ContractViolation("instructions sent, but where (masked_destination)?")
            elif result.credentials is not None:
                if result.credentials.scheme not in {s.id for s in provider.login_schemes}:
                    raise ContractViolation(
                        f"the recovered credentials name no login scheme "
                        f"({result.credentials.scheme!r})"
                    )
                await contract.login(result.credentials)
        if not ran:
            pytest.skip("the backend runs no password recovery (recovery_request)")

    async def _exercise(
        self, contract: ContractHarness, capability: Capability, session: Session, account: str
    ) -> None:
        p = contract.provider
        step = contract.step
        today = await contract.backend.today()
        C = Capability
        if capability is C.BALANCE:
            check_result(await step(p.balance(session, account), "balance"), Balance, "balance")
        elif capability is C.SUBACCOUNTS:
            found = await step(p.subaccounts(session), "subaccounts")
            check_result(found, Subaccount, "subaccounts")
            if not found or len({s.id for s in found}) != len(found):
                raise ContractViolation("subaccounts must be a non-empty list with unique ids")
        elif capability is C.TARIFFS:
            check_result(
                await step(p.tariffs(session, account), "tariffs"), TariffCatalogue, "tariffs"
            )
        elif capability is C.TARIFF_CHANGE:
            catalogue = await step(p.tariffs(session, account), "tariffs")
            others = [t for t in catalogue.available if t.id != catalogue.current.id]
            if not others:
                pytest.skip("the backend's account has no other tariff to change to")
            result = await contract.settle(
                await step(p.change_tariff(session, account, others[0].id), "change_tariff"),
                session,
                "change_tariff",
            )
            check_result(result, (TariffChangeResult, OperationResult), "change_tariff")
        elif capability is C.SERVICES:
            check_result(await step(p.services(session, account), "services"), Service, "services")
        elif capability is C.SERVICE_TOGGLE:
            services = await step(p.services(session, account), "services")
            toggled = [s for s in services if s.can_toggle]
            if not toggled:
                pytest.skip("the backend's account has no service that can be toggled")
            target = toggled[0]
            result = await contract.settle(
                await step(
                    p.set_service(session, account, target.id, not target.enabled), "set_service"
                ),
                session,
                "set_service",
            )
            check_result(result, (ServiceChangeResult, OperationResult), "set_service")
        elif capability is C.SUSPENSION:
            check_result(
                await step(p.suspension(session, account), "suspension"), Suspension, "suspension"
            )
        elif capability is C.SUSPEND:
            start = today + dt.timedelta(days=self.suspension_start_in_days)
            end = start + dt.timedelta(days=self.suspension_days - 1)
            quote = await step(p.quote_suspension(session, account, start, end), "quote")
            check_result(quote, SuspensionQuote, "quote_suspension")
            if quote.free_days + quote.paid_days != quote.days:
                raise ContractViolation("quote_suspension: free_days + paid_days != days")
            result = await contract.settle(
                await step(p.suspend(session, account, start, end), "suspend"), session, "suspend"
            )
            check_result(result, (Suspension, OperationResult), "suspend")
            try:
                resumed = await step(p.resume(session, account), "resume")
            except OperationRejected:
                pass  # an operator may refuse to cancel a block it has not applied yet
            else:
                check_result(resumed, Suspension, "resume")
        elif capability is C.CHAT:
            topics = await step(p.chat_topics(session, account), "chat_topics")
            check_result(topics, ChatTopic, "chat_topics")
            if not topics:
                raise ContractViolation("chat_topics returned no topic")
            replies = await step(
                p.send_chat_message(session, account, topics[0].id, self.chat_text), "send_chat"
            )
            check_result(replies, ChatMessage, "send_chat_message")
            history = await step(p.chat_history(session, account), "chat_history")
            check_result(history, ChatMessage, "chat_history")
            if not any(m.author is ChatAuthor.USER for m in history):
                raise ContractViolation("chat_history lacks the message the user just sent")
        elif capability is C.PAYMENTS:
            since = today - dt.timedelta(days=90)
            paid = await step(p.payments(session, account, since, today), "payments")
            check_result(paid, Payment, "payments")
        elif capability is C.TOP_UP:
            result = await contract.settle(
                await step(p.top_up(session, account, self.top_up_amount), "top_up"),
                session,
                "top_up",
            )
            check_result(result, (TopUpResult, OperationResult), "top_up")
        elif capability is C.TRUSTED_PAYMENT:
            state = await step(p.trusted_payment(session, account), "trusted_payment")
            check_result(state, TrustedPayment, "trusted_payment")
            check_trusted_payment(state, today, "trusted_payment")
        elif capability is C.TAKE_TRUSTED_PAYMENT:
            await self._take_trusted_payment(contract, session, account, today)
        elif capability is C.AUTOPAY:
            current = await step(p.autopay(session, account), "autopay")
            check_result(current, AutopaySettings, "autopay")
            wanted = AutopaySettings(
                enabled=not current.enabled,
                threshold=current.threshold or Money.rub(100),
                amount=current.amount or Money.rub(300),
                card_mask=current.card_mask,
            )
            result = await contract.settle(
                await step(p.set_autopay(session, account, wanted), "set_autopay"),
                session,
                "set_autopay",
            )
            check_result(result, (AutopaySettings, OperationResult), "set_autopay")
        elif capability is C.REPORTS:
            await self._reports(contract, session, account, today)
        elif capability is C.USAGE:
            usage = await step(p.usage(session, account), "usage")
            check_result(usage, Usage, "usage")
            check_remainders(usage.remainders, "usage.remainders")
        elif capability is C.TRAFFIC:
            # Two months back to today: a period spanning months, as a person picks one.
            start = (today.replace(day=1) - dt.timedelta(days=40)).replace(day=1)
            traffic = await step(p.traffic(session, account, start, today), "traffic")
            check_result(traffic, TrafficStats, "traffic")
            if traffic.period_start > start or traffic.period_end < today:
                raise ContractViolation(
                    f"traffic for {start}..{today} covers only "
                    f"{traffic.period_start}..{traffic.period_end}"
                )
            if traffic.downloaded_bytes < 0 or traffic.uploaded_bytes < 0:
                raise ContractViolation("traffic below zero bytes")
        elif capability is C.NEWS:
            check_result(await step(p.news(session, account), "news"), NewsItem, "news")
        elif capability is C.PROFILE:
            check_result(await step(p.profile(session, account), "profile"), Profile, "profile")
        else:  # pragma: no cover - a new capability without a check here
            raise ContractViolation(f"the contract kit has no check for {capability.value}")

    async def _take_trusted_payment(
        self, contract: ContractHarness, session: Session, account: str, today: dt.date
    ) -> None:
        """Take one within the offer: the debt and due date come back, and the state shows
        them until paid back."""
        p, step = contract.provider, contract.step
        offer = await step(p.trusted_payment(session, account), "trusted_payment")
        check_trusted_payment(offer, today, "trusted_payment")
        if not offer.available:
            pytest.skip(f"the backend's account cannot take a trusted payment: {offer.reason}")
        amount = self.trusted_amount
        if offer.options:
            amount = min(o.amount.amount for o in offer.options)
        elif offer.max_amount is not None:
            amount = min(amount, offer.max_amount.amount)
        if offer.min_amount is not None:
            amount = max(amount, offer.min_amount.amount)
        result = await contract.settle(
            await step(p.take_trusted_payment(session, account, amount), "take_trusted_payment"),
            session,
            "take_trusted_payment",
        )
        check_result(result, (TrustedPaymentResult, OperationResult), "take_trusted_payment")
        if isinstance(result, TrustedPaymentResult):
            if result.amount.amount != amount:
                raise ContractViolation("take_trusted_payment: the amount credited differs")
            if result.debt.amount < result.amount.amount:
                raise ContractViolation("take_trusted_payment: the debt is less than the credit")
            if result.due_date <= today:
                raise ContractViolation("take_trusted_payment: the due date is not in the future")
        after = await step(p.trusted_payment(session, account), "trusted_payment")
        check_trusted_payment(after, today, "trusted_payment after taking one")
        if not after.owed:
            raise ContractViolation("trusted_payment shows no debt right after one was taken")
        if isinstance(result, TrustedPaymentResult) and after.due_date != result.due_date:
            raise ContractViolation("trusted_payment's due date differs from the one taken")

    async def _reports(
        self, contract: ContractHarness, session: Session, account: str, today: dt.date
    ) -> None:
        made = 0
        for fmt in ReportFormat:
            try:
                report = await contract.step(
                    contract.provider.report(
                        session, account, today - dt.timedelta(days=30), today, fmt
                    ),
                    f"report({fmt.value})",
                )
            except NotSupported:
                continue  # one format may be missing; at least one must work
            check_result(report, Report, f"report({fmt.value})")
            if report.format is not fmt:
                raise ContractViolation(f"report({fmt.value}) returned a {report.format} file")
            made += 1
        if not made:
            raise ContractViolation("report is declared but no format works")
