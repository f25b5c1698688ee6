"""Pure parsing: the native dialect's JSON -> contract models. No I/O; tested on saved payloads.

Every function raises :class:`ParseError` (with the payload redacted) when the answer does not
have the expected shape: a changed API must never crash the poller nor store a wrong balance.
Money must come as a decimal string or an integer; a float is refused.
"""

from __future__ import annotations

import datetime as dt
from collections.abc import Callable, Iterator
from contextlib import contextmanager
from decimal import Decimal, InvalidOperation
from typing import Any, TypeVar

from aggregator import ParseError
from aggregator.core.models import (
    AccountState,
    AutopaySettings,
    Balance,
    ChatMessage,
    ChatTopic,
    CostRule,
    Money,
    NewsItem,
    OperationResult,
    PackageRemainder,
    Payment,
    PollResult,
    Profile,
    Service,
    ServiceChangeResult,
    Subaccount,
    Suspension,
    SuspensionQuote,
    SuspensionState,
    Tariff,
    TariffCatalogue,
    TariffChangeResult,
    TopUpResult,
    TrafficStats,
    Usage,
)

T = TypeVar("T")

__all__ = [
    "autopay",
    "balance",
    "chat_messages",
    "chat_topics",
    "news",
    "operation_result",
    "payments",
    "poll",
    "profile",
    "quote",
    "service_change",
    "services",
    "subaccounts",
    "suspension",
    "tariff_catalogue",
    "tariff_change",
    "top_up",
    "usage",
]


@contextmanager
def shape(payload: Any, what: str) -> Iterator[None]:
    """Turn any surprise in ``payload`` into a ParseError naming ``what``."""
    try:
        yield
    except ParseError:
        raise
    except (KeyError, TypeError, ValueError, AttributeError, InvalidOperation) as exc:
        raise ParseError(f"unexpected {what} answer ({type(exc).__name__})", payload) from None


def _money(value: Any) -> Money:
    if isinstance(value, bool) or not isinstance(value, str | int):
        raise TypeError("money must be a decimal string")
    return Money.rub(Decimal(value))


def _money_or_none(value: Any) -> Money | None:
    return None if value is None else _money(value)


def _date(value: Any) -> dt.date | None:
    return None if value is None else dt.date.fromisoformat(value)


def _when(value: Any) -> dt.datetime:
    moment = dt.datetime.fromisoformat(value)
    if moment.tzinfo is None:
        raise ValueError("naive timestamp")
    return moment


def _each(payload: Any, key: str, what: str, one: Callable[[Any], T]) -> list[T]:
    with shape(payload, what):
        items = payload[key]
        if not isinstance(items, list):
            raise TypeError(f"{key} is not a list")
        return [one(item) for item in items]


def balance(payload: Any) -> Balance:
    with shape(payload, "balance"):
        return Balance(
            amount=_money(payload["amount"]),
            as_of=_when(payload["as_of"]),
            credit_limit=_money_or_none(payload.get("credit_limit")),
            bonus=_money_or_none(payload.get("bonus")),
            next_charge_date=_date(payload.get("next_charge_date")),
            next_charge_amount=_money_or_none(payload.get("next_charge_amount")),
        )


_STATES = {
    "active": AccountState.ACTIVE,
    "blocked": AccountState.BLOCKED,
    "suspended": AccountState.SUSPENDED,
    "closed": AccountState.CLOSED,
}


def poll(payload: Any) -> PollResult:
    with shape(payload, "account"):
        return PollResult(
            balance=balance(payload["balance"]),
            tariff_name=payload["tariff"]["name"],
            state=_STATES.get(payload["state"], AccountState.UNKNOWN),
            suspension_end=_date(payload.get("suspension_end")),
        )


def subaccounts(payload: Any) -> list[Subaccount]:
    kinds = {"mobile", "internet", "tv", "landline", "bundle"}
    return _each(
        payload,
        "accounts",
        "accounts",
        lambda a: Subaccount(
            id=a["id"],
            number=a["number"],
            label=a.get("label") or "",
            kind=a["kind"] if a["kind"] in kinds else "other",
        ),
    )


def _tariff(t: Any) -> Tariff:
    return Tariff(
        id=t["id"],
        name=t["name"],
        price=_money_or_none(t.get("price")),
        period=t.get("period"),
        description=t.get("description") or "",
    )


def tariff_catalogue(payload: Any) -> TariffCatalogue:
    with shape(payload, "tariffs"):
        pending = payload.get("pending")
        return TariffCatalogue(
            current=_tariff(payload["current"]),
            available=[_tariff(t) for t in payload["available"]],
            pending=_tariff(pending) if pending else None,
            pending_from=_date(payload.get("pending_from")),
        )


def _service(s: Any) -> Service:
    return Service(
        id=s["id"],
        name=s["name"],
        enabled=bool(s["enabled"]),
        price=_money_or_none(s.get("price")),
        period=s.get("period"),
        description=s.get("description") or "",
        can_toggle=bool(s["can_toggle"]),
    )


def tariff_change(payload: Any) -> TariffChangeResult:
    with shape(payload, "tariff change"):
        return TariffChangeResult(
            tariff=_tariff(payload["tariff"]),
            effective_date=dt.date.fromisoformat(payload["effective_date"]),
        )


def services(payload: Any) -> list[Service]:
    return _each(payload, "services", "services", _service)


def service_change(payload: Any) -> ServiceChangeResult:
    with shape(payload, "service change"):
        return ServiceChangeResult(
            service=_service(payload["service"]),
            effective_date=_date(payload.get("effective_date")),
        )


def _rule(r: Any) -> CostRule:
    return CostRule(
        free_days=r.get("free_days"),
        daily_fee=_money_or_none(r.get("daily_fee")),
        description=r.get("description") or "",
    )


def suspension(payload: Any) -> Suspension:
    with shape(payload, "suspension"):
        return Suspension(
            state=SuspensionState(payload["state"]),
            start=_date(payload.get("start")),
            end=_date(payload.get("end")),
            cost_rule=_rule(payload["cost_rule"]),
            max_days=payload.get("max_days"),
        )


def quote(payload: Any) -> SuspensionQuote:
    with shape(payload, "suspension quote"):
        return SuspensionQuote(
            start=dt.date.fromisoformat(payload["start"]),
            end=dt.date.fromisoformat(payload["end"]),
            days=payload["days"],
            free_days=payload["free_days"],
            paid_days=payload["paid_days"],
            total=_money(payload["total"]),
            cost_rule=_rule(payload["cost_rule"]),
        )


def chat_topics(payload: Any) -> list[ChatTopic]:
    return _each(
        payload, "topics", "chat topics", lambda t: ChatTopic(id=t["id"], title=t["title"])
    )


def chat_messages(payload: Any) -> list[ChatMessage]:
    return _each(
        payload,
        "messages",
        "chat",
        lambda m: ChatMessage(
            id=m["id"],
            topic_id=m.get("topic_id"),
            author=m["author"],
            text=m["text"],
            sent_at=_when(m["sent_at"]),
            author_name=m.get("author_name"),
        ),
    )


def _payment(p: Any) -> Payment:
    return Payment(
        id=p["id"],
        at=_when(p["at"]),
        amount=_money(p["amount"]),
        kind=p["kind"],
        description=p.get("description") or "",
    )


def payments(payload: Any) -> list[Payment]:
    return _each(payload, "payments", "payments", _payment)


def top_up(payload: Any) -> TopUpResult:
    with shape(payload, "top-up"):
        return TopUpResult(
            payment=_payment(payload["payment"]), balance=_money_or_none(payload.get("balance"))
        )


def autopay(payload: Any) -> AutopaySettings:
    with shape(payload, "autopay"):
        return AutopaySettings(
            enabled=bool(payload["enabled"]),
            threshold=_money_or_none(payload.get("threshold")),
            amount=_money_or_none(payload.get("amount")),
            card_mask=payload.get("card_mask"),
        )


def usage(payload: Any) -> Usage:
    with shape(payload, "usage"):
        traffic = payload["traffic"]
        return Usage(
            remainders=[
                PackageRemainder(
                    name=r["name"],
                    unit=r["unit"],
                    rest=Decimal(r["rest"]),
                    size=None if r.get("size") is None else Decimal(r["size"]),
                )
                for r in payload["remainders"]
            ],
            traffic=TrafficStats(
                period_start=dt.date.fromisoformat(traffic["start"]),
                period_end=dt.date.fromisoformat(traffic["end"]),
                downloaded_bytes=int(traffic["downloaded_bytes"]),
                uploaded_bytes=int(traffic["uploaded_bytes"]),
            ),
        )


def news(payload: Any) -> list[NewsItem]:
    return _each(
        payload,
        "news",
        "news",
        lambda n: NewsItem(
            id=n["id"],
            title=n["title"],
            text=n.get("text") or "",
            published=_date(n.get("published")),
            kind=n.get("kind", "news"),
        ),
    )


def profile(payload: Any) -> Profile:
    with shape(payload, "profile"):
        return Profile(
            full_name=payload.get("full_name"),
            phone=payload.get("phone"),
            email=payload.get("email"),
            account_number=payload.get("account_number"),
            address=payload.get("address") or None,
        )


def operation_result(payload: Any) -> OperationResult:
    """The answer of a confirmed operation (``POST /confirmations/{id}``)."""
    with shape(payload, "confirmation"):
        details = {}
        if payload.get("balance") is not None:
            details["balance"] = str(_money(payload["balance"]).amount)
        return OperationResult(
            operation=payload["operation"],
            message=payload.get("message") or "",
            effective_date=_date(payload.get("effective_date")),
            details=details,
        )
