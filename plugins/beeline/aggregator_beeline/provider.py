"""The Beeline provider: what the plugin can do, mapped onto the contract.

Login is by phone number (10 digits) and password, or by an SMS temporary password that must
then be replaced by a permanent one (the wire as independent clients prove it: see
``reference_provider/DIALECTS.md``, Beeline)::

    password scheme:  PUT 2.0/auth/auth?login&userType=Mobile ──> token ──> Session
                                  └─ tempPassInd ──> NEW_PASSWORD challenge
    sms scheme:       GET 1.0/passReset?login&channelType=CTN ──> CODE challenge
                      answer: the temporary password ──> PUT 2.0/auth/auth (tempPassInd)
                      ──> NEW_PASSWORD challenge ──> PUT 1.0/setting/changePassword?login
                      &newPassword ──> PUT 2.0/auth/auth with the new password ──> Session

A login holds several numbers (``1.0/sso/subscribers?login``); each number is a subaccount and
the ``account`` argument of every method is that number (10 digits), sent as ``ctn``. An
expired token (``TOKEN_NOT_FOUND``) is SessionExpired, so the core logs in again silently.

Secrets met between steps (the temporary password, the token bound to it, the password while a
captcha is asked) stay in the process's :class:`~aggregator.FlowRegistry`, never in the
challenge's serialisable ``state``.
"""

from __future__ import annotations

import contextlib
import datetime as dt
import re
from collections.abc import Mapping
from decimal import Decimal
from typing import Any, ClassVar, Literal

from aggregator import (
    MOSCOW_TZ,
    Capability,
    Challenge,
    ChallengeAnswer,
    ChallengeKind,
    Credentials,
    FlowExpired,
    IdentifierKind,
    IdentifierSpec,
    InvalidCredentials,
    LoginScheme,
    NotSupported,
    OperationRejected,
    OperatorLimits,
    ParseError,
    PasswordPolicy,
    Provider,
    ProviderContext,
    RecoveryDone,
    RecoveryOutcome,
    RecoveryRequest,
    RecoveryScheme,
    SecretKind,
    Session,
    SessionExpired,
)
from aggregator.core.models import (
    Balance,
    ChatAuthor,
    ChatMessage,
    ChatTopic,
    CostRule,
    Money,
    NewsItem,
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
    TrustedPayment,
    TrustedPaymentResult,
    Usage,
)
from aggregator.transport import server_clock

from . import parsing
from .client import BeelineClient

__all__ = ["BeelineProvider"]

PHONE = IdentifierSpec(
    kind=IdentifierKind.PHONE,
    label_ru="Номер телефона",
    label_en="Phone number",
    pattern=r"\d{10}",
    hint_ru="Номер Билайна: 10 цифр, +7 или 8 в начале можно не набирать",
    hint_en="The Beeline number: 10 digits, +7 or 8 in front is optional",
    example="+7 903 123-45-67",
)

PASSWORD_POLICY = PasswordPolicy(
    min_length=6,
    max_length=64,
    latin_only=True,
    description_ru="От 6 до 64 символов: латинские буквы, цифры, знаки",
    description_en="6 to 64 characters: Latin letters, digits, punctuation",
)

SCHEME_PASSWORD = LoginScheme(
    id="password",
    title_ru="Номер и пароль",
    title_en="Number and password",
    identifiers=[PHONE],
    secret=SecretKind.PASSWORD,
    password_policy=PASSWORD_POLICY,
)

SCHEME_SMS = LoginScheme(
    id="sms_password",
    title_ru="Временный пароль по SMS",
    title_en="Temporary password by SMS",
    identifiers=[PHONE],
    secret=SecretKind.SMS_CODE,
    password_policy=PASSWORD_POLICY,
    silent_relogin=False,
)

# "Забыли пароль?": a temporary password by SMS (1.0/passReset, lkapi.js line 977), the login
# with it, a permanent password instead (1.0/setting/changePassword): the sms scheme's steps.
RECOVERY = RecoveryScheme(
    id="temp_password",
    title_ru="Временный пароль по SMS",
    title_en="A temporary password by SMS",
    identifiers=[PHONE],
    channels=["sms"],
    password_policy=PASSWORD_POLICY,
    login_scheme=SCHEME_PASSWORD.id,
    description_ru="Билайн пришлёт временный пароль в SMS; после входа с ним задайте постоянный.",
    description_en="Beeline texts a temporary password; after logging in with it, set your own.",
)

STEP_CAPTCHA = "captcha"
STEP_TEMP_PASSWORD = "temp_password"
STEP_NEW_PASSWORD = "new_password"

#: The voluntary block: free, at most this many days (assumed: the seed names the block only).
BLOCK_MAX_DAYS = 90
BLOCK_RULE = CostRule(description="Добровольная блокировка бесплатна до 90 дней")

_REPORT_FORMATS = {ReportFormat.PDF: "PDF", ReportFormat.XLSX: "XLS"}
_FILE_MAGIC = {ReportFormat.PDF: b"%PDF-", ReportFormat.XLSX: b"PK\x03\x04"}


def _date(value: dt.date) -> str:
    return value.isoformat()


class BeelineProvider(Provider):
    """Билайн: a token JSON API, SMS temporary passwords, several numbers, a chat with a bot."""

    id: ClassVar[str] = "beeline"
    name: ClassVar[str] = "Билайн"
    name_en: ClassVar[str] = "Beeline"
    default_base_url: ClassVar[str] = "http://127.0.0.1:8081/beeline"
    login_schemes: ClassVar[tuple[LoginScheme, ...]] = (SCHEME_PASSWORD, SCHEME_SMS)
    recovery_schemes: ClassVar[tuple[RecoveryScheme, ...]] = (RECOVERY,)
    min_poll_interval: ClassVar[dt.timedelta] = dt.timedelta(minutes=5)
    # What the «Мой Билайн» API (my.beeline.ru/api) tolerates from all our workers together:
    # the national mobile app's JSON API answers a burst with HTTP 429 «Too Many Requests»
    # (lkapi.js L81-92; the reference dialect allows 40 a second per token). No published
    # per-client limit: the values are ours, below that per-token ceiling for the whole IP.
    limits: ClassVar[OperatorLimits] = OperatorLimits(
        concurrency=6, requests_per_s=30.0, burst=30, read_timeout_s=30.0
    )
    # How the wire of each capability is known (reference_provider/DIALECTS.md, Beeline, cites
    # the independent clients): the trusted payment and the chat only from the seed article;
    # the offers' path is proven but their reply assumed.
    provenance: ClassVar[Mapping[str, str]] = {
        "login": "proven",
        Capability.RECOVERY.value: "proven",
        **{
            c.value: "proven"
            for c in (
                Capability.BALANCE,
                Capability.SUBACCOUNTS,
                Capability.TARIFFS,
                Capability.TARIFF_CHANGE,
                Capability.SERVICES,
                Capability.SERVICE_TOGGLE,
                Capability.USAGE,
                Capability.PAYMENTS,
                Capability.REPORTS,
                Capability.PROFILE,
                Capability.SUSPENSION,
                Capability.SUSPEND,
            )
        },
        # No independent client shows these: the seed describes them, the wire is assumed.
        Capability.TRUSTED_PAYMENT.value: "seed",
        Capability.TAKE_TRUSTED_PAYMENT.value: "seed",
        Capability.CHAT.value: "assumed",
        Capability.NEWS.value: "assumed",
    }

    def __init__(self, context: ProviderContext) -> None:
        super().__init__(context)
        self.client = BeelineClient(context.http, context.base_url)

    # -- helpers -----------------------------------------------------------------------
    @staticmethod
    def _token(session: Session) -> str:
        token = session.data.get("token")
        if not isinstance(token, str) or not token:
            raise FlowExpired("beeline: the stored session has no token")
        return token

    @staticmethod
    def _login(session: Session) -> str:
        login = session.data.get("login")
        return login if isinstance(login, str) else ""

    @staticmethod
    def _ctn(account: str) -> str:
        """The number as the API names it. The operator says whether it is one of the login's
        (CTN_NOT_FOUND); here only what cannot be a query value is refused, so a diagnostics
        file with the number masked still replays."""
        if not account or len(account) > 40 or not account.isprintable():
            raise OperationRejected("unknown number", code="account")
        return account

    async def _request(
        self,
        method: str,
        session: Session,
        account: str,
        path: str,
        params: dict[str, str] | None = None,
        body: dict[str, Any] | None = None,
    ) -> Any:
        token = self._token(session)
        payload = await self.client.call(
            method,
            path,
            token=token,
            ctn=self._ctn(account),
            login=self._login(session) or account,
            params=params,
            body=body,
        )
        return self._checked(payload, token)

    async def _get(
        self, session: Session, account: str, path: str, params: dict[str, str] | None = None
    ) -> Any:
        return await self._request("GET", session, account, path, params)

    @staticmethod
    def _checked(payload: Any, token: str) -> Any:
        """Check ``meta``; a temporary-password token or a captcha outside the login means the
        person must log in again."""
        try:
            parsing.check_meta(payload, [token])
        except parsing.PasswordChangeRequired:
            raise InvalidCredentials("beeline: the password must be changed first") from None
        except parsing.CaptchaRequired:
            raise SessionExpired("beeline: the operator asks for a captcha: log in again") from None
        return payload

    def _session(self, login: str, token: str) -> Session:
        return Session(provider=self.id, data={"token": token, "login": login})

    def _remember(self, challenge: Challenge, secrets: dict[str, str]) -> Challenge:
        ttl = max(1.0, (challenge.expires_at - dt.datetime.now(dt.UTC)).total_seconds())
        self.context.flows.put(challenge.flow_id, secrets, ttl=ttl)
        return challenge

    # -- login -------------------------------------------------------------------------
    async def start_login(self, credentials: Credentials) -> Session | Challenge:
        scheme = self.scheme(credentials.scheme)
        login = scheme.identifier(IdentifierKind.PHONE).normalise(credentials.identifier)
        if scheme.id == SCHEME_SMS.id:
            return await self._request_temp_password(login)
        if credentials.secret is None:
            raise InvalidCredentials("beeline: a password is required")
        return await self._authenticate(login, credentials.secret.reveal())

    # -- password recovery: the temporary password's login ----------------------------------
    async def start_recovery(self, request: RecoveryRequest) -> Challenge | RecoveryDone:
        login = PHONE.normalise(request.identifier)
        return await self._request_temp_password(login)

    async def continue_recovery(
        self, challenge: Challenge, answer: ChallengeAnswer
    ) -> Challenge | RecoveryDone:
        result = await self.continue_login(challenge, answer)
        if isinstance(result, Challenge):
            return result
        login = self._login(result)
        if answer.new_password is not None:
            credentials = SCHEME_PASSWORD.build_credentials(login, answer.new_password)
        else:  # the operator did not ask to replace the temporary password
            credentials = SCHEME_SMS.build_credentials(login)
        return RecoveryDone(
            outcome=RecoveryOutcome.PASSWORD_SET,
            channel="sms",
            masked_destination=parsing.mask_phone(login),
            credentials=credentials,
            session=result,
        )

    async def _request_temp_password(self, login: str) -> Challenge:
        """``GET 1.0/passReset?login=&channelType=CTN`` (lkapi.js line 977)."""
        payload = await self.client.call(
            "GET", "1.0/passReset", params={"login": login, "channelType": "CTN"}
        )
        channel, masked = parsing.parse_pass_reset(payload)
        return Challenge(
            kind=ChallengeKind.CODE,
            provider=self.id,
            step=STEP_TEMP_PASSWORD,
            channel="sms",
            masked_destination=masked or parsing.mask_phone(login),
            state={"login": login},
            message=f"Временный пароль отправлен по {channel or 'SMS'}",
        )

    async def _authenticate(
        self, login: str, password: str, captcha: tuple[str, str] | None = None
    ) -> Session | Challenge:
        """``PUT 2.0/auth/auth?login=&userType=Mobile`` with ``{password}`` (lkapi.js 156-162)."""
        body: dict[str, str] = {"password": password}
        if captcha is not None:
            body["captchaId"], body["captchaText"] = captcha
        payload = await self.client.call(
            "PUT",
            "2.0/auth/auth",
            params={"login": login, "userType": "Mobile"},
            body=body,
            secrets=[password],
        )
        try:
            token, temporary = parsing.parse_auth(payload, [password])
        except parsing.CaptchaRequired as demanded:
            return await self._captcha_challenge(login, password, demanded)
        if temporary:
            return self._remember(
                Challenge(
                    kind=ChallengeKind.NEW_PASSWORD,
                    provider=self.id,
                    step=STEP_NEW_PASSWORD,
                    state={"login": login},
                    password_policy=PASSWORD_POLICY,
                    message="Задайте постоянный пароль",
                ),
                {"token": token, "old_password": password},
            )
        return self._session(login, token)

    async def _captcha_challenge(
        self, login: str, password: str, demanded: parsing.CaptchaRequired
    ) -> Challenge:
        response = await self.client.send("GET", demanded.image_path)
        content_type = response.headers.get("content-type", "").split(";")[0].strip()
        if not content_type.startswith("image/") or not response.content:
            raise ParseError("beeline: the captcha image is not an image")
        return self._remember(
            Challenge(
                kind=ChallengeKind.CAPTCHA,
                provider=self.id,
                step=STEP_CAPTCHA,
                image=response.content,
                image_type=content_type,
                state={"login": login, "captcha_id": demanded.captcha_id},
                message=demanded.message or "Введите символы с картинки",
            ),
            {"password": password},
        )

    async def continue_login(
        self, challenge: Challenge, answer: ChallengeAnswer
    ) -> Session | Challenge:
        if challenge.provider != self.id:
            raise FlowExpired("beeline: this step belongs to another operator")
        if challenge.expired:
            raise FlowExpired("beeline: the step timed out")
        login = str(challenge.state.get("login", ""))
        if not re.fullmatch(r"\d{10}", login):
            raise FlowExpired("beeline: the step lost its number")
        if challenge.step == STEP_TEMP_PASSWORD:
            if not answer.text:
                raise InvalidCredentials("beeline: the temporary password is empty")
            return await self._authenticate(login, answer.text.reveal())
        if challenge.step == STEP_CAPTCHA:
            kept = await self.context.flows.take(challenge.flow_id)
            if not answer.text:
                raise InvalidCredentials("beeline: the captcha answer is empty")
            captcha_id = str(challenge.state.get("captcha_id", ""))
            return await self._authenticate(
                login, kept["password"], (captcha_id, answer.text.reveal())
            )
        if challenge.step == STEP_NEW_PASSWORD:
            if not answer.new_password:
                raise InvalidCredentials("beeline: the new password is empty")
            new_password = answer.new_password.reveal()
            if PASSWORD_POLICY.check(new_password):
                # The user can fix it: ask again, keeping what the flow holds.
                return challenge.model_copy(update={"message": "Пароль не подходит под правила"})
            kept = await self.context.flows.take(challenge.flow_id)
            return await self._change_password(login, kept, new_password, challenge)
        raise FlowExpired(f"beeline: unknown step {challenge.step[:30]!r}")

    async def _change_password(
        self, login: str, kept: dict[str, str], new_password: str, challenge: Challenge
    ) -> Session | Challenge:
        """``PUT 1.0/setting/changePassword?login=&newPassword=`` with the temporary token
        (lkapi.js line 986), then a login with the new password."""
        token, old_password = kept["token"], kept["old_password"]
        secrets = [token, old_password, new_password]
        payload = await self.client.call(
            "PUT",
            "1.0/setting/changePassword",
            token=token,
            params={"login": login, "newPassword": new_password},
            secrets=secrets,
        )
        try:
            parsing.check_meta(payload, secrets)
        except OperationRejected as refused:
            # The operator refused the new password (policy): ask again, same flow.
            self.context.flows.put(challenge.flow_id, kept)
            return challenge.model_copy(update={"message": refused.reason[:300]})
        return await self._authenticate(login, new_password)

    async def logout(self, session: Session) -> None:
        """``DELETE 2.0/auth/auth``: the token stops working at once (assumed wire)."""
        token = session.data.get("token")
        if isinstance(token, str) and token:
            payload = await self.client.call("DELETE", "2.0/auth/auth", token=token)
            with contextlib.suppress(InvalidCredentials, SessionExpired, OperationRejected):
                parsing.check_meta(payload, [token])

    async def subaccounts(self, session: Session) -> list[Subaccount]:
        """``1.0/sso/subscribers?login=`` (lkapi.js line 208)."""
        token = self._token(session)
        params = {"login": self._login(session)} if self._login(session) else None
        payload = await self.client.call("GET", "1.0/sso/subscribers", token=token, params=params)
        return parsing.parse_subscribers(self._checked(payload, token))

    # -- polling -----------------------------------------------------------------------
    async def _pay_type(self, session: Session, account: str) -> Literal["PREPAID", "POSTPAID"]:
        return parsing.parse_pay_type(await self._get(session, account, "1.0/info/payType"))

    async def _balance(
        self, session: Session, account: str
    ) -> tuple[Balance, Literal["PREPAID", "POSTPAID"], str | None]:
        """The balance, the pay type and the shared-balance key (numbers of one contract
        sharing its balance report the same key)."""
        with server_clock() as clock:  # the balance is as of the operator's clock
            pay_type = await self._pay_type(session, account)
            path = (
                "1.0/info/prepaidBalance" if pay_type == "PREPAID" else "1.0/info/postpaidBalance"
            )
            payload = await self._get(session, account, path)
        balance = parsing.parse_balance(payload, pay_type, clock.now())
        return balance, pay_type, parsing.parse_shared_balance(payload)

    async def balance(self, session: Session, account: str) -> Balance:
        return (await self._balance(session, account))[0]

    async def poll(self, session: Session, account: str) -> PollResult:
        """The balance, tariff and status; for a prepaid number the trusted payment's state
        (a debt and its due date); the support replies that came while the user was away."""
        balance, pay_type, shared = await self._balance(session, account)
        price_plan = await self._get(session, account, "1.0/info/pricePlan")
        status = await self._get(session, account, "1.0/info/status")
        # AnyBalance's Beeline provider reads the remainders with every balance (lkapi.js 561,
        # 784): as cheap as the rest of the poll.
        usage = await self._usage(session, account, pay_type)
        trusted = None
        if pay_type == "PREPAID":
            with contextlib.suppress(OperationRejected):  # not offered on this number
                trusted = await self.trusted_payment(session, account)
        replies: list[ChatMessage] = []
        with contextlib.suppress(OperationRejected):
            replies = await self.unseen_chat_messages(session, account)
        return parsing.parse_poll(
            balance, price_plan, status, usage.remainders, trusted, replies, shared
        )

    # -- tariffs -----------------------------------------------------------------------
    async def tariffs(self, session: Session, account: str) -> TariffCatalogue:
        current = await self._get(session, account, "1.0/info/pricePlan")
        available = await self._get(session, account, "1.0/info/pricePlanAvailableList")
        return parsing.parse_tariff_catalogue(current, available)

    async def change_tariff(
        self, session: Session, account: str, tariff_id: str
    ) -> TariffChangeResult:
        """``PUT request/changePricePlan?ctn=&pricePlan=`` (ScriptsLoadRunner
        ``api_basket/api_change_pricePlan.c`` lines 23-24); the date from the reply, else
        from the pending plan."""
        payload = await self._request(
            "PUT", session, account, "request/changePricePlan", {"pricePlan": tariff_id}
        )
        _, effective = parsing.parse_request_id(payload)
        current, pending, pending_from = parsing.parse_price_plan(
            await self._get(session, account, "1.0/info/pricePlan")
        )
        if pending is not None and pending.id == tariff_id:
            return TariffChangeResult(
                tariff=pending, effective_date=effective or pending_from or _today()
            )
        if current.id == tariff_id:
            return TariffChangeResult(tariff=current, effective_date=effective or _today())
        raise ParseError("beeline: the tariff change is not shown in pricePlan", payload=payload)

    # -- services ----------------------------------------------------------------------
    async def services(self, session: Session, account: str) -> list[Service]:
        """Services (``1.0/info/serviceList`` + ``serviceAvailableList``), then the paid
        subscriptions (``1.0/info/subscriptions``, lkapi.js line 877) as services that can
        only be switched off."""
        connected = await self._get(session, account, "1.0/info/serviceList")
        available = await self._get(session, account, "1.0/info/serviceAvailableList")
        paid = await self._subscriptions(session, account)
        return [*parsing.parse_services(connected, available), *(s for s, _ in paid)]

    async def _subscriptions(self, session: Session, account: str) -> list[tuple[Service, str]]:
        return parsing.parse_subscriptions(
            await self._get(session, account, "1.0/info/subscriptions")
        )

    async def _remove_subscription(
        self, session: Session, account: str, service_id: str
    ) -> ServiceChangeResult:
        """``GET 1.0/request/subscription/remove?ctn=&subscriptionId=&type=``
        (ScriptsLoadRunner ``m_api_request/SubscriptionRemove.c`` lines 21, 61); the list is
        read first (the removal names the subscription's type) and after."""
        paid = await self._subscriptions(session, account)
        found = next(((s, kind) for s, kind in paid if s.id == service_id), None)
        if found is None:
            raise OperationRejected("beeline: no such subscription on this number")
        service, kind = found
        if not service.can_toggle:
            raise OperationRejected("beeline: this subscription cannot be removed here")
        params = {"subscriptionId": service_id.removeprefix(parsing.SUBSCRIPTION_PREFIX)}
        if kind:
            params["type"] = kind
        payload = await self._request(
            "GET", session, account, "1.0/request/subscription/remove", params
        )
        _, effective = parsing.parse_request_id(payload)
        still = any(s.id == service_id for s, _ in await self._subscriptions(session, account))
        removed = service.model_copy(update={"enabled": still})
        return ServiceChangeResult(
            service=removed, effective_date=None if still else effective or _today()
        )

    async def set_service(
        self, session: Session, account: str, service_id: str, enabled: bool
    ) -> ServiceChangeResult:
        """``PUT 1.0/request/serviceActivate?serviceName=`` or ``GET 1.0/request/
        serviceDeactivate?serviceName=`` (ScriptsLoadRunner ``m_api_request/ServiceActivate.c``
        line 40, ``ServiceDeactivate.c`` line 74): a request id; the state is read back. A
        paid subscription can only be removed."""
        if service_id.startswith(parsing.SUBSCRIPTION_PREFIX):
            if enabled:
                raise OperationRejected(
                    "beeline: a paid subscription is started at its provider, not here"
                )
            return await self._remove_subscription(session, account, service_id)
        if enabled:
            path, method = "1.0/request/serviceActivate", "PUT"
        else:
            path, method = "1.0/request/serviceDeactivate", "GET"
        payload = await self._request(method, session, account, path, {"serviceName": service_id})
        _, effective = parsing.parse_request_id(payload)
        services = await self.services(session, account)
        found = next((s for s in services if s.id == service_id), None)
        if found is None:
            raise ParseError("beeline: the changed service is in neither list", payload=payload)
        if found.enabled != enabled:
            # The request is accepted but not applied yet: say so by its state, not a guess.
            return ServiceChangeResult(service=found, effective_date=effective)
        return ServiceChangeResult(service=found, effective_date=effective or _today())

    # -- usage, payments, reports ----------------------------------------------------------
    async def usage(self, session: Session, account: str) -> Usage:
        """Prepaid: ``1.0/info/accumulators``; postpaid: ``1.0/info/rests`` (lkapi.js 561, 784)."""
        return await self._usage(session, account, await self._pay_type(session, account))

    async def _usage(
        self, session: Session, account: str, pay_type: Literal["PREPAID", "POSTPAID"]
    ) -> Usage:
        if pay_type == "PREPAID":
            payload = await self._get(session, account, "1.0/info/accumulators")
            return Usage(remainders=parsing.parse_accumulators(payload))
        payload = await self._get(session, account, "1.0/info/rests")
        return Usage(remainders=parsing.parse_rests(payload))

    async def payments(
        self, session: Session, account: str, since: dt.date, until: dt.date
    ) -> list[Payment]:
        """``1.0/info/payments/history?ctn=&periodStart=&periodEnd=`` (ScriptsLoadRunner
        ``api_info/PaymentsHistory.c`` line 40)."""
        payload = await self._get(
            session,
            account,
            "1.0/info/payments/history",
            {"periodStart": _date(since), "periodEnd": _date(until)},
        )
        return parsing.parse_payments(payload)

    # -- the voluntary number block ---------------------------------------------------------
    async def suspension(self, session: Session, account: str) -> Suspension:
        """``1.0/info/status``: ``S`` is a block in force; the block asked for and its dates
        come as assumed fields."""
        payload = await self._get(session, account, "1.0/info/status")
        return parsing.parse_block(payload, BLOCK_RULE, BLOCK_MAX_DAYS)

    async def quote_suspension(
        self, session: Session, account: str, start: dt.date, end: dt.date
    ) -> SuspensionQuote:
        """What the block costs: nothing, for up to :data:`BLOCK_MAX_DAYS` days (the terms as
        the reference provider knows them; the API has no quote: assumed)."""
        if end < start:
            raise OperationRejected("the block ends before it starts", code="period")
        if start < _today():
            raise OperationRejected("Дата начала блокировки в прошлом", code="period")
        days = (end - start).days + 1
        if days > BLOCK_MAX_DAYS:
            raise OperationRejected(
                f"Блокировка возможна не более чем на {BLOCK_MAX_DAYS} дней", code="period"
            )
        return SuspensionQuote(
            start=start,
            end=end,
            days=days,
            free_days=days,
            paid_days=0,
            total=Money.rub(0),
            cost_rule=BLOCK_RULE,
        )

    async def suspend(
        self, session: Session, account: str, start: dt.date, end: dt.date
    ) -> Suspension:
        """``GET 1.0/request/suspendRestore?ctn=&block=true`` (ScriptsLoadRunner
        ``m_api_request/api_request_suspendRestore.c`` line 13) with ``actvDate`` (proven in
        the B2B variant) and ``endDate`` (assumed); the block is read back."""
        await self.quote_suspension(session, account, start, end)
        payload = await self._get(
            session,
            account,
            "1.0/request/suspendRestore",
            {"block": "true", "actvDate": _date(start), "endDate": _date(end)},
        )
        parsing.parse_request_id(payload)
        return await self.suspension(session, account)

    async def resume(self, session: Session, account: str) -> Suspension:
        """``GET 1.0/request/suspendRestore?ctn=&block=false`` (ScriptsLoadRunner
        ``api_SubscriberService3/suspendRestore.c`` line 12): the number works again."""
        payload = await self._get(
            session, account, "1.0/request/suspendRestore", {"block": "false"}
        )
        parsing.parse_request_id(payload)
        return await self.suspension(session, account)

    # -- the trusted payment (seed; wire assumed) ------------------------------------------
    async def trusted_payment(self, session: Session, account: str) -> TrustedPayment:
        """``GET 1.0/info/trustPayment?ctn=``: the offer (sums with their fees, the term) and
        what is owed (the debt and its due date). Beeline has no card top-up in this API: the
        cabinet's «Пополнить» without a card is this credit."""
        return parsing.parse_trust_payment(
            await self._get(session, account, "1.0/info/trustPayment")
        )

    async def take_trusted_payment(
        self, session: Session, account: str, amount: Decimal
    ) -> TrustedPaymentResult:
        """``PUT 1.0/request/trustPayment?ctn=&sum=`` (parameters in the query, as every
        proven ``1.0/request/*`` call): the credit now, the debt due in a few days."""
        if not amount.is_finite() or amount <= 0:
            raise OperationRejected("the amount must be positive", code="amount")
        offer = await self.trusted_payment(session, account)
        if not offer.available:
            reason = offer.reason or "Доверительный платёж сейчас недоступен"
            raise OperationRejected(reason, code="trust")
        if offer.max_amount is not None and amount > offer.max_amount.amount:
            raise OperationRejected(f"Не больше {offer.max_amount.amount} ₽", code="trust_limit")
        if offer.min_amount is not None and amount < offer.min_amount.amount:
            raise OperationRejected(f"Не меньше {offer.min_amount.amount} ₽", code="trust_limit")
        payload = await self._request(
            "PUT", session, account, "1.0/request/trustPayment", {"sum": str(amount)}
        )
        parsing.check_meta(payload)
        after = await self.trusted_payment(session, account)
        taken = parsing.parse_trust_taken(payload, amount, after)
        balance = await self.balance(session, account)
        return taken.model_copy(update={"balance": balance.amount})

    async def report(
        self,
        session: Session,
        account: str,
        period_start: dt.date,
        period_end: dt.date,
        fmt: ReportFormat,
    ) -> Report:
        """``request/prepaidDetail?ctn&startDate&endDate&reportType`` -> ``requestId``, then
        ``1.0/request/requestAttachment?requestId=`` (ScriptsLoadRunner
        ``m_api_request/PrepaidDetail.c`` line 45, ``RequestAttachment.c`` line 41)."""
        if period_end < period_start:
            raise OperationRejected("the period ends before it starts", code="period")
        if fmt not in _REPORT_FORMATS:
            raise NotSupported(f"beeline has no {fmt} detail")
        payload = await self._get(
            session,
            account,
            "request/prepaidDetail",
            {
                "startDate": _date(period_start),
                "endDate": _date(period_end),
                "reportType": _REPORT_FORMATS[fmt],
            },
        )
        request_id, _ = parsing.parse_request_id(payload)
        if not request_id:
            raise ParseError("beeline: the detail request has no requestId", payload=payload)
        content, _ = await self.client.download(
            "1.0/request/requestAttachment",
            token=self._token(session),
            ctn=self._ctn(account),
            login=self._login(session) or account,
            params={"requestId": request_id},
        )
        if not content.startswith(_FILE_MAGIC[fmt]):
            raise ParseError(f"beeline: the detail is not a {fmt.value} file", payload=content[:64])
        ext = "pdf" if fmt is ReportFormat.PDF else "xlsx"
        return Report(
            period_start=period_start,
            period_end=period_end,
            format=fmt,
            filename=f"beeline-{account}-{period_start}-{period_end}.{ext}",
            content=content,
        )

    # -- news, profile -------------------------------------------------------------------
    async def news(self, session: Session, account: str) -> list[NewsItem]:
        return parsing.parse_offers(await self._get(session, account, "1.0/info/targetedOffers"))

    async def profile(self, session: Session, account: str) -> Profile:
        """``1.0/sso/contactData?login=`` (lkapi.js line 431), the number being the chosen one."""
        login = self._login(session) or self._ctn(account)
        payload = await self._get(session, account, "1.0/sso/contactData", {"login": login})
        return parsing.parse_contact_data(payload, account)

    # -- chat (assumed wire: the seed's behaviour) ----------------------------------------
    async def chat_topics(self, session: Session, account: str) -> list[ChatTopic]:
        return parsing.parse_chat_topics(await self._get(session, account, "1.0/chat/topics"))

    async def chat_history(
        self, session: Session, account: str, since: dt.datetime | None = None
    ) -> list[ChatMessage]:
        params = {"since": since.isoformat()} if since is not None else None
        payload = await self._get(session, account, "1.0/chat/history", params)
        return parsing.parse_chat_messages(payload)

    async def send_chat_message(
        self, session: Session, account: str, topic_id: str, text: str
    ) -> list[ChatMessage]:
        """Send ``text`` under ``topic_id``; return the bot's instant answer, if any."""
        text = text.strip()
        if not text:
            raise OperationRejected("the message is empty", code="empty")
        payload = await self._request(
            "PUT",
            session,
            account,
            "1.0/chat/message",
            body={"topicId": topic_id, "text": text[:4000]},
        )
        return [m for m in parsing.parse_chat_messages(payload) if m.author is not ChatAuthor.USER]

    async def unseen_chat_messages(self, session: Session, account: str) -> list[ChatMessage]:
        """Replies that arrived while the user was away; fetching marks them seen."""
        return parsing.parse_chat_messages(await self._get(session, account, "1.0/chat/unseen"))


def _today() -> dt.date:
    return dt.datetime.now(MOSCOW_TZ).date()
