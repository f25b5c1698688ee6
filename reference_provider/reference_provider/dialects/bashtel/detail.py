"""Bashtel's spending detail: one billing period (a calendar month) as a page or a file."""

from __future__ import annotations

import datetime as dt
from typing import Any
from urllib.parse import quote

from litestar import Request, Response, get

from ...backend import Backend
from ...domain.clock import first_of_next_month
from ...domain.errors import (
    InvalidInput,
    NotFound,
)
from ...domain.models import Account
from .wire import (
    BackendDep,
    cabinet,
    fmt_date,
    month_title,
    plain,
    render,
)

__all__ = ["HANDLERS"]


# -- spending detail ----------------------------------------------------------------------
def periods(backend: Backend, acc: Account) -> list[dt.date]:
    """First days of the billing periods one may detail: the last 12 since the opening."""
    today = backend.clock.today().replace(day=1)
    opened = acc.opened.replace(day=1)
    out: list[dt.date] = []
    month = today
    while month >= opened and len(out) < 12:
        out.append(month)
        month = (month - dt.timedelta(days=1)).replace(day=1)
    return out


def chosen_period(backend: Backend, acc: Account, value: str | None) -> dt.date:
    options = periods(backend, acc)
    if not value:
        return options[0]
    try:
        month = dt.date.fromisoformat(f"{value.strip()}-01")
    except ValueError:
        raise InvalidInput("Расчётный период указан неверно") from None
    if month not in options:
        raise NotFound("Детализация за этот расчётный период недоступна")
    return month


@get("/detail", sync_to_thread=False)
def detail(request: Request[Any, Any, Any], backend: BackendDep) -> Response[str]:
    cab = cabinet(request, backend)
    start = chosen_period(backend, cab.acc, request.query_params.get("period"))
    end = first_of_next_month(start) - dt.timedelta(days=1)
    entries = backend.ledger(cab.acc, start, end)
    rows = [
        {
            "date": fmt_date(e.at.date()),
            "date_iso": e.at.date().isoformat(),
            "description": e.description,
            "amount": plain(e.amount),
        }
        for e in entries
    ]
    return render(
        "detail.html",
        **cab.context(backend, "detail", "Детализация расходов"),
        periods=[
            {"value": m.strftime("%Y-%m"), "title": month_title(m)}
            for m in periods(backend, cab.acc)
        ],
        period={
            "value": start.strftime("%Y-%m"),
            "start": fmt_date(start),
            "end": fmt_date(end),
            "start_iso": start.isoformat(),
            "end_iso": end.isoformat(),
        },
        rows=rows,
        charged=plain(sum(e.amount for e in entries if e.amount < 0)),
        paid=plain(sum(e.amount for e in entries if e.amount > 0)),
    )


@get("/detail/export", sync_to_thread=False)
def detail_export(request: Request[Any, Any, Any], backend: BackendDep) -> Response[bytes]:
    cab = cabinet(request, backend)
    start = chosen_period(backend, cab.acc, request.query_params.get("period"))
    format = request.query_params.get("format") or "pdf"
    end = first_of_next_month(start) - dt.timedelta(days=1)
    if format not in ("pdf", "xlsx"):
        raise InvalidInput("Формат файла: PDF или XLSX")
    report = backend.report(cab.acc, start, end, format)  # type: ignore[arg-type]
    return Response(
        report.content,
        media_type=report.media_type,
        headers={
            "Content-Disposition": f'attachment; filename="{report.filename}"; '
            f"filename*=UTF-8''{quote(report.filename)}",
            "Cache-Control": "no-store",
        },
    )


HANDLERS = [detail, detail_export]
