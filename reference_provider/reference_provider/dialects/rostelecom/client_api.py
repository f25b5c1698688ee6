"""The cabinet's ``client-api``: one method per name, dispatched by :class:`ClientApi`.

Every reply is JSON with ``isError``; money is **in kopecks** (int). The shapes of the methods
independent clients read (accounts, balance, tariff names, service info and tariff, the «Бонус»
programme, the profile) follow those clients; the rest are assumed (DIALECTS.md says which).
"""

from __future__ import annotations

import datetime as dt
import secrets
from collections.abc import Callable
from typing import TYPE_CHECKING, Any

from litestar import Response

from ...domain.errors import CodeInvalid, InvalidInput, NotFound
from ...domain.models import (
    Account,
    Autopay,
    LedgerEntry,
    ServiceChange,
    Session,
    Suspension,
    TariffChange,
    TariffDef,
)
from .shared import OPERATOR, State, api_error, api_ok, when

if TYPE_CHECKING:
    from ...backend import Backend

__all__ = ["SERVICE_TYPE", "ClientApi", "service_id_of"]

DEFAULT_CARD = "220220******4242"
#: The cabinet's service types (integers; the client's SERVICE_TYPE table).
SERVICE_TYPE = {"INTERNET": 1, "PHONE": 2, "IPTV": 8, "MOBILE": 16}
#: getServiceInfo ``status`` (the client's g_ServiceStatus keys).
_STATUS = {
    "active": "ACTIVE",
    "suspended": "VOLUNTARY_BLOCKED",
    "blocked": "BLOCKED",
    "closed": "NOT_CONNECTED",
}
_BLOCK_STATE = {"requested": "REQUESTED", "scheduled": "SCHEDULED", "active": "ACTIVE"}
_LEDGER_TYPE = {
    "payment": "PAYMENT",
    "charge": "CHARGE",
    "autopay": "AUTOPAY",
    "adjustment": "ADJUSTMENT",
}
_UNITS = {"seconds": "мин", "sms": "SMS", "bytes": "МБ"}
_AUTHOR = {"user": "CLIENT", "bot": "BOT", "agent": "OPERATOR"}

Handler = Callable[[Session, dict[str, Any]], Response[Any]]


def account_number_id(acc: Account) -> int:
    return int(acc.id.removeprefix("acc-"))


def service_id_of(acc: Account, index: int) -> int:
    """The integer serviceId of the ``index``-th (0-based) product of ``acc``."""
    return account_number_id(acc) * 100 + index + 1


class ClientApi:
    """The dispatch table of ``client-api``; the backend is injected."""

    #: Methods that change something: the CSRF-TOKEN header must match the cookie.
    NEEDS_CSRF = frozenset(
        {
            "changeTariff",
            "changeOption",
            "blockServices",
            "unblockServices",
            "createPayment",
            "setAutopay",
            "confirmOperation",
            "orderDetail",
            "setNotificationSettings",
            "sendChatMessage",
        }
    )

    def __init__(self, backend: Backend, state: State) -> None:
        self.backend = backend
        self.state = state
        self.methods: dict[str, Handler] = {
            "checkSession": lambda s, b: api_ok(isSessionLost=False),
            "getAccounts": self.get_accounts,
            "getProfile": self.get_profile,
            "getAccountBalanceV2": self.with_account(self.get_balance),
            "getServiceTariffName": self.get_tariff_names,
            "getServiceInfo": self.get_service_info,
            "getServiceTariff": self.get_service_tariff,
            "getFplStatus": self.get_fpl_status,
            "getPromotions": self.get_promotions,
            "getNotificationSettings": self.notifications,
            "setNotificationSettings": self.notifications,
            "confirmOperation": self.confirm_operation,
            "getChatTopics": self.chat_topics,
            "getChatHistory": self.with_account(self.chat_history),
            "sendChatMessage": self.with_account(self.send_chat),
            "getAvailableTariffs": self.with_account(self.available_tariffs),
            "changeTariff": self.with_account(self.change_tariff),
            "getServiceOptions": self.with_account(self.options),
            "changeOption": self.with_account(self.change_option),
            "getVoluntaryBlock": self.with_account(lambda s, a, b: api_ok(**self.block_info(a))),
            "getVoluntaryBlockCost": self.with_account(self.block_cost),
            "blockServices": self.with_account(self.block),
            "unblockServices": self.with_account(self.unblock),
            "getPaymentsHistory": self.with_account(self.payments),
            "createPayment": self.with_account(self.create_payment),
            "getAutopay": self.with_account(lambda s, a, b: api_ok(autopay=self.autopay(a))),
            "setAutopay": self.with_account(self.set_autopay),
            "orderDetail": self.with_account(self.order_detail),
        }

    def call(self, session: Session, method: str, body: dict[str, Any]) -> Response[Any]:
        handler = self.methods.get(method)
        if handler is None:
            raise NotFound(f"Метод {method[:60]} не найден")
        return handler(session, body)

    # -- arguments -------------------------------------------------------------------------------
    def with_account(
        self, handler: Callable[[Session, Account, dict[str, Any]], Response[Any]]
    ) -> Handler:
        def bound(session: Session, body: dict[str, Any]) -> Response[Any]:
            return handler(session, self.account_of(session, body), body)

        return bound

    def account_of(self, session: Session, body: dict[str, Any]) -> Account:
        ref = body.get("accountId")
        if isinstance(ref, bool) or not isinstance(ref, int | str) or str(ref).strip() == "":
            raise InvalidInput("Не указан лицевой счёт (accountId)")
        text = str(ref).strip()
        acc_id = text if text.startswith("acc-") else f"acc-{text}"
        return self.backend.touch(self.backend.account_for(session, acc_id))

    def service_of(self, session: Session, ref: Any) -> tuple[Account, int]:
        """The account and product index of an integer ``serviceId`` (int or digits)."""
        if isinstance(ref, bool) or not isinstance(ref, int | str) or not str(ref).isdigit():
            raise InvalidInput("Не указана услуга (serviceId)")
        number = int(ref)
        acc_num, index = divmod(number, 100)
        acc = self.backend.account_for(session, f"acc-{acc_num}")
        if not 1 <= index <= len(acc.products):
            raise NotFound("Услуга не найдена")
        return self.backend.touch(acc), index - 1

    @staticmethod
    def date_of(body: dict[str, Any], name: str) -> dt.date:
        try:
            return dt.date.fromisoformat(str(body.get(name))[:10])
        except ValueError:
            raise InvalidInput(f"{name}: дата в формате ГГГГ-ММ-ДД") from None

    @staticmethod
    def kopecks_of(body: dict[str, Any], name: str, default: int | None = None) -> int:
        value = body.get(name, default)
        if isinstance(value, bool) or not isinstance(value, int):
            raise InvalidInput(f"{name}: сумма в копейках, целое число")
        return value

    # -- proven shapes -----------------------------------------------------------------------------
    def get_accounts(self, session: Session, body: dict[str, Any]) -> Response[Any]:
        return api_ok(
            accounts=[
                {
                    "accountId": account_number_id(acc),
                    "number": acc.number,
                    "address": acc.address,
                    "services": [
                        {
                            "serviceId": service_id_of(acc, i),
                            "type": SERVICE_TYPE.get(p.type, 0),
                            "number": acc.number,
                            "displayNumber": acc.number,
                            "bonusStatus": 0 if acc.bonus else -1,
                        }
                        for i, p in enumerate(acc.products)
                    ],
                }
                for acc in self.backend.accounts_of(session.subscriber_id)
                if not acc.closed
            ]
        )

    def get_profile(self, session: Session, body: dict[str, Any]) -> Response[Any]:
        sub = self.backend.subscriber(session.subscriber_id)
        parts = sub.full_name.split()
        first = parts[0] if parts else ""
        middle = parts[1] if len(parts) > 2 else ""
        last = parts[-1] if len(parts) > 1 else ""
        return api_ok(
            login=sub.login,
            lastName=last,
            name=first,
            middleName=middle,
            email=sub.email,
            phone=sub.phone,
        )

    def get_balance(self, session: Session, acc: Account, body: dict[str, Any]) -> Response[Any]:
        due, amount = self.backend.next_payment(acc)
        balance = self.backend.balance(acc)
        reply: dict[str, Any] = {
            "id": account_number_id(acc),
            "balance": balance,
            "creditLimit": acc.credit_limit,
            "nextChargeDate": due.isoformat(),
            "nextChargeAmount": amount,
        }
        if len(acc.products) > 1:
            # the money split over sub-accounts, the account's own balance null
            half = balance // 2
            reply["balance"] = None
            reply["subAccounts"] = [
                {"name": acc.products[0].name, "balance": balance - half},
                {"name": acc.products[1].name, "balance": half},
            ]
        return api_ok(**reply)

    def get_tariff_names(self, session: Session, body: dict[str, Any]) -> Response[Any]:
        refs = body.get("servicesId")
        if not isinstance(refs, list) or not refs:
            raise InvalidInput("Не указаны услуги (servicesId)")
        names: dict[str, str] = {}
        for ref in refs[:50]:
            acc, _ = self.service_of(session, ref)
            names[str(ref)] = self.backend.tariff_of(acc).name
        return api_ok(tariffNames=names)

    def get_service_info(self, session: Session, body: dict[str, Any]) -> Response[Any]:
        acc, index = self.service_of(session, body.get("serviceId"))
        status = self.backend.status(acc)
        block = self.backend.current_suspension(acc) if status == "suspended" else None
        return api_ok(
            serviceId=service_id_of(acc, index),
            status=_STATUS[status],
            voluntaryBlockEndDate=block.last_day.isoformat() if block else None,
        )

    def get_service_tariff(self, session: Session, body: dict[str, Any]) -> Response[Any]:
        acc, index = self.service_of(session, body.get("serviceId"))
        tariff = self.backend.tariff_of(acc)
        options: list[dict[str, Any]] = []
        if acc.products[index].type == "MOBILE":
            today = self.backend.now().date()
            month_end = (today.replace(day=28) + dt.timedelta(days=4)).replace(day=1)
            for rest in self.backend.usage(acc).remainders:
                scale = 60 if rest.unit == "seconds" else (1 << 20 if rest.unit == "bytes" else 1)
                options.append(
                    {
                        "name": rest.name,
                        "limits": [
                            {
                                "unit": _UNITS[rest.unit],
                                "remain": round(rest.rest / scale, 2),
                                "total": round(rest.size / scale, 2),
                                "endDate": month_end.isoformat(),
                            }
                        ],
                    }
                )
        return api_ok(
            tariffName=tariff.name,
            fee=tariff.fee,
            description=tariff.description + "<br>",
            options=options,
        )

    def get_fpl_status(self, session: Session, body: dict[str, Any]) -> Response[Any]:
        accounts = [a for a in self.backend.accounts_of(session.subscriber_id) if not a.closed]
        points = sum(a.bonus or 0 for a in accounts) // 100
        if not any(a.bonus for a in accounts):
            return api_ok(status="MISSING")
        today = self.backend.now().date()
        return api_ok(
            status="ACTIVE",
            balance=points,
            statusBalance=points,
            levelInfo={
                "level": "STANDARD" if points >= 300 else "BASIC",
                "name": "Стандартный" if points >= 300 else "Базовый",
                "expireDate": today.replace(month=12, day=31).isoformat(),
            },
            balanceBurningPoints=[
                {
                    "points": min(points, 50),
                    "burningDate": (today + dt.timedelta(days=45)).isoformat(),
                }
            ],
        )

    # -- the online chat (the seed lists it; assumed shapes) ---------------------------------------
    def chat_topics(self, session: Session, body: dict[str, Any]) -> Response[Any]:
        return api_ok(
            topics=[{"topicId": t.id, "name": t.title} for t in self.backend.chat_topics(OPERATOR)]
        )

    @staticmethod
    def chat_block(messages: list[Any]) -> list[dict[str, Any]]:
        return [
            {
                "messageId": m.id,
                "topicId": m.topic_id,
                "author": _AUTHOR.get(m.author, "OPERATOR"),
                "authorName": m.author_name,
                "text": m.text,
                "date": when(m.sent_at),
            }
            for m in messages
        ]

    def chat_history(self, session: Session, acc: Account, body: dict[str, Any]) -> Response[Any]:
        since = body.get("since")
        after = None
        if since:
            try:
                after = dt.datetime.fromisoformat(str(since))
            except ValueError:
                raise InvalidInput("since: дата и время ISO 8601") from None
        return api_ok(
            messages=self.chat_block(self.backend.chat_history(acc, after)),
            pending=self.backend.chat_pending(acc),
        )

    def send_chat(self, session: Session, acc: Account, body: dict[str, Any]) -> Response[Any]:
        sent = self.backend.send_chat(
            acc, str(body.get("topicId") or ""), str(body.get("text") or "")
        )
        return api_ok(messages=self.chat_block(sent))

    # -- assumed shapes --------------------------------------------------------------------------
    def get_promotions(self, session: Session, body: dict[str, Any]) -> Response[Any]:
        return api_ok(
            promotions=[
                {
                    "id": n.id,
                    "title": n.title,
                    "text": n.text,
                    "date": n.published.isoformat(),
                    "kind": n.kind,
                }
                for n in self.backend.news(OPERATOR)
            ]
        )

    def notifications(self, session: Session, body: dict[str, Any]) -> Response[Any]:
        sub = self.backend.subscriber(session.subscriber_id)
        if "channels" in body:
            channels = body.get("channels")
            if not isinstance(channels, dict) or not all(
                k in ("SMS", "PUSH", "EMAIL") and isinstance(v, bool) for k, v in channels.items()
            ):
                raise InvalidInput("channels: {SMS, PUSH, EMAIL: true|false}")
            for k, v in channels.items():
                sub.notifications[k.lower()] = v
        return api_ok(channels={k.upper(): v for k, v in sub.notifications.items()})

    def confirm_operation(self, session: Session, body: dict[str, Any]) -> Response[Any]:
        confirm_id = str(body.get("confirmId") or "")
        ticket = self.backend.tickets.get(confirm_id)
        if ticket is None or ticket.subscriber_id != session.subscriber_id:
            raise NotFound("Операция не найдена или устарела")
        try:
            result = self.backend.confirm_operation(session, confirm_id, str(body.get("code", "")))
        except CodeInvalid as exc:
            left = 0
            if confirm_id in self.backend.tickets:
                left = self.backend.operator(OPERATOR).code_attempts - ticket.attempts
            return api_error("INVALID_CODE", exc.message, attemptsLeft=left)
        acc = self.backend.account(ticket.account_id or "")
        return api_ok(**self.operation_reply(result, ticket.purpose, acc))

    @staticmethod
    def tariff_block(t: TariffDef) -> dict[str, Any]:
        return {
            "tariffId": t.id,
            "name": t.name,
            "cost": t.fee,
            "period": "month",
            "description": t.description,
        }

    def available_tariffs(
        self, session: Session, acc: Account, body: dict[str, Any]
    ) -> Response[Any]:
        tariff = self.backend.tariff_of(acc)
        reply: dict[str, Any] = {
            "current": self.tariff_block(tariff),
            "tariffs": [self.tariff_block(t) for t in self.backend.available_tariffs(acc)],
        }
        pending = self.backend.pending_tariff(acc)
        if pending is not None:
            reply["pendingTariff"] = {
                **self.tariff_block(pending[0]),
                "effectiveDate": pending[1].isoformat(),
            }
        return api_ok(**reply)

    def option_block(self, acc: Account, service_id: str) -> dict[str, Any]:
        for svc, on in self.backend.services(acc):
            if svc.id == service_id:
                return {
                    "optionId": svc.id,
                    "name": svc.name,
                    "cost": svc.fee,
                    "period": "month",
                    "isActive": on,
                    "canChange": svc.can_toggle,
                    "isPaid": svc.fee > 0,
                    "description": svc.description,
                }
        raise NotFound("Услуга не найдена")

    def options(self, session: Session, acc: Account, body: dict[str, Any]) -> Response[Any]:
        return api_ok(options=[self.option_block(acc, s.id) for s, _ in self.backend.services(acc)])

    def autopay(self, acc: Account) -> dict[str, Any]:
        ap = acc.autopay
        return {
            "enabled": ap.enabled,
            "threshold": ap.threshold if ap.enabled else None,
            "amount": ap.amount if ap.enabled else None,
            "cardMask": ap.card_mask,
        }

    def block_info(self, acc: Account) -> dict[str, Any]:
        rule = self.backend.operator(OPERATOR).suspension
        block = self.backend.current_suspension(acc)
        data: dict[str, Any] = {
            "block": None,
            "rule": {
                "freeDays": rule.free_days,
                "dailyFee": rule.daily_fee,
                "maxDays": rule.max_days,
                "minDays": rule.min_days,
                "description": rule.description,
            },
        }
        if block is not None:
            data["block"] = {
                "state": _BLOCK_STATE[block.status(self.backend.now())],
                "startDate": block.start.isoformat(),
                "endDate": block.last_day.isoformat(),
            }
        return data

    def operation_reply(self, result: Any, operation: str, acc: Account) -> dict[str, Any]:
        if isinstance(result, TariffChange):
            return {
                "operation": operation,
                "message": f"Тариф «{result.tariff.name}» будет "
                f"подключён с {result.effective:%d.%m.%Y}",
                "effectiveDate": result.effective.isoformat(),
            }
        if isinstance(result, ServiceChange):
            return {
                "operation": operation,
                "message": f"Услуга «{result.service.name}» "
                + ("подключена" if result.enabled else "отключена"),
                "effectiveDate": result.effective.isoformat(),
                "option": self.option_block(acc, result.service.id),
            }
        if isinstance(result, LedgerEntry):
            return {
                "operation": operation,
                "message": "Платёж зачислен",
                "effectiveDate": result.at.date().isoformat(),
                "paymentId": str(result.id),
                "balance": self.backend.balance(acc),
            }
        if isinstance(result, Suspension):
            return {
                "operation": operation,
                "message": "Блокировка оформлена",
                "effectiveDate": result.start.isoformat(),
            }
        if isinstance(result, Autopay):
            return {"operation": operation, "message": "Автоплатёж настроен"}
        return {"operation": operation, "message": "Операция выполнена"}

    def start_or_run(
        self, session: Session, acc: Account, operation: str, params: dict[str, Any]
    ) -> Response[Any]:
        if self.backend.needs_confirmation(acc, operation, params):
            ticket = self.backend.start_operation(session, acc, operation, params)
            return api_ok(
                needConfirm=True,
                confirmId=ticket.id,
                maskedPhone=ticket.masked_destination,
                codeLength=self.backend.operator(OPERATOR).code_length,
            )
        result = self.backend.run_operation(acc, operation, params)
        return api_ok(**self.operation_reply(result, operation, acc))

    def change_tariff(self, session: Session, acc: Account, body: dict[str, Any]) -> Response[Any]:
        return self.start_or_run(
            session, acc, "change_tariff", {"tariff_id": str(body.get("tariffId") or "")}
        )

    def change_option(self, session: Session, acc: Account, body: dict[str, Any]) -> Response[Any]:
        enabled = body.get("enabled")
        if not isinstance(enabled, bool):
            raise InvalidInput("enabled: true или false")
        return self.start_or_run(
            session,
            acc,
            "set_service",
            {"service_id": str(body.get("optionId") or ""), "enabled": enabled},
        )

    def block_cost(self, session: Session, acc: Account, body: dict[str, Any]) -> Response[Any]:
        q = self.backend.quote_suspension(
            acc, self.date_of(body, "startDate"), self.date_of(body, "endDate")
        )
        return api_ok(
            startDate=q.start.isoformat(),
            endDate=q.end.isoformat(),
            days=q.days,
            freeDays=q.free_days,
            paidDays=q.paid_days,
            total=q.total,
            rule=self.block_info(acc)["rule"],
        )

    def block(self, session: Session, acc: Account, body: dict[str, Any]) -> Response[Any]:
        self.backend.request_suspension(
            acc, self.date_of(body, "startDate"), self.date_of(body, "endDate")
        )
        return api_ok(**self.block_info(acc))

    def unblock(self, session: Session, acc: Account, body: dict[str, Any]) -> Response[Any]:
        self.backend.resume(acc)
        return api_ok(**self.block_info(acc))

    def payments(self, session: Session, acc: Account, body: dict[str, Any]) -> Response[Any]:
        since, until = self.date_of(body, "dateFrom"), self.date_of(body, "dateTo")
        if until < since:
            raise InvalidInput("Дата окончания раньше даты начала")
        return api_ok(
            payments=[
                {
                    "paymentId": e.id,
                    "date": when(e.at),
                    "amount": e.amount,
                    "type": _LEDGER_TYPE[e.kind],
                    "description": e.description,
                }
                for e in reversed(self.backend.ledger(acc, since, until))
            ]
        )

    def create_payment(self, session: Session, acc: Account, body: dict[str, Any]) -> Response[Any]:
        return self.start_or_run(
            session, acc, "top_up", {"amount": self.kopecks_of(body, "amount")}
        )

    def set_autopay(self, session: Session, acc: Account, body: dict[str, Any]) -> Response[Any]:
        enabled = body.get("enabled")
        if not isinstance(enabled, bool):
            raise InvalidInput("enabled: true или false")
        card = body.get("cardMask") or acc.autopay.card_mask or DEFAULT_CARD
        self.backend.set_autopay(
            acc,
            enabled,
            self.kopecks_of(body, "threshold", 0),
            self.kopecks_of(body, "amount", 0),
            str(card),
        )
        return api_ok(autopay=self.autopay(acc))

    def order_detail(self, session: Session, acc: Account, body: dict[str, Any]) -> Response[Any]:
        fmt = str(body.get("format", "")).upper()
        if fmt not in ("PDF", "XLS", "XLSX"):
            raise InvalidInput("format: PDF или XLS")
        report = self.backend.report(
            acc,
            self.date_of(body, "dateFrom"),
            self.date_of(body, "dateTo"),
            "pdf" if fmt == "PDF" else "xlsx",
        )
        if len(self.state.reports) > 1000:
            self.state.reports.pop(next(iter(self.state.reports)))
        report_id = secrets.token_urlsafe(12)
        self.state.reports[report_id] = (session.subscriber_id, report)
        return api_ok(reportId=report_id, fileName=report.filename)
