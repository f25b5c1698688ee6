"""NetByNet voluntary block (from the seed): a request the operator approves (2 hours later on
the billing clock); free for 60 days, then a daily fee, calculated before the user confirms.
Handlers get the backend injected.
"""

from __future__ import annotations

from typing import Any

from litestar import Request, Response, get, post

from ...backend import Backend
from ...domain.errors import InvalidInput
from ...domain.models import Account
from .wire import OPERATOR, BackendDep, body_of, current, date_field, money, ok

__all__ = ["HANDLERS"]

_BLOCK = {
    "requested": "REQUESTED",
    "scheduled": "SCHEDULED",
    "active": "ACTIVE",
    "ended": "ENDED",
    "cancelled": "CANCELLED",
}


# -- voluntary block ------------------------------------------------------------------------
def conditions(backend: Backend) -> dict[str, Any]:
    rule = backend.operator(OPERATOR).suspension
    return {
        "freeDays": rule.free_days,
        "dailyFee": money(rule.daily_fee),
        "maxDays": rule.max_days,
        "minDays": rule.min_days,
        "description": rule.description,
    }


def block_view(backend: Backend, acc: Account) -> dict[str, Any]:
    block = backend.current_suspension(acc)
    if block is None:
        return {"status": "NONE", "dateFrom": None, "dateTo": None, "requestId": None}
    return {
        "status": _BLOCK[block.status(backend.now())],
        "dateFrom": block.start.isoformat(),
        "dateTo": block.last_day.isoformat(),
        "requestId": block.id,
        "requestedAt": block.requested_at.isoformat(timespec="seconds"),
    }


@get("/api/v1/voluntary-block", sync_to_thread=False)
def voluntary_block(request: Request[Any, Any, Any], backend: BackendDep) -> Response[Any]:
    _, acc = current(request, backend)
    return ok(block=block_view(backend, acc), conditions=conditions(backend))


@post("/api/v1/voluntary-block/calculate")
async def block_calculate(request: Request[Any, Any, Any], backend: BackendDep) -> Response[Any]:
    data = await body_of(request)
    _, acc = current(request, backend)
    quote = backend.quote_suspension(
        acc, date_field(data.get("dateFrom"), "dateFrom"), date_field(data.get("dateTo"), "dateTo")
    )
    return ok(
        dateFrom=quote.start.isoformat(),
        dateTo=quote.end.isoformat(),
        days=quote.days,
        freeDays=quote.free_days,
        paidDays=quote.paid_days,
        dailyFee=money(quote.daily_fee),
        totalCost=money(quote.total),
        conditions=conditions(backend),
    )


@post("/api/v1/voluntary-block")
async def block_request(request: Request[Any, Any, Any], backend: BackendDep) -> Response[Any]:
    data = await body_of(request)
    _, acc = current(request, backend)
    if data.get("confirm") is not True:
        raise InvalidInput("Подтвердите стоимость блокировки (confirm: true)")
    block = backend.request_suspension(
        acc, date_field(data.get("dateFrom"), "dateFrom"), date_field(data.get("dateTo"), "dateTo")
    )
    return ok(
        f"Заявка на добровольную блокировку №{block.id} принята. Блокировка будет "
        "установлена после рассмотрения заявки, оповещение придёт в личный кабинет",
        block=block_view(backend, acc),
        conditions=conditions(backend),
    )


@post("/api/v1/voluntary-block/cancel")
async def block_cancel(request: Request[Any, Any, Any], backend: BackendDep) -> Response[Any]:
    _, acc = current(request, backend)
    backend.resume(acc)
    return ok("Добровольная блокировка отменена", block=block_view(backend, acc),
               conditions=conditions(backend))  # fmt: skip


HANDLERS = [
    voluntary_block,
    block_calculate,
    block_request,
    block_cancel,
]
