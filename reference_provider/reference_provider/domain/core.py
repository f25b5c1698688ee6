"""The :class:`Domain`: every operation of the fake operator backend, for every dialect.

A dialect never keeps its own business state: it parses its wire format, calls these methods,
and renders the result (or the :class:`~.errors.DomainError`) in its operator's format.
"""

from __future__ import annotations

import datetime as dt
import os
from typing import Any, Literal

from .catalogue import OPERATORS
from .chat import ChatMixin
from .clock import BillingClock
from .errors import InvalidInput, NotFound, Rejected
from .idp import IdpMixin
from .models import (
    Account,
    AccountKind,
    BulkAccount,
    ConfirmationTicket,
    NewsItem,
    Product,
    ReportFile,
    Session,
    Subscriber,
)
from .reports import call_records, pdf_report, xlsx_report
from .state import hash_password, normalise_phone

__all__ = ["OPERATIONS", "Domain"]

#: Operations that :meth:`Domain.run_operation` knows, with their parameters.
OPERATIONS = {
    "change_tariff": ("tariff_id",),
    "set_service": ("service_id", "enabled"),
    "top_up": ("amount",),  # kopecks
    "suspend": ("start", "end"),  # ISO dates
    "set_autopay": ("enabled", "threshold", "amount", "card_mask"),
}

_PRODUCTS: dict[str, list[tuple[str, str]]] = {
    "mobile": [("MOBILE", "Мобильная связь")],
    "internet": [("INTERNET", "Домашний интернет")],
    "tv": [("IPTV", "Интерактивное ТВ")],
    "landline": [("PHONE", "Домашний телефон")],
    "bundle": [("INTERNET", "Домашний интернет"), ("IPTV", "Интерактивное ТВ")],
    "other": [("OTHER", "Услуги связи")],
}


class Domain(IdpMixin, ChatMixin):
    def __init__(self, clock: BillingClock | None = None, seed: int = 1) -> None:
        super().__init__(clock or BillingClock(speed=0), seed)
        self._idp_init()
        self._bulk_hash: dict[str, tuple[bytes, bytes]] = {}

    # -- creating people and accounts -------------------------------------------------------
    def create_subscriber(
        self,
        operator: str,
        login: str,
        password: str | None,
        full_name: str,
        *,
        phone: str | None = None,
        email: str | None = None,
        region: str | None = None,
        captcha_policy: str | None = None,
        temp_password: bool = False,
    ) -> Subscriber:
        cfg = self.operator(operator)
        if phone is not None:
            clean = normalise_phone(phone)
            if clean is None:
                raise InvalidInput(f"bad phone {phone!r}")
            phone = clean
        sub = Subscriber(
            id=f"sub-{self.next_id()}",
            operator=operator,
            login=login,
            password_hash=None,
            salt=b"",
            full_name=full_name,
            phone=phone,
            email=email.lower() if email else None,
            region=region,
        )
        sub.captcha_policy = captcha_policy or cfg.default_captcha_policy  # type: ignore[assignment]
        if password is not None:
            self.set_password(sub, password, temporary=temp_password)
        self._index_subscriber(sub)
        self.subscribers[sub.id] = sub
        return sub

    def create_account(
        self,
        sub: Subscriber,
        number: str | None = None,
        *,
        kind: AccountKind = "other",
        tariff_id: str | None = None,
        opened: dt.date | None = None,
        balance: int = 0,
        label: str = "",
        address: str = "",
        region: str | None = None,
        pay_type: Literal["PREPAID", "POSTPAID"] = "PREPAID",
        credit_limit: int = 0,
        bonus: int | None = None,
        services: tuple[str, ...] = (),
        usage_factor: float | None = None,
    ) -> Account:
        """Open an account; ``balance`` is paid in on the opening day, then fees accrue."""
        cfg = self.operator(sub.operator)
        if tariff_id is None:
            tariff_id = next(t.id for t in cfg.tariffs if t.kind == kind and not t.archived)
        if cfg.tariff(tariff_id) is None:
            raise NotFound(f"no tariff {tariff_id} at {sub.operator}")
        today = self.clock.today()
        opened = opened or today
        acc = Account(
            id=f"acc-{self.next_id()}",
            operator=sub.operator,
            number=number or self.new_number(sub.operator, kind),
            subscriber_id=sub.id,
            kind=kind,
            tariff_id=tariff_id,
            opened=opened,
            label=label,
            address=address,
            region=region or sub.region,
            pay_type=pay_type,
            credit_limit=credit_limit,
            bonus=bonus,
            usage_factor=usage_factor if usage_factor is not None else self.rng.uniform(0.3, 1.1),
        )
        acc.autopay.card_mask = f"**** {self.rng.randint(1000, 9999)}"  # the linked card
        acc.products = [
            Product(f"{acc.id}-{i}", t, n) for i, (t, n) in enumerate(_PRODUCTS[kind], 1)
        ]
        for sid in services:
            if cfg.service(sid) is None:
                raise NotFound(f"no service {sid} at {sub.operator}")
            acc.services[sid] = opened
        self._index_account(acc)
        self.accounts[acc.id] = acc
        sub.account_ids.append(acc.id)
        if balance:
            at = min(self.now(), self.msk(opened, 9))
            self._post(acc, balance, "payment", "Первый платёж", at)
        return acc

    def new_number(self, operator: str, kind: str = "other") -> str:
        """A fresh account number in the operator's format (unique in this backend)."""
        n = self.next_serial(operator)
        if operator == "beeline":
            return f"96{n:08d}"  # a 10-digit phone number (ctn)
        if operator == "rostelecom":
            return f"7{n:011d}"  # 12-digit account number
        if operator == "bashtel":
            return f"02{n:08d}"  # 10 digits; the last 3 are checked at login
        if operator == "netbynet":
            return f"4{n:07d}"  # 8-digit account number (the login is the contract number)
        return f"R-{n:06d}"

    def close_account(self, acc: Account) -> None:
        self.touch(acc)
        acc.closed = True

    # -- content -------------------------------------------------------------------------
    def news(self, operator: str) -> list[NewsItem]:
        """News, offers and maintenance notices, newest first (dates relative to the start),
        with what the operator announced since (:meth:`announce`)."""
        start = self.clock.start.date()
        items = [
            NewsItem(f"{operator}-news-{i}", title, text, start + dt.timedelta(days=offset), kind)  # type: ignore[arg-type]
            for i, (offset, kind, title, text) in enumerate(self.operator(operator).news, 1)
        ]
        items += self.announcements.get(operator, [])
        return sorted(items, key=lambda n: n.published, reverse=True)

    def announce(
        self,
        operator: str,
        title: str,
        text: str = "",
        *,
        kind: Literal["news", "offer", "maintenance"] = "maintenance",
        in_days: int = 1,
    ) -> NewsItem:
        """The operator publishes a news item now (maintenance works ``in_days`` from today by
        default): it appears in every dialect's news and, for maintenance, its notices."""
        self.operator(operator)  # an unknown operator is refused
        item = NewsItem(
            f"{operator}-announced-{self.next_id()}",
            title,
            text,
            self.now().date() + dt.timedelta(days=in_days),
            kind,
        )
        self.announcements.setdefault(operator, []).append(item)
        return item

    def profile(self, sub: Subscriber, acc: Account | None = None) -> dict[str, Any]:
        acc = acc or (self.accounts[sub.account_ids[0]] if sub.account_ids else None)
        return {
            "full_name": sub.full_name,
            "login": sub.login,
            "phone": sub.phone,
            "email": sub.email,
            "region": sub.region,
            "account_number": acc.number if acc else None,
            "address": acc.address if acc else None,
            "notifications": dict(sub.notifications),
        }

    # -- reports ---------------------------------------------------------------------------
    def report(
        self, acc: Account, start: dt.date, end: dt.date, fmt: Literal["pdf", "xlsx"]
    ) -> ReportFile:
        """Spending detail from ``start`` to ``end`` (inclusive) as a real PDF or XLSX file."""
        if fmt not in ("pdf", "xlsx"):
            raise InvalidInput("Формат отчёта: pdf или xlsx")
        if end < start:
            raise InvalidInput("Дата окончания раньше даты начала")
        if (end - start).days > 366:
            raise InvalidInput("Период не может быть длиннее года")
        self.touch(acc)
        entries = self.ledger(acc, start, end)
        opening = sum(e.amount for e in acc.ledger if e.at.date() < start)
        closing = opening + sum(e.amount for e in entries)
        calls = call_records(acc, start, end, self.now())
        cfg = self.operator(acc.operator)
        title = f"{cfg.name}: детализация расходов"
        render = pdf_report if fmt == "pdf" else xlsx_report
        content = render(title, acc, start, end, entries, calls, opening, closing)
        media = (
            "application/pdf"
            if fmt == "pdf"
            else "application/vnd.openxmlformats-officedocument.spreadsheetml.sheet"
        )
        filename = f"detail_{acc.number}_{start:%Y%m%d}_{end:%Y%m%d}.{fmt}"
        return ReportFile(filename, media, content)

    # -- operations confirmed by a code ----------------------------------------------------
    def needs_confirmation(self, acc: Account, operation: str, params: dict[str, Any]) -> bool:
        """Whether the operator protects this operation with a one-time code."""
        protected = self.operator(acc.operator).confirm_operations
        if operation == "set_service":
            svc = self.operator(acc.operator).service(str(params.get("service_id")))
            return bool(
                "enable_paid_service" in protected and params.get("enabled") and svc and svc.fee
            )
        return operation in protected

    def start_operation(
        self,
        session: Session,
        acc: Account,
        operation: str,
        params: dict[str, Any],
        channel: Literal["sms", "email"] = "sms",
    ) -> ConfirmationTicket:
        """Validate an operation now (a dry run), then send a code to confirm it."""
        if operation not in OPERATIONS:
            raise InvalidInput(f"Неизвестная операция: {operation}")
        self._validate_operation(acc, operation, params)
        sub = self.subscriber(session.subscriber_id)
        return self.issue_code(sub, operation, channel, account=acc, params=params)

    def confirm_operation(self, session: Session, ticket_id: str, code: str) -> Any:
        """Check the code and run the operation; return what :meth:`run_operation` returns."""
        ticket = self.tickets.get(ticket_id)
        if ticket is None or ticket.subscriber_id != session.subscriber_id or not ticket.account_id:
            raise NotFound("Операция не найдена или устарела")
        self.check_code(ticket_id, code)
        return self.run_operation(self.account(ticket.account_id), ticket.purpose, ticket.params)

    def run_operation(self, acc: Account, operation: str, params: dict[str, Any]) -> Any:
        """Run a named operation (see :data:`OPERATIONS`) without a confirmation code."""
        try:
            if operation == "change_tariff":
                return self.change_tariff(acc, str(params["tariff_id"]))
            if operation == "set_service":
                return self.set_service(acc, str(params["service_id"]), bool(params["enabled"]))
            if operation == "top_up":
                return self.top_up(acc, int(params["amount"]))
            if operation == "suspend":
                return self.request_suspension(acc, _date(params["start"]), _date(params["end"]))
            if operation == "set_autopay":
                return self.set_autopay(
                    acc,
                    bool(params["enabled"]),
                    int(params.get("threshold") or 0),
                    int(params.get("amount") or 0),
                    params.get("card_mask"),
                )
        except KeyError as exc:
            raise InvalidInput(f"Не хватает параметра {exc.args[0]}") from None
        raise InvalidInput(f"Неизвестная операция: {operation}")

    def _validate_operation(self, acc: Account, operation: str, params: dict[str, Any]) -> None:
        cfg = self.operator(acc.operator)
        if acc.closed:
            raise Rejected("Договор расторгнут")
        if operation == "change_tariff":
            t = cfg.tariff(str(params.get("tariff_id")))
            if t is None:
                raise NotFound("Тариф не найден")
            if t.archived or not self._same_kind(acc, t):
                raise Rejected("Этот тариф недоступен для подключения")
            if t.id == acc.tariff_id and acc.pending_tariff_id is None:
                raise Rejected("Этот тариф уже подключён")
        elif operation == "set_service":
            if cfg.service(str(params.get("service_id"))) is None:
                raise NotFound("Услуга не найдена")
        elif operation == "top_up":
            amount = params.get("amount")
            if not isinstance(amount, int) or not 100 <= amount <= 100_000_00:
                raise InvalidInput("Сумма платежа должна быть от 1 до 100 000 ₽")
        elif operation == "suspend":
            self.quote_suspension(acc, _date(params.get("start")), _date(params.get("end")))

    # -- bulk accounts for benchmarks ------------------------------------------------------
    def bulk_create(
        self,
        operator: str,
        count: int,
        *,
        password: str = "Bulk-pass-1",
        balance: int = 500_00,
        kind: AccountKind | None = None,
        prefix: str = "bulk",
    ) -> list[BulkAccount]:
        """``count`` subscribers with one account each and a live session each, fast."""
        cfg = self.operator(operator)
        if not 1 <= count <= 100_000:
            raise InvalidInput("count must be 1..100000")
        if password not in self._bulk_hash:
            salt = os.urandom(16)
            self._bulk_hash[password] = (salt, hash_password(password, salt))
        salt, pw_hash = self._bulk_hash[password]
        kind = kind or cfg.tariffs[0].kind
        tariff = next(t.id for t in cfg.tariffs if t.kind == kind and not t.archived)
        today = self.clock.today()
        out = []
        for _ in range(count):
            serial = self.next_id()
            number = self.new_number(operator, kind)
            login = {"beeline": number, "netbynet": f"9{serial:08d}"}.get(
                operator, f"{prefix}{serial}"
            )
            sub = Subscriber(
                id=f"sub-{serial}",
                operator=operator,
                login=login,
                password_hash=pw_hash,
                salt=salt,
                full_name=f"Абонент {serial}",
                phone=number if operator == "beeline" else None,
                region="moscow" if operator == "netbynet" else None,
                captcha_policy="never",
            )
            self._index_subscriber(sub)
            self.subscribers[sub.id] = sub
            acc = self.create_account(
                sub,
                number,
                kind=kind,
                tariff_id=tariff,
                opened=today,
                balance=balance,
                usage_factor=0.5,
            )
            acc.accrued_through = today  # billing starts tomorrow: the balance is as asked
            session = self.open_session(sub)
            out.append(BulkAccount(sub.id, login, password, acc.id, number, session.token))
        return out

    def operators(self) -> list[str]:
        return list(OPERATORS)


def _date(value: Any) -> dt.date:
    if isinstance(value, dt.date):
        return value
    try:
        return dt.date.fromisoformat(str(value))
    except ValueError:
        raise InvalidInput("Дата в формате ГГГГ-ММ-ДД") from None
