"""The Rostelecom provider: an SSO passport, four identifiers, SMS-confirmed operations.

Login goes through the passport, an OpenID Connect server (realm ``b2c``, client ``lk_b2c``)::

    GET  .../openid-connect/auth?client_id=lk_b2c&redirect_uri=R&state=S   -> the login page
    POST the login form (tab_type LOGIN|PHONE|EMAIL|LS, username, password)
         -> 302 R?code=..&state=S             (or the page again: error, captcha)
    or POST the code request (channel sms|email) -> the code page -> POST code -> 302 R?code=..
    POST .../openid-connect/token (authorization_code) -> access and refresh tokens
    SSO: the user's browser opens the auth URL with ``kc_idp_hint`` (Госуслуги, Т-Банк, VK,
         Одноклассники, Mail.ru), logs in at the identity provider, and comes back to R with
         ``code`` and ``state``; ``continue_login(callback_url=...)`` checks ``state``, exchanges.

The access token expires; the refresh token renews it without a person (``refreshed_session``
hands the renewed session back to the poller). Every personal account under the ID is a
subaccount; ``account`` is its ``accountId``.

Financial operations (tariff change, a paid service, a payment) answer with a one-time SMS code:
the method returns a ``Challenge`` with ``operation`` set and :meth:`confirm` finishes it.
"""

from __future__ import annotations

import datetime as dt
import re
import secrets
from decimal import Decimal
from typing import Any, ClassVar
from urllib.parse import parse_qs, urlsplit

from aggregator import (
    Challenge,
    ChallengeAnswer,
    ChallengeKind,
    Credentials,
    FlowExpired,
    IdentifierKind,
    IdentifierSpec,
    InvalidCredentials,
    LoginScheme,
    OperationRejected,
    ParseError,
    PasswordPolicy,
    Provider,
    ProviderContext,
    SecretKind,
    Session,
    SessionExpired,
    SsoProvider,
)
from aggregator.core.models import (
    AutopaySettings,
    Balance,
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
)
from aggregator.transport import server_clock

from . import parsing
from .client import RostelecomClient

__all__ = ["RostelecomProvider"]

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

IDENTIFIERS = [
    IdentifierSpec(
        kind=IdentifierKind.PHONE,
        label_ru="Телефон",
        label_en="Phone",
        pattern=r"\d{10}",
        hint_ru="Мобильный номер, например +7 903 123-45-67",
        hint_en="A mobile number, e.g. +7 903 123-45-67",
        example="+7 903 123-45-67",
    ),
    IdentifierSpec(
        kind=IdentifierKind.EMAIL,
        label_ru="Электронная почта",
        label_en="E-mail",
        example="ivan@example.ru",
    ),
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

TAB_TYPE = {
    IdentifierKind.PHONE: "PHONE",
    IdentifierKind.EMAIL: "EMAIL",
    IdentifierKind.LOGIN: "LOGIN",
    IdentifierKind.ACCOUNT_NUMBER: "LS",
}

SCHEME_PASSWORD = LoginScheme(
    id="password",
    title_ru="Постоянный пароль",
    title_en="Password",
    identifiers=IDENTIFIERS,
    secret=SecretKind.PASSWORD,
    password_policy=PASSWORD_POLICY,
)
SCHEME_SMS = LoginScheme(
    id="sms_code",
    title_ru="Временный код по SMS",
    title_en="One-time code by SMS",
    identifiers=IDENTIFIERS,
    secret=SecretKind.SMS_CODE,
    silent_relogin=False,
)
SCHEME_EMAIL = LoginScheme(
    id="email_code",
    title_ru="Временный код на почту",
    title_en="One-time code by e-mail",
    identifiers=IDENTIFIERS,
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

STEP_CAPTCHA = "captcha"
STEP_CODE = "code"
STEP_SSO = "sso"
STEP_CONFIRM = "confirm"

_FORMATS = {ReportFormat.PDF: "PDF", ReportFormat.XLSX: "XLS"}
_MAGIC = {ReportFormat.PDF: b"%PDF-", ReportFormat.XLSX: b"PK\x03\x04"}
_REFRESH_MARGIN_S = 30


class RostelecomProvider(Provider):
    """Ростелеком: an SSO passport, four identifiers, SMS-confirmed operations."""

    id: ClassVar[str] = "rostelecom"
    name: ClassVar[str] = "Ростелеком"
    name_en: ClassVar[str] = "Rostelecom"
    default_base_url: ClassVar[str] = "http://127.0.0.1:8081/rostelecom"
    login_schemes: ClassVar[tuple[LoginScheme, ...]] = (
        SCHEME_PASSWORD,
        SCHEME_SMS,
        SCHEME_EMAIL,
        SCHEME_SSO,
    )

    def __init__(self, context: ProviderContext) -> None:
        super().__init__(context)
        self.client = RostelecomClient(context.http, context.base_url)

    # -- login -------------------------------------------------------------------------
    def _redirect_uri(self, sso: bool) -> str:
        """Where the passport sends the code. For SSO the dashboard may set its own callback
        (``ProviderContext.settings["sso_redirect_uri"]``, a loopback URL for the reference
        provider); the plugin itself never follows the redirect."""
        if sso:
            configured = self.context.settings.get("sso_redirect_uri")
            if isinstance(configured, str) and configured:
                return configured
        return self.client.default_redirect_uri

    def _remember(self, challenge: Challenge, kept: dict[str, Any]) -> Challenge:
        ttl = max(1.0, (challenge.expires_at - dt.datetime.now(dt.UTC)).total_seconds())
        self.context.flows.put(challenge.flow_id, kept, ttl=ttl)
        return challenge

    async def start_login(self, credentials: Credentials) -> Session | Challenge:
        scheme = self.scheme(credentials.scheme)
        if scheme.secret is SecretKind.SSO:
            if credentials.sso_provider is None:
                raise InvalidCredentials("rostelecom: choose an identity provider")
            return self._sso_challenge(credentials.sso_provider)
        kind = credentials.identifier_kind or IdentifierKind.PHONE
        username = scheme.identifier(kind).normalise(credentials.identifier)
        redirect_uri = self._redirect_uri(sso=False)
        state = secrets.token_urlsafe(16)
        url = self.client.authorize_url(redirect_uri, state)
        response = await self.client.page(url)
        if response.status_code != 200:
            raise ParseError(
                f"rostelecom: the passport answered {response.status_code} for its login page",
                payload=response.text[:2000],
            )
        page = parsing.parse_login_page(response.text, str(response.url))
        flow: dict[str, Any] = {
            "tab_type": TAB_TYPE[kind],
            "username": username,
            "redirect_uri": redirect_uri,
            "state": state,
        }
        if scheme.secret is SecretKind.PASSWORD:
            if credentials.secret is None:
                raise InvalidCredentials("rostelecom: a password is required")
            flow["password"] = credentials.secret.reveal()
            flow["next"] = "password"
        else:
            flow["channel"] = "email" if scheme.secret is SecretKind.EMAIL_CODE else "sms"
            flow["next"] = "otp_request"
        if page.captcha_id is not None:
            return await self._captcha_challenge(page, flow)
        return await self._submit(page, flow, captcha_answer=None)

    async def _submit(
        self, page: parsing.LoginPage, flow: dict[str, Any], captcha_answer: str | None
    ) -> Session | Challenge:
        """Post the password form or the code request from ``page``."""
        fields = {"tab_type": flow["tab_type"], "username": flow["username"]}
        if captcha_answer is not None and page.captcha_id is not None:
            fields["captchaId"] = page.captcha_id
            fields["captcha"] = captcha_answer
        if flow["next"] == "password":
            fields["password"] = flow["password"]
            response = await self.client.post_form(page.password_action, {**page.hidden, **fields})
            return await self._after_form(response, flow)
        if page.otp_action is None:
            raise ParseError("rostelecom: the login page offers no one-time code")
        fields["channel"] = flow["channel"]
        response = await self.client.post_form(page.otp_action, {**page.otp_hidden, **fields})
        return await self._after_form(response, flow)

    async def _after_form(self, response: Any, flow: dict[str, Any]) -> Session | Challenge:
        """What a posted form led to: the code (302), the code page, or the login page again."""
        secrets_ = [v for k, v in flow.items() if k in ("password",) and isinstance(v, str)]
        if response.status_code in (301, 302, 303, 307):
            return await self._from_redirect(response.headers.get("location", ""), flow)
        if response.status_code not in (200, 400, 401, 403):
            raise ParseError(
                f"rostelecom: the passport answered {response.status_code}",
                payload=response.text[:2000],
                secrets=secrets_,
            )
        html, url = response.text, str(response.url)
        if parsing.is_otp_page(html):
            otp = parsing.parse_otp_page(html, url)
            return self._code_challenge(otp, flow)
        if parsing.is_login_page(html):
            page = parsing.parse_login_page(html, url)
            if page.captcha_id is not None:
                return await self._captcha_challenge(page, flow)
            raise parsing.login_error(page.error_code, page.error_text)
        if response.status_code == 400 and parsing.is_message_page(html):
            raise FlowExpired("rostelecom: the passport's login step expired; start again")
        raise ParseError(
            "rostelecom: the passport answered a page it never shows",
            payload=html[:2000],
            secrets=secrets_,
        )

    async def _from_redirect(self, location: str, flow: dict[str, Any]) -> Session:
        query = self._callback_query(location, flow)
        return await self._exchange(query, flow["redirect_uri"])

    @staticmethod
    def _callback_query(url: str, flow: dict[str, Any]) -> dict[str, str]:
        """The callback's query after checking its address and ``state``."""
        expected = urlsplit(str(flow["redirect_uri"]))
        got = urlsplit(url)
        if (got.scheme, got.netloc, got.path.rstrip("/")) != (
            expected.scheme,
            expected.netloc,
            expected.path.rstrip("/"),
        ):
            raise ParseError("rostelecom: the passport redirected somewhere unexpected")
        query = {k: v[0] for k, v in parse_qs(got.query).items() if v}
        if not secrets.compare_digest(query.get("state", ""), str(flow["state"])):
            raise FlowExpired("rostelecom: the callback does not belong to this login (state)")
        if "error" in query:
            raise InvalidCredentials(f"rostelecom: the login was refused ({query['error'][:40]})")
        if not query.get("code"):
            raise ParseError("rostelecom: the callback has no code")
        return query

    async def _exchange(self, query: dict[str, str], redirect_uri: str) -> Session:
        code = query["code"]
        payload = await self.client.token(
            {"grant_type": "authorization_code", "code": code, "redirect_uri": redirect_uri},
            secrets=[code],
        )
        try:
            data = parsing.parse_token(payload, [code])
        except SessionExpired:
            raise FlowExpired("rostelecom: the authorization code expired; log in again") from None
        return Session(
            provider=self.id,
            data=data,
            expires_at=None,
        )

    async def _captcha_challenge(self, page: parsing.LoginPage, flow: dict[str, Any]) -> Challenge:
        if page.captcha_image is None:
            raise ParseError("rostelecom: a captcha without its picture")
        response = await self.client.binary(page.captcha_image)
        content_type = response.headers.get("content-type", "").split(";")[0].strip()
        if response.status_code != 200 or not content_type.startswith("image/"):
            raise ParseError("rostelecom: the captcha image is not an image")
        challenge = Challenge(
            kind=ChallengeKind.CAPTCHA,
            provider=self.id,
            step=STEP_CAPTCHA,
            image=response.content,
            image_type=content_type,
            message=page.error_text or "Введите символы с картинки",
        )
        return self._remember(challenge, {**flow, "page": page})

    def _code_challenge(self, otp: parsing.OtpPage, flow: dict[str, Any]) -> Challenge:
        if otp.error_code is not None and otp.error_code != "code_invalid":
            raise parsing.login_error(otp.error_code, otp.error_text)
        channel = "email" if otp.channel == "email" else "sms"
        challenge = Challenge(
            kind=ChallengeKind.CODE,
            provider=self.id,
            step=STEP_CODE,
            channel=channel,
            masked_destination=otp.destination or None,
            code_length=otp.code_length,
            message=otp.error_text or "Введите код из сообщения",
        )
        return self._remember(challenge, {**flow, "otp": otp})

    def _sso_challenge(self, provider: SsoProvider) -> Challenge:
        redirect_uri = self._redirect_uri(sso=True)
        state = secrets.token_urlsafe(16)
        return Challenge(
            kind=ChallengeKind.SSO_REDIRECT,
            provider=self.id,
            step=STEP_SSO,
            url=self.client.authorize_url(redirect_uri, state, idp_hint=provider.value),
            sso_provider=provider,
            state={"state": state, "redirect_uri": redirect_uri},
            message="Войдите у поставщика удостоверений и вернитесь",
        )

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
            return await self._exchange(query, str(challenge.state["redirect_uri"]))
        if challenge.step == STEP_CAPTCHA:
            flow = await self.context.flows.take(challenge.flow_id)
            if not answer.text:
                raise InvalidCredentials("rostelecom: the captcha answer is empty")
            page: parsing.LoginPage = flow.pop("page")
            return await self._submit(page, flow, captcha_answer=answer.text.reveal())
        if challenge.step == STEP_CODE:
            flow = await self.context.flows.take(challenge.flow_id)
            if not answer.text:
                raise InvalidCredentials("rostelecom: the code is empty")
            otp: parsing.OtpPage = flow.pop("otp")
            code = answer.text.reveal().strip()
            response = await self.client.post_form(otp.action, {**otp.hidden, "code": code})
            return await self._after_form(response, flow)
        raise FlowExpired(f"rostelecom: unknown step {challenge.step[:30]!r}")

    async def logout(self, session: Session) -> None:
        refresh = session.data.get("refresh_token")
        if isinstance(refresh, str) and refresh:
            await self.client.logout(refresh)

    # -- the session -----------------------------------------------------------------------
    async def _refresh(self, session: Session) -> str:
        refresh = session.data.get("refresh_token")
        if not isinstance(refresh, str) or not refresh:
            raise SessionExpired("rostelecom: the session expired")
        payload = await self.client.token(
            {"grant_type": "refresh_token", "refresh_token": refresh}, secrets=[refresh]
        )
        data = parsing.parse_token(payload, [refresh])
        data.setdefault("refresh_token", refresh)
        session.data.clear()
        session.data.update(data)
        session.data["refreshed"] = True
        return str(data["access_token"])

    def refreshed_session(self, session: Session) -> Session | None:
        if session.data.pop("refreshed", False):
            return session
        return None

    async def _call(
        self, session: Session, method: str, body: dict[str, Any], raw: bool = False
    ) -> Any:
        """One client-api call; an expired access token is renewed once with the refresh one.

        ``raw`` returns an ``isError`` answer instead of raising (the caller reads it), but a
        lost session still raises."""
        token = session.data.get("access_token")
        if not isinstance(token, str) or not token:
            raise SessionExpired("rostelecom: the stored session has no token")
        expires_at = session.data.get("expires_at")
        now = dt.datetime.now(dt.UTC).timestamp()
        if isinstance(expires_at, int | float) and expires_at - _REFRESH_MARGIN_S <= now:
            token = await self._refresh(session)
        try:
            return self._checked(await self.client.api(method, body, token), token, raw)
        except SessionExpired:
            if not session.data.get("refresh_token"):
                raise
        token = await self._refresh(session)
        return self._checked(await self.client.api(method, body, token), token, raw)

    @staticmethod
    def _checked(payload: Any, token: str, raw: bool) -> Any:
        if not raw:
            return parsing.check_api(payload, [token])
        if isinstance(payload, dict) and (
            payload.get("isSessionLost") is True
            or str(payload.get("errorCode", "")).upper() in ("SESSION_LOST", "SESSION_EXPIRED")
        ):
            raise SessionExpired("rostelecom: the session is lost")
        return payload

    @staticmethod
    def _account(account: str) -> str:
        if not re.fullmatch(r"[A-Za-z0-9_\-]{1,40}", account or ""):
            raise OperationRejected("unknown account", code="account")
        return account

    async def subaccounts(self, session: Session) -> list[Subaccount]:
        return parsing.parse_accounts(await self._call(session, "getAccounts", {}))

    async def check_session(self, session: Session) -> bool:
        """``checkSession``: whether the operator still knows this session (no refresh)."""
        token = session.data.get("access_token")
        if not isinstance(token, str):
            return False
        try:
            payload = await self.client.api("checkSession", {}, token)
            parsing.check_api(payload, [token])
        except SessionExpired:
            return False
        return True

    # -- polling ---------------------------------------------------------------------------
    async def balance(self, session: Session, account: str) -> Balance:
        with server_clock() as clock:  # the balance is as of the operator's clock
            payload = await self._call(
                session, "getAccountBalanceV2", {"accountId": self._account(account)}
            )
        return parsing.parse_balance(payload, clock.now())

    async def poll(self, session: Session, account: str) -> PollResult:
        balance = await self.balance(session, account)
        info = await self._call(session, "getServiceInfo", {"accountId": account})
        return parsing.parse_poll(balance, info)

    async def bonus_balance(self, session: Session, account: str) -> Money | None:
        """The «Бонус» programme balance, None without the programme."""
        payload = await self._call(
            session, "getBonusBalance", {"accountId": self._account(account)}
        )
        return parsing.parse_bonus(payload)

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
        current = await self._call(session, "getServiceTariffName", body)
        available = await self._call(session, "getAvailableTariffs", body)
        return parsing.parse_tariffs(current, available)

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
        kopecks = amount * 100
        if kopecks != kopecks.to_integral_value():
            raise OperationRejected("Сумма указана точнее копейки", code="amount")
        return int(kopecks)

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
        token = str(session.data.get("access_token", ""))
        response = await self.client.download(report_id, token)
        content_type = response.headers.get("content-type", "").split(";")[0].strip()
        if response.status_code == 401 or content_type == "application/json":
            payload = parsing.check_api(response.json() if response.content else {}, [token])
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

    async def profile(self, session: Session, account: str) -> Profile:
        return parsing.parse_profile(await self._call(session, "getProfile", {}))

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
