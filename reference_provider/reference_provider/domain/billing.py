"""Billing: the ledger, lazy daily accrual, tariffs, services, suspension, top-up, autopay.

Accrual is lazy: an account is charged up to the clock's today when it is touched
(:meth:`BillingMixin.touch`), so a request costs O(days since the last touch), usually O(1).

Rules, day by day (a billing day is a Moscow calendar day):
1. a pending tariff change takes effect on its date (the 1st of the month after the order);
2. a suspended day costs nothing, except at operators whose rule has ``free_days``: from that
   day of the block on, ``daily_fee`` per day (NetByNet: 60 free days, then 5 ₽ a day);
3. an account whose balance is below ``-credit_limit`` is blocked: nothing is accrued;
4. otherwise the tariff and every enabled service cost ``fee * d // n - fee * (d-1) // n``
   on day ``d`` of an ``n``-day month, which sums exactly to the monthly fee;
5. autopay tops the account up when the balance falls below its threshold.
"""

from __future__ import annotations

import datetime as dt
import zlib
from typing import Literal

from .clock import days_in_month, first_of_next_month
from .errors import InvalidInput, NotFound, Rejected
from .models import (
    Account,
    Autopay,
    LedgerEntry,
    PackageRest,
    PaidSubscription,
    Quote,
    ServiceChange,
    ServiceDef,
    Suspension,
    TariffChange,
    TariffDef,
    Traffic,
    Usage,
)
from .money import format_rub
from .state import DomainState

__all__ = ["BillingMixin"]

AccountStatus = Literal["active", "blocked", "suspended", "closed"]

MIN_TOP_UP = 1_00
MAX_TOP_UP = 100_000_00


class BillingMixin(DomainState):
    # -- the ledger ----------------------------------------------------------------------
    def _post(
        self,
        acc: Account,
        amount: int,
        kind: Literal["payment", "charge", "adjustment", "autopay"],
        description: str,
        at: dt.datetime | None = None,
        day: dt.date | None = None,
    ) -> LedgerEntry:
        entry = LedgerEntry(self.next_id(), at or self.now(), amount, kind, description, day)
        acc.ledger.append(entry)
        acc.balance += amount
        return entry

    def touch(self, acc: Account) -> Account:
        """Accrue fees up to today (cheap when already done). Every read calls this."""
        today = self.clock.today()
        if acc.accrued_through is None or acc.accrued_through < today:
            self._accrue(acc, today)
        return acc

    def _accrue(self, acc: Account, today: dt.date) -> None:
        if acc.closed:
            acc.accrued_through = today
            return
        cfg = self.operator(acc.operator)
        day = acc.opened if acc.accrued_through is None else acc.accrued_through + dt.timedelta(1)
        while day <= today:
            if acc.pending_tariff_id and acc.pending_from and acc.pending_from <= day:
                acc.tariff_id, acc.pending_tariff_id, acc.pending_from = (
                    acc.pending_tariff_id,
                    None,
                    None,
                )
            at = self.msk(day)
            block = self._suspension_on(acc, day)
            if block is not None:
                rule = cfg.suspension
                if (
                    rule.free_days is not None
                    and rule.daily_fee
                    and (day - block.start).days >= rule.free_days
                ):
                    self._post(
                        acc,
                        -rule.daily_fee,
                        "charge",
                        "Плата за добровольную блокировку",
                        at,
                        day,
                    )
            elif acc.balance >= -acc.credit_limit:
                n, d = days_in_month(day), day.day
                tariff = cfg.tariff(acc.tariff_id)
                if tariff and tariff.fee:
                    part = tariff.fee * d // n - tariff.fee * (d - 1) // n
                    self._post(acc, -part, "charge", f"Абонентская плата: {tariff.name}", at, day)
                for sid, since in acc.services.items():
                    svc = cfg.service(sid)
                    if svc and svc.fee and since <= day:
                        part = svc.fee * d // n - svc.fee * (d - 1) // n
                        self._post(acc, -part, "charge", f"Услуга: {svc.name}", at, day)
                for paid in acc.subscriptions:
                    if paid.daily_fee and paid.since <= day:
                        self._post(
                            acc, -paid.daily_fee, "charge", f"Подписка: {paid.name}", at, day
                        )
            ap = acc.autopay
            if ap.enabled and ap.amount and acc.balance < ap.threshold:
                self._post(
                    acc,
                    ap.amount,
                    "autopay",
                    f"Автоплатёж с карты {ap.card_mask or ''}".strip(),
                    at + dt.timedelta(minutes=5),
                )
            day += dt.timedelta(1)
        acc.accrued_through = today

    def _suspension_on(self, acc: Account, day: dt.date) -> Suspension | None:
        for block in reversed(acc.suspensions):
            if block.covers(day):
                return block
        return None

    # -- reading ---------------------------------------------------------------------------
    def balance(self, acc: Account) -> int:
        """The balance in kopecks after accruing up to today."""
        return self.touch(acc).balance

    def status(self, acc: Account) -> AccountStatus:
        """closed > suspended (an active voluntary block) > blocked (debt) > active."""
        self.touch(acc)
        if acc.closed:
            return "closed"
        if acc.suspensions:
            block = self.current_suspension(acc)
            if block is not None and block.status(self.now()) == "active":
                return "suspended"
        if acc.balance < -acc.credit_limit:
            return "blocked"
        return "active"

    def ledger(
        self, acc: Account, since: dt.date | None = None, until: dt.date | None = None
    ) -> list[LedgerEntry]:
        """Ledger entries with ``since <= date <= until`` (both optional), oldest first."""
        self.touch(acc)
        out = []
        for e in acc.ledger:
            d = e.at.date()
            if (since is None or d >= since) and (until is None or d <= until):
                out.append(e)
        out.sort(key=lambda e: (e.at, e.id))
        return out

    def payments(
        self, acc: Account, since: dt.date | None = None, until: dt.date | None = None
    ) -> list[LedgerEntry]:
        """Money in only (payments, autopay, positive adjustments)."""
        return [e for e in self.ledger(acc, since, until) if e.amount > 0]

    def tariff_of(self, acc: Account) -> TariffDef:
        self.touch(acc)
        tariff = self.operator(acc.operator).tariff(acc.tariff_id)
        assert tariff is not None
        return tariff

    def pending_tariff(self, acc: Account) -> tuple[TariffDef, dt.date] | None:
        self.touch(acc)
        if acc.pending_tariff_id and acc.pending_from:
            t = self.operator(acc.operator).tariff(acc.pending_tariff_id)
            assert t is not None
            return t, acc.pending_from
        return None

    def available_tariffs(self, acc: Account) -> list[TariffDef]:
        """Tariffs the account may switch to: same kind of account, not archived."""
        cfg = self.operator(acc.operator)
        return [t for t in cfg.tariffs if not t.archived and self._same_kind(acc, t)]

    @staticmethod
    def _same_kind(acc: Account, tariff: TariffDef) -> bool:
        home = {"internet", "bundle", "tv"}
        if acc.kind in home and tariff.kind in home:
            return True
        return tariff.kind == acc.kind

    def monthly_fee(self, acc: Account, tariff_id: str | None = None) -> int:
        """Tariff (``tariff_id`` or the current one), enabled services and paid subscriptions,
        per month."""
        self.touch(acc)
        cfg = self.operator(acc.operator)
        tariff = cfg.tariff(tariff_id or acc.tariff_id)
        total = tariff.fee if tariff else 0
        for sid in acc.services:
            svc = cfg.service(sid)
            total += svc.fee if svc else 0
        days = days_in_month(self.clock.today())
        return total + sum(paid.daily_fee for paid in acc.subscriptions) * days

    def daily_fee(self, acc: Account) -> int:
        today = self.clock.today()
        return -(-self.monthly_fee(acc) // days_in_month(today))

    def next_payment(self, acc: Account) -> tuple[dt.date, int]:
        """When and how much to pay so that next month is covered (0 when it already is)."""
        today = self.clock.today()
        n = days_in_month(today)
        rest_of_month = self.monthly_fee(acc) * (n - today.day) // n
        next_month = self.monthly_fee(acc, acc.pending_tariff_id)
        return first_of_next_month(today), max(0, rest_of_month + next_month - acc.balance)

    def services(self, acc: Account) -> list[tuple[ServiceDef, bool]]:
        """Every service offered for this kind of account, with whether it is enabled."""
        cfg = self.operator(acc.operator)
        return [
            (s, s.id in acc.services)
            for s in cfg.services
            if not s.kinds or acc.kind in s.kinds or s.id in acc.services
        ]

    # -- operations ------------------------------------------------------------------------
    def _check_open(self, acc: Account) -> None:
        if acc.closed:
            raise Rejected("Договор расторгнут")

    def change_tariff(self, acc: Account, tariff_id: str) -> TariffChange:
        """Order a tariff change; it takes effect on the 1st of next month."""
        self.touch(acc)
        self._check_open(acc)
        cfg = self.operator(acc.operator)
        tariff = cfg.tariff(tariff_id)
        if tariff is None:
            raise NotFound("Тариф не найден")
        if tariff.archived or not self._same_kind(acc, tariff):
            raise Rejected("Этот тариф недоступен для подключения")
        effective = first_of_next_month(self.clock.today())
        if tariff.id == acc.tariff_id:
            if acc.pending_tariff_id is None:
                raise Rejected("Этот тариф уже подключён")
            acc.pending_tariff_id = acc.pending_from = None  # cancel the pending change
            return TariffChange(tariff, self.clock.today())
        acc.pending_tariff_id, acc.pending_from = tariff.id, effective
        return TariffChange(tariff, effective)

    def set_service(self, acc: Account, service_id: str, enabled: bool) -> ServiceChange:
        """Switch a service on or off, from today (charged daily from today on)."""
        self.touch(acc)
        self._check_open(acc)
        svc = self.operator(acc.operator).service(service_id)
        if svc is None:
            raise NotFound("Услуга не найдена")
        if svc.kinds and acc.kind not in svc.kinds and service_id not in acc.services:
            raise Rejected("Услуга недоступна для этого счёта")
        if not svc.can_toggle:
            raise Rejected("Эту услугу нельзя подключить или отключить самостоятельно")
        today = self.clock.today()
        if enabled:
            if service_id in acc.services:
                raise Rejected("Услуга уже подключена")
            if svc.fee and self.status(acc) == "blocked":
                raise Rejected("Недостаточно средств: пополните счёт")
            acc.services[service_id] = today + dt.timedelta(1)  # today's fee is already accrued
        else:
            if service_id not in acc.services:
                raise Rejected("Услуга не подключена")
            del acc.services[service_id]
        return ServiceChange(svc, enabled, today)

    def add_subscription(
        self,
        acc: Account,
        name: str,
        provider: str,
        daily_fee: int,
        *,
        since: dt.date | None = None,
        type: str = "CONTENT",
    ) -> PaidSubscription:
        """A content provider subscribes the number (simulation: the user never asks for it
        in the cabinet); charged from ``since`` (default tomorrow: today is accrued)."""
        self.touch(acc)
        if daily_fee < 0:
            raise InvalidInput("Стоимость подписки не может быть отрицательной")
        start = since or self.clock.today() + dt.timedelta(1)
        paid = PaidSubscription(f"sub-{self.next_id()}", name, provider, daily_fee, start, type)
        acc.subscriptions.append(paid)
        return paid

    def remove_subscription(
        self, acc: Account, subscription_id: str, type: str | None = None
    ) -> PaidSubscription:
        """The subscriber removes a paid subscription: no charge from tomorrow on."""
        self.touch(acc)
        self._check_open(acc)
        for paid in acc.subscriptions:
            if paid.id == subscription_id and (type is None or type == paid.type):
                acc.subscriptions.remove(paid)
                return paid
        raise NotFound("Подписка не найдена")

    def top_up(self, acc: Account, amount: int, method: str = "Банковская карта") -> LedgerEntry:
        """Money in (kopecks). A blocked account unblocks as soon as the balance is >= 0."""
        self.touch(acc)
        self._check_open(acc)
        if not MIN_TOP_UP <= amount <= MAX_TOP_UP:
            raise InvalidInput(
                f"Сумма платежа должна быть от {format_rub(MIN_TOP_UP)} до {format_rub(MAX_TOP_UP)}"
            )
        return self._post(acc, amount, "payment", f"Пополнение: {method}")

    def set_balance(self, acc: Account, amount: int) -> LedgerEntry | None:
        """Simulation: an adjustment entry that makes the balance exactly ``amount``."""
        self.touch(acc)
        delta = amount - acc.balance
        if not delta:
            return None
        return self._post(acc, delta, "adjustment", "Корректировка баланса")

    def set_autopay(
        self,
        acc: Account,
        enabled: bool,
        threshold: int = 0,
        amount: int = 0,
        card_mask: str | None = None,
    ) -> Autopay:
        """Autopay from a card; without ``card_mask`` the card linked to the account is used."""
        self._check_open(acc)
        card = card_mask or acc.autopay.card_mask
        if enabled:
            if not card:
                raise InvalidInput("Укажите карту для автоплатежа")
            if threshold < 0 or not MIN_TOP_UP <= amount <= MAX_TOP_UP:
                raise InvalidInput("Некорректный порог или сумма автоплатежа")
        acc.autopay = Autopay(enabled, threshold if enabled else 0, amount if enabled else 0, card)
        return acc.autopay

    # -- voluntary block ---------------------------------------------------------------------
    def current_suspension(self, acc: Account) -> Suspension | None:
        """The block that is requested, scheduled or active, if any."""
        now = self.now()
        for block in reversed(acc.suspensions):
            if block.status(now) in ("requested", "scheduled", "active"):
                return block
        return None

    def quote_suspension(self, acc: Account, start: dt.date, end: dt.date) -> Quote:
        """What a block from ``start`` to ``end`` (inclusive) costs, before the user confirms."""
        rule = self.operator(acc.operator).suspension
        today = self.clock.today()
        if start < today:
            raise InvalidInput("Дата начала блокировки не может быть в прошлом")
        if end < start:
            raise InvalidInput("Дата окончания раньше даты начала")
        days = (end - start).days + 1
        if days > rule.max_days:
            raise Rejected(f"Блокировка возможна не более чем на {rule.max_days} дней")
        if days < rule.min_days:
            raise Rejected(f"Блокировка возможна не менее чем на {rule.min_days} дней")
        free = days if rule.free_days is None else min(days, rule.free_days)
        paid = days - free
        return Quote(start, end, days, free, paid, paid * rule.daily_fee, rule.daily_fee, rule)

    def request_suspension(self, acc: Account, start: dt.date, end: dt.date) -> Suspension:
        """Ask for a voluntary block; the operator approves it after ``approval_delay``."""
        self.touch(acc)
        self._check_open(acc)
        self.quote_suspension(acc, start, end)
        if self.current_suspension(acc) is not None:
            raise Rejected("Добровольная блокировка уже оформлена")
        now = self.now()
        rule = self.operator(acc.operator).suspension
        block = Suspension(self.next_id(), start, end, now, now + rule.approval_delay)
        acc.suspensions.append(block)
        return block

    def resume(self, acc: Account) -> Suspension:
        """Cancel a requested or scheduled block, or end an active one (from tomorrow)."""
        self.touch(acc)
        block = self.current_suspension(acc)
        if block is None:
            raise Rejected("Добровольная блокировка не оформлена")
        now = self.now()
        if block.status(now) == "active":
            block.ended_on = now.date()
        else:
            block.cancelled_at = now
        return block

    # -- usage -------------------------------------------------------------------------------
    def usage(self, acc: Account) -> Usage:
        """Package remainders this month and traffic since the 1st (deterministic)."""
        self.touch(acc)
        now = self.now()
        today = now.date()
        tariff = self.tariff_of(acc)
        month_start = today.replace(day=1)
        month_end = month_start + dt.timedelta(days=days_in_month(today) - 1)
        elapsed = (today.day - 1 + now.hour / 24) / days_in_month(today)
        used = min(1.0, elapsed * acc.usage_factor)
        if acc.extra.get("used_share") is not None:  # fixed by the sim API
            used = float(acc.extra["used_share"])
        remainders = []
        for name, unit, size in (
            ("Минуты", "seconds", tariff.minutes * 60),
            ("SMS", "sms", tariff.sms),
            ("MMS", "mms", tariff.mms),
            ("Интернет", "bytes", tariff.traffic_mb * 1024 * 1024),
        ):
            if size:
                remainders.append(PackageRest(name, unit, size - int(size * used), size, month_end))  # type: ignore[arg-type]
        return Usage(remainders, self.traffic(acc, month_start, today))

    def traffic(self, acc: Account, start: dt.date, end: dt.date) -> Traffic:
        """Bytes downloaded and uploaded from ``start`` to ``end`` (inclusive, up to now)."""
        if end < start:
            raise InvalidInput("Дата окончания раньше даты начала")
        if (end - start).days > 366:
            raise InvalidInput("Период не может быть длиннее года")
        now = self.now()
        today = now.date()
        down = 0
        day = max(start, acc.opened)
        while day <= min(end, today):
            share = 1.0 if day < today else (now.hour * 60 + now.minute) / 1440
            down += int(self.daily_download(acc, day) * share)
            day += dt.timedelta(1)
        return Traffic(start, end, down, down // 7)

    def daily_download(self, acc: Account, day: dt.date) -> int:
        base = 3 * 1024**3 if acc.kind in ("internet", "bundle") else 300 * 1024**2
        if acc.kind in ("tv", "landline"):
            base = 0
        h = zlib.crc32(f"{acc.id}:{day.isoformat()}".encode()) % 1000
        return int(base * acc.usage_factor * (0.5 + h / 1000))
