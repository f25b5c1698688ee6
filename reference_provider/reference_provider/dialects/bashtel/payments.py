"""Bashtel payments: top-up (a code by SMS when the operator wants one) and the history."""

from __future__ import annotations

from typing import Any

from litestar import Request, Response, get, post

from ...backend import Backend
from ...domain.errors import (
    CodeInvalid,
    DomainError,
)
from ...domain.money import format_rub, kop
from .wire import (
    OPERATOR,
    BackendDep,
    Cabinet,
    cabinet,
    fmt_datetime,
    plain,
    posted,
    redirect,
    render,
    window,
)

__all__ = ["HANDLERS"]

_PAYMENT_KIND = {"payment": "Платёж", "autopay": "Автоплатёж", "adjustment": "Корректировка"}


# -- payments -------------------------------------------------------------------------------
@get("/pay", sync_to_thread=False)
def pay_page(request: Request[Any, Any, Any], backend: BackendDep) -> Response[str]:
    cab = cabinet(request, backend)
    return render(
        "pay.html",
        **cab.context(backend, "pay", "Пополнение счёта"),
        account={"balance": format_rub(backend.balance(cab.acc))},
    )


def confirm_page(backend: Backend, cab: Cabinet, ticket_id: str) -> Response[str]:
    ticket = backend.tickets[ticket_id]
    return render(
        "pay_confirm.html",
        **cab.context(backend, "pay", "Подтверждение платежа"),
        payment={
            "amount": format_rub(int(ticket.params["amount"])),
            "channel": ticket.channel,
            "masked_destination": ticket.masked_destination,
            "ticket": ticket.id,
            "code_length": backend.operator(OPERATOR).code_length,
        },
    )


@post("/pay")
async def pay(request: Request[Any, Any, Any], backend: BackendDep) -> Response[str]:
    cab, fields = await posted(request, backend)
    method = {"card": "Банковская карта", "emoney": "Электронные деньги"}.get(
        fields.get("method", "card"), "Банковская карта"
    )
    try:
        amount = kop(fields.get("amount", "").strip() or "x")
        params = {"amount": amount}
        if backend.needs_confirmation(cab.acc, "top_up", params):
            ticket = backend.start_operation(cab.session, cab.acc, "top_up", params, "sms")
            return confirm_page(backend, cab, ticket.id)
        entry = backend.top_up(cab.acc, amount, method)
    except DomainError as exc:
        cab.flash("error", exc.message)
        return redirect("/pay")
    cab.flash("success", f"Платёж на сумму {format_rub(entry.amount)} зачислен.")
    return redirect("/payments")


@post("/pay/confirm")
async def pay_confirm(request: Request[Any, Any, Any], backend: BackendDep) -> Response[str]:
    cab, fields = await posted(request, backend)
    ticket_id = fields.get("ticket", "")
    try:
        entry = backend.confirm_operation(cab.session, ticket_id, fields.get("code", ""))
    except CodeInvalid as exc:
        if ticket_id in backend.tickets:
            cab.flash("error", exc.message)
            return confirm_page(backend, cab, ticket_id)
        cab.flash("error", exc.message)
        return redirect("/pay")
    except DomainError as exc:
        cab.flash("error", exc.message)
        return redirect("/pay")
    cab.flash(
        "success",
        f"Платёж на сумму {format_rub(entry.amount)} зачислен. "
        f"Баланс: {format_rub(backend.balance(cab.acc))}.",
    )
    return redirect("/payments")


@get("/payments", sync_to_thread=False)
def payments_page(request: Request[Any, Any, Any], backend: BackendDep) -> Response[str]:
    cab = cabinet(request, backend)
    since, until = window(
        backend, request.query_params.get("from"), request.query_params.get("to"), 90
    )
    rows = [
        {
            "id": e.id,
            "at": fmt_datetime(e.at),
            "at_iso": e.at.isoformat(timespec="seconds"),
            "kind_text": _PAYMENT_KIND.get(e.kind, "Платёж"),
            "description": e.description,
            "amount": plain(e.amount),
        }
        for e in reversed(backend.payments(cab.acc, since, until))
    ]
    return render(
        "payments.html",
        **cab.context(backend, "payments", "История платежей"),
        since_iso=since.isoformat(),
        until_iso=until.isoformat(),
        rows=rows,
    )


HANDLERS = [pay_page, pay, pay_confirm, payments_page]
