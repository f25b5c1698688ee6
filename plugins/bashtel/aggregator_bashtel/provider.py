"""Bashinformsvyaz («Башинформсвязь»): what the plugin can do, on top of client and parsing.

The login goes through a real browser (:mod:`.browser_login`) because the cabinet's form
carries a captcha; everything after it is plain HTTP (:mod:`.client`) reading server-rendered
pages (:mod:`.parsing`). One poll is one page: «Состояние лицевого счёта».

Captcha and silent re-login: the cabinet demands a captcha from a device it does not know.
After a successful login it sets a long-lived device cookie; the plugin keeps it in
``Session.data`` (sealed by the host) and restores it into the fresh browser context of a later
login, so a silent re-login after the session expired needs no captcha. Because the contract's
``start_login`` receives only the credentials, the provider also remembers the device cookie in
memory, keyed by a hash of the login, whenever it sees a session (every poll does): a re-login
right after ``SessionExpired`` finds it there, also in a process that just restarted. A login
that still shows a captcha returns a :class:`~aggregator.Challenge`, so an unattended re-login
ends in *needs login*, never in a guess.
"""

from __future__ import annotations

import datetime as dt
import hashlib
from collections import OrderedDict
from collections.abc import Callable, Mapping
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
    Provider,
    ProviderContext,
    SecretKind,
    Session,
    SessionExpired,
    Unavailable,
    WireProvenance,
)
from aggregator.core.flows import utcnow
from aggregator.core.models import (
    Balance,
    ChatAuthor,
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
    maintenance_notices,
)

from . import parsing, reports
from .browser_login import CAPTCHA_TTL_S, LiveLogin, LoginDone, open_login, submit_login
from .client import BashtelClient
from .parsing import SpeedTest

__all__ = ["LOGIN_SCHEME", "BashtelProvider"]

T = TypeVar("T")

LOGIN_SCHEME = LoginScheme(
    id="password",
    title_ru="Логин, пароль и лицевой счёт",
    title_en="Login, password and account",
    identifiers=[
        IdentifierSpec(
            kind=IdentifierKind.LOGIN,
            label_ru="Логин",
            label_en="Login",
            pattern=r"[A-Za-z0-9_.\-@]{2,64}",
            hint_ru="Логин из договора: латинские буквы, цифры и знаки . - _ @",
            hint_en="The login from the contract: Latin letters, digits and . - _ @",
            example="ivanov_ufa",
        )
    ],
    secret=SecretKind.PASSWORD,
    extra_fields=[
        ExtraField(
            name="account_last3",
            label_ru="Три последние цифры лицевого счёта",
            label_en="Last 3 digits of the account number",
            kind="digits",
            pattern=r"\d{3}",
            hint_ru="Три последние цифры номера лицевого счёта, например 045",
            hint_en="The last three digits of the account number, e.g. 045",
        )
    ],
    silent_relogin=True,
)

#: Device cookies remembered in memory, per login hash (bounded).
MAX_REMEMBERED_DEVICES = 50_000


def login_key(credentials: Credentials) -> str:
    """A stable, non-reversible key for a login (to find its device cookie)."""
    raw = f"{credentials.identifier.lower()}|{credentials.extras.get('account_last3', '')}"
    return hashlib.sha256(raw.encode()).hexdigest()[:32]


def _device_cookies(data: dict[str, Any]) -> list[dict[str, Any]]:
    """The stored cookies that outlive a browser session (the cabinet's device cookie)."""
    cookies, persistent = data.get("cookies"), data.get("persistent")
    if not isinstance(cookies, dict) or not isinstance(persistent, dict):
        return []
    soon = utcnow().timestamp() + 3600
    return [
        {"name": name, "value": cookies[name], "expires": expires}
        for name, expires in persistent.items()
        if name in cookies and isinstance(expires, int | float) and expires > soon
    ]


class BashtelProvider(Provider):
    id = "bashtel"
    name = "Башинформсвязь"
    name_en = "Bashinformsvyaz"
    default_base_url = "http://127.0.0.1:8081/bashtel"
    login_schemes = (LOGIN_SCHEME,)
    min_poll_interval: ClassVar[dt.timedelta] = dt.timedelta(minutes=15)
    # What lk.bashtel.ru tolerates from all our workers together: a regional operator's
    # server-rendered cabinet (each poll is two HTML pages, a login a browser session), so
    # few at once and a slow rate. No published limit: the values are ours, kept well below
    # what one person clicking through the cabinet in a few tabs would cause.
    limits: ClassVar[OperatorLimits] = OperatorLimits(
        concurrency=3, requests_per_s=8.0, burst=8, read_timeout_s=30.0
    )
    # No independent public client of lk.bashtel.ru is known: the cabinet's pages are shaped
    # after the operator's own description (the seed article) of each feature; the traffic
    # page and the account list are not in it.
    provenance: ClassVar[Mapping[str, str]] = {
        "login": WireProvenance.SEED,
        **{c.value: WireProvenance.SEED for c in Capability},
        Capability.USAGE.value: WireProvenance.ASSUMED,
        Capability.TRAFFIC.value: WireProvenance.ASSUMED,
        Capability.SUBACCOUNTS.value: WireProvenance.ASSUMED,
    }

    def __init__(self, context: ProviderContext) -> None:
        super().__init__(context)
        self.client = BashtelClient(context.http, context.base_url)
        self._devices: OrderedDict[str, list[dict[str, Any]]] = OrderedDict()
        self.browser_logins = 0  # logins that opened a browser (benchmarks, tests)

    # -- device cookies -------------------------------------------------------------------
    def _remember(self, session: Session) -> None:
        key = session.data.get("login_key")
        if not isinstance(key, str):
            return
        device = _device_cookies(session.data)
        if device:
            self._devices[key] = device
            self._devices.move_to_end(key)
            while len(self._devices) > MAX_REMEMBERED_DEVICES:
                self._devices.popitem(last=False)

    async def _page(self, session: Session, path: str, **params: str) -> str:
        self._remember(session)
        return await self.client.get(session, path, params or None)

    # -- login ----------------------------------------------------------------------------
    async def start_login(self, credentials: Credentials) -> Session | Challenge:
        if self.context.browser is None:
            raise Unavailable("bashtel needs a browser for its login and none is configured")
        # Pages of captchas nobody answered (an unattended re-login) are closed once their
        # time is up, whoever sweeps the registry first; make sure this login does.
        await self.context.flows.sweep()
        key = login_key(credentials)
        self.browser_logins += 1
        live = await open_login(
            self.context.browser,
            self.client.base_url,
            credentials,
            self._devices.get(key, []),
        )
        return await self._advance(live, key, None)

    async def continue_login(
        self, challenge: Challenge, answer: ChallengeAnswer
    ) -> Session | Challenge:
        if challenge.kind is not ChallengeKind.CAPTCHA or challenge.step != "captcha":
            raise NotSupported("bashtel has no such login step")
        live = await self.context.flows.take(challenge.flow_id)
        if not isinstance(live, LiveLogin):
            await _close(live)
            raise FlowExpired("this login step is no longer open")
        text = answer.text.reveal() if answer.text else ""
        return await self._advance(live, login_key(live.credentials), text.strip())

    async def _advance(self, live: LiveLogin, key: str, answer: str | None) -> Session | Challenge:
        try:
            outcome = await submit_login(live, self.id, answer)
        except BaseException:
            await live.close()
            raise
        if isinstance(outcome, LoginDone):
            await live.close()
            # Names are keys and expiry times numbers: Session.secrets() treats every string
            # value as a secret, and only the cookie values are.
            cookies = {str(c["name"]): str(c["value"]) for c in outcome.cookies}
            persistent = {
                str(c["name"]): float(c["expires"])
                for c in outcome.cookies
                if isinstance(c.get("expires"), int | float) and c["expires"] > 0
            }
            session = Session(
                provider=self.id,
                data={"cookies": cookies, "persistent": persistent, "login_key": key},
            )
            self._remember(session)
            return session
        challenge, live = outcome
        self.context.flows.put(challenge.flow_id, live, ttl=CAPTCHA_TTL_S, on_expire=_close)
        return challenge

    async def logout(self, session: Session) -> None:
        try:
            html = await self._page(session, "/cabinet")
            await self.client.submit(session, parsing.form(html, "form.lk-logout"))
        except (SessionExpired, OperationRejected, ParseError, Unavailable):
            return None

    # -- polling --------------------------------------------------------------------------
    async def _cabinet(self, session: Session) -> parsing.CabinetState:
        html = await self._page(session, "/cabinet")
        try:
            return parsing.parse_cabinet(html)
        except ParseError as exc:
            raise parsing.redacted(exc, session.secrets()) from None

    async def balance(self, session: Session, account: str) -> Balance:
        return (await self._cabinet(session)).balance

    async def poll(self, session: Session, account: str) -> PollResult:
        state = await self._cabinet(session)
        return PollResult(
            balance=state.balance,
            tariff_name=state.tariff_name,
            state=state.state,
            suspension_end=state.suspension_end,
            notices=maintenance_notices(
                state.notices, state.balance.as_of.astimezone(MOSCOW_TZ).date()
            ),
        )

    async def subaccounts(self, session: Session) -> list[Subaccount]:
        state = await self._cabinet(session)
        return [
            Subaccount(
                id=state.account_number,
                number=state.account_number,
                label=state.address or state.tariff_name,
                kind="internet",
            )
        ]

    async def profile(self, session: Session, account: str) -> Profile:
        return self._parse(session, parsing.parse_profile, await self._page(session, "/profile"))

    # -- tariffs and services ---------------------------------------------------------------
    async def tariffs(self, session: Session, account: str) -> TariffCatalogue:
        return self._parse(session, parsing.parse_tariffs, await self._page(session, "/tariff"))

    async def change_tariff(
        self, session: Session, account: str, tariff_id: str
    ) -> TariffChangeResult | Challenge:
        html = await self._page(session, "/tariff")
        catalogue = self._parse(session, parsing.parse_tariffs, html)
        if catalogue.pending is not None and catalogue.pending.id == tariff_id:
            if catalogue.pending_from is None:  # pragma: no cover - parse_tariffs requires it
                raise ParseError("bashtel: a pending tariff without its date")
            return TariffChangeResult(
                tariff=catalogue.pending, effective_date=catalogue.pending_from
            )
        if catalogue.current.id == tariff_id:
            raise OperationRejected("Этот тарифный план уже подключён", code="same_tariff")
        selector = f'li.tariff[data-tariff-id="{_css(tariff_id)}"] form'
        if f'value="{tariff_id}"' not in html:
            raise OperationRejected("Переход на этот тарифный план недоступен", code="unknown")
        html = await self.client.submit(session, parsing.form(html, selector))
        self._raise_flashed_error(html)
        after = self._parse(session, parsing.parse_tariffs, html)
        if after.pending is None or after.pending.id != tariff_id or after.pending_from is None:
            raise ParseError("bashtel: the tariff change is not shown as ordered", payload=html)
        return TariffChangeResult(tariff=after.pending, effective_date=after.pending_from)

    async def services(self, session: Session, account: str) -> list[Service]:
        return self._parse(session, parsing.parse_services, await self._page(session, "/services"))

    async def set_service(
        self, session: Session, account: str, service_id: str, enabled: bool
    ) -> ServiceChangeResult | Challenge:
        html = await self._page(session, "/services")
        current = {s.id: s for s in self._parse(session, parsing.parse_services, html)}
        service = current.get(service_id)
        if service is None:
            raise OperationRejected("Такой услуги нет", code="unknown_service")
        if service.enabled == enabled:
            return ServiceChangeResult(service=service)
        if not service.can_toggle:
            raise OperationRejected("Эта услуга изменяется только в офисе", code="fixed")
        selector = f'tr.service[data-service-id="{_css(service_id)}"] form'
        html = await self.client.submit(session, parsing.form(html, selector))
        self._raise_flashed_error(html)
        after = {s.id: s for s in self._parse(session, parsing.parse_services, html)}
        changed = after.get(service_id)
        if changed is None or changed.enabled != enabled:
            raise ParseError("bashtel: the service change is not shown", payload=html)
        return ServiceChangeResult(service=changed, effective_date=_today())

    # -- voluntary block ----------------------------------------------------------------
    async def suspension(self, session: Session, account: str) -> Suspension:
        return self._parse(session, parsing.parse_block, await self._page(session, "/block"))

    async def _quote_page(self, session: Session, start: dt.date, end: dt.date) -> str:
        html = await self._page(session, "/block")
        if 'id="block-form"' not in html:
            raise OperationRejected("Блокировка уже оформлена", code="already_blocked")
        html = await self.client.submit(
            session,
            parsing.form(html, "#block-form"),
            start=start.isoformat(),
            end=end.isoformat(),
        )
        self._raise_flashed_error(html)
        return html

    async def quote_suspension(
        self, session: Session, account: str, start: dt.date, end: dt.date
    ) -> SuspensionQuote:
        html = await self._quote_page(session, start, end)
        return self._parse(session, parsing.parse_block_quote, html)

    async def suspend(
        self, session: Session, account: str, start: dt.date, end: dt.date
    ) -> Suspension | Challenge:
        html = await self._quote_page(session, start, end)
        quote = self._parse(session, parsing.parse_block_quote, html)
        if (quote.start, quote.end) != (start, end):
            raise ParseError("bashtel: the quote is for other dates", payload=html)
        html = await self.client.submit(session, parsing.form(html, "#block-confirm-form"))
        self._raise_flashed_error(html)
        return self._parse(session, parsing.parse_block, html)

    async def resume(self, session: Session, account: str) -> Suspension:
        html = await self._page(session, "/block")
        if 'id="block-cancel-form"' not in html:
            return self._parse(session, parsing.parse_block, html)
        html = await self.client.submit(session, parsing.form(html, "#block-cancel-form"))
        self._raise_flashed_error(html)
        return self._parse(session, parsing.parse_block, html)

    # -- support chat ---------------------------------------------------------------------
    async def chat_topics(self, session: Session, account: str) -> list[ChatTopic]:
        topics, _ = self._parse(session, parsing.parse_chat, await self._page(session, "/support"))
        return topics

    async def chat_history(
        self, session: Session, account: str, since: dt.datetime | None = None
    ) -> list[ChatMessage]:
        _, messages = self._parse(
            session, parsing.parse_chat, await self._page(session, "/support")
        )
        if since is not None:
            messages = [m for m in messages if m.sent_at > since]
        return messages

    async def send_chat_message(
        self, session: Session, account: str, topic_id: str, text: str
    ) -> list[ChatMessage]:
        html = await self._page(session, "/support")
        topics, before = self._parse(session, parsing.parse_chat, html)
        if topic_id not in {t.id for t in topics}:
            raise OperationRejected("Нет такой темы обращения", code="unknown_topic")
        if not text.strip():
            raise OperationRejected("Сообщение пустое", code="empty")
        seen = {m.id for m in before}
        html = await self.client.submit(
            session, parsing.form(html, "#chat-form"), topic=topic_id, text=text
        )
        self._raise_flashed_error(html)
        _, after = self._parse(session, parsing.parse_chat, html)
        return [m for m in after if m.id not in seen and m.author is not ChatAuthor.USER]

    # -- payments -------------------------------------------------------------------------
    async def payments(
        self, session: Session, account: str, since: dt.date, until: dt.date
    ) -> list[Payment]:
        html = await self._page(
            session, "/payments", **{"from": since.isoformat(), "to": until.isoformat()}
        )
        return self._parse(session, parsing.parse_payments, html)

    async def top_up(
        self, session: Session, account: str, amount: Decimal
    ) -> TopUpResult | Challenge:
        if amount <= 0:
            raise OperationRejected("Сумма платежа должна быть больше нуля", code="amount")
        html = await self._page(session, "/pay")
        html = await self.client.submit(
            session, parsing.form(html, "#pay-form"), amount=f"{amount:.2f}", method="card"
        )
        self._raise_flashed_error(html)
        page = self._parse(session, parsing.parse_pay_confirm, html)
        confirm_form = parsing.form(html, "#pay-confirm-form")
        return Challenge(
            kind=ChallengeKind.CODE,
            provider=self.id,
            step="payment_code",
            operation="top_up",
            state={
                "ticket": confirm_form.fields.get("ticket", ""),
                "action": confirm_form.action,
                "amount": f"{page.amount:.2f}",
            },
            channel=page.channel,
            masked_destination=page.masked_destination,
            code_length=page.code_length,
            message=f"Код подтверждения отправлен на {page.masked_destination}",
        )

    async def confirm(
        self, session: Session, challenge: Challenge, answer: ChallengeAnswer
    ) -> OperationResult | Challenge:
        if challenge.operation != "top_up" or challenge.step != "payment_code":
            raise NotSupported("bashtel confirms only top-ups")
        if challenge.expired:
            raise FlowExpired("the confirmation code step timed out")
        ticket = str(challenge.state.get("ticket") or "")
        code = answer.text.reveal().strip() if answer.text else ""
        action = str(challenge.state.get("action") or "")
        if not ticket or not action:
            raise FlowExpired("the confirmation step lost its state; start again")
        html = await self._page(session, "/pay")
        token = parsing.form(html, "#pay-form").fields.get("csrf_token", "")
        html = await self.client.submit(
            session,
            parsing.Form(action=action, method="post", fields={"csrf_token": token}),
            ticket=ticket,
            code=code,
        )
        if 'id="pay-confirm"' in html:  # the same page again: the code was wrong
            page = self._parse(session, parsing.parse_pay_confirm, html)
            return challenge.model_copy(
                update={"message": page.error or "Неверный код подтверждения"}
            )
        self._raise_flashed_error(html)
        done = [text for kind, text in parsing.flashes(html) if kind == "success"]
        state = self._parse(session, parsing.parse_payments, html)
        amount = str(challenge.state.get("amount") or "")
        details = {"amount": amount}
        if state:
            details["payment_id"] = state[0].id
        return OperationResult(
            operation="top_up",
            message=done[0] if done else "Платёж зачислен",
            effective_date=_today(),
            details=details,
        )

    # -- reports, usage, news ---------------------------------------------------------------
    async def report(
        self,
        session: Session,
        account: str,
        period_start: dt.date,
        period_end: dt.date,
        fmt: ReportFormat,
    ) -> Report:
        """The spending detail of every billing period (calendar month) from ``period_start``'s
        to ``period_end``'s, as far back as the cabinet offers (its period list).

        The cabinet details one billing period at a time: each month is read on its own, and
        the files are joined (PDF pages in order, XLSX one sheet per month); the report
        carries the first period's first day and the last one's last day.
        """
        months = reports.months_between(period_start, period_end)
        if not months:
            raise OperationRejected("Конец периода раньше начала", code="period_invalid")
        parts = [await self._month_report(session, month, fmt) for month in months]
        if len(parts) == 1:
            return parts[0]
        first, last = parts[0], parts[-1]
        return Report(
            period_start=first.period_start,
            period_end=last.period_end,
            format=fmt,
            filename=f"bashtel-detail-{months[0]:%Y-%m}--{months[-1]:%Y-%m}.{fmt.value}",
            content=reports.join_files(fmt, [(p.period_start, p.content) for p in parts]),
        )

    async def _month_report(self, session: Session, month: dt.date, fmt: ReportFormat) -> Report:
        """One billing period's detail file (``/detail?period=YYYY-MM``, then its export)."""
        period = f"{month:%Y-%m}"
        html = await self._page(session, "/detail", period=period)
        detail = self._parse(session, parsing.parse_detail, html)
        if period not in detail.periods or detail.period_start.strftime("%Y-%m") != period:
            raise OperationRejected(
                "Детализация за этот период недоступна", code="period_unavailable"
            )
        href = detail.pdf_href if fmt is ReportFormat.PDF else detail.xlsx_href
        download = await self.client.download(session, href)
        magic = b"%PDF" if fmt is ReportFormat.PDF else b"PK"
        if not download.content.startswith(magic):
            raise ParseError(f"bashtel: the {fmt.value} file is not one", payload=download.content)
        return Report(
            period_start=detail.period_start,
            period_end=detail.period_end,
            format=fmt,
            filename=download.filename or f"bashtel-detail-{period}.{fmt.value}",
            content=download.content,
        )

    async def usage(self, session: Session, account: str) -> Usage:
        traffic = self._parse(session, parsing.parse_traffic, await self._page(session, "/traffic"))
        return Usage(traffic=traffic)

    async def traffic(
        self, session: Session, account: str, start: dt.date, end: dt.date
    ) -> TrafficStats:
        """``/traffic?from=&to=``: the statistics page counts any period up to a year (the
        cabinet's own form); a shorter answer than asked is a parse error, not a silent month."""
        html = await self._page(
            session, "/traffic", **{"from": start.isoformat(), "to": end.isoformat()}
        )
        stats = self._parse(session, parsing.parse_traffic, html)
        if stats.period_start > start or stats.period_end < end:
            raise parsing.redacted(
                ParseError(
                    f"bashtel: traffic asked for {start}..{end}, the page shows "
                    f"{stats.period_start}..{stats.period_end}",
                    payload=html,
                ),
                session.secrets(),
            )
        return stats

    async def news(self, session: Session, account: str) -> list[NewsItem]:
        return self._parse(session, parsing.parse_news, await self._page(session, "/news"))

    # -- beyond the contract --------------------------------------------------------------
    async def speed_test(self, session: Session) -> SpeedTest:
        """Run the cabinet's speed test and return the measured figures."""
        html = await self._page(session, "/speedtest")
        html = await self.client.submit(session, parsing.form(html, "#speedtest-form"))
        return self._parse(session, parsing.parse_speedtest, html)

    # -- helpers ----------------------------------------------------------------------------
    @staticmethod
    def _parse(session: Session, parse: Callable[[str], T], html: str) -> T:
        try:
            return parse(html)
        except ParseError as exc:
            raise parsing.redacted(exc, session.secrets()) from None

    @staticmethod
    def _raise_flashed_error(html: str) -> None:
        errors = [text for kind, text in parsing.flashes(html) if kind == "error"]
        if errors:
            raise OperationRejected(errors[0])


def _css(value: str) -> str:
    return value.replace("\\", "\\\\").replace('"', '\\"')


def _today() -> dt.date:
    return dt.datetime.now(MOSCOW_TZ).date()


async def _close(live: Any) -> None:
    if isinstance(live, LiveLogin):
        await live.close()
