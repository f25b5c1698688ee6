"""Bashtel's voluntary block: the rules, the cost quoted before confirming, the request and
its cancellation.
"""

from __future__ import annotations

from typing import Any

from litestar import Request, Response, get, post

from ...backend import Backend
from ...domain.errors import (
    DomainError,
    InvalidInput,
)
from ...domain.money import format_rub, rub
from .wire import (
    OPERATOR,
    BackendDep,
    cabinet,
    fmt_date,
    iso_date,
    posted,
    redirect,
    render,
)

__all__ = ["HANDLERS"]

_BLOCK_TEXT = {
    "requested": "Заявка на добровольную блокировку рассматривается",
    "scheduled": "Добровольная блокировка запланирована",
    "active": "Лицевой счёт добровольно заблокирован",
}


# -- voluntary block ------------------------------------------------------------------------
def rules_view(backend: Backend) -> dict[str, Any]:
    rule = backend.operator(OPERATOR).suspension
    if rule.free_days is None:
        text = rule.description or "Бесплатно на весь срок блокировки"
    else:
        text = f"Первые {rule.free_days} дней бесплатно, далее {format_rub(rule.daily_fee)} в сутки"
    return {
        "text": text,
        "free_days": "" if rule.free_days is None else rule.free_days,
        "daily_fee_plain": "" if rule.free_days is None else str(rub(rule.daily_fee)),
        "min_days": rule.min_days,
        "max_days": rule.max_days,
    }


@get("/block", sync_to_thread=False)
def block_page(request: Request[Any, Any, Any], backend: BackendDep) -> Response[str]:
    cab = cabinet(request, backend)
    block = backend.current_suspension(cab.acc)
    view: dict[str, Any] = {"state": "none"}
    if block is not None:
        state = block.status(backend.now())
        view = {
            "state": state,
            "status_text": _BLOCK_TEXT.get(state, ""),
            "start": fmt_date(block.start),
            "start_iso": block.start.isoformat(),
            "end": fmt_date(block.last_day),
            "end_iso": block.last_day.isoformat(),
        }
    return render(
        "block.html",
        **cab.context(backend, "block", "Добровольная блокировка"),
        block=view,
        rules=rules_view(backend),
    )


@post("/block/quote")
async def block_quote(request: Request[Any, Any, Any], backend: BackendDep) -> Response[str]:
    cab, fields = await posted(request, backend)
    try:
        start = iso_date(fields.get("start"), "Дата начала")
        end = iso_date(fields.get("end"), "Дата окончания")
        if backend.current_suspension(cab.acc) is not None:
            raise InvalidInput("Добровольная блокировка уже оформлена")
        quote_ = backend.quote_suspension(cab.acc, start, end)
    except DomainError as exc:
        cab.flash("error", exc.message)
        return redirect("/block")
    return render(
        "block_quote.html",
        **cab.context(backend, "block", "Подтверждение блокировки"),
        quote={
            "start": fmt_date(quote_.start),
            "start_iso": quote_.start.isoformat(),
            "end": fmt_date(quote_.end),
            "end_iso": quote_.end.isoformat(),
            "days": quote_.days,
            "free_days": quote_.free_days,
            "paid_days": quote_.paid_days,
            "daily_fee": format_rub(quote_.daily_fee),
            "total": format_rub(quote_.total),
        },
        rules=rules_view(backend),
    )


@post("/block/confirm")
async def block_confirm(request: Request[Any, Any, Any], backend: BackendDep) -> Response[str]:
    cab, fields = await posted(request, backend)
    try:
        start = iso_date(fields.get("start"), "Дата начала")
        end = iso_date(fields.get("end"), "Дата окончания")
        block = backend.request_suspension(cab.acc, start, end)
    except DomainError as exc:
        cab.flash("error", exc.message)
    else:
        start_, end_ = fmt_date(block.start), fmt_date(block.end)
        if block.status(backend.now()) == "requested":
            text = (
                f"Заявка на добровольную блокировку с {start_} по {end_} "
                "принята. О её рассмотрении мы сообщим в личном кабинете."
            )
        else:
            text = f"Добровольная блокировка с {start_} по {end_} оформлена."
        cab.flash("success", text)
    return redirect("/block")


@post("/block/cancel")
async def block_cancel(request: Request[Any, Any, Any], backend: BackendDep) -> Response[str]:
    cab, _ = await posted(request, backend)
    try:
        backend.resume(cab.acc)
    except DomainError as exc:
        cab.flash("error", exc.message)
    else:
        cab.flash("success", "Добровольная блокировка снята.")
    return redirect("/block")


HANDLERS = [block_page, block_quote, block_confirm, block_cancel]
