"""NetByNet («Нетбайнет»): a contract-number login with a region, on a JSON API.

The login is the contract number (from the contract's title page) and its password (from its
last page), in one of six regions (the region is asked for password recovery; the login wire
has none). The API may demand a captcha (``resultCode`` 8 or ``captcha: true``; the picture at
``v2/captcha-challenge?accountNumber=&time=``) and a password change (``needChangePassword``):
both become challenges. A poll reads the balance and its state, its details (bonus balance,
next payment and its date) and the internet account (tariff) at once. The wire of each call and
how it is known: ``reference_provider/DIALECTS.md``, NetByNet.
"""

from __future__ import annotations

import asyncio
import datetime as dt
import hashlib
import time
from collections.abc import Callable, Mapping
from dataclasses import dataclass, field
from decimal import Decimal
from typing import Any, ClassVar, TypeVar

from aggregator import (
    MOSCOW_TZ,
    Capability,
    Challenge,
    ChallengeAnswer,
    ChallengeKind,
    Credentials,
    ExtraField,
    FlowExpired,
    IdentifierKind,
    IdentifierSpec,
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
)
from aggregator.core.flows import utcnow
from aggregator.core.models import (
    AutopaySettings,
    Balance,
    ChatMessage,
    ChatTopic,
    NewsItem,
    Payment,
    PollResult,
    Profile,
    Service,
    ServiceChangeResult,
    Subaccount,
    Suspension,
    SuspensionQuote,
    TariffCatalogue,
    TariffChangeResult,
    TopUpResult,
    maintenance_notices,
)
from aggregator.transport import server_clock

from . import parsing
from .client import ApiReply, NetbynetClient, session_cookies

__all__ = ["LOGIN_SCHEME", "REGIONS", "NetbynetProvider"]

T = TypeVar("T")

#: The six regions of the cabinet (value, label). The region is chosen before the login.
REGIONS: tuple[tuple[str, str], ...] = (
    ("moscow", "Москва и Московская область"),
    ("voronezh", "Воронеж"),
    ("belgorod", "Белгород"),
    ("kursk", "Курск"),
    ("lipetsk", "Липецк"),
    ("tambov", "Тамбов"),
)

PASSWORD_POLICY = PasswordPolicy(
    min_length=6,
    max_length=64,
    description_ru="От 6 до 64 символов",
    description_en="6 to 64 characters",
)

LOGIN_SCHEME = LoginScheme(
    id="contract",
    title_ru="Номер договора и пароль",
    title_en="Contract number and password",
    identifiers=[
        IdentifierSpec(
            kind=IdentifierKind.CONTRACT_NUMBER,
            label_ru="Номер договора",
            label_en="Contract number",
            pattern=r"\d{6,12}",
            hint_ru="Номер договора с титульной страницы: от 6 до 12 цифр",
            hint_en="The contract number from its title page: 6 to 12 digits",
            example="1100123456",
        )
    ],
    secret=SecretKind.PASSWORD,
    extra_fields=[
        ExtraField(
            name="region",
            label_ru="Регион",
            label_en="Region",
            kind="choice",
            choices=list(REGIONS),
            hint_ru="Регион, в котором заключён договор",
            hint_en="The region where the contract was signed",
        )
    ],
    password_policy=PASSWORD_POLICY,
    silent_relogin=True,
)


REGION_FIELD = LOGIN_SCHEME.extra_fields[0]

# "Забыли пароль?" as the seed describes it: the region, the phone given in the contract and
# the account number (лицевой счёт, on the profile); the instructions with a code come by SMS
# or e-mail; the code and a new password finish it (DIALECTS.md: v1/password-recovery, seed).
RECOVERY = RecoveryScheme(
    id="phone_account",
    title_ru="Восстановление пароля",
    title_en="Password recovery",
    identifiers=[
        IdentifierSpec(
            kind=IdentifierKind.PHONE,
            label_ru="Телефон, указанный в договоре",
            label_en="The phone given in the contract",
            pattern=r"\d{10}",
            hint_ru="Например +7 903 123-45-67",
            hint_en="E.g. +7 903 123-45-67",
            example="+7 903 123-45-67",
        )
    ],
    extra_fields=[
        REGION_FIELD,
        ExtraField(
            name="account_number",
            label_ru="Номер лицевого счёта",
            label_en="Account number",
            kind="digits",
            pattern=r"\d{5,12}",
            hint_ru="Лицевой счёт (не номер договора): в квитанции и в профиле кабинета",
            hint_en="The account number (not the contract's): on the bill and the profile",
        ),
        ExtraField(
            name="contract",
            label_ru="Номер договора",
            label_en="Contract number",
            kind="digits",
            pattern=r"\d{6,12}",
            required=False,
            hint_ru="Чтобы сразу войти с новым паролем",
            hint_en="To log in with the new password right away",
        ),
    ],
    channels=["sms", "email"],
    password_policy=PASSWORD_POLICY,
    login_scheme=LOGIN_SCHEME.id,
)
STEP_RECOVERY_CODE = "recovery_code"
STEP_RECOVERY_PASSWORD = "recovery_new_password"


@dataclass
class _PendingRecovery:
    """A recovery between its code and its new password (only in memory)."""

    request: RecoveryRequest
    request_id: str = field(repr=False)
    channel: str = "sms"
    destination: str | None = None
    code: str = field(default="", repr=False)


def device_id(credentials: Credentials) -> str:
    """A stable id of "this device" for a contract, sent as ``X-Device-Id``.

    The cabinet remembers devices it has seen log in successfully and asks for a captcha on
    new ones; a stable id lets a silent re-login skip the captcha the person solved once.
    """
    raw = f"aggregator-netbynet|{credentials.identifier}"
    return hashlib.sha256(raw.encode()).hexdigest()[:32]


#: How long a captcha or a password change waits for the person.
FLOW_TTL_S = 600.0


@dataclass
class _PendingLogin:
    """A login waiting for a person (kept only in memory, in the FlowRegistry)."""

    credentials: Credentials = field(repr=False)
    cookies: dict[str, str] = field(default_factory=dict, repr=False)


class NetbynetProvider(Provider):
    id = "netbynet"
    name = "Нетбайнет"
    name_en = "NetByNet"
    default_base_url = "http://127.0.0.1:8081/netbynet"
    login_schemes = (LOGIN_SCHEME,)
    recovery_schemes = (RECOVERY,)
    # What the NetByNet (Wifire) cabinet API tolerates from all our workers together: a
    # regional operator's JSON API, its login guarded by a captcha after failures. No
    # published limit: the values are ours, modest for a regional operator's API.
    limits: ClassVar[OperatorLimits] = OperatorLimits(
        concurrency=4, requests_per_s=15.0, burst=15, read_timeout_s=30.0
    )
    # How the wire of each capability is known (reference_provider/DIALECTS.md, NetByNet, cites
    # AnyBalance and MobileBalance): the login, balance and profile are proven; the rest is
    # built as the seed article describes, its wire assumed.
    provenance: ClassVar[Mapping[str, str]] = {
        **{c.value: "assumed" for c in Capability},
        "login": "proven",
        Capability.BALANCE.value: "proven",
        Capability.SUBACCOUNTS.value: "proven",
        Capability.PROFILE.value: "proven",
        Capability.RECOVERY.value: "seed",
    }

    def __init__(self, context: ProviderContext) -> None:
        super().__init__(context)
        self.client = NetbynetClient(context.http, context.base_url)

    # -- plumbing ---------------------------------------------------------------------------
    async def _get(self, session: Session, path: str, **params: str) -> Any:
        reply = await self.client.call(
            session_cookies(session.data), "GET", path, params=params, secrets=session.secrets()
        )
        return reply.payload

    async def _post(self, session: Session, path: str, body: dict[str, Any]) -> Any:
        reply = await self.client.call(
            session_cookies(session.data), "POST", path, body=body, secrets=session.secrets()
        )
        return reply.payload

    @staticmethod
    def _parse(session: Session, parse: Callable[..., T], *payloads: Any) -> T:
        try:
            return parse(*payloads)
        except ParseError as exc:
            raise ParseError(exc.message, payload=exc.payload, secrets=session.secrets()) from None

    # -- login ------------------------------------------------------------------------------
    async def start_login(self, credentials: Credentials) -> Session | Challenge:
        return await self._login(_PendingLogin(credentials), captcha_code="")

    async def continue_login(
        self, challenge: Challenge, answer: ChallengeAnswer
    ) -> Session | Challenge:
        pending = await self.context.flows.take(challenge.flow_id)
        if not isinstance(pending, _PendingLogin):
            raise FlowExpired("this login step is no longer open")
        if challenge.kind is ChallengeKind.CAPTCHA:
            code = answer.text.reveal().strip() if answer.text else ""
            return await self._login(pending, captcha_code=code)
        if challenge.kind is ChallengeKind.NEW_PASSWORD:
            return await self._change_password(pending, answer)
        raise NotSupported("netbynet has no such login step")

    async def _login(self, pending: _PendingLogin, captcha_code: str) -> Session | Challenge:
        credentials = pending.credentials
        secrets = credentials.secrets()
        # The body the site sends (AnyBalance main.js lines 95, 102; MobileBalance
        # WiFire_API_inet1.js lines 45-51); the region is the person's, not the wire's.
        body = {
            "login": credentials.identifier,
            "password": secrets[0] if secrets else "",
            "captchaCode": captcha_code,
            "save": False,
            "accountNumber": credentials.identifier,
            "deviceInfo": {"loginType": "SITE"},
        }
        device = device_id(credentials)
        if not captcha_code:
            # What the login page asks first (main.js line 94); its answer is not needed.
            way = await self.client.call(
                pending.cookies,
                "GET",
                "v1/get-way",
                params={"accountNumber": credentials.identifier},
                device=device,
            )
            parsing.check_result(way.payload)
        reply = await self.client.call(
            pending.cookies,
            "POST",
            "v3/login",
            body=body,
            secrets=secrets,
            device=device,
            cookies_wanted=True,
        )
        try:
            login = parsing.parse_login(reply.payload)
        except ParseError as exc:
            raise ParseError(exc.message, payload=exc.payload, secrets=secrets) from None
        if login.outcome == "captcha":
            cookies = {**pending.cookies, **reply.cookies}
            image, picture = await self.client.image(
                cookies,
                "v2/captcha-challenge",
                {"accountNumber": credentials.identifier, "time": str(int(time.time() * 1000))},
                device,
            )
            flow = _PendingLogin(credentials, {**cookies, **picture.cookies})
            challenge = Challenge(
                kind=ChallengeKind.CAPTCHA,
                provider=self.id,
                step="captcha",
                image=image,
                image_type="image/png",
                expires_at=utcnow() + dt.timedelta(seconds=FLOW_TTL_S),
                message=login.message or "Введите код с картинки",
            )
            self.context.flows.put(challenge.flow_id, flow, ttl=FLOW_TTL_S)
            return challenge
        parsing.raise_login_failure(login)
        session = self._session(reply)
        if login.need_change_password:
            flow = _PendingLogin(credentials, session_cookies(session.data))
            challenge = Challenge(
                kind=ChallengeKind.NEW_PASSWORD,
                provider=self.id,
                step="new_password",
                password_policy=PASSWORD_POLICY,
                expires_at=utcnow() + dt.timedelta(seconds=FLOW_TTL_S),
                message=login.message or "Необходимо сменить пароль",
            )
            self.context.flows.put(challenge.flow_id, flow, ttl=FLOW_TTL_S)
            return challenge
        return session

    def _session(self, reply: ApiReply) -> Session:
        cookies = {k: v for k, v in reply.cookies.items() if v}
        if not cookies:
            raise ParseError("netbynet: the login set no session cookie", payload=reply.payload)
        return Session(provider=self.id, data={"cookies": cookies})

    async def _change_password(
        self, pending: _PendingLogin, answer: ChallengeAnswer
    ) -> Session | Challenge:
        new = answer.new_password.reveal() if answer.new_password else ""
        problems = PASSWORD_POLICY.check(new)
        old = pending.credentials.secrets()
        if problems:
            raise OperationRejected("Пароль не подходит: " + ", ".join(problems), code="password")
        reply = await self.client.call(
            pending.cookies,
            "POST",
            "v1/change-password",
            body={"oldPassword": old[0] if old else "", "newPassword": new},
            secrets=[*old, new],
            cookies_wanted=True,
        )
        try:
            parsing.check_result(reply.payload)
        except ParseError as exc:
            raise ParseError(exc.message, payload=exc.payload, secrets=[*old, new]) from None
        return Session(provider=self.id, data={"cookies": {**pending.cookies, **reply.cookies}})

    async def logout(self, session: Session) -> None:
        """``GET /logout`` (MobileBalance WiFire_API_inet1.js line 175), best effort."""
        try:
            await self.client.logout(session_cookies(session.data))
        except Exception:  # logging out is best effort
            return None

    # -- password recovery ---------------------------------------------------------------
    async def start_recovery(self, request: RecoveryRequest) -> Challenge | RecoveryDone:
        """``POST v1/password-recovery {region, phone, accountNumber, channel}``: the
        instructions (with a code) go by SMS or e-mail."""
        reply = await self.client.call(
            None,
            "POST",
            "v1/password-recovery",
            body={
                "region": request.extras.get("region", ""),
                "phone": request.identifier,
                "accountNumber": request.extras.get("account_number", ""),
                "channel": request.channel,
            },
        )
        data = parsing.check_result(reply.payload)
        request_id = data.get("requestId")
        if not isinstance(request_id, str | int) or not str(request_id):
            raise ParseError("netbynet: the recovery reply lacks its request", reply.payload)
        destination = data.get("destination")
        pending = _PendingRecovery(
            request,
            str(request_id),
            channel=request.channel,
            destination=destination if isinstance(destination, str) else None,
        )
        return self._recovery_code(pending, str(data.get("resultText") or ""))

    def _recovery_code(self, pending: _PendingRecovery, message: str) -> Challenge:
        challenge = Challenge(
            kind=ChallengeKind.CODE,
            provider=self.id,
            step=STEP_RECOVERY_CODE,
            channel=pending.channel,
            masked_destination=pending.destination,
            expires_at=utcnow() + dt.timedelta(seconds=FLOW_TTL_S),
            message=message or "Введите код из инструкции",
        )
        self.context.flows.put(challenge.flow_id, pending, ttl=FLOW_TTL_S)
        return challenge

    async def continue_recovery(
        self, challenge: Challenge, answer: ChallengeAnswer
    ) -> Challenge | RecoveryDone:
        if challenge.provider != self.id or challenge.expired:
            raise FlowExpired("netbynet: the recovery step timed out; start again")
        pending = await self.context.flows.take(challenge.flow_id)
        if not isinstance(pending, _PendingRecovery):
            raise FlowExpired("netbynet: this recovery is no longer open")
        if challenge.step == STEP_RECOVERY_CODE:
            pending.code = answer.text.reveal().strip() if answer.text else ""
            step = Challenge(
                kind=ChallengeKind.NEW_PASSWORD,
                provider=self.id,
                step=STEP_RECOVERY_PASSWORD,
                password_policy=PASSWORD_POLICY,
                expires_at=utcnow() + dt.timedelta(seconds=FLOW_TTL_S),
                message="Придумайте новый пароль",
            )
            self.context.flows.put(step.flow_id, pending, ttl=FLOW_TTL_S)
            return step
        if challenge.step != STEP_RECOVERY_PASSWORD:
            raise NotSupported(f"netbynet has no recovery step {challenge.step[:30]!r}")
        new = answer.new_password.reveal() if answer.new_password else ""
        if PASSWORD_POLICY.check(new):
            raise OperationRejected(PASSWORD_POLICY.description_ru, code="password")
        reply = await self.client.call(
            None,
            "POST",
            "v1/password-recovery/complete",
            body={"requestId": pending.request_id, "code": pending.code, "newPassword": new},
            secrets=[pending.code, new],
        )
        try:
            data = parsing.check_result(reply.payload)
        except OperationRejected as exc:
            if exc.code == "wrong_code":
                return self._recovery_code(pending, exc.message)
            raise
        contract = pending.request.extras.get("contract")
        credentials = None
        if contract:
            credentials = LOGIN_SCHEME.build_credentials(
                contract, new, extras={"region": pending.request.extras.get("region")}
            )
        return RecoveryDone(
            outcome=RecoveryOutcome.PASSWORD_SET,
            channel="email" if pending.channel == "email" else "sms",
            masked_destination=pending.destination,
            message=str(data.get("resultText") or ""),
            credentials=credentials,
        )

    # -- polling ----------------------------------------------------------------------------
    async def balance(self, session: Session, account: str) -> Balance:
        """``v1/get-balance`` + ``v2/get-balance-details`` (WiFire_API_inet1.js 82, 121)."""
        with server_clock() as clock:  # the balance is as of the operator's clock
            balance, details = await asyncio.gather(
                self._get(session, "v1/get-balance"), self._get(session, "v2/get-balance-details")
            )
        return self._parse(session, parsing.parse_balance, balance, details, clock.now())

    async def poll(self, session: Session, account: str) -> PollResult:
        """The balance, its details and ``v2/get-internet-accounts-details`` (tariff); the
        state from get-balance's ``statusCode`` (WiFire_API_inet1.js lines 93-117)."""
        with server_clock() as clock:
            balance, details, accounts, promotions = await asyncio.gather(
                self._get(session, "v1/get-balance"),
                self._get(session, "v2/get-balance-details"),
                self._get(session, "v2/get-internet-accounts-details"),
                self._get(session, "v1/get-promotions"),
            )
        reading = self._parse(session, parsing.parse_balance, balance, details, clock.now())
        internet = self._parse(session, parsing.parse_internet_accounts, accounts)[0]
        state = self._parse(session, parsing.parse_state, balance) or internet.state
        # the cabinet's news feed carries the maintenance works (type MAINTENANCE): each a notice
        news = self._parse(session, parsing.parse_promotions, promotions)
        return PollResult(
            balance=reading,
            tariff_name=internet.tariff.name,
            state=state,
            suspension_end=internet.block_end,
            notices=maintenance_notices(news, reading.as_of.astimezone(MOSCOW_TZ).date()),
        )

    async def subaccounts(self, session: Session) -> list[Subaccount]:
        profile = await self.profile(session, "")
        # One internet account per contract; the contract number names it (it is what the
        # person logs in with), the account number is shown on the profile.
        number = profile.contract_number or profile.account_number or ""
        return [Subaccount(id=number, number=number, label=profile.address or "", kind="internet")]

    async def profile(self, session: Session, account: str) -> Profile:
        payload = await self._get(session, "v2/get-profile-info")
        return self._parse(session, parsing.parse_profile, payload)

    # -- tariffs and services -------------------------------------------------------------
    async def tariffs(self, session: Session, account: str) -> TariffCatalogue:
        return self._parse(
            session, parsing.parse_tariffs, await self._get(session, "v1/get-tariffs")
        )

    async def change_tariff(
        self, session: Session, account: str, tariff_id: str
    ) -> TariffChangeResult | Challenge:
        payload = await self._post(session, "v1/change-tariff", {"tariffId": tariff_id})
        return self._parse(session, parsing.parse_tariff_change, payload)

    async def services(self, session: Session, account: str) -> list[Service]:
        payload = await self._get(session, "v1/get-services")
        return self._parse(session, parsing.parse_services, payload)

    async def set_service(
        self, session: Session, account: str, service_id: str, enabled: bool
    ) -> ServiceChangeResult | Challenge:
        payload = await self._post(
            session, "v1/change-service", {"serviceId": service_id, "enabled": enabled}
        )
        services = self._parse(session, parsing.parse_services, payload)
        changed = next((s for s in services if s.id == service_id), None)
        if changed is None or changed.enabled != enabled:
            raise ParseError("netbynet: the service change is not shown", payload=payload)
        return ServiceChangeResult(service=changed, effective_date=_today())

    # -- voluntary block --------------------------------------------------------------------
    async def suspension(self, session: Session, account: str) -> Suspension:
        payload = await self._get(session, "v1/voluntary-block")
        return self._parse(session, parsing.parse_block, payload)

    async def quote_suspension(
        self, session: Session, account: str, start: dt.date, end: dt.date
    ) -> SuspensionQuote:
        payload = await self._post(
            session,
            "v1/voluntary-block/calculate",
            {"dateFrom": start.isoformat(), "dateTo": end.isoformat()},
        )
        return self._parse(session, parsing.parse_block_quote, payload)

    async def suspend(
        self, session: Session, account: str, start: dt.date, end: dt.date
    ) -> Suspension | Challenge:
        """Send the block request (the operator approves it later; the state says REQUESTED)."""
        payload = await self._post(
            session,
            "v1/voluntary-block",
            {"dateFrom": start.isoformat(), "dateTo": end.isoformat(), "confirm": True},
        )
        return self._parse(session, parsing.parse_block, payload)

    async def resume(self, session: Session, account: str) -> Suspension:
        payload = await self._post(session, "v1/voluntary-block/cancel", {})
        return self._parse(session, parsing.parse_block, payload)

    # -- support requests -------------------------------------------------------------------
    async def chat_topics(self, session: Session, account: str) -> list[ChatTopic]:
        payload = await self._get(session, "v1/request-topics")
        return self._parse(session, parsing.parse_topics, payload)

    async def chat_history(
        self, session: Session, account: str, since: dt.datetime | None = None
    ) -> list[ChatMessage]:
        payload = await self._get(session, "v1/requests")
        messages = self._parse(session, parsing.parse_chat, payload)
        if since is not None:
            messages = [m for m in messages if m.sent_at > since]
        return messages

    async def send_chat_message(
        self, session: Session, account: str, topic_id: str, text: str
    ) -> list[ChatMessage]:
        if not text.strip():
            raise OperationRejected("Сообщение пустое", code="empty")
        payload = await self._post(session, "v1/requests", {"topic": topic_id, "text": text})
        return self._parse(session, parsing.parse_request_sent, payload)

    # -- payments and autopay ---------------------------------------------------------------
    async def payments(
        self, session: Session, account: str, since: dt.date, until: dt.date
    ) -> list[Payment]:
        window = {"dateFrom": since.isoformat(), "dateTo": until.isoformat()}
        payments, charges = await asyncio.gather(
            self._get(session, "v1/get-payments", **window),
            self._get(session, "v1/get-charges", **window),
        )
        return self._parse(session, parsing.parse_payments, payments, charges)

    async def top_up(
        self, session: Session, account: str, amount: Decimal
    ) -> TopUpResult | Challenge:
        if amount <= 0:
            raise OperationRejected("Сумма платежа должна быть больше нуля", code="amount")
        payload = await self._post(session, "v1/pay", {"amount": float(amount)})
        return self._parse(session, parsing.parse_top_up, payload)

    async def autopay(self, session: Session, account: str) -> AutopaySettings:
        return self._parse(session, parsing.parse_autopay, await self._get(session, "v1/autopay"))

    async def set_autopay(
        self, session: Session, account: str, settings: AutopaySettings
    ) -> AutopaySettings | Challenge:
        body: dict[str, Any] = {"enabled": settings.enabled}
        if settings.threshold is not None:
            body["threshold"] = float(settings.threshold.amount)
        if settings.amount is not None:
            body["amount"] = float(settings.amount.amount)
        payload = await self._post(session, "v1/autopay", body)
        return self._parse(session, parsing.parse_autopay, payload)

    # -- promotions -------------------------------------------------------------------------
    async def news(self, session: Session, account: str) -> list[NewsItem]:
        """The cabinet's notices (a block request approved, ...) first, then promotions."""
        promotions, notices = await asyncio.gather(
            self._get(session, "v1/get-promotions"), self._get(session, "v1/notifications")
        )
        return [
            *self._parse(session, parsing.parse_notifications, notices),
            *self._parse(session, parsing.parse_promotions, promotions),
        ]


def _today() -> dt.date:
    return dt.datetime.now(MOSCOW_TZ).date()
