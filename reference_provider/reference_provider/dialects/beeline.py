"""The Beeline dialect: the «Мой Билайн» mobile JSON API, under ``/beeline/api/``.

Shape (see ../shared/spec/operators.md)::

    PUT  2.0/auth/auth?login=<10 digits>   {password[, captchaId, captchaText]} -> token,
                                            tempPassInd; afterwards header X-Auth-Token
    DELETE 2.0/auth/auth                    log out (the token stops working)
    POST 1.0/passReset?login=               a temporary password by SMS (the code outbox)
    PUT  1.0/setting/changePassword         {oldPassword, newPassword} (a temp-password token)
    GET  1.0/sso/subscribers                subscribers[].ctn; the number in header X-CTN
    GET  1.0/info/payType | prepaidBalance | postpaidBalance | pricePlan |
         availablePricePlans | status | serviceList | availableServiceList | accumulators |
         payments/history?startDate&endDate | detail?startDate&endDate&format=xls|pdf |
         trustPayment | recommendedOffers
    PUT  1.0/request/changePricePlan {soc} | addService {soc} | removeService {soc} |
         trustPayment {amount}
    GET  1.0/personal/profile
    GET  1.0/chat/topics | chat/history?since= | chat/unseen;  PUT 1.0/chat/message
    GET  1.0/captcha/<id>.png

Every JSON reply carries ``meta``: ``{"status": "OK"|"ERROR", "code": int, "message": str}``.
Error codes: 20001 bad request, 20002 wrong login or password, 20003 locked, 20004 token
expired, 20005 password change required, 20006 captcha required (``captcha: {id, url}``),
20007 rejected, 20008 number not under this login, 20009 too many requests (HTTP 429 with
``Retry-After``), 20010 wrong one-time code.

Polling too fast: more than :data:`RATE_LIMIT` requests within one second on one token answer
429. A poll is four requests, so a normal schedule never trips it; a tight loop does.
"""

from __future__ import annotations

import datetime as dt
import re
import time
from collections.abc import Callable
from decimal import Decimal, InvalidOperation
from typing import TYPE_CHECKING, Any

from litestar import Request, Response, Router, get, put, route
from litestar.exceptions import HTTPException
from litestar.params import FromPath

from ..domain.clock import MSK, first_of_next_month
from ..domain.errors import (
    AccountLocked,
    CaptchaRequired,
    CodeInvalid,
    DomainError,
    Forbidden,
    InvalidCredentials,
    InvalidInput,
    NotFound,
    PasswordChangeRequired,
    Rejected,
    SessionExpired,
)
from ..domain.models import Account, BulkAccount, ChatMessage, Session, TariffDef
from ..domain.money import rub
from ..domain.trust_payment import take_trust_payment, trust_offer

if TYPE_CHECKING:
    from ..backend import Backend

__all__ = ["RATE_LIMIT", "bulk_session", "error_response", "router"]

OPERATOR = "beeline"
#: Requests per token allowed within one second before 429.
RATE_LIMIT = 40
RETRY_AFTER_S = 1

CODE_OK = 20000
CODE_BAD_REQUEST = 20001
CODE_AUTH = 20002
CODE_LOCKED = 20003
CODE_TOKEN_EXPIRED = 20004
CODE_CHANGE_PASSWORD = 20005
CODE_CAPTCHA = 20006
CODE_REJECTED = 20007
CODE_CTN = 20008
CODE_TOO_MANY = 20009
CODE_BAD_CODE = 20010

_LOGIN = re.compile(r"\d{10}")
_STATUS = {
    "active": ("A", "Активен"),
    "suspended": ("S", "Добровольная блокировка"),
    "blocked": ("B", "Заблокирован: недостаточно средств"),
    "closed": ("C", "Договор расторгнут"),
}
_UNITS = {"seconds": "SECONDS", "sms": "SMS", "bytes": "KBYTE"}
_AUTHORS = {"user": "USER", "bot": "BOT", "agent": "OPERATOR"}
_KIND = {
    "mobile": "MOBILE",
    "internet": "FTTB",
    "tv": "TV",
    "landline": "LANDLINE",
    "bundle": "FMC",
    "other": "MOBILE",
}


# -- replies ----------------------------------------------------------------------------------


def _ok(message: str | None = None, **data: Any) -> Response[Any]:
    return Response({"meta": {"status": "OK", "code": CODE_OK, "message": message}, **data})


def _error(status: int, code: int, message: str, **extra: Any) -> Response[Any]:
    return Response(
        {"meta": {"status": "ERROR", "code": code, "message": message}, **extra},
        status_code=status,
    )


def _when(value: dt.datetime | dt.date) -> str:
    """Beeline's time format: ``2024-06-01T00:00:00.000+0300``."""
    if not isinstance(value, dt.datetime):
        value = dt.datetime(value.year, value.month, value.day, tzinfo=MSK)
    value = value.astimezone(MSK)
    return value.strftime("%Y-%m-%dT%H:%M:%S.") + f"{value.microsecond // 1000:03d}+0300"


def _amount(kopecks: int) -> float | int:
    """Roubles as a JSON number (Beeline sends floats): 412.5, 400."""
    value = rub(kopecks)
    return int(value) if value == value.to_integral_value() else float(value)


def _render_domain_error(exc: DomainError) -> Response[Any]:
    if isinstance(exc, CaptchaRequired):
        captcha = exc.captcha
        return _error(
            401,
            CODE_CAPTCHA,
            exc.message,
            captcha={"id": captcha.id, "url": f"1.0/captcha/{captcha.id}.png"},
        )
    if isinstance(exc, AccountLocked):
        return _error(423, CODE_LOCKED, exc.message)
    if isinstance(exc, InvalidCredentials):
        return _error(401, CODE_AUTH, exc.message)
    if isinstance(exc, SessionExpired):
        return _error(401, CODE_TOKEN_EXPIRED, exc.message)
    if isinstance(exc, PasswordChangeRequired):
        return _error(403, CODE_CHANGE_PASSWORD, exc.message)
    if isinstance(exc, CodeInvalid):
        return _error(400, CODE_BAD_CODE, exc.message)
    if isinstance(exc, Forbidden):
        return _error(403, CODE_CTN, "Номер не привязан к этому логину")
    if isinstance(exc, Rejected):
        return _error(409, CODE_REJECTED, exc.message)
    if isinstance(exc, NotFound):
        return _error(404, CODE_BAD_REQUEST, exc.message)
    return _error(400, CODE_BAD_REQUEST, exc.message)


class _TooManyRequests(Exception):
    pass


def error_response(request: Request[Any, Any, Any], exc: Exception) -> Response[Any]:
    """Errors raised before a handler ran (unknown path, wrong method), in Beeline's format."""
    if isinstance(exc, DomainError):
        return _render_domain_error(exc)
    if isinstance(exc, _TooManyRequests):
        response = _error(429, CODE_TOO_MANY, "Слишком много запросов, повторите позже")
        response.headers["Retry-After"] = str(RETRY_AFTER_S)
        return response
    status = exc.status_code if isinstance(exc, HTTPException) else 500
    if status >= 500:
        return _error(500, CODE_BAD_REQUEST, "Внутренняя ошибка")
    return _error(
        status,
        CODE_BAD_REQUEST,
        "Метод не найден" if status in (404, 405) else "Некорректный запрос",
    )


# -- the rate limit ----------------------------------------------------------------------------


class _RateLimiter:
    """A fixed one-second window per token; O(1) per request, pruned as it grows."""

    def __init__(self, limit: int) -> None:
        self.limit = limit
        self._windows: dict[str, tuple[int, int]] = {}

    def hit(self, key: str) -> None:
        second = int(time.monotonic())
        window, count = self._windows.get(key, (second, 0))
        if window != second:
            window, count = second, 0
        count += 1
        self._windows[key] = (window, count)
        if len(self._windows) > 50_000:
            self._windows = {k: v for k, v in self._windows.items() if v[0] == second}
        if count > self.limit:
            raise _TooManyRequests()


# -- the router ----------------------------------------------------------------------------------


def router(backend: Backend) -> Router:
    limiter = _RateLimiter(RATE_LIMIT)

    def session_of(request: Request[Any, Any, Any], allow_restricted: bool = False) -> Session:
        token = request.headers.get("x-auth-token") or ""
        limiter.hit(token or (request.client.host if request.client else "anonymous"))
        return backend.session(token, operator=OPERATOR, allow_restricted=allow_restricted)

    def account_of(request: Request[Any, Any, Any]) -> tuple[Session, Account]:
        session = session_of(request)
        ctn = request.headers.get("x-ctn") or request.query_params.get("ctn")
        if ctn:
            if not _LOGIN.fullmatch(ctn):
                raise InvalidInput("Номер: 10 цифр")
            acc = backend.account_for(session, ctn)
        elif session.current_account_id:
            acc = backend.account(session.current_account_id)
        else:
            raise NotFound("К логину не привязано ни одного номера")
        return session, backend.touch(acc)

    def login_param(request: Request[Any, Any, Any]) -> str:
        login = (request.query_params.get("login") or "").strip()
        if not _LOGIN.fullmatch(login):
            raise InvalidInput("Логин: номер телефона из 10 цифр без 8 и +7")
        return login

    async def body_of(request: Request[Any, Any, Any]) -> dict[str, Any]:
        raw = await request.body()
        if not raw.strip():
            return {}
        try:
            data = await request.json()
        except Exception:
            raise InvalidInput("Тело запроса не JSON") from None
        if not isinstance(data, dict):
            raise InvalidInput("Тело запроса должно быть объектом")
        return data

    def text_field(data: dict[str, Any], name: str, required: bool = True) -> str:
        value = data.get(name)
        if value is None and not required:
            return ""
        if not isinstance(value, str) or (required and not value):
            raise InvalidInput(f"Поле {name} обязательно")
        return value

    def date_param(request: Request[Any, Any, Any], name: str) -> dt.date:
        value = request.query_params.get(name) or ""
        try:
            return dt.date.fromisoformat(value[:10])
        except ValueError:
            raise InvalidInput(f"{name}: дата в формате ГГГГ-ММ-ДД") from None

    def plan(tariff: TariffDef) -> dict[str, Any]:
        return {
            "soc": tariff.id,
            "entityName": tariff.name,
            "rcRate": _amount(tariff.fee),
            "rcRatePeriod": "month",
            "entityDesc": tariff.description,
        }

    def service_block(service_id: str) -> dict[str, Any]:
        svc = backend.operator(OPERATOR).service(service_id)
        if svc is None:
            raise NotFound("Услуга не найдена")
        return {
            "soc": svc.id,
            "entityName": svc.name,
            "rcRate": _amount(svc.fee),
            "rcRatePeriodText": "в месяц",
            "entityDesc": svc.description,
            "removeInd": "Y" if svc.can_toggle else "N",
        }

    def chat_block(messages: list[ChatMessage]) -> list[dict[str, Any]]:
        return [
            {
                "id": m.id,
                "topicId": m.topic_id,
                "author": _AUTHORS[m.author],
                "text": m.text,
                "date": _when(m.sent_at),
                "operatorName": m.author_name if m.author == "agent" else None,
            }
            for m in messages
        ]

    # -- login ---------------------------------------------------------------------------
    @put("/2.0/auth/auth", status_code=200)
    async def auth(request: Request[Any, Any, Any]) -> Response[Any]:
        login = login_param(request)
        data = await body_of(request)
        password = text_field(data, "password")
        captcha_id = data.get("captchaId")
        captcha_text = data.get("captchaText")
        result = backend.login_password(
            OPERATOR,
            login,
            password,
            device=request.headers.get("x-device-id"),
            captcha_id=captcha_id if isinstance(captcha_id, str) else None,
            captcha_answer=captcha_text if isinstance(captcha_text, str) else None,
        )
        return _ok(token=result.session.token, tempPassInd=result.must_change_password)

    @route("/2.0/auth/auth", http_method=["DELETE"], status_code=200)
    async def logout(request: Request[Any, Any, Any]) -> Response[Any]:
        session = session_of(request, allow_restricted=True)
        backend.logout(session.token)
        return _ok("Сессия завершена")

    @route("/1.0/passReset", http_method=["GET", "POST"], status_code=200)
    async def pass_reset(request: Request[Any, Any, Any]) -> Response[Any]:
        login = login_param(request)
        sub = backend.find_subscriber(OPERATOR, login)
        if sub is None:
            raise InvalidCredentials("Абонент с таким номером не найден")
        backend.issue_temp_password(sub, "sms")
        phone = sub.phone or login
        return _ok(
            "Временный пароль отправлен в SMS", ctnMask=f"+7 {phone[:3]} ***-**-{phone[-2:]}"
        )

    @put("/1.0/setting/changePassword", status_code=200)
    async def change_password(request: Request[Any, Any, Any]) -> Response[Any]:
        session = session_of(request, allow_restricted=True)
        data = await body_of(request)
        backend.change_password(
            session, text_field(data, "oldPassword"), text_field(data, "newPassword")
        )
        return _ok("Пароль изменён")

    @get("/1.0/captcha/{name:str}", sync_to_thread=False)
    def captcha_image(name: FromPath[str]) -> Response[Any]:
        captcha = backend.captcha(name.removesuffix(".png"))
        return Response(captcha.png, media_type="image/png", headers={"Cache-Control": "no-store"})

    @get("/1.0/sso/subscribers", sync_to_thread=False)
    def subscribers(request: Request[Any, Any, Any]) -> Response[Any]:
        session = session_of(request)
        return _ok(
            subscribers=[
                {"ctn": acc.number, "name": acc.label, "accountType": _KIND[acc.kind]}
                for acc in backend.accounts_of(session.subscriber_id)
                if not acc.closed
            ]
        )

    # -- balance, tariff, status -----------------------------------------------------------
    @get("/1.0/info/payType", sync_to_thread=False)
    def pay_type(request: Request[Any, Any, Any]) -> Response[Any]:
        _, acc = account_of(request)
        return _ok(payType=acc.pay_type)

    @get("/1.0/info/prepaidBalance", sync_to_thread=False)
    def prepaid_balance(request: Request[Any, Any, Any]) -> Response[Any]:
        _, acc = account_of(request)
        if acc.pay_type != "PREPAID":
            raise Rejected("Номер обслуживается по постоплатной системе расчётов")
        trust_offer(backend, acc)  # settles a trusted payment that is due
        return _ok(
            balance=_amount(backend.balance(acc)),
            currency="RUB",
            nextBillingDate=_when(first_of_next_month(backend.clock.today())),
        )

    @get("/1.0/info/postpaidBalance", sync_to_thread=False)
    def postpaid_balance(request: Request[Any, Any, Any]) -> Response[Any]:
        _, acc = account_of(request)
        if acc.pay_type != "POSTPAID":
            raise Rejected("Номер обслуживается по предоплатной системе расчётов")
        due, amount = backend.next_payment(acc)
        return _ok(
            balance=_amount(backend.balance(acc)),
            currency="RUB",
            creditLimit=_amount(acc.credit_limit),
            nextBillingDate=_when(due),
            nextBillingAmount=_amount(amount),
        )

    @get("/1.0/info/pricePlan", sync_to_thread=False)
    def price_plan(request: Request[Any, Any, Any]) -> Response[Any]:
        _, acc = account_of(request)
        reply: dict[str, Any] = {"pricePlanInfo": plan(backend.tariff_of(acc))}
        pending = backend.pending_tariff(acc)
        if pending is not None:
            reply["futurePricePlan"] = {**plan(pending[0]), "effectiveDate": _when(pending[1])}
        return _ok(**reply)

    @get("/1.0/info/availablePricePlans", sync_to_thread=False)
    def available_price_plans(request: Request[Any, Any, Any]) -> Response[Any]:
        _, acc = account_of(request)
        return _ok(pricePlans=[plan(t) for t in backend.available_tariffs(acc)])

    @put("/1.0/request/changePricePlan", status_code=200)
    async def change_price_plan(request: Request[Any, Any, Any]) -> Response[Any]:
        _, acc = account_of(request)
        soc = text_field(await body_of(request), "soc")
        change = backend.change_tariff(acc, soc)
        return _ok(
            "Заявка на смену тарифа принята",
            requestId=f"r-{backend.next_id()}",
            effectiveDate=change.effective.isoformat(),
            pricePlanInfo=plan(change.tariff),
        )

    @get("/1.0/info/status", sync_to_thread=False)
    def status(request: Request[Any, Any, Any]) -> Response[Any]:
        _, acc = account_of(request)
        letter, text = _STATUS[backend.status(acc)]
        return _ok(status=letter, statusDesc=text)

    # -- services ----------------------------------------------------------------------------
    @get("/1.0/info/serviceList", sync_to_thread=False)
    def service_list(request: Request[Any, Any, Any]) -> Response[Any]:
        _, acc = account_of(request)
        return _ok(services=[service_block(s.id) for s, on in backend.services(acc) if on])

    @get("/1.0/info/availableServiceList", sync_to_thread=False)
    def available_service_list(request: Request[Any, Any, Any]) -> Response[Any]:
        _, acc = account_of(request)
        return _ok(
            services=[
                service_block(s.id) for s, on in backend.services(acc) if not on and s.can_toggle
            ]
        )

    async def toggle(request: Request[Any, Any, Any], enabled: bool) -> Response[Any]:
        _, acc = account_of(request)
        soc = text_field(await body_of(request), "soc")
        change = backend.set_service(acc, soc, enabled)
        return _ok(
            "Услуга подключена" if enabled else "Услуга отключена",
            requestId=f"r-{backend.next_id()}",
            effectiveDate=change.effective.isoformat(),
            service=service_block(change.service.id),
        )

    @put("/1.0/request/addService", status_code=200)
    async def add_service(request: Request[Any, Any, Any]) -> Response[Any]:
        return await toggle(request, True)

    @put("/1.0/request/removeService", status_code=200)
    async def remove_service(request: Request[Any, Any, Any]) -> Response[Any]:
        return await toggle(request, False)

    # -- usage, payments, detail -------------------------------------------------------------
    @get("/1.0/info/accumulators", sync_to_thread=False)
    def accumulators(request: Request[Any, Any, Any]) -> Response[Any]:
        _, acc = account_of(request)
        usage = backend.usage(acc)
        out = []
        for rest in usage.remainders:
            unit = _UNITS[rest.unit]
            div = 1024 if unit == "KBYTE" else 1
            out.append(
                {
                    "soc": acc.tariff_id,
                    "unit": unit,
                    "rest": rest.rest // div,
                    "size": rest.size // div,
                    "accName": rest.name,
                }
            )
        return _ok(accumulators=out)

    @get("/1.0/info/payments/history", sync_to_thread=False)
    def payments_history(request: Request[Any, Any, Any]) -> Response[Any]:
        _, acc = account_of(request)
        since, until = date_param(request, "startDate"), date_param(request, "endDate")
        if until < since:
            raise InvalidInput("Дата окончания раньше даты начала")
        entries = backend.payments(acc, since, until)
        return _ok(
            payments=[
                {
                    "paymentId": f"p-{e.id}",
                    "date": _when(e.at),
                    "amount": _amount(e.amount),
                    "type": "PAYMENT",
                    "paymentType": e.description.removeprefix("Пополнение: "),
                }
                for e in reversed(entries)
            ]
        )

    @get("/1.0/info/detail", sync_to_thread=False)
    def detail(request: Request[Any, Any, Any]) -> Response[Any]:
        _, acc = account_of(request)
        fmt = (request.query_params.get("format") or "").lower()
        if fmt not in ("xls", "xlsx", "pdf"):
            raise InvalidInput("Формат детализации: xls или pdf")
        report = backend.report(
            acc,
            date_param(request, "startDate"),
            date_param(request, "endDate"),
            "pdf" if fmt == "pdf" else "xlsx",
        )
        return Response(
            report.content,
            media_type=report.media_type,
            headers={"Content-Disposition": f'attachment; filename="{report.filename}"'},
        )

    @get("/1.0/info/trustPayment", sync_to_thread=False)
    def trust_payment_info(request: Request[Any, Any, Any]) -> Response[Any]:
        _, acc = account_of(request)
        offer = trust_offer(backend, acc)
        return _ok(
            offer.reason or None,
            available=offer.available,
            maxSum=_amount(offer.max_sum),
            fee=0,
            days=offer.days,
            debt=_amount(offer.outstanding) if offer.outstanding else None,
            dueDate=offer.due.isoformat() if offer.due else None,
        )

    @put("/1.0/request/trustPayment", status_code=200)
    async def trust_payment(request: Request[Any, Any, Any]) -> Response[Any]:
        _, acc = account_of(request)
        raw = (await body_of(request)).get("amount")
        if isinstance(raw, bool) or not isinstance(raw, int | float | str):
            raise InvalidInput("Укажите сумму")
        try:
            amount = Decimal(str(raw))
        except InvalidOperation:
            raise InvalidInput("Некорректная сумма") from None
        if not amount.is_finite() or amount * 100 != (amount * 100).to_integral_value():
            raise InvalidInput("Некорректная сумма")
        entry = take_trust_payment(backend, acc, int(amount * 100))
        return _ok("Доверительный платёж зачислен", requestId=f"p-{entry.id}")

    # -- offers, profile -----------------------------------------------------------------------
    @get("/1.0/info/recommendedOffers", sync_to_thread=False)
    def recommended_offers(request: Request[Any, Any, Any]) -> Response[Any]:
        account_of(request)
        return _ok(
            offers=[
                {
                    "id": n.id,
                    "title": n.title,
                    "description": n.text,
                    "startDate": n.published.isoformat(),
                }
                for n in backend.news(OPERATOR)
                if n.kind == "offer"
            ]
        )

    @get("/1.0/personal/profile", sync_to_thread=False)
    def profile(request: Request[Any, Any, Any]) -> Response[Any]:
        session, acc = account_of(request)
        data = backend.profile(backend.subscriber(session.subscriber_id), acc)
        return _ok(
            profile={"fullName": data["full_name"], "email": data["email"], "ctn": acc.number}
        )

    # -- chat ----------------------------------------------------------------------------------
    @get("/1.0/chat/topics", sync_to_thread=False)
    def chat_topics(request: Request[Any, Any, Any]) -> Response[Any]:
        account_of(request)
        return _ok(topics=[{"id": t.id, "name": t.title} for t in backend.chat_topics(OPERATOR)])

    @put("/1.0/chat/message", status_code=200)
    async def chat_message(request: Request[Any, Any, Any]) -> Response[Any]:
        _, acc = account_of(request)
        data = await body_of(request)
        sent = backend.send_chat(acc, text_field(data, "topicId"), text_field(data, "text"))
        return _ok(messages=chat_block(sent))

    @get("/1.0/chat/history", sync_to_thread=False)
    def chat_history(request: Request[Any, Any, Any]) -> Response[Any]:
        _, acc = account_of(request)
        since_raw = request.query_params.get("since")
        since = None
        if since_raw:
            try:
                since = dt.datetime.fromisoformat(since_raw.replace("Z", "+00:00"))
            except ValueError:
                raise InvalidInput("since: дата и время ISO 8601") from None
            if since.tzinfo is None:
                since = since.replace(tzinfo=MSK)
        return _ok(
            messages=chat_block(backend.chat_history(acc, since)), pending=backend.chat_pending(acc)
        )

    @get("/1.0/chat/unseen", sync_to_thread=False)
    def chat_unseen(request: Request[Any, Any, Any]) -> Response[Any]:
        _, acc = account_of(request)
        return _ok(messages=chat_block(backend.chat_unseen(acc)))

    handlers: list[Callable[..., Any]] = [
        auth,
        logout,
        pass_reset,
        change_password,
        captcha_image,
        subscribers,
        pay_type,
        prepaid_balance,
        postpaid_balance,
        price_plan,
        available_price_plans,
        change_price_plan,
        status,
        service_list,
        available_service_list,
        add_service,
        remove_service,
        accumulators,
        payments_history,
        detail,
        trust_payment_info,
        trust_payment,
        recommended_offers,
        profile,
        chat_topics,
        chat_message,
        chat_history,
        chat_unseen,
    ]
    return Router(
        path="/api",
        route_handlers=handlers,
        exception_handlers={
            DomainError: _domain_handler,
            _TooManyRequests: error_response,
            HTTPException: error_response,
            Exception: error_response,
        },
        tags=["beeline"],
    )


def bulk_session(backend: Backend, account: BulkAccount) -> dict[str, Any]:
    """``Session.data`` of the Beeline plugin for a bulk-created account (benchmarks)."""
    return {"token": account.token, "login": account.login}


def _domain_handler(request: Request[Any, Any, Any], exc: DomainError) -> Response[Any]:
    return _render_domain_error(exc)
