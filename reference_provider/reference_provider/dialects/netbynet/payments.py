"""NetByNet payments: history, charges, top-up and autopay (assumed: no independent client
shows them). Handlers get the backend injected.
"""

from __future__ import annotations

import datetime as dt
from typing import Any

from litestar import Request, Response, get, post

from ...backend import Backend
from ...domain.errors import InvalidInput
from ...domain.models import Account
from .wire import BackendDep, amount_field, body_of, current, date_field, money, ok, text_field

__all__ = ["HANDLERS"]

_PAYMENT_TYPES = {"payment": "PAYMENT", "autopay": "AUTOPAY", "adjustment": "CORRECTION"}
DEFAULT_CARD = "4276 **** **** 1234"


# -- payments and autopay -----------------------------------------------------------------
def period(request: Request[Any, Any, Any], backend: Backend) -> tuple[dt.date, dt.date]:
    today = backend.clock.today()
    until = date_field(request.query_params.get("dateTo") or today, "dateTo")
    since = date_field(
        request.query_params.get("dateFrom") or (until - dt.timedelta(days=90)), "dateFrom"
    )
    if until < since:
        raise InvalidInput("Дата окончания раньше даты начала")
    if (until - since).days > 366:
        raise InvalidInput("Период не может быть длиннее года")
    return since, until


@get("/api/v1/get-payments", sync_to_thread=False)
def payments(request: Request[Any, Any, Any], backend: BackendDep) -> Response[Any]:
    _, acc = current(request, backend)
    since, until = period(request, backend)
    return ok(
        payments=[
            {
                "id": e.id,
                "date": e.at.isoformat(timespec="seconds"),
                "amount": money(e.amount),
                "type": _PAYMENT_TYPES.get(e.kind, "PAYMENT"),
                "description": e.description,
            }
            for e in reversed(backend.payments(acc, since, until))
        ]
    )


@get("/api/v1/get-charges", sync_to_thread=False)
def charges(request: Request[Any, Any, Any], backend: BackendDep) -> Response[Any]:
    _, acc = current(request, backend)
    since, until = period(request, backend)
    return ok(
        charges=[
            {
                "id": e.id,
                "date": e.at.isoformat(timespec="seconds"),
                "amount": money(-e.amount),
                "description": e.description,
            }
            for e in reversed(backend.ledger(acc, since, until))
            if e.amount < 0
        ]
    )


@post("/api/v1/pay")
async def pay(request: Request[Any, Any, Any], backend: BackendDep) -> Response[Any]:
    data = await body_of(request)
    _, acc = current(request, backend)
    entry = backend.top_up(acc, amount_field(data, "amount", "Сумма"), "Банковская карта")
    return ok(
        "Платёж зачислен",
        payment={
            "id": entry.id,
            "date": entry.at.isoformat(timespec="seconds"),
            "amount": money(entry.amount),
            "type": "PAYMENT",
            "description": entry.description,
        },
        accountBalance=money(backend.balance(acc)),
    )


def autopay_view(acc: Account) -> dict[str, Any]:
    ap = acc.autopay
    return {
        "enabled": ap.enabled,
        "threshold": money(ap.threshold) if ap.enabled else None,
        "amount": money(ap.amount) if ap.enabled else None,
        "cardMask": ap.card_mask,
    }


@get("/api/v1/autopay", sync_to_thread=False)
def autopay(request: Request[Any, Any, Any], backend: BackendDep) -> Response[Any]:
    _, acc = current(request, backend)
    return ok(autopay=autopay_view(acc))


@post("/api/v1/autopay")
async def set_autopay(request: Request[Any, Any, Any], backend: BackendDep) -> Response[Any]:
    data = await body_of(request)
    _, acc = current(request, backend)
    enabled = data.get("enabled")
    if not isinstance(enabled, bool):
        raise InvalidInput("Поле «enabled»: true или false")
    threshold = amount_field(data, "threshold", "Порог") if enabled else 0
    amount = amount_field(data, "amount", "Сумма") if enabled else 0
    card = text_field(data, "cardMask", "Карта", required=False) or acc.autopay.card_mask
    backend.set_autopay(acc, enabled, threshold, amount, card or DEFAULT_CARD)
    text = "Автоплатёж подключён" if enabled else "Автоплатёж отключён"
    return ok(text, autopay=autopay_view(acc))


HANDLERS = [
    payments,
    charges,
    pay,
    autopay,
    set_autopay,
]
