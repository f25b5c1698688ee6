"""The native REST dialect, ``/reference/api/v1``: every feature of the domain, plain JSON.

Conventions (what the ``reference`` plugin speaks):
- Authenticated calls send ``Authorization: Bearer <token>``; ``X-Device-Id`` names the client
  device (a captcha is demanded on a new device for some logins).
- Money is a decimal string in roubles (``"850.00"``); dates are ISO 8601.
- Errors: ``{"error": {"code": ..., "message": ...}}`` with a meaningful HTTP status; a captcha
  demand adds ``"captcha": {"id", "image_url"}``, a lockout adds ``"until"``.
- An operation the operator protects with a one-time code answers ``202`` with
  ``{"confirmation": {"id", "operation", "channel", "masked_destination", "code_length",
  "expires_at"}}``; ``POST /confirmations/{id}`` with ``{"code"}`` finishes it.
"""

from __future__ import annotations

import datetime as dt
import logging
import secrets
from typing import Any, Literal
from urllib.parse import parse_qs, urlencode, urlsplit

from litestar import Request, Response, Router, delete, get, post, put
from litestar.exceptions import HTTPException, ValidationException
from litestar.params import FromPath, FromQuery, JSONBody
from pydantic import BaseModel, Field

from ..backend import Backend
from ..domain import (
    AccountLocked,
    CaptchaRequired,
    CodeInvalid,
    DomainError,
    InvalidCredentials,
    InvalidInput,
    NotFound,
    kop,
    rub,
)
from ..domain.catalogue import SSO_PROVIDERS
from ..domain.models import (
    Account,
    AuthResult,
    Autopay,
    ChatMessage,
    ConfirmationTicket,
    LedgerEntry,
    Quote,
    ServiceChange,
    ServiceDef,
    Session,
    Suspension,
    TariffChange,
    TariffDef,
)
from ..domain.money import format_rub

__all__ = ["error_response", "router"]

log = logging.getLogger("reference_provider.native")
PREFIX = "/reference/api/v1"
OPERATOR = "reference"


# -- request bodies ----------------------------------------------------------------------
class PasswordLogin(BaseModel):
    login: str = Field(min_length=1, max_length=200)
    password: str = Field(min_length=1, max_length=200)
    captcha_id: str | None = None
    captcha_answer: str | None = None


class CodeRequest(BaseModel):
    login: str = Field(min_length=1, max_length=200)
    channel: Literal["sms", "email"] = "sms"
    captcha_id: str | None = None
    captcha_answer: str | None = None


class CodeAnswer(BaseModel):
    ticket: str = Field(min_length=1)
    code: str = Field(min_length=1, max_length=20)


class CodeResend(BaseModel):
    ticket: str = Field(min_length=1)


class SsoStart(BaseModel):
    provider: str
    redirect_uri: str | None = None


class SsoFinish(BaseModel):
    callback_url: str | None = None
    code: str | None = None
    state: str | None = None


class PasswordChange(BaseModel):
    old_password: str = Field(min_length=1)
    new_password: str = Field(min_length=1, max_length=200)


class ResetStart(BaseModel):
    login: str = Field(min_length=1)
    channel: Literal["sms", "email"] = "sms"


class ResetFinish(BaseModel):
    ticket: str
    code: str
    new_password: str = Field(min_length=1, max_length=200)


class TariffOrder(BaseModel):
    tariff_id: str


class ServiceToggle(BaseModel):
    enabled: bool


class Period(BaseModel):
    start: dt.date
    end: dt.date


class ChatPost(BaseModel):
    topic_id: str
    text: str = Field(min_length=1, max_length=2000)


class TopUp(BaseModel):
    amount: str = Field(description="roubles, e.g. '500.00'")


class AutopayBody(BaseModel):
    enabled: bool
    threshold: str | None = None
    amount: str | None = None
    card_mask: str | None = Field(None, max_length=32)


class Confirm(BaseModel):
    code: str = Field(min_length=1, max_length=20)


# -- rendering -----------------------------------------------------------------------------
def money(kopecks: int | None) -> str | None:
    return None if kopecks is None else str(rub(kopecks))


def tariff_json(t: TariffDef) -> dict[str, Any]:
    return {
        "id": t.id,
        "name": t.name,
        "price": money(t.fee),
        "period": "month",
        "description": t.description,
    }


def service_json(s: ServiceDef, enabled: bool) -> dict[str, Any]:
    return {
        "id": s.id,
        "name": s.name,
        "enabled": enabled,
        "price": money(s.fee),
        "period": "month",
        "description": s.description,
        "can_toggle": s.can_toggle,
    }


def entry_json(e: LedgerEntry) -> dict[str, Any]:
    return {
        "id": str(e.id),
        "at": e.at.isoformat(),
        "amount": money(abs(e.amount)),
        "kind": "payment" if e.amount > 0 else "charge",
        "description": e.description,
    }


def message_json(m: ChatMessage) -> dict[str, Any]:
    return {
        "id": str(m.id),
        "topic_id": m.topic_id,
        "author": m.author,
        "text": m.text,
        "sent_at": m.sent_at.isoformat(),
        "author_name": m.author_name,
    }


def quote_json(q: Quote) -> dict[str, Any]:
    return {
        "start": q.start.isoformat(),
        "end": q.end.isoformat(),
        "days": q.days,
        "free_days": q.free_days,
        "paid_days": q.paid_days,
        "total": money(q.total),
        "cost_rule": rule_json(q.rule.free_days, q.daily_fee, q.rule.description),
    }


def rule_json(free_days: int | None, daily_fee: int, description: str) -> dict[str, Any]:
    return {
        "free_days": free_days,
        "daily_fee": money(daily_fee) if daily_fee else None,
        "description": description,
    }


def autopay_json(ap: Autopay) -> dict[str, Any]:
    return {
        "enabled": ap.enabled,
        "threshold": money(ap.threshold if ap.enabled else None),
        "amount": money(ap.amount if ap.enabled else None),
        "card_mask": ap.card_mask,
    }


def token_json(result: AuthResult) -> dict[str, Any]:
    return {
        "token": result.session.token,
        "expires_at": result.session.expires_at.isoformat(),
        "must_change_password": result.must_change_password,
    }


def ticket_json(
    t: ConfirmationTicket, operation: str | None = None, resend_after: int = 0
) -> dict[str, Any]:
    return {
        "id": t.id,
        "operation": operation or t.purpose,
        "channel": t.channel,
        "masked_destination": t.masked_destination,
        "code_length": len(t.code),
        "expires_at": t.expires_at.isoformat(),
        "resend_after": resend_after,
    }


def error_body(exc: DomainError) -> dict[str, Any]:
    body: dict[str, Any] = {"code": exc.code, "message": exc.message}
    if isinstance(exc, CaptchaRequired):
        body["captcha"] = {
            "id": exc.captcha.id,
            "image_url": f"{PREFIX}/auth/captcha/{exc.captcha.id}",
        }
    if isinstance(exc, AccountLocked):
        body["until"] = exc.until.isoformat()
    return {"error": body}


def error_response(request: Request[Any, Any, Any], exc: Exception) -> Response[Any]:
    """Every error of this dialect, including 404/405 raised before a handler runs."""
    if isinstance(exc, DomainError):
        return Response(error_body(exc), status_code=exc.status)
    if isinstance(exc, ValidationException):
        problems = [
            f"{e.get('key', '')}: {e.get('message', '')}"
            for e in (exc.extra if isinstance(exc.extra, list) else [])
            if isinstance(e, dict)
        ]
        detail = "; ".join(problems) or str(exc.detail).split(" for path ")[0]
        return Response(
            {
                "error": {
                    "code": "invalid_input",
                    "message": f"Некорректные данные запроса: {detail}",
                }
            },
            status_code=400,
        )
    if isinstance(exc, HTTPException):
        code = {400: "invalid_input", 404: "not_found", 405: "method_not_allowed"}.get(
            exc.status_code, "http_error"
        )
        return Response(
            {"error": {"code": code, "message": exc.detail}}, status_code=exc.status_code
        )
    log.error("unhandled %s on %s", type(exc).__name__, request.url.path)
    return Response(
        {"error": {"code": "internal", "message": "Внутренняя ошибка"}}, status_code=500
    )


RENEWED_TOKEN = "renewed_token"
RENEWED_HEADER = b"x-renewed-token"


async def renewed_token_header(message: Any, scope: Any) -> None:
    """``before_send``: a call that rotated the token tells the client its new one."""
    token = (scope.get("state") or {}).get(RENEWED_TOKEN)
    if token and message.get("type") == "http.response.start":
        message.setdefault("headers", []).append((RENEWED_HEADER, token.encode()))


# -- the router ------------------------------------------------------------------------------
def router(backend: Backend) -> Router:
    b = backend
    sso_states: dict[str, tuple[str, str]] = {}  # state -> (provider, redirect_uri)

    def session_of(request: Request[Any, Any, Any], *, allow_restricted: bool = False) -> Session:
        auth = request.headers.get("authorization", "")
        token = auth[7:] if auth[:7].lower() == "bearer " else None
        session = b.session(token, operator=OPERATOR, allow_restricted=allow_restricted)
        fresh = b.rotated(session)
        if fresh is None:
            return session
        # The answer names the new token (X-Renewed-Token); the old one is gone already.
        request.scope.setdefault("state", {})[RENEWED_TOKEN] = fresh.token
        return fresh

    def account_of(request: Request[Any, Any, Any], account_id: str) -> Account:
        return b.account_for(session_of(request), account_id)

    def device(request: Request[Any, Any, Any]) -> str | None:
        return request.headers.get("x-device-id")

    def protected(
        request: Request[Any, Any, Any],
        acc: Account,
        operation: str,
        params: dict[str, Any],
        run: Any,
    ) -> Response[Any]:
        """Run now, or answer 202 with a confirmation when the operator wants a code."""
        if b.needs_confirmation(acc, operation, params):
            ticket = b.start_operation(session_of(request), acc, operation, params)
            return Response(
                {"confirmation": ticket_json(ticket, resend_after=b.resend_after(ticket))},
                status_code=202,
            )
        return Response(run(b.run_operation(acc, operation, params)))

    # -- authentication ----------------------------------------------------------------------
    @post("/auth/login", status_code=200, sync_to_thread=False)
    def login(data: JSONBody[PasswordLogin], request: Request[Any, Any, Any]) -> dict[str, Any]:
        """Log in with a login (or phone, e-mail, account number) and a password."""
        return token_json(
            b.login_password(
                OPERATOR,
                data.login,
                data.password,
                device=device(request),
                captcha_id=data.captcha_id,
                captcha_answer=data.captcha_answer,
            )
        )

    @get("/auth/captcha/{captcha_id:str}", sync_to_thread=False, media_type="image/png")
    def captcha_image(captcha_id: FromPath[str]) -> Response[bytes]:
        return Response(
            b.captcha(captcha_id).png, media_type="image/png", headers={"cache-control": "no-store"}
        )

    @post("/auth/code", status_code=200, sync_to_thread=False)
    def send_code(data: JSONBody[CodeRequest], request: Request[Any, Any, Any]) -> dict[str, Any]:
        """Send a one-time login code by SMS or e-mail."""
        ticket = b.send_login_code(
            OPERATOR,
            data.login,
            data.channel,
            device=device(request),
            captcha_id=data.captcha_id,
            captcha_answer=data.captcha_answer,
        )
        return {"ticket": ticket.id, **ticket_json(ticket, resend_after=b.resend_after(ticket))}

    @post("/auth/code/verify", status_code=200, sync_to_thread=False)
    def verify_code(data: JSONBody[CodeAnswer], request: Request[Any, Any, Any]) -> dict[str, Any]:
        return token_json(b.login_code(data.ticket, data.code, device=device(request)))

    @post("/auth/code/resend", status_code=200, sync_to_thread=False)
    def resend_login_code(data: JSONBody[CodeResend]) -> dict[str, Any]:
        """A new login code for the same ticket (``resend_after`` seconds after the last)."""
        known = b.tickets.get(data.ticket) or b.retired_tickets.get(data.ticket)
        if known is None or known.purpose != "login":
            raise CodeInvalid("Запрос устарел, начните заново")
        ticket = b.resend_code(data.ticket)
        return {"ticket": ticket.id, **ticket_json(ticket, resend_after=b.resend_after(ticket))}

    @post("/auth/sso", status_code=200, sync_to_thread=False)
    def sso_start(data: JSONBody[SsoStart], request: Request[Any, Any, Any]) -> dict[str, Any]:
        """Where to send the user to log in through an identity provider."""
        if data.provider not in SSO_PROVIDERS:
            raise InvalidInput(f"Поставщик входа: {', '.join(SSO_PROVIDERS)}")
        base = str(request.base_url).rstrip("/")
        redirect_uri = data.redirect_uri or f"{base}{PREFIX}/auth/sso/callback"
        if not redirect_uri.startswith(("http://", "https://")):
            raise InvalidInput("Некорректный адрес возврата")
        state = secrets.token_urlsafe(16)
        if len(sso_states) > 10_000:
            sso_states.pop(next(iter(sso_states)))
        sso_states[state] = (data.provider, redirect_uri)
        query = urlencode(
            {
                "response_type": "code",
                "client_id": "reference",
                "redirect_uri": redirect_uri,
                "state": state,
                "scope": "openid",
            }
        )
        return {"authorize_url": f"{base}/idp/{data.provider}/authorize?{query}", "state": state}

    @get("/auth/sso/callback", sync_to_thread=False, media_type="text/html")
    def sso_callback() -> Response[str]:
        """The default landing page after the identity provider: copy this page's address."""
        return Response(
            '<!doctype html><html lang="ru"><head><meta charset="utf-8"><title>Вход</title>'
            "</head><body><main><h1>Вход подтверждён</h1><p>Вернитесь в приложение; адрес "
            "этой страницы завершает вход.</p></main></body></html>",
            media_type="text/html; charset=utf-8",
        )

    @post("/auth/sso/finish", status_code=200, sync_to_thread=False)
    def sso_finish(data: JSONBody[SsoFinish], request: Request[Any, Any, Any]) -> dict[str, Any]:
        """Finish an SSO login with the callback URL (or its code and state)."""
        code, state = data.code, data.state
        if data.callback_url:
            query = parse_qs(urlsplit(data.callback_url).query)
            if "error" in query:
                raise InvalidCredentials("Вход через поставщика отменён")
            code = query.get("code", [""])[0]
            state = query.get("state", [""])[0]
        if not code or not state or state not in sso_states:
            raise InvalidCredentials("Вход через поставщика устарел, начните заново")
        provider, redirect_uri = sso_states.pop(state)
        tokens = b.idp_exchange_code(provider, code, "reference", redirect_uri)
        return token_json(b.login_idp(OPERATOR, provider, tokens.subject, device(request)))

    @post("/auth/password", status_code=200, sync_to_thread=False)
    def change_password(
        data: JSONBody[PasswordChange], request: Request[Any, Any, Any]
    ) -> dict[str, Any]:
        """Change the password (required after a login with a temporary one)."""
        b.change_password(
            session_of(request, allow_restricted=True), data.old_password, data.new_password
        )
        return {"ok": True}

    @post("/auth/password-reset", status_code=200, sync_to_thread=False)
    def reset_start(data: JSONBody[ResetStart]) -> dict[str, Any]:
        ticket = b.start_password_reset(OPERATOR, data.login, data.channel)
        return {"ticket": ticket.id, **ticket_json(ticket)}

    @post("/auth/password-reset/confirm", status_code=200, sync_to_thread=False)
    def reset_finish(data: JSONBody[ResetFinish]) -> dict[str, Any]:
        b.finish_password_reset(data.ticket, data.code, data.new_password)
        return {"ok": True}

    @post("/auth/logout", status_code=200, sync_to_thread=False)
    def logout(request: Request[Any, Any, Any]) -> dict[str, Any]:
        b.logout(session_of(request, allow_restricted=True).token)
        return {"ok": True}

    @get("/session", sync_to_thread=False)
    def session_info(request: Request[Any, Any, Any]) -> dict[str, Any]:
        s = session_of(request, allow_restricted=True)
        return {
            "valid": True,
            "expires_at": s.expires_at.isoformat(),
            "must_change_password": s.restricted,
        }

    # -- accounts ------------------------------------------------------------------------------
    @get("/accounts", sync_to_thread=False)
    def accounts(request: Request[Any, Any, Any]) -> dict[str, Any]:
        """Every account under this login."""
        s = session_of(request)
        return {
            "accounts": [
                {
                    "id": a.id,
                    "number": a.number,
                    "kind": a.kind,
                    "label": a.label,
                    "state": b.status(a),
                }
                for a in b.accounts_of(s.subscriber_id)
            ]
        }

    @get("/accounts/{account_id:str}", sync_to_thread=False)
    def account_summary(
        account_id: FromPath[str], request: Request[Any, Any, Any]
    ) -> dict[str, Any]:
        """What a poll needs in one call: balance, tariff, state, block end, and the
        operator's maintenance notices (its «important messages»: works announced)."""
        acc = account_of(request, account_id)
        block = b.current_suspension(acc)
        notices = [n for n in b.news(acc.operator) if n.kind == "maintenance"]
        return {
            "id": acc.id,
            "number": acc.number,
            "kind": acc.kind,
            "label": acc.label,
            "state": b.status(acc),
            "balance": balance_json(acc),
            "tariff": {"id": acc.tariff_id, "name": b.tariff_of(acc).name},
            "suspension_end": block.last_day.isoformat() if block else None,
            "notices": [
                {
                    "id": n.id,
                    "title": n.title,
                    "text": n.text,
                    "published": n.published.isoformat(),
                    "kind": n.kind,
                }
                for n in notices
            ],
        }

    def balance_json(acc: Account) -> dict[str, Any]:
        due, amount = b.next_payment(acc)
        return {
            "amount": money(b.balance(acc)),
            "currency": "RUB",
            "as_of": b.now().isoformat(),
            "credit_limit": money(acc.credit_limit or None),
            "bonus": money(acc.bonus),
            "next_charge_date": due.isoformat(),
            "next_charge_amount": money(amount),
        }

    @get("/accounts/{account_id:str}/balance", sync_to_thread=False)
    def balance(account_id: FromPath[str], request: Request[Any, Any, Any]) -> dict[str, Any]:
        return balance_json(account_of(request, account_id))

    @get("/accounts/{account_id:str}/tariffs", sync_to_thread=False)
    def tariffs(account_id: FromPath[str], request: Request[Any, Any, Any]) -> dict[str, Any]:
        acc = account_of(request, account_id)
        pending = b.pending_tariff(acc)
        return {
            "current": tariff_json(b.tariff_of(acc)),
            "available": [tariff_json(t) for t in b.available_tariffs(acc)],
            "pending": tariff_json(pending[0]) if pending else None,
            "pending_from": pending[1].isoformat() if pending else None,
        }

    @post("/accounts/{account_id:str}/tariff", status_code=200, sync_to_thread=False)
    def change_tariff(
        account_id: FromPath[str], data: JSONBody[TariffOrder], request: Request[Any, Any, Any]
    ) -> Response[Any]:
        """Order a tariff change (from the 1st of next month); may need a code (202)."""
        acc = account_of(request, account_id)
        return protected(
            request, acc, "change_tariff", {"tariff_id": data.tariff_id}, operation_json
        )

    @get("/accounts/{account_id:str}/services", sync_to_thread=False)
    def services(account_id: FromPath[str], request: Request[Any, Any, Any]) -> dict[str, Any]:
        acc = account_of(request, account_id)
        return {"services": [service_json(s, on) for s, on in b.services(acc)]}

    @put("/accounts/{account_id:str}/services/{service_id:str}", sync_to_thread=False)
    def set_service(
        account_id: FromPath[str],
        service_id: FromPath[str],
        data: JSONBody[ServiceToggle],
        request: Request[Any, Any, Any],
    ) -> Response[Any]:
        """Switch a service on or off; enabling a paid one needs a code (202)."""
        acc = account_of(request, account_id)
        return protected(
            request,
            acc,
            "set_service",
            {"service_id": service_id, "enabled": data.enabled},
            operation_json,
        )

    @get("/accounts/{account_id:str}/suspension", sync_to_thread=False)
    def suspension(account_id: FromPath[str], request: Request[Any, Any, Any]) -> dict[str, Any]:
        acc = account_of(request, account_id)
        return suspension_json(acc, b.current_suspension(acc))

    def suspension_json(acc: Account, block: Suspension | None) -> dict[str, Any]:
        rule = b.operator(acc.operator).suspension
        status = block.status(b.now()) if block else "none"
        state = {"requested": "requested", "scheduled": "scheduled", "active": "suspended"}.get(
            status, "active"
        )
        return {
            "state": state,
            "start": block.start.isoformat() if block and state != "active" else None,
            "end": block.last_day.isoformat() if block and state != "active" else None,
            "cost_rule": rule_json(rule.free_days, rule.daily_fee, rule.description),
            "max_days": rule.max_days,
        }

    @post("/accounts/{account_id:str}/suspension/quote", status_code=200, sync_to_thread=False)
    def quote(
        account_id: FromPath[str], data: JSONBody[Period], request: Request[Any, Any, Any]
    ) -> dict[str, Any]:
        """What a block from start to end will cost (shown before the user confirms)."""
        return quote_json(b.quote_suspension(account_of(request, account_id), data.start, data.end))

    @post("/accounts/{account_id:str}/suspension", status_code=200, sync_to_thread=False)
    def suspend(
        account_id: FromPath[str], data: JSONBody[Period], request: Request[Any, Any, Any]
    ) -> Response[Any]:
        acc = account_of(request, account_id)
        return protected(
            request,
            acc,
            "suspend",
            {"start": data.start.isoformat(), "end": data.end.isoformat()},
            lambda block: suspension_json(acc, block),
        )

    @delete("/accounts/{account_id:str}/suspension", status_code=200, sync_to_thread=False)
    def resume(account_id: FromPath[str], request: Request[Any, Any, Any]) -> dict[str, Any]:
        acc = account_of(request, account_id)
        b.resume(acc)
        return suspension_json(acc, b.current_suspension(acc))

    # -- chat ------------------------------------------------------------------------------------
    @get("/accounts/{account_id:str}/chat/topics", sync_to_thread=False)
    def chat_topics(account_id: FromPath[str], request: Request[Any, Any, Any]) -> dict[str, Any]:
        acc = account_of(request, account_id)
        return {"topics": [{"id": t.id, "title": t.title} for t in b.chat_topics(acc.operator)]}

    @get("/accounts/{account_id:str}/chat", sync_to_thread=False)
    def chat_history(
        account_id: FromPath[str],
        request: Request[Any, Any, Any],
        since: FromQuery[dt.datetime | None] = None,
    ) -> dict[str, Any]:
        acc = account_of(request, account_id)
        return {
            "messages": [message_json(m) for m in b.chat_history(acc, since)],
            "pending": b.chat_pending(acc),
        }

    @get("/accounts/{account_id:str}/chat/unseen", sync_to_thread=False)
    def chat_unseen(account_id: FromPath[str], request: Request[Any, Any, Any]) -> dict[str, Any]:
        """Replies that arrived while the user was away (fetching marks them seen)."""
        return {
            "messages": [message_json(m) for m in b.chat_unseen(account_of(request, account_id))]
        }

    @post("/accounts/{account_id:str}/chat", status_code=200, sync_to_thread=False)
    def chat_send(
        account_id: FromPath[str], data: JSONBody[ChatPost], request: Request[Any, Any, Any]
    ) -> dict[str, Any]:
        """Send a message; the answer holds it and the bot's immediate reply."""
        acc = account_of(request, account_id)
        return {"messages": [message_json(m) for m in b.send_chat(acc, data.topic_id, data.text)]}

    # -- payments ------------------------------------------------------------------------------
    @get("/accounts/{account_id:str}/payments", sync_to_thread=False)
    def payments(
        account_id: FromPath[str],
        request: Request[Any, Any, Any],
        since: FromQuery[dt.date | None] = None,
        until: FromQuery[dt.date | None] = None,
        kind: FromQuery[Literal["all", "payments", "charges"]] = "all",
    ) -> dict[str, Any]:
        """Payments and charges between two dates (inclusive)."""
        acc = account_of(request, account_id)
        entries = b.ledger(acc, since, until)
        if kind == "payments":
            entries = [e for e in entries if e.amount > 0]
        elif kind == "charges":
            entries = [e for e in entries if e.amount < 0]
        return {"payments": [entry_json(e) for e in entries]}

    @post("/accounts/{account_id:str}/top-up", status_code=200, sync_to_thread=False)
    def top_up(
        account_id: FromPath[str], data: JSONBody[TopUp], request: Request[Any, Any, Any]
    ) -> Response[Any]:
        """Top up by card; confirmed by a one-time code (202)."""
        acc = account_of(request, account_id)
        return protected(request, acc, "top_up", {"amount": kop(data.amount)}, operation_json)

    @get("/accounts/{account_id:str}/autopay", sync_to_thread=False)
    def autopay(account_id: FromPath[str], request: Request[Any, Any, Any]) -> dict[str, Any]:
        return autopay_json(account_of(request, account_id).autopay)

    @put("/accounts/{account_id:str}/autopay", sync_to_thread=False)
    def set_autopay(
        account_id: FromPath[str], data: JSONBody[AutopayBody], request: Request[Any, Any, Any]
    ) -> Response[Any]:
        acc = account_of(request, account_id)
        params = {
            "enabled": data.enabled,
            "card_mask": data.card_mask,
            "threshold": kop(data.threshold) if data.threshold else 0,
            "amount": kop(data.amount) if data.amount else 0,
        }
        return protected(request, acc, "set_autopay", params, operation_json)

    # -- reports, usage, news, profile -------------------------------------------------------------
    @get("/accounts/{account_id:str}/report", sync_to_thread=False)
    def report(
        account_id: FromPath[str],
        request: Request[Any, Any, Any],
        start: FromQuery[dt.date],
        end: FromQuery[dt.date],
        format: FromQuery[Literal["pdf", "xlsx"]] = "pdf",
    ) -> Response[bytes]:
        """Spending detail as a real PDF or XLSX file."""
        file = b.report(account_of(request, account_id), start, end, format)
        return Response(
            file.content,
            media_type=file.media_type,
            headers={"content-disposition": f'attachment; filename="{file.filename}"'},
        )

    @get("/accounts/{account_id:str}/usage", sync_to_thread=False)
    def usage(account_id: FromPath[str], request: Request[Any, Any, Any]) -> dict[str, Any]:
        u = b.usage(account_of(request, account_id))
        return {
            "remainders": [
                {
                    "name": r.name,
                    "unit": r.unit,
                    "rest": r.rest,
                    "size": r.size,
                    "period_end": r.period_end.isoformat() if r.period_end else None,
                }
                for r in u.remainders
            ],
            "traffic": {
                "start": u.traffic.start.isoformat(),
                "end": u.traffic.end.isoformat(),
                "downloaded_bytes": u.traffic.downloaded,
                "uploaded_bytes": u.traffic.uploaded,
            },
        }

    @get("/accounts/{account_id:str}/traffic", sync_to_thread=False)
    def traffic(
        account_id: FromPath[str],
        request: Request[Any, Any, Any],
        since: FromQuery[dt.date],
        until: FromQuery[dt.date],
    ) -> dict[str, Any]:
        """Bytes downloaded and uploaded from ``since`` to ``until`` (inclusive)."""
        t = b.traffic(account_of(request, account_id), since, until)
        return {
            "start": t.start.isoformat(),
            "end": t.end.isoformat(),
            "downloaded_bytes": t.downloaded,
            "uploaded_bytes": t.uploaded,
        }

    @get("/accounts/{account_id:str}/news", sync_to_thread=False)
    def news(account_id: FromPath[str], request: Request[Any, Any, Any]) -> dict[str, Any]:
        acc = account_of(request, account_id)
        return {
            "news": [
                {
                    "id": n.id,
                    "title": n.title,
                    "text": n.text,
                    "published": n.published.isoformat(),
                    "kind": n.kind,
                }
                for n in b.news(acc.operator)
            ]
        }

    @get("/accounts/{account_id:str}/profile", sync_to_thread=False)
    def profile(account_id: FromPath[str], request: Request[Any, Any, Any]) -> dict[str, Any]:
        acc = account_of(request, account_id)
        return b.profile(b.subscriber(acc.subscriber_id), acc)

    # -- confirmations ---------------------------------------------------------------------------
    def operation_json(result: Any) -> dict[str, Any]:
        if isinstance(result, TariffChange):
            return {
                "operation": "change_tariff",
                "tariff": tariff_json(result.tariff),
                "effective_date": result.effective.isoformat(),
                "message": f"Тариф «{result.tariff.name}» с {result.effective:%d.%m.%Y}",
            }
        if isinstance(result, ServiceChange):
            verb = "подключена" if result.enabled else "отключена"
            return {
                "operation": "set_service",
                "service": service_json(result.service, result.enabled),
                "effective_date": result.effective.isoformat(),
                "message": f"Услуга «{result.service.name}» {verb}",
            }
        if isinstance(result, LedgerEntry):
            return {
                "operation": "top_up",
                "payment": entry_json(result),
                "message": f"Счёт пополнен на {format_rub(result.amount)}",
            }
        if isinstance(result, Autopay):
            return {
                "operation": "set_autopay",
                **autopay_json(result),
                "message": "Автоплатёж " + ("включён" if result.enabled else "выключен"),
            }
        if isinstance(result, Suspension):
            return {
                "operation": "suspend",
                "start": result.start.isoformat(),
                "end": result.end.isoformat(),
                "effective_date": result.start.isoformat(),
                "message": "Заявка на блокировку принята",
            }
        return {"operation": "unknown"}

    @post("/confirmations/{ticket_id:str}", status_code=200, sync_to_thread=False)
    def confirm(
        ticket_id: FromPath[str], data: JSONBody[Confirm], request: Request[Any, Any, Any]
    ) -> dict[str, Any]:
        """Finish an operation that answered 202, with the code sent by SMS."""
        session = session_of(request)
        ticket = b.tickets.get(ticket_id)
        result = b.confirm_operation(session, ticket_id, data.code)
        body = operation_json(result)
        if isinstance(result, LedgerEntry) and ticket and ticket.account_id:
            body["balance"] = money(b.balance(b.account(ticket.account_id)))
        return body

    @post("/confirmations/{ticket_id:str}/resend", status_code=200, sync_to_thread=False)
    def resend_confirmation(
        ticket_id: FromPath[str], request: Request[Any, Any, Any]
    ) -> dict[str, Any]:
        """A new code for an operation waiting for one."""
        session = session_of(request)
        known = b.tickets.get(ticket_id) or b.retired_tickets.get(ticket_id)
        if known is None or known.subscriber_id != session.subscriber_id or not known.account_id:
            raise NotFound("Операция не найдена или устарела")
        ticket = b.resend_code(ticket_id)
        return ticket_json(ticket, resend_after=b.resend_after(ticket))

    handlers = [
        login,
        captcha_image,
        send_code,
        verify_code,
        resend_login_code,
        resend_confirmation,
        sso_start,
        sso_callback,
        sso_finish,
        change_password,
        reset_start,
        reset_finish,
        logout,
        session_info,
        accounts,
        account_summary,
        balance,
        tariffs,
        change_tariff,
        services,
        set_service,
        suspension,
        quote,
        suspend,
        resume,
        chat_topics,
        chat_history,
        chat_unseen,
        chat_send,
        payments,
        top_up,
        autopay,
        set_autopay,
        report,
        usage,
        traffic,
        news,
        profile,
        confirm,
    ]
    return Router(
        path="/",
        route_handlers=handlers,
        tags=["native"],
        exception_handlers={
            DomainError: error_response,
            ValidationException: error_response,
            HTTPException: error_response,
            Exception: error_response,
        },
    )
