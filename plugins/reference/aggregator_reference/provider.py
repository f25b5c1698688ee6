"""The reference provider's plugin: every capability of the contract over the native dialect.

Read this first when writing a plugin. The shape is the same for every operator:
``provider.py`` (what the plugin can do: this file), ``client.py`` (how to talk to the
operator), ``parsing.py`` (how to read its answers, pure). Login may return a challenge
(captcha, one-time code, SSO redirect, new password) instead of a session; operations the
operator protects with a code return a challenge that :meth:`ReferenceProvider.confirm` finishes.
"""

from __future__ import annotations

import datetime as dt
import hashlib
from collections.abc import Mapping
from decimal import Decimal
from typing import Any, ClassVar
from urllib.parse import urljoin

from aggregator import (
    Capability,
    Challenge,
    ChallengeAnswer,
    ChallengeKind,
    CodeRejected,
    Credentials,
    IdentifierKind,
    IdentifierSpec,
    LoginScheme,
    OperationRejected,
    OperatorLimits,
    PasswordPolicy,
    Provider,
    Secret,
    SecretKind,
    Session,
    SsoProvider,
    WireProvenance,
)
from aggregator.core.models import (
    AutopaySettings,
    Balance,
    ChatMessage,
    ChatTopic,
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
    Usage,
)

from . import parsing
from .client import CaptchaDemanded, ReferenceClient

__all__ = ["ReferenceProvider"]

_IDENTIFIERS = [
    IdentifierSpec(kind=IdentifierKind.LOGIN, label_ru="Логин", label_en="Login", example="demo"),
    IdentifierSpec(
        kind=IdentifierKind.PHONE, label_ru="Телефон", label_en="Phone", example="+7 903 123-45-67"
    ),
    IdentifierSpec(
        kind=IdentifierKind.EMAIL,
        label_ru="Эл. почта",
        label_en="E-mail",
        example="ivan@example.ru",
    ),
]
_POLICY = PasswordPolicy(
    min_length=6,
    max_length=64,
    description_ru="Не короче 6 символов",
    description_en="At least 6 characters",
)


def _device(identifier: str) -> str:
    """A stable device id per login, so the operator recognises us on the next login."""
    return hashlib.sha256(f"aggregator:{identifier}".encode()).hexdigest()[:24]


class ReferenceProvider(Provider):
    id: ClassVar[str] = "reference"
    name: ClassVar[str] = "Эталонный оператор"
    name_en: ClassVar[str] = "Reference operator"
    default_base_url: ClassVar[str] = "http://127.0.0.1:8081/reference/api/v1"
    # Our own reference operator (a demo and test backend): as the core's default
    # concurrency, with a rate budget generous enough for the benches and the demo.
    limits: ClassVar[OperatorLimits] = OperatorLimits(concurrency=8, requests_per_s=100.0)
    # The reference operator is the reference provider's native dialect: its wire format is
    # known from its own source (reference_provider/dialects/native.py), every capability.
    provenance: ClassVar[Mapping[str, str]] = {
        "login": WireProvenance.PROVEN,
        **{c.value: WireProvenance.PROVEN for c in Capability},
    }
    login_schemes: ClassVar[tuple[LoginScheme, ...]] = (
        LoginScheme(
            id="password",
            title_ru="Логин и пароль",
            title_en="Login and password",
            identifiers=_IDENTIFIERS,
            secret=SecretKind.PASSWORD,
            password_policy=_POLICY,
        ),
        LoginScheme(
            id="sms_code",
            title_ru="Код из SMS",
            title_en="Code by SMS",
            identifiers=_IDENTIFIERS,
            secret=SecretKind.SMS_CODE,
            silent_relogin=False,
        ),
        LoginScheme(
            id="email_code",
            title_ru="Код по эл. почте",
            title_en="Code by e-mail",
            identifiers=_IDENTIFIERS,
            secret=SecretKind.EMAIL_CODE,
            silent_relogin=False,
        ),
        LoginScheme(
            id="sso",
            title_ru="Через Госуслуги, Т-Банк, VK, ОК или Mail.ru",
            title_en="Through Gosuslugi, T-Bank, VK, OK or Mail.ru",
            secret=SecretKind.SSO,
            sso_providers=list(SsoProvider),
            silent_relogin=False,
        ),
    )

    @property
    def client(self) -> ReferenceClient:
        return ReferenceClient(self.context.http, self.context.base_url)

    def _challenge(self, kind: ChallengeKind, step: str, **fields: Any) -> Challenge:
        return Challenge(kind=kind, provider=self.id, step=step, **fields)

    def _session(self, body: dict[str, Any]) -> Session:
        return Session(
            provider=self.id,
            data={"token": body["token"]},
            expires_at=dt.datetime.fromisoformat(body["expires_at"]),
        )

    # -- login ------------------------------------------------------------------------------
    async def start_login(self, credentials: Credentials) -> Session | Challenge:
        if credentials.sso_provider is not None:
            redirect = self.context.settings.get("sso_redirect_uri")
            _, body = await self.client.call(
                "POST",
                "/auth/sso",
                json={"provider": credentials.sso_provider.value, "redirect_uri": redirect},
            )
            return self._challenge(
                ChallengeKind.SSO_REDIRECT,
                "sso",
                url=body["authorize_url"],
                sso_provider=credentials.sso_provider,
            )
        return await self._attempt(credentials, captcha_id=None, captcha_answer=None)

    async def _attempt(
        self, creds: Credentials, captcha_id: str | None, captcha_answer: str | None
    ) -> Session | Challenge:
        """One login request; a demanded captcha becomes a challenge holding the credentials."""
        device = _device(creds.identifier)
        captcha = {"captcha_id": captcha_id, "captcha_answer": captcha_answer}
        try:
            if creds.secret is None or creds.scheme != "password":
                channel = "email" if creds.scheme == "email_code" else "sms"
                _, body = await self.client.call(
                    "POST",
                    "/auth/code",
                    device=device,
                    json={"login": creds.identifier, "channel": channel, **captcha},
                )
                return self._challenge(
                    ChallengeKind.CODE,
                    "login_code",
                    channel=body["channel"],
                    masked_destination=body["masked_destination"],
                    code_length=body["code_length"],
                    resend_after_s=_resend_after(body),
                    state={"ticket": body["ticket"]},
                )
            password = creds.secret.reveal()
            _, body = await self.client.call(
                "POST",
                "/auth/login",
                device=device,
                secrets=(password,),
                json={"login": creds.identifier, "password": password, **captcha},
            )
        except CaptchaDemanded as demand:
            picture = await self.client.download(
                urljoin(self.context.base_url + "/", demand.image_url)
            )
            challenge = self._challenge(
                ChallengeKind.CAPTCHA,
                "captcha",
                image=picture.content,
                state={"captcha_id": demand.captcha_id},
            )
            self.context.flows.put(challenge.flow_id, creds)  # the password stays in memory
            return challenge
        session = self._session(body)
        if body["must_change_password"]:
            challenge = self._challenge(
                ChallengeKind.NEW_PASSWORD,
                "new_password",
                password_policy=_POLICY,
                message="Смените временный пароль",
            )
            self.context.flows.put(challenge.flow_id, (creds.secret, session))
            return challenge
        return session

    async def continue_login(
        self, challenge: Challenge, answer: ChallengeAnswer
    ) -> Session | Challenge:
        if challenge.kind is ChallengeKind.CAPTCHA:
            creds = await self.context.flows.take(challenge.flow_id)
            text = answer.text.reveal() if answer.text else ""
            return await self._attempt(creds, challenge.state["captcha_id"], text)
        if challenge.kind is ChallengeKind.CODE:
            code = answer.text.reveal() if answer.text else ""
            try:
                _, body = await self.client.call(
                    "POST",
                    "/auth/code/verify",
                    secrets=(code,),
                    json={"ticket": challenge.state["ticket"], "code": code},
                )
            except OperationRejected as exc:  # a wrong or stale code: type again or resend
                raise _code_rejected(exc) from None
            return self._session(body)
        if challenge.kind is ChallengeKind.SSO_REDIRECT:
            _, body = await self.client.call(
                "POST", "/auth/sso/finish", json={"callback_url": answer.callback_url}
            )
            return self._session(body)
        pending: tuple[Secret, Session] = await self.context.flows.take(challenge.flow_id)
        old, session = pending
        new = answer.new_password.reveal() if answer.new_password else ""
        await self.client.call(
            "POST",
            "/auth/password",
            token=session.data,
            json={"old_password": old.reveal(), "new_password": new},
        )
        return session

    def refreshed_session(self, session: Session) -> Session | None:
        """The very session whose token the operator rotated during the last calls (its data
        renewed in place by the client), or None."""
        if session.data.pop("refreshed", False):
            return session
        return None

    async def logout(self, session: Session) -> None:
        await self.client.call("POST", "/auth/logout", token=session.data)

    async def subaccounts(self, session: Session) -> list[Subaccount]:
        return parsing.subaccounts(await self._get(session, "/accounts"))

    # -- helpers -----------------------------------------------------------------------------
    async def _get(self, session: Session, path: str, **params: str) -> Any:
        _, body = await self.client.call("GET", path, token=session.data, params=params or None)
        return body

    async def _send(
        self, session: Session, method: str, path: str, body: Any, operation: str
    ) -> tuple[int, Any] | Challenge:
        """A state-changing call; a 202 answer becomes a code challenge for ``confirm``."""
        status, answer = await self.client.call(method, path, token=session.data, json=body)
        if status == 202:
            ticket = answer["confirmation"]
            return self._challenge(
                ChallengeKind.CODE,
                "confirm",
                operation=operation,
                channel=ticket["channel"],
                masked_destination=ticket["masked_destination"],
                code_length=ticket["code_length"],
                resend_after_s=_resend_after(ticket),
                state={"confirmation": ticket["id"]},
            )
        return status, answer

    async def confirm(
        self, session: Session, challenge: Challenge, answer: ChallengeAnswer
    ) -> OperationResult | Challenge:
        try:
            _, body = await self.client.call(
                "POST",
                f"/confirmations/{challenge.state['confirmation']}",
                token=session.data,
                json={"code": answer.text.reveal() if answer.text else ""},
            )
        except OperationRejected as exc:
            if exc.code == "code_invalid":
                raise _code_rejected(exc) from None
            raise
        return parsing.operation_result(body)

    async def resend_code(self, challenge: Challenge, session: Session | None = None) -> Challenge:
        """A new code for the same ticket (native ``.../resend`` endpoints)."""
        if "confirmation" in challenge.state:
            _, body = await self.client.call(
                "POST",
                f"/confirmations/{challenge.state['confirmation']}/resend",
                token=session.data if session else None,
            )
        else:
            _, body = await self.client.call(
                "POST", "/auth/code/resend", json={"ticket": challenge.state["ticket"]}
            )
        return challenge.model_copy(
            update={
                "sent_at": dt.datetime.now(dt.UTC),
                "resend_after_s": _resend_after(body),
                "masked_destination": body.get("masked_destination")
                or challenge.masked_destination,
            }
        )

    # -- polling --------------------------------------------------------------------------------
    async def balance(self, session: Session, account: str) -> Balance:
        return parsing.balance(await self._get(session, f"/accounts/{account}/balance"))

    async def poll(self, session: Session, account: str) -> PollResult:
        """The account and its package remainders (``/usage``): two cheap reads."""
        payload = await self._get(session, f"/accounts/{account}")
        return parsing.poll(payload, await self._get(session, f"/accounts/{account}/usage"))

    # -- optional capabilities ---------------------------------------------------------------
    async def tariffs(self, session: Session, account: str) -> TariffCatalogue:
        return parsing.tariff_catalogue(await self._get(session, f"/accounts/{account}/tariffs"))

    async def change_tariff(
        self, session: Session, account: str, tariff_id: str
    ) -> TariffChangeResult | Challenge:
        sent = await self._send(
            session,
            "POST",
            f"/accounts/{account}/tariff",
            {"tariff_id": tariff_id},
            "change_tariff",
        )
        return sent if isinstance(sent, Challenge) else parsing.tariff_change(sent[1])

    async def services(self, session: Session, account: str) -> list[Service]:
        return parsing.services(await self._get(session, f"/accounts/{account}/services"))

    async def set_service(
        self, session: Session, account: str, service_id: str, enabled: bool
    ) -> ServiceChangeResult | Challenge:
        sent = await self._send(
            session,
            "PUT",
            f"/accounts/{account}/services/{service_id}",
            {"enabled": enabled},
            "set_service",
        )
        return sent if isinstance(sent, Challenge) else parsing.service_change(sent[1])

    async def suspension(self, session: Session, account: str) -> Suspension:
        return parsing.suspension(await self._get(session, f"/accounts/{account}/suspension"))

    async def quote_suspension(
        self, session: Session, account: str, start: dt.date, end: dt.date
    ) -> SuspensionQuote:
        _, body = await self.client.call(
            "POST",
            f"/accounts/{account}/suspension/quote",
            token=session.data,
            json={"start": start.isoformat(), "end": end.isoformat()},
        )
        return parsing.quote(body)

    async def suspend(
        self, session: Session, account: str, start: dt.date, end: dt.date
    ) -> Suspension | Challenge:
        sent = await self._send(
            session,
            "POST",
            f"/accounts/{account}/suspension",
            {"start": start.isoformat(), "end": end.isoformat()},
            "suspend",
        )
        return sent if isinstance(sent, Challenge) else parsing.suspension(sent[1])

    async def resume(self, session: Session, account: str) -> Suspension:
        _, body = await self.client.call(
            "DELETE", f"/accounts/{account}/suspension", token=session.data
        )
        return parsing.suspension(body)

    async def chat_topics(self, session: Session, account: str) -> list[ChatTopic]:
        return parsing.chat_topics(await self._get(session, f"/accounts/{account}/chat/topics"))

    async def chat_history(
        self, session: Session, account: str, since: dt.datetime | None = None
    ) -> list[ChatMessage]:
        params = {"since": since.isoformat()} if since else {}
        return parsing.chat_messages(
            await self._get(session, f"/accounts/{account}/chat", **params)
        )

    async def send_chat_message(
        self, session: Session, account: str, topic_id: str, text: str
    ) -> list[ChatMessage]:
        _, body = await self.client.call(
            "POST",
            f"/accounts/{account}/chat",
            token=session.data,
            json={"topic_id": topic_id, "text": text},
        )
        return [m for m in parsing.chat_messages(body) if m.author != "user"]

    async def payments(
        self, session: Session, account: str, since: dt.date, until: dt.date
    ) -> list[Payment]:
        return parsing.payments(
            await self._get(
                session,
                f"/accounts/{account}/payments",
                since=since.isoformat(),
                until=until.isoformat(),
            )
        )

    async def traffic(
        self, session: Session, account: str, start: dt.date, end: dt.date
    ) -> TrafficStats:
        return parsing.traffic(
            await self._get(
                session,
                f"/accounts/{account}/traffic",
                since=start.isoformat(),
                until=end.isoformat(),
            )
        )

    async def top_up(
        self, session: Session, account: str, amount: Decimal
    ) -> TopUpResult | Challenge:
        sent = await self._send(
            session, "POST", f"/accounts/{account}/top-up", {"amount": str(amount)}, "top_up"
        )
        return sent if isinstance(sent, Challenge) else parsing.top_up(sent[1])

    async def autopay(self, session: Session, account: str) -> AutopaySettings:
        return parsing.autopay(await self._get(session, f"/accounts/{account}/autopay"))

    async def set_autopay(
        self, session: Session, account: str, settings: AutopaySettings
    ) -> AutopaySettings | Challenge:
        body = {
            "enabled": settings.enabled,
            "threshold": str(settings.threshold.amount) if settings.threshold else None,
            "amount": str(settings.amount.amount) if settings.amount else None,
            "card_mask": settings.card_mask,
        }
        sent = await self._send(session, "PUT", f"/accounts/{account}/autopay", body, "set_autopay")
        return sent if isinstance(sent, Challenge) else parsing.autopay(sent[1])

    async def report(
        self,
        session: Session,
        account: str,
        period_start: dt.date,
        period_end: dt.date,
        fmt: ReportFormat,
    ) -> Report:
        response = await self.client.download(
            f"/accounts/{account}/report",
            token=session.data,
            params={
                "start": period_start.isoformat(),
                "end": period_end.isoformat(),
                "format": fmt.value,
            },
        )
        if not response.headers.get("content-type", "").startswith(
            "application/pdf" if fmt is ReportFormat.PDF else "application/vnd.openxml"
        ):
            raise OperationRejected("the operator sent no report file", code="no_file")
        return Report(
            period_start=period_start,
            period_end=period_end,
            format=fmt,
            filename=f"{self.id}_{account}_{period_start}_{period_end}.{fmt.value}",
            content=response.content,
        )

    async def usage(self, session: Session, account: str) -> Usage:
        return parsing.usage(await self._get(session, f"/accounts/{account}/usage"))

    async def news(self, session: Session, account: str) -> list[NewsItem]:
        return parsing.news(await self._get(session, f"/accounts/{account}/news"))

    async def profile(self, session: Session, account: str) -> Profile:
        return parsing.profile(await self._get(session, f"/accounts/{account}/profile"))


def _resend_after(ticket: dict[str, Any]) -> int | None:
    """Seconds until the operator sends a new code (None: it does not say, so no resend)."""
    value = ticket.get("resend_after")
    try:
        return max(0, int(value)) if value is not None else None
    except (TypeError, ValueError):
        return None


def _code_rejected(exc: OperationRejected) -> CodeRejected:
    reason = exc.reason or "Неверный код"
    return CodeRejected(reason, expired="истёк" in reason or "попыток" in reason)
