"""Bashtel's account pages: the state of the account, tariffs, extra services, news and the
profile.
"""

from __future__ import annotations

import datetime as dt
from typing import Any

from litestar import Request, Response, get, post

from ...backend import Backend
from ...domain.errors import (
    DomainError,
)
from ...domain.money import format_rub
from .wire import (
    OPERATOR,
    BackendDep,
    cabinet,
    fmt_date,
    fmt_phone,
    posted,
    redirect,
    render,
)

__all__ = ["HANDLERS"]

_STATUS_TEXT = {
    "active": "Активен",
    "blocked": "Заблокирован: недостаточно средств",
    "suspended": "Добровольная блокировка",
    "closed": "Договор расторгнут",
}
_NEWS_KIND = {"news": "Новость", "offer": "Акция", "maintenance": "Профилактические работы"}


# -- the account state ------------------------------------------------------------------
@get("/cabinet", sync_to_thread=False)
def cabinet_page(request: Request[Any, Any, Any], backend: BackendDep) -> Response[str]:
    cab = cabinet(request, backend)
    acc = cab.acc
    balance = backend.balance(acc)
    status = backend.status(acc)
    due, amount = backend.next_payment(acc)
    block = backend.current_suspension(acc)
    suspension = None
    if block is not None:
        suspension = {
            "start": fmt_date(block.start),
            "start_iso": block.start.isoformat(),
            "end": fmt_date(block.last_day),
            "end_iso": block.last_day.isoformat(),
            "status_text": {
                "requested": "заявка рассматривается",
                "scheduled": "запланирована",
                "active": "действует",
            }.get(block.status(backend.now()), ""),
        }
    # «Важные сообщения»: works announced, or past by a week at most (older ones are history)
    recent = backend.now().date() - dt.timedelta(days=7)
    notices = [
        n for n in backend.news(OPERATOR) if n.kind == "maintenance" and n.published >= recent
    ]
    return render(
        "cabinet.html",
        **cab.context(backend, "cabinet", "Состояние лицевого счёта"),
        account={
            "number": acc.number,
            "address": acc.address,
            "balance": format_rub(balance),
            "negative": balance < 0,
            "credit_limit": format_rub(acc.credit_limit) if acc.credit_limit else None,
            "bonus": format_rub(acc.bonus) if acc.bonus is not None else None,
            "tariff_name": backend.tariff_of(acc).name,
            "status_text": _STATUS_TEXT[status],
            "next_charge": {
                "amount": format_rub(amount),
                "date": fmt_date(due),
                "date_iso": due.isoformat(),
            },
            "suspension": suspension,
        },
        notices=notices,
    )


# -- tariffs --------------------------------------------------------------------------------
@get("/tariff", sync_to_thread=False)
def tariff_page(request: Request[Any, Any, Any], backend: BackendDep) -> Response[str]:
    cab = cabinet(request, backend)
    current = backend.tariff_of(cab.acc)
    pending = backend.pending_tariff(cab.acc)

    def view(t: Any) -> dict[str, Any]:
        return {"id": t.id, "name": t.name, "fee": format_rub(t.fee),
                "description": t.description}  # fmt: skip

    return render(
        "tariff.html",
        **cab.context(backend, "tariff", "Тарифный план"),
        current=view(current),
        pending=(
            {**view(pending[0]), "from": fmt_date(pending[1]), "from_iso": pending[1].isoformat()}
            if pending
            else None
        ),
        catalogue=[view(t) for t in backend.available_tariffs(cab.acc)],
    )


@post("/tariff/change")
async def tariff_change(request: Request[Any, Any, Any], backend: BackendDep) -> Response[str]:
    cab, fields = await posted(request, backend)
    try:
        change = backend.change_tariff(cab.acc, fields.get("tariff_id", ""))
    except DomainError as exc:
        cab.flash("error", exc.message)
    else:
        if change.tariff.id == cab.acc.tariff_id:
            cab.flash("success", "Переход на другой тарифный план отменён.")
        else:
            cab.flash(
                "success",
                f"Заявка принята: тарифный план «{change.tariff.name}» будет подключён "
                f"с {fmt_date(change.effective)}, с начала следующего расчётного периода.",
            )
    return redirect("/tariff")


# -- services -------------------------------------------------------------------------------
@get("/services", sync_to_thread=False)
def services_page(request: Request[Any, Any, Any], backend: BackendDep) -> Response[str]:
    cab = cabinet(request, backend)
    rows = []
    for svc, enabled in backend.services(cab.acc):
        since = cab.acc.services.get(svc.id) if enabled else None
        rows.append(
            {
                "id": svc.id,
                "name": svc.name,
                "description": svc.description,
                "fee": format_rub(svc.fee),
                "enabled": enabled,
                "since": fmt_date(since) if since else None,
                "since_iso": since.isoformat() if since else None,
                "can_toggle": svc.can_toggle,
            }
        )
    return render("services.html", **cab.context(backend, "services", "Услуги"), services=rows)


async def toggle(request: Request[Any, Any, Any], backend: Backend, enabled: bool) -> Response[str]:
    cab, fields = await posted(request, backend)
    try:
        change = backend.set_service(cab.acc, fields.get("service_id", ""), enabled)
    except DomainError as exc:
        cab.flash("error", exc.message)
    else:
        verb = "подключена" if enabled else "отключена"
        cab.flash("success", f"Услуга «{change.service.name}» {verb}.")
    return redirect("/services")


@post("/services/order")
async def service_order(request: Request[Any, Any, Any], backend: BackendDep) -> Response[str]:
    return await toggle(request, backend, True)


@post("/services/cancel")
async def service_cancel(request: Request[Any, Any, Any], backend: BackendDep) -> Response[str]:
    return await toggle(request, backend, False)


# -- news and profile -------------------------------------------------------------------------
@get("/news", sync_to_thread=False)
def news_page(request: Request[Any, Any, Any], backend: BackendDep) -> Response[str]:
    cab = cabinet(request, backend)
    items = [
        {
            "id": n.id,
            "kind": n.kind,
            "kind_text": _NEWS_KIND.get(n.kind, "Новость"),
            "title": n.title,
            "text": n.text,
            "published": fmt_date(n.published),
            "published_iso": n.published.isoformat(),
        }
        for n in backend.news(OPERATOR)
    ]
    return render("news.html", **cab.context(backend, "news", "Новости"), news=items)


@get("/profile", sync_to_thread=False)
def profile_page(request: Request[Any, Any, Any], backend: BackendDep) -> Response[str]:
    cab = cabinet(request, backend)
    data = backend.profile(cab.sub, cab.acc)
    return render(
        "profile.html",
        **cab.context(backend, "profile", "Профиль"),
        profile={
            "full_name": data["full_name"],
            "account_number": data["account_number"],
            "address": data["address"] or "",
            "phone": fmt_phone(data["phone"]),
            "email": data["email"] or "",
        },
    )


HANDLERS = [
    cabinet_page,
    tariff_page,
    tariff_change,
    services_page,
    service_order,
    service_cancel,
    news_page,
    profile_page,
]
