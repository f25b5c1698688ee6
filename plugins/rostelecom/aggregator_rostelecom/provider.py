"""The Rostelecom provider: the passport in a real browser, the cabinet on a cookie session.

Rostelecom serves two hosts (see :attr:`RostelecomProvider.hosts`): the passport
``b2c.passport.rt.ru`` (Keycloak realm ``b2c``, client ``lk_b2c``) and the cabinet ``lk.rt.ru``.
Login (:mod:`.browser_login`) drives the passport in the host's shared Chromium: the anti-robot
page, the first screen, the identifier tab, a password or a one-time code, a captcha relayed to
the person; the passport sends the browser to ``lk.rt.ru/sso-auth/``, which opens the cabinet's
cookie session, and the cookies go to httpx (:mod:`.client`). SSO (Госуслуги, Т-Банк, VK,
Одноклассники, Mail.ru) is a round trip through the person's own browser: the passport's URL
with ``kc_idp_hint`` out, the callback with ``code`` and ``state`` back, handed to the cabinet's
``sso-auth`` page in the shared Chromium, which opens the cookie session.

Polling reads ``client-api`` as AnyBalance and mbplugin do: ``getAccounts``,
``getAccountBalanceV2`` (kopecks, maybe split over ``subAccounts``), ``getServiceTariffName``,
``getServiceInfo`` (states, operator blocks included), ``getServiceTariff`` (package
remainders), ``getFplStatus`` (the «Бонус» programme), ``getProfile``. A lost session raises
:class:`SessionExpired`; the host logs in again from the stored password (one browser login),
never more often than the session is lost.

Financial operations (tariff change, a paid service, a payment) answer with a one-time SMS code:
the method returns a ``Challenge`` with ``operation`` set and :meth:`confirm` finishes it.
"""

from __future__ import annotations

import datetime as dt
import hashlib
import re
import secrets
import time
import uuid
from collections import OrderedDict
from collections.abc import Coroutine, Mapping
from decimal import Decimal
from typing import Any, ClassVar
from urllib.parse import parse_qs, urlencode, urlsplit

from aggregator import (
    Challenge,
    ChallengeAnswer,
    ChallengeKind,
    Credentials,
    FlowExpired,
    Host,
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
    Secret,
    SecretKind,
    Session,
    SessionExpired,
    SsoProvider,
    Unavailable,
    from_minor,
    to_minor,
)
from aggregator.core.models import (
    AutopaySettings,
    Balance,
    BonusPoints,
    ChatMessage,
    ChatTopic,
    NewsItem,
    OperationResult,
    PackageRemainder,
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
    Usage,
)
from aggregator.transport import server_clock

from . import parsing
from .browser_login import (
    CAPTCHA_TTL_S,
    STEP_CAPTCHA,
    STEP_CODE,
    LiveLogin,
    LoginDone,
    hand_over,
    open_login,
    request_code,
    submit_code,
    submit_password,
)
from .browser_recovery import (
    STEP_RESET_CAPTCHA,
    STEP_RESET_CODE,
    STEP_RESET_PASSWORD,
    LiveRecovery,
    new_password_challenge,
    open_reset,
    submit_new_password,
    submit_request,
)
from .client import LkClient

__all__ = ["RostelecomProvider"]

CLIENT_ID = "lk_b2c"
REALM = "/auth/realms/b2c"

PASSWORD_POLICY = PasswordPolicy(
    min_length=8,
    max_length=20,
    require_upper=True,
    require_lower=True,
    require_digit=True,
    latin_only=True,
    description_ru="От 8 до 20 символов: заглавные и строчные латинские буквы и цифры",
    description_en="8 to 20 characters: upper- and lower-case Latin letters and digits",
)

PHONE = IdentifierSpec(
    kind=IdentifierKind.PHONE,
    label_ru="Телефон",
    label_en="Phone",
    pattern=r"\d{10}",
    hint_ru="Мобильный номер: 10 цифр, +7 или 8 в начале можно не набирать",
    hint_en="A mobile number: 10 digits, +7 or 8 in front is optional",
    example="+7 903 123-45-67",
)
EMAIL = IdentifierSpec(
    kind=IdentifierKind.EMAIL,
    label_ru="Электронная почта",
    label_en="E-mail",
    example="ivan@example.ru",
)
IDENTIFIERS = [
    PHONE,
    EMAIL,
    IdentifierSpec(
        kind=IdentifierKind.LOGIN,
        label_ru="Логин",
        label_en="Login",
        pattern=r"[A-Za-z0-9][A-Za-z0-9._\-]{2,49}",
        hint_ru="Логин, указанный при регистрации",
        hint_en="The login chosen at registration",
        example="ivanov",
    ),
    IdentifierSpec(
        kind=IdentifierKind.ACCOUNT_NUMBER,
        label_ru="Лицевой счёт",
        label_en="Account number",
        pattern=r"\d{12}",
        hint_ru="12 цифр лицевого счёта",
        hint_en="The 12 digits of the account number",
        example="123456789012",
    ),
]

SCHEME_PASSWORD = LoginScheme(
    id="password",
    title_ru="Постоянный пароль",
    title_en="Password",
    identifiers=IDENTIFIERS,
    secret=SecretKind.PASSWORD,
    password_policy=PASSWORD_POLICY,
)
# The passport's first screen sends a one-time code to the phone or the e-mail typed there.
SCHEME_SMS = LoginScheme(
    id="sms_code",
    title_ru="Временный код по SMS",
    title_en="One-time code by SMS",
    identifiers=[PHONE],
    secret=SecretKind.SMS_CODE,
    silent_relogin=False,
)
SCHEME_EMAIL = LoginScheme(
    id="email_code",
    title_ru="Временный код на почту",
    title_en="One-time code by e-mail",
    identifiers=[EMAIL],
    secret=SecretKind.EMAIL_CODE,
    silent_relogin=False,
)
SCHEME_SSO = LoginScheme(
    id="sso",
    title_ru="Войти через Госуслуги, Т-Банк, VK, Одноклассники или Mail.ru",
    title_en="Log in with Gosuslugi, T-Bank, VK, Odnoklassniki or Mail.ru",
    secret=SecretKind.SSO,
    sso_providers=[
        SsoProvider.GOSUSLUGI,
        SsoProvider.TBANK,
        SsoProvider.VK,
        SsoProvider.ODNOKLASSNIKI,
        SsoProvider.MAILRU,
    ],
    silent_relogin=False,
)

# "Забыли пароль?" on the passport: the phone, e-mail or login, where the code goes, a
# captcha, the code, a new password (the seed; DIALECTS.md: reset-credentials).
RECOVERY = RecoveryScheme(
    id="reset",
    title_ru="Восстановление пароля Ростелеком ID",
    title_en="Rostelecom ID password recovery",
    identifiers=IDENTIFIERS[:3],
    channels=["sms", "email"],
    password_policy=PASSWORD_POLICY,
    login_scheme="password",
    description_ru="Телефон, почта или логин; символы с картинки; код из SMS или письма; "
    "новый пароль.",
    description_en="Phone, e-mail or login; the picture's characters; the code from the SMS "
    "or e-mail; a new password.",
)

STEP_SSO = "sso"
STEP_CONFIRM = "confirm"
#: Where a command-line SSO login comes back when the host has no callback of its own: a
#: loopback address nobody listens on; the person copies it from the address bar.
CLI_SSO_CALLBACK = "http://127.0.0.1:9/rostelecom-sso"
#: How long a getAccounts reply serves the polls of the same ID.
ACCOUNTS_TTL_S = 300.0
MAX_REMEMBERED = 10_000

_FORMATS = {ReportFormat.PDF: "PDF", ReportFormat.XLSX: "XLS"}
_MAGIC = {ReportFormat.PDF: b"%PDF-", ReportFormat.XLSX: b"PK\x03\x04"}


def login_key(credentials: Credentials) -> str:
    """Who logs in (not the secret): the key of the remembered passport cookies."""
    raw = f"{credentials.identifier_kind}:{credentials.identifier}".lower()
    return hashlib.sha256(raw.encode()).hexdigest()[:32]


async def _close(live: Any) -> None:
    if isinstance(live, LiveLogin | LiveRecovery):
        await live.close()


class RostelecomProvider(Provider):
    """Ростелеком: the passport in a browser, the cabinet on a cookie session."""

    id: ClassVar[str] = "rostelecom"
    name: ClassVar[str] = "Ростелеком"
    name_en: ClassVar[str] = "Rostelecom"
    default_base_url: ClassVar[str] = "http://127.0.0.1:8081/rostelecom"
    hosts: ClassVar[tuple[Host, ...]] = (
        Host("passport", "https://b2c.passport.rt.ru", "passport", "Ростелеком ID: the login"),
        Host("lk", "https://lk.rt.ru", "lk", "the cabinet and its client-api"),
    )
    login_schemes: ClassVar[tuple[LoginScheme, ...]] = (
        SCHEME_PASSWORD,
        SCHEME_SMS,
        SCHEME_EMAIL,
        SCHEME_SSO,
    )
    recovery_schemes: ClassVar[tuple[RecoveryScheme, ...]] = (RECOVERY,)
    # What lk.rt.ru and its SSO (b2c.passport.rt.ru) tolerate from all our workers together:
    # a national operator whose SSO answers bursts with a captcha. No published limit: the
    # values are ours (a few at once, a rate a busy household's browser tabs would reach).
    limits: ClassVar[OperatorLimits] = OperatorLimits(
        concurrency=4, requests_per_s=15.0, burst=15, read_timeout_s=30.0
    )
    #: How each capability's wire format is known (reference_provider/DIALECTS.md section 9
    #: cites each endpoint). The chat follows the seed article, its wire is assumed.
    provenance: ClassVar[Mapping[str, str]] = {
        "login": "proven",
        "balance": "proven",
        "subaccounts": "proven",
        "profile": "proven",
        "usage": "proven",
        "tariffs": "assumed",
        "change_tariff": "assumed",
        "services": "assumed",
        "set_service": "assumed",
        "suspension": "assumed",
        "suspend": "assumed",
        "chat_history": "assumed",
        "payments": "assumed",
        "top_up": "assumed",
        "autopay": "assumed",
        "report": "assumed",
        "news": "assumed",
        "start_recovery": "seed",
    }

    def __init__(self, context: ProviderContext) -> None:
        super().__init__(context)
        self.passport_url = self.host_url("passport")
        self.lk_url = self.host_url("lk")
        self.client = LkClient(context.http, self.lk_url)
        self.browser_logins = 0  # how many times the passport was driven (benchmarks, tests)
        self._devices: OrderedDict[str, list[dict[str, Any]]] = OrderedDict()
        self._accounts: dict[str, tuple[float, list[parsing.AccountInfo]]] = {}

    # -- login -------------------------------------------------------------------------
    def auth_url(self, redirect_uri: str, state: str, idp_hint: str | None = None) -> str:
        query = {
            "response_type": "code",
            "scope": "openid",
            "client_id": CLIENT_ID,
            "redirect_uri": redirect_uri,
            "state": state,
        }
        if idp_hint:
            query["kc_idp_hint"] = idp_hint
        return f"{self.passport_url}{REALM}/protocol/openid-connect/auth?{urlencode(query)}"

    def _sso_auth_uri(self) -> str:
        """The cabinet's registered redirect page (as the real cabinet sends it)."""
        return f"{self.lk_url}/sso-auth/?{urlencode({'redirect': self.lk_url + '/'})}"

    async def start_login(self, credentials: Credentials) -> Session | Challenge:
        scheme = self.scheme(credentials.scheme)
        if scheme.secret is SecretKind.SSO:
            if credentials.sso_provider is None:
                raise InvalidCredentials("rostelecom: choose an identity provider")
            return self._sso_challenge(credentials.sso_provider)
        if self.context.browser is None:
            raise Unavailable("rostelecom needs a browser for its passport and none is configured")
        kind = credentials.identifier_kind or scheme.identifiers[0].kind
        username = scheme.identifier(kind).normalise(credentials.identifier)
        if kind is IdentifierKind.PHONE:
            username = "+7" + username[-10:]
        if scheme.secret is SecretKind.PASSWORD and credentials.secret is None:
            raise InvalidCredentials("rostelecom: a password is required")
        await self.context.flows.sweep()
        key = login_key(credentials)
        self.browser_logins += 1
        state = _state()
        live = await open_login(
            self.context.browser,
            self.auth_url(self._sso_auth_uri(), state),
            credentials,
            username,
            lk_url=self.lk_url,
            passport_url=self.passport_url,
            device=self._devices.get(key, []),
        )
        if scheme.secret is SecretKind.PASSWORD:
            return await self._advance(live, submit_password(live, self.id, kind, None))
        return await self._advance(live, request_code(live, self.id, None))

    async def _advance(
        self, live: LiveLogin, step: Coroutine[Any, Any, LoginDone | Challenge]
    ) -> Session | Challenge:
        try:
            outcome = await step
        except BaseException:
            await live.close()
            raise
        if isinstance(outcome, LoginDone):
            await live.close()
            key = login_key(live.credentials)
            self._devices[key] = outcome.device
            self._devices.move_to_end(key)
            while len(self._devices) > MAX_REMEMBERED:
                self._devices.popitem(last=False)
            return self._session(outcome.cookies)
        self.context.flows.put(outcome.flow_id, live, ttl=CAPTCHA_TTL_S, on_expire=_close)
        return outcome

    # -- password recovery ---------------------------------------------------------------
    async def start_recovery(self, request: RecoveryRequest) -> Challenge | RecoveryDone:
        """«Забыл пароль» under the passport's password form: the reset form's captcha first."""
        if self.context.browser is None:
            raise Unavailable("rostelecom needs a browser for its passport and none is configured")
        scheme = self.recovery_scheme(request.scheme)
        username = scheme.identifier(request.identifier_kind).normalise(request.identifier)
        if request.identifier_kind is IdentifierKind.PHONE:
            username = "+7" + username[-10:]
        credentials = Credentials(
            scheme=scheme.login_scheme,
            identifier_kind=request.identifier_kind,
            identifier=request.identifier,
        )
        await self.context.flows.sweep()
        self.browser_logins += 1
        live = await open_login(
            self.context.browser,
            self.auth_url(self._sso_auth_uri(), _state()),
            credentials,
            username,
            lk_url=self.lk_url,
            passport_url=self.passport_url,
            device=self._devices.get(login_key(credentials), []),
        )
        recovery = LiveRecovery(live, request.identifier_kind, request.channel)
        try:
            await open_reset(live)
            challenge = await submit_request(recovery, self.id, username, None)
        except BaseException:
            await recovery.close()
            raise
        return self._park(recovery, challenge)

    def _park(self, recovery: LiveRecovery, challenge: Challenge) -> Challenge:
        self.context.flows.put(challenge.flow_id, recovery, ttl=CAPTCHA_TTL_S, on_expire=_close)
        return challenge

    async def continue_recovery(
        self, challenge: Challenge, answer: ChallengeAnswer
    ) -> Challenge | RecoveryDone:
        if challenge.provider != self.id or challenge.expired:
            raise FlowExpired("rostelecom: the recovery step timed out; start again")
        if challenge.step not in (STEP_RESET_CAPTCHA, STEP_RESET_CODE, STEP_RESET_PASSWORD):
            raise NotSupported(f"rostelecom has no recovery step {challenge.step[:30]!r}")
        recovery = await self.context.flows.take(challenge.flow_id)
        if not isinstance(recovery, LiveRecovery):
            raise FlowExpired("rostelecom: this recovery is no longer open")
        try:
            if challenge.step == STEP_RESET_CAPTCHA:
                text = answer.text.reveal() if answer.text else ""
                step = await submit_request(recovery, self.id, recovery.live.username, text)
                return self._park(recovery, step)
            if challenge.step == STEP_RESET_CODE:
                recovery.code = answer.text.reveal().strip() if answer.text else ""
                if not recovery.code:
                    raise OperationRejected("Введите код из сообщения", code="code")
                return self._park(recovery, new_password_challenge(self.id, PASSWORD_POLICY))
            new = answer.new_password.reveal() if answer.new_password else ""
            if PASSWORD_POLICY.check(new):
                raise OperationRejected(PASSWORD_POLICY.description_ru, code="password")
            outcome = await submit_new_password(recovery, self.id, new)
            if isinstance(outcome, Challenge):
                return self._park(recovery, outcome)
        except BaseException:
            await recovery.close()
            raise
        await recovery.close()
        credentials = recovery.live.credentials.model_copy(update={"secret": Secret(new)})
        return RecoveryDone(
            outcome=RecoveryOutcome.PASSWORD_SET,
            channel="email" if recovery.channel == "email" else "sms",
            masked_destination=recovery.masked_destination,
            message=outcome,
            credentials=credentials,
        )

    def _session(self, cookies: dict[str, str]) -> Session:
        return Session(
            provider=self.id,
            data={"cookies": cookies, "page_uuid": str(uuid.uuid4()).upper()},
        )

    def _sso_challenge(self, provider: SsoProvider) -> Challenge:
        configured = self.context.settings.get("sso_redirect_uri")
        redirect_uri = (
            configured if isinstance(configured, str) and configured else CLI_SSO_CALLBACK
        )
        state = _state()
        return Challenge(
            kind=ChallengeKind.SSO_REDIRECT,
            provider=self.id,
            step=STEP_SSO,
            url=self.auth_url(redirect_uri, state, idp_hint=provider.value),
            sso_provider=provider,
            state={"state": state, "redirect_uri": redirect_uri},
            message="Войдите у поставщика удостоверений и вернитесь",
        )

    @staticmethod
    def _callback_query(url: str, flow: dict[str, Any]) -> dict[str, str]:
        """The callback's query after checking its address and ``state``."""
        expected = urlsplit(str(flow["redirect_uri"]))
        got = urlsplit(url.strip())
        if (got.scheme, got.netloc, got.path.rstrip("/")) != (
            expected.scheme,
            expected.netloc,
            expected.path.rstrip("/"),
        ):
            raise InvalidCredentials("rostelecom: this is not the address the login returned to")
        query = {k: v[0] for k, v in parse_qs(got.query).items() if v}
        if not secrets.compare_digest(query.get("state", ""), str(flow["state"])):
            raise FlowExpired("rostelecom: the callback does not belong to this login (state)")
        if "error" in query:
            raise InvalidCredentials(
                "rostelecom: the login was refused "
                f"({query.get('error_description', query['error'])[:80]})"
            )
        if not query.get("code"):
            raise ParseError("rostelecom: the callback has no code")
        return query

    async def continue_login(
        self, challenge: Challenge, answer: ChallengeAnswer
    ) -> Session | Challenge:
        if challenge.provider != self.id:
            raise FlowExpired("rostelecom: this step belongs to another operator")
        if challenge.expired:
            raise FlowExpired("rostelecom: the step timed out")
        if challenge.step == STEP_SSO:
            if not answer.callback_url:
                raise FlowExpired("rostelecom: no callback address was given")
            query = self._callback_query(answer.callback_url, dict(challenge.state))
            if self.context.browser is None:
                raise Unavailable("rostelecom needs a browser for its cabinet and none is set")
            self.browser_logins += 1
            done = await hand_over(
                self.context.browser,
                f"{self._sso_auth_uri()}&"
                + urlencode({"state": query["state"], "code": query["code"]}),
                lk_url=self.lk_url,
                passport_url=self.passport_url,
            )
            if done is None:
                raise FlowExpired("rostelecom: the login link expired; log in again")
            return self._session(done.cookies)
        if challenge.step not in (STEP_CAPTCHA, STEP_CODE):
            raise NotSupported(f"rostelecom has no login step {challenge.step[:30]!r}")
        live = await self.context.flows.take(challenge.flow_id)
        if not isinstance(live, LiveLogin):
            await _close(live)
            raise FlowExpired("rostelecom: this login step is no longer open")
        text = answer.text.reveal().strip() if answer.text else ""
        if not text:
            self.context.flows.put(challenge.flow_id, live, ttl=CAPTCHA_TTL_S, on_expire=_close)
            raise InvalidCredentials(
                "rostelecom: "
                + (
                    "the code is empty"
                    if challenge.step == STEP_CODE
                    else "the captcha answer is empty"
                )
            )
        if challenge.step == STEP_CODE:
            return await self._advance(live, submit_code(live, self.id, text))
        if live.mode == "otp":
            return await self._advance(live, request_code(live, self.id, text))
        kind = live.credentials.identifier_kind or IdentifierKind.PHONE
        return await self._advance(live, submit_password(live, self.id, kind, text))

    # -- the session -----------------------------------------------------------------------
    @staticmethod
    def _cookies(session: Session) -> dict[str, str]:
        cookies = session.data.get("cookies")
        if not isinstance(cookies, dict) or not cookies:
            raise SessionExpired("rostelecom: the stored session holds no cookies")
        return {str(k): str(v) for k, v in cookies.items()}

    def refreshed_session(self, session: Session) -> Session | None:
        if session.data.pop("refreshed", False):
            return session
        return None

    async def _call(
        self,
        session: Session,
        method: str,
        body: dict[str, Any],
        *,
        page: str = "main",
        raw: bool = False,
    ) -> Any:
        """One client-api call on the cookie session. ``raw`` returns an ``isError`` answer
        instead of raising (the caller reads it), but a lost session still raises."""
        cookies = self._cookies(session)
        page_uuid = session.data.get("page_uuid")
        payload, renewed = await self.client.api(
            method,
            body,
            cookies,
            page=page,
            page_uuid=page_uuid if isinstance(page_uuid, str) else None,
        )
        if renewed and any(cookies.get(k) != v for k, v in renewed.items()):
            cookies.update(renewed)
            session.data["cookies"] = {k: v for k, v in cookies.items() if v}
            session.data["refreshed"] = True
        secrets_ = list(cookies.values())
        if not raw:
            return parsing.check_api(payload, secrets_)
        if isinstance(payload, dict) and (
            payload.get("isSessionLost") is True
            or str(payload.get("errorCode", "")).upper() in ("SESSION_LOST", "SESSION_EXPIRED")
        ):
            raise SessionExpired("rostelecom: the session is lost")
        return payload

    async def check_session(self, session: Session) -> bool:
        """``checkSession``: whether the cabinet still knows this cookie session."""
        try:
            payload = await self._call(session, "checkSession", {}, page="auto-attach")
        except SessionExpired:
            return False
        return payload.get("isSessionLost") is False

    async def _account_infos(
        self, session: Session, fresh: bool = False
    ) -> list[parsing.AccountInfo]:
        """``getAccounts``, shared for a few minutes by the polls of one ID."""
        key = hashlib.sha256(repr(sorted(self._cookies(session).items())).encode()).hexdigest()
        now = time.monotonic()
        cached = self._accounts.get(key)
        if cached is not None and not fresh and now - cached[0] < ACCOUNTS_TTL_S:
            return cached[1]
        infos = parsing.parse_accounts(await self._call(session, "getAccounts", {}))
        if len(self._accounts) > MAX_REMEMBERED:
            self._accounts.clear()
        self._accounts[key] = (now, infos)
        return infos

    async def _info(self, session: Session, account: str) -> parsing.AccountInfo:
        self._account(account)
        for fresh in (False, True):
            for info in await self._account_infos(session, fresh=fresh):
                if info.subaccount.id == account:
                    return info
        raise OperationRejected("Лицевой счёт не найден в кабинете", code="account")

    @staticmethod
    def _account(account: str) -> str:
        if not re.fullmatch(r"[A-Za-z0-9_\-]{1,40}", account or ""):
            raise OperationRejected("unknown account", code="account")
        return account

    async def subaccounts(self, session: Session) -> list[Subaccount]:
        return [i.subaccount for i in await self._account_infos(session, fresh=True)]

    # -- polling ---------------------------------------------------------------------------
    async def bonus_points(self, session: Session) -> parsing.BonusStatus:
        """The «Бонус» programme (``getFplStatus``): points and level, None outside it."""
        return parsing.parse_fpl_status(await self._call(session, "getFplStatus", {}, raw=True))

    async def balance(self, session: Session, account: str) -> Balance:
        with server_clock() as clock:  # the balance is as of the operator's clock
            payload = await self._call(
                session,
                "getAccountBalanceV2",
                {"accountId": self._account(account)},
                page="account",
            )
        bonus = await self.bonus_points(session)
        points = BonusPoints(points=bonus.points) if bonus.points is not None else None
        return parsing.parse_balance(payload, clock.now(), bonus=points)

    async def poll(self, session: Session, account: str) -> PollResult:
        info = await self._info(session, account)
        balance = await self.balance(session, account)
        ids = [line.service_id for line in info.services]
        names: dict[str, str] = {}
        states = []
        if ids:
            names = parsing.parse_tariff_names(
                await self._call(
                    session,
                    "getServiceTariffName",
                    {"servicesId": [_num(i) for i in ids]},
                    page="service",
                )
            )
            for service_id in ids:
                states.append(
                    parsing.parse_service_info(
                        await self._call(session, "getServiceInfo", {"serviceId": _num(service_id)})
                    )
                )
        state, end = parsing.account_state(states)
        tariff = ", ".join(dict.fromkeys(names[i] for i in ids if i in names)) or None
        # Package remainders only where a mobile service holds packages: one call each.
        mobile = any(line.kind == "mobile" for line in info.services)
        return PollResult(
            balance=balance,
            tariff_name=tariff,
            state=state,
            suspension_end=end,
            remainders=(await self.usage(session, account)).remainders if mobile else None,
        )

    async def usage(self, session: Session, account: str) -> Usage:
        """Package remainders of the account's mobile services (``getServiceTariff``)."""
        info = await self._info(session, account)
        remainders: list[PackageRemainder] = []
        for line in info.services:
            if line.kind == "mobile":
                remainders += parsing.parse_service_tariff(
                    await self._call(
                        session,
                        "getServiceTariff",
                        {"serviceId": _num(line.service_id)},
                        page="mvno",
                    )
                )
        return Usage(remainders=remainders)

    async def profile(self, session: Session, account: str) -> Profile:
        info = await self._info(session, account)
        payload = await self._call(session, "getProfile", {}, page="auto-attach")
        return parsing.parse_profile(payload, account_number=info.subaccount.number)

    # -- the online chat (the seed describes it; the wire is assumed) -------------------------
    async def chat_topics(self, session: Session, account: str) -> list[ChatTopic]:
        return parsing.parse_chat_topics(
            await self._call(session, "getChatTopics", {}, page="chat")
        )

    async def chat_history(
        self, session: Session, account: str, since: dt.datetime | None = None
    ) -> list[ChatMessage]:
        body: dict[str, Any] = {"accountId": self._account(account)}
        if since is not None:
            body["since"] = since.isoformat()
        return parsing.parse_chat(await self._call(session, "getChatHistory", body, page="chat"))

    async def send_chat_message(
        self, session: Session, account: str, topic_id: str, text: str
    ) -> list[ChatMessage]:
        text = text.strip()
        if not text or len(text) > 2000:
            raise OperationRejected("Сообщение: от 1 до 2000 символов", code="text")
        body = {"accountId": self._account(account), "topicId": topic_id, "text": text}
        return parsing.parse_chat(await self._call(session, "sendChatMessage", body, page="chat"))

    async def logout(self, session: Session) -> None:
        return None

    # -- operations confirmed by SMS ---------------------------------------------------------
    def _confirm_challenge(
        self, request: parsing.ConfirmRequest, operation: str, account: str, **extra: str
    ) -> Challenge:
        return Challenge(
            kind=ChallengeKind.CODE,
            provider=self.id,
            step=STEP_CONFIRM,
            operation=operation,
            channel="sms",
            masked_destination=request.masked_destination or None,
            code_length=request.code_length,
            state={"confirm_id": request.confirm_id, "account": account, **extra},
            message="Подтвердите операцию кодом из SMS",
        )

    async def confirm(
        self, session: Session, challenge: Challenge, answer: ChallengeAnswer
    ) -> OperationResult | Challenge:
        if challenge.provider != self.id or challenge.step != STEP_CONFIRM:
            raise FlowExpired("rostelecom: this is not a Rostelecom confirmation")
        if challenge.expired:
            raise FlowExpired("rostelecom: the confirmation timed out")
        if not answer.text:
            raise OperationRejected("Введите код из SMS", code="empty_code")
        confirm_id = str(challenge.state.get("confirm_id", ""))
        payload = await self._call(
            session,
            "confirmOperation",
            {"confirmId": confirm_id, "code": answer.text.reveal().strip()},
            raw=True,
        )
        done, message, effective, left = parsing.parse_confirm_result(payload)
        if not done:
            return challenge.model_copy(
                update={"message": f"{message or 'Неверный код'} (осталось попыток: {left})"}
            )
        return OperationResult(
            operation=challenge.operation or "operation",
            message=message,
            effective_date=effective,
            details={k: str(v)[:500] for k, v in challenge.state.items() if k != "confirm_id"},
        )

    # -- tariffs -----------------------------------------------------------------------------
    async def tariffs(self, session: Session, account: str) -> TariffCatalogue:
        body = {"accountId": self._account(account)}
        return parsing.parse_tariffs(await self._call(session, "getAvailableTariffs", body))

    async def change_tariff(
        self, session: Session, account: str, tariff_id: str
    ) -> TariffChangeResult | Challenge:
        payload = await self._call(
            session, "changeTariff", {"accountId": self._account(account), "tariffId": tariff_id}
        )
        request = parsing.parse_confirm_request(payload)
        if request is not None:
            return self._confirm_challenge(request, "change_tariff", account, tariff_id=tariff_id)
        catalogue = await self.tariffs(session, account)
        _, effective = parsing.parse_operation(payload)
        if catalogue.pending is None or effective is None:
            raise ParseError("rostelecom: a tariff change without its date", payload=payload)
        return TariffChangeResult(tariff=catalogue.pending, effective_date=effective)

    # -- services ------------------------------------------------------------------------------
    async def services(self, session: Session, account: str) -> list[Service]:
        payload = await self._call(
            session, "getServiceOptions", {"accountId": self._account(account)}
        )
        return parsing.parse_options(payload)

    async def set_service(
        self, session: Session, account: str, service_id: str, enabled: bool
    ) -> ServiceChangeResult | Challenge:
        payload = await self._call(
            session,
            "changeOption",
            {"accountId": self._account(account), "optionId": service_id, "enabled": enabled},
        )
        request = parsing.parse_confirm_request(payload)
        if request is not None:
            operation = "enable_paid_service" if enabled else "disable_service"
            return self._confirm_challenge(request, operation, account, service_id=service_id)
        _, effective = parsing.parse_operation(payload)
        if not isinstance(payload.get("option"), dict):
            raise ParseError("rostelecom: an option change without the option", payload=payload)
        return ServiceChangeResult(
            service=parsing.parse_option(payload["option"]), effective_date=effective
        )

    # -- voluntary block -----------------------------------------------------------------------
    async def suspension(self, session: Session, account: str) -> Suspension:
        payload = await self._call(
            session, "getVoluntaryBlock", {"accountId": self._account(account)}
        )
        return parsing.parse_block(payload)

    async def quote_suspension(
        self, session: Session, account: str, start: dt.date, end: dt.date
    ) -> SuspensionQuote:
        payload = await self._call(
            session,
            "getVoluntaryBlockCost",
            {
                "accountId": self._account(account),
                "startDate": start.isoformat(),
                "endDate": end.isoformat(),
            },
        )
        return parsing.parse_block_quote(payload)

    async def suspend(
        self, session: Session, account: str, start: dt.date, end: dt.date
    ) -> Suspension:
        if end < start:
            raise OperationRejected("Дата окончания раньше даты начала", code="period")
        payload = await self._call(
            session,
            "blockServices",
            {
                "accountId": self._account(account),
                "startDate": start.isoformat(),
                "endDate": end.isoformat(),
            },
        )
        return parsing.parse_block(payload)

    async def resume(self, session: Session, account: str) -> Suspension:
        payload = await self._call(
            session, "unblockServices", {"accountId": self._account(account)}
        )
        return parsing.parse_block(payload)

    # -- payments ----------------------------------------------------------------------------
    async def payments(
        self, session: Session, account: str, since: dt.date, until: dt.date
    ) -> list[Payment]:
        payload = await self._call(
            session,
            "getPaymentsHistory",
            {
                "accountId": self._account(account),
                "dateFrom": since.isoformat(),
                "dateTo": until.isoformat(),
            },
        )
        return parsing.parse_payments(payload)

    @staticmethod
    def _to_kopecks(amount: Decimal) -> int:
        if not amount.is_finite() or amount <= 0:
            raise OperationRejected("Сумма должна быть больше нуля", code="amount")
        kopecks = to_minor(amount)  # the kit's one conversion to minor units
        if from_minor(kopecks) != amount:
            raise OperationRejected("Сумма указана точнее копейки", code="amount")
        return kopecks

    async def top_up(
        self, session: Session, account: str, amount: Decimal
    ) -> TopUpResult | Challenge:
        kopecks = self._to_kopecks(amount)
        payload = await self._call(
            session, "createPayment", {"accountId": self._account(account), "amount": kopecks}
        )
        request = parsing.parse_confirm_request(payload)
        if request is not None:
            return self._confirm_challenge(request, "top_up", account, amount=str(amount))
        raise ParseError("rostelecom: a payment that needs no confirmation", payload=payload)

    async def autopay(self, session: Session, account: str) -> AutopaySettings:
        payload = await self._call(session, "getAutopay", {"accountId": self._account(account)})
        return parsing.parse_autopay(payload)

    async def set_autopay(
        self, session: Session, account: str, settings: AutopaySettings
    ) -> AutopaySettings:
        body: dict[str, Any] = {"accountId": self._account(account), "enabled": settings.enabled}
        for key, money in (("threshold", settings.threshold), ("amount", settings.amount)):
            if money is not None:
                body[key] = self._to_kopecks(money.amount) if money.amount > 0 else 0
        payload = await self._call(session, "setAutopay", body)
        return parsing.parse_autopay(payload)

    # -- reports, profile, news ------------------------------------------------------------------
    async def report(
        self,
        session: Session,
        account: str,
        period_start: dt.date,
        period_end: dt.date,
        fmt: ReportFormat,
    ) -> Report:
        if period_end < period_start:
            raise OperationRejected("Дата окончания раньше даты начала", code="period")
        payload = await self._call(
            session,
            "orderDetail",
            {
                "accountId": self._account(account),
                "dateFrom": period_start.isoformat(),
                "dateTo": period_end.isoformat(),
                "format": _FORMATS[fmt],
            },
        )
        report_id = parsing.parse_report_order(payload)
        cookies = self._cookies(session)
        response = await self.client.download(report_id, cookies)
        content_type = response.headers.get("content-type", "").split(";")[0].strip()
        if response.status_code == 401 or content_type == "application/json":
            payload = parsing.check_api(
                response.json() if response.content else {}, list(cookies.values())
            )
            raise ParseError("rostelecom: a JSON answer where a file was expected", payload=payload)
        if response.status_code != 200 or not response.content.startswith(_MAGIC[fmt]):
            raise ParseError(
                f"rostelecom: the detail is not a {fmt.value} file", payload=response.content[:64]
            )
        ext = "pdf" if fmt is ReportFormat.PDF else "xlsx"
        return Report(
            period_start=period_start,
            period_end=period_end,
            format=fmt,
            filename=f"rostelecom-{account}-{period_start}-{period_end}.{ext}",
            content=response.content,
        )

    async def news(self, session: Session, account: str) -> list[NewsItem]:
        return parsing.parse_promotions(await self._call(session, "getPromotions", {}))

    # -- notification delivery (no contract capability: a plugin extra) ---------------------------
    async def notification_settings(self, session: Session) -> dict[str, bool]:
        """«Доставка уведомлений»: which channels (sms, push, email) are on."""
        return parsing.parse_notifications(await self._call(session, "getNotificationSettings", {}))

    async def set_notification_settings(
        self, session: Session, channels: dict[str, bool]
    ) -> dict[str, bool]:
        body = {"channels": {k.upper(): bool(v) for k, v in channels.items()}}
        return parsing.parse_notifications(
            await self._call(session, "setNotificationSettings", body)
        )


def _state() -> str:
    """The ``state`` the cabinet sends to the passport: a JSON object with a fresh UUID."""
    return '{"uuid":"' + str(uuid.uuid4()).upper() + '"}'


def _num(service_id: str) -> int | str:
    """A serviceId as the cabinet sent it: a number when it is one."""
    return int(service_id) if service_id.isdigit() else service_id
