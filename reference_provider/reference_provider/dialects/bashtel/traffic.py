"""Bashtel's traffic statistics per day and the speed test."""

from __future__ import annotations

import datetime as dt
import random
from decimal import Decimal
from typing import Any

from litestar import Request, Response, get, post

from .wire import (
    BackendDep,
    cabinet,
    fmt_bytes,
    fmt_date,
    posted,
    redirect,
    render,
    window,
)

__all__ = ["HANDLERS"]


# -- traffic and speed ----------------------------------------------------------------------
@get("/traffic", sync_to_thread=False)
def traffic_page(request: Request[Any, Any, Any], backend: BackendDep) -> Response[str]:
    cab = cabinet(request, backend)
    today = backend.clock.today()
    since, until = window(
        backend,
        request.query_params.get("from") or today.replace(day=1).isoformat(),
        request.query_params.get("to"),
        0,
    )
    rows = []
    day = max(since, cab.acc.opened)
    while day <= min(until, today):
        t = backend.traffic(cab.acc, day, day)
        rows.append(
            {
                "date": fmt_date(day),
                "date_iso": day.isoformat(),
                "down": fmt_bytes(t.downloaded),
                "down_bytes": t.downloaded,
                "up": fmt_bytes(t.uploaded),
                "up_bytes": t.uploaded,
            }
        )
        day += dt.timedelta(days=1)
    total = backend.traffic(cab.acc, since, until)
    return render(
        "traffic.html",
        **cab.context(backend, "traffic", "Статистика трафика"),
        since_iso=since.isoformat(),
        until_iso=until.isoformat(),
        rows=rows,
        total={
            "down": fmt_bytes(total.downloaded),
            "down_bytes": total.downloaded,
            "up": fmt_bytes(total.uploaded),
            "up_bytes": total.uploaded,
        },
    )


@get("/speedtest", sync_to_thread=False)
def speedtest_page(request: Request[Any, Any, Any], backend: BackendDep) -> Response[str]:
    cab = cabinet(request, backend)
    return render(
        "speedtest.html",
        **cab.context(backend, "speedtest", "Замер скорости"),
        tariff_mbps=backend.tariff_of(cab.acc).speed_mbps,
        result=cab.session.data.get("speedtest"),
    )


@post("/speedtest")
async def speedtest(request: Request[Any, Any, Any], backend: BackendDep) -> Response[str]:
    cab, _ = await posted(request, backend)
    speed = backend.tariff_of(cab.acc).speed_mbps or 10
    now = backend.now()
    rng = random.Random(f"{cab.acc.id}:{now.isoformat()}")
    down = Decimal(str(round(speed * rng.uniform(0.86, 0.98), 1)))
    up = Decimal(str(round(float(down) * rng.uniform(0.85, 0.95), 1)))
    cab.session.data["speedtest"] = {
        "at_iso": now.isoformat(timespec="seconds"),
        "down": str(down).replace(".", ","),
        "down_plain": str(down),
        "up": str(up).replace(".", ","),
        "up_plain": str(up),
        "ping": rng.randint(3, 12),
    }
    return redirect("/speedtest")


HANDLERS = [traffic_page, speedtest_page, speedtest]
