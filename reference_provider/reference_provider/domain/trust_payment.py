"""Beeline's trusted payment («Доверительный платёж»): money now, taken back after three days.

A small addition next to the billing rules (written with the Beeline dialect): the credit is a
payment into the ledger; the repayment is a charge posted lazily, the first time the account is
read on or after the due day, and takes the amount plus the fee. State lives in
``Account.extra["trust_payment"]``. The fee tiers are assumed (the seed names the service, not
its price); the choices offered are the usual sums up to the limit.
"""

from __future__ import annotations

import datetime as dt
from dataclasses import dataclass

from .billing import BillingMixin
from .errors import InvalidInput, Rejected
from .models import Account, LedgerEntry
from .money import format_rub

__all__ = [
    "TRUST_DAYS",
    "TrustOffer",
    "settle_trust_payment",
    "take_trust_payment",
    "trust_fee",
    "trust_offer",
]

TRUST_DAYS = 3
MIN_TRUST = 50_00
MAX_TRUST = 1000_00
_CHOICES = (50_00, 100_00, 200_00, 300_00, 500_00, 1000_00)
# (from this amount, the fee), kopecks: a credit costs more the larger it is (assumed tiers).
_FEES = ((0, 0), (100_00, 10_00), (300_00, 25_00), (500_00, 50_00))
_KEY = "trust_payment"


def trust_fee(amount: int) -> int:
    """What a trusted payment of ``amount`` kopecks costs, charged back with it."""
    return next(fee for start, fee in reversed(_FEES) if amount >= start)


@dataclass(frozen=True, slots=True)
class TrustOffer:
    available: bool
    max_sum: int  # kopecks
    days: int
    reason: str = ""
    outstanding: int = 0  # kopecks still owed (amount + fee)
    due: dt.date | None = None

    @property
    def choices(self) -> list[int]:
        return [c for c in _CHOICES if c <= self.max_sum]


def settle_trust_payment(domain: BillingMixin, acc: Account) -> LedgerEntry | None:
    """Take back a trusted payment whose due day has come (once)."""
    debt = acc.extra.get(_KEY)
    if not debt:
        return None
    due = dt.date.fromisoformat(debt["due"])
    if domain.clock.today() < due:
        return None
    del acc.extra[_KEY]
    owed = int(debt["amount"]) + int(debt.get("fee", 0))
    return domain._post(acc, -owed, "charge", "Погашение доверительного платежа", domain.msk(due))


def trust_offer(domain: BillingMixin, acc: Account) -> TrustOffer:
    """Whether a trusted payment can be taken now, and up to how much."""
    settle_trust_payment(domain, acc)
    max_sum = max(MIN_TRUST, min(MAX_TRUST, domain.tariff_of(acc).fee))
    debt = acc.extra.get(_KEY)
    if acc.closed:
        return TrustOffer(False, max_sum, TRUST_DAYS, "Договор расторгнут")
    if acc.pay_type != "PREPAID":
        return TrustOffer(False, max_sum, TRUST_DAYS, "Только для предоплатной системы расчётов")
    if debt:
        return TrustOffer(
            False,
            max_sum,
            TRUST_DAYS,
            "Предыдущий доверительный платёж ещё не погашен",
            int(debt["amount"]) + int(debt.get("fee", 0)),
            dt.date.fromisoformat(debt["due"]),
        )
    return TrustOffer(True, max_sum, TRUST_DAYS)


def take_trust_payment(domain: BillingMixin, acc: Account, amount: int) -> LedgerEntry:
    """Credit ``amount`` kopecks now; it is charged back with its fee after
    :data:`TRUST_DAYS` days."""
    offer = trust_offer(domain, acc)
    if not offer.available:
        raise Rejected(offer.reason)
    if not MIN_TRUST <= amount <= offer.max_sum:
        low, high = format_rub(MIN_TRUST), format_rub(offer.max_sum)
        raise InvalidInput(f"Сумма доверительного платежа: от {low} до {high}")
    entry = domain.top_up(acc, amount, method="Доверительный платёж")
    due = domain.clock.today() + dt.timedelta(days=TRUST_DAYS)
    acc.extra[_KEY] = {
        "amount": amount,
        "fee": trust_fee(amount),
        "due": due.isoformat(),
        "entry": entry.id,
    }
    return entry
