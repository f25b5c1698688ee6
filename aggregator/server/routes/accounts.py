"""The account page and its live sections: tariffs, services, suspension, usage, payments,
reports, news, profile and chat, plus the operations on them (each may ask for a code)."""

from __future__ import annotations

import datetime as dt
import json
from decimal import Decimal
from functools import partial
from typing import Any

from litestar import Request, Response, get, post
from litestar.exceptions import NotFoundException, ValidationException
from litestar.params import FromPath, FromQuery

from ...core.models import (
    AutopaySettings,
    Money,
    ReportFormat,
    TrafficStats,
)
from ...core.money import quantize
from ...plugins import report_url
from ...services import accounts as accounts_service
from ...services import alert_rules
from ...services.dashboard import (
    daily_history,
    get_account,
    household_dashboard,
    remainder_history,
)
from ...services.errors import BadInput
from ...services.operations import AccountOperations, Done, NeedsCode, check_period
from ...services.provenance import assumed_operations
from ...services.spending import MonthSpending, account_spending
from ...storage.models import LinkedAccount, from_minor
from .. import confirmations
from ..flows import PendingFlow
from ..forms import (
    GIB,
    FieldInvalid,
    FormCheck,
    gigabytes_text,
    parse_date,
    parse_gigabytes,
    parse_int,
    parse_roubles,
    roubles_text,
)
from ..i18n import zone
from ..presenters import remainder_totals
from ..rendering import page, request_lang, translate
from .common import DB, Server, form_data, redirect, require_user
from .pages_common import (
    capabilities_of,
    fragment,
    provider_class,
    provider_name,
    report_response,
)
from .provenance import second_confirmation

__all__ = ["ROUTES"]

CHART_DAYS = 90
FORECAST_DAYS = 30


def _today(tz: str) -> dt.date:
    return dt.datetime.now(zone(tz)).date()


def _remainder_charts(
    history: dict[str, list[tuple[dt.date, int]]],
    thresholds: dict[str, int],
    t: Any,
    lang: str,
) -> list[dict[str, Any]]:
    """The account's remainder charts (traffic in GB, minutes), drawn by ``js/charts.js``:
    the same JSON as the balance chart with ``unit`` and no forecast."""
    charts = []
    for unit, scale, word in (("bytes", GIB, "remainder.gb"), ("seconds", 60, "remainder.min")):
        points = history.get(unit, [])
        if len(points) < 2:
            continue
        threshold = thresholds.get(unit)
        data = {
            "t": [int(dt.datetime.combine(d, dt.time(12), dt.UTC).timestamp()) for d, _ in points],
            "v": [round(v / scale, 2) for _, v in points],
            "threshold": None if threshold is None else round(threshold / scale, 2),
            "forecast": None,
            "unit": t(word),
            "labels": {
                "balance": t(f"remainder.unit.{unit}"),
                "threshold": t("chart.threshold"),
                "forecast": "",
                "lang": lang,
            },
        }
        charts.append(
            {
                "unit": unit,
                "name": t(f"remainder.unit.{unit}"),
                "data": json.dumps(data, separators=(",", ":")),
            }
        )
    return charts


def _chart_data(
    history: list[tuple[dt.date, int]],
    threshold_minor: int | None,
    forecast_line: list[tuple[float, Decimal]],
    labels: dict[str, str],
) -> str:
    """The account chart's data, for ``data-chart`` (drawn by ``js/charts.js``)."""
    times = [int(dt.datetime.combine(d, dt.time(12), dt.UTC).timestamp()) for d, _ in history]
    values = [float(from_minor(v)) for _, v in history]
    forecast = None
    if history and len(forecast_line) >= 2:
        # From the last point of the history: down by the daily spend, a step on each charge
        # date, to zero on the day the money runs out (cut at FORECAST_DAYS).
        start = times[-1]
        forecast = [[start + round(day * 86400), round(float(v), 2)] for day, v in forecast_line]
    return json.dumps(
        {
            "t": times,
            "v": values,
            "threshold": None if threshold_minor is None else float(from_minor(threshold_minor)),
            "forecast": forecast,
            "labels": labels,
        },
        separators=(",", ":"),
    )


@get("/accounts/{account_id:int}", include_in_schema=False)
async def account_page(
    request: Request[Any, Any, Any], db: DB, server: Server, account_id: FromPath[int]
) -> Response[Any]:
    return await _account_page(request, db, server, account_id)


async def _account_page(
    request: Request[Any, Any, Any],
    db: DB,
    server: Server,
    account_id: int,
    *,
    check: FormCheck | None = None,
    typed: dict[str, str] | None = None,
) -> Response[Any]:
    """The account page; after a wrong alert field, again with the values as typed."""
    user = require_user(request)
    account = await get_account(db, user.household_id, account_id)
    dashboard = await household_dashboard(db, user.household_id, account_id=account_id)
    summary = dashboard.accounts[0]
    lang = request_lang(request)
    history = await daily_history(db, account_id, CHART_DAYS)
    t = server.translator
    chart = _chart_data(
        history,
        summary.threshold_minor,
        summary.forecast_line(FORECAST_DAYS),
        {
            "balance": t.translate(lang, "chart.balance"),
            "threshold": t.translate(lang, "chart.threshold"),
            "forecast": t.translate(lang, "chart.forecast"),
            "currency": "₽",
            "lang": lang,
        },
    )
    rules = await alert_rules.account_rules(db, user.household_id, account_id)
    today = await accounts_service.operator_today(db, account_id, user.timezone)
    error_message, error_action = t.error(lang, account.last_error_key)
    low, runs = rules.get("low_balance"), rules.get("runs_out")
    low_data, low_minutes = rules.get("low_data"), rules.get("low_minutes")
    translate_ = partial(t.translate, lang)
    remainder_charts = _remainder_charts(
        await remainder_history(db, account_id, CHART_DAYS),
        summary.remainder_thresholds,
        translate_,
        lang,
    )
    return page(
        request,
        "account.html",
        status_code=400 if check else 200,
        errors=check.messages(lambda key, **v: translate(request, key, **v)) if check else {},
        saved=request.query_params.get("saved"),
        error_message=error_message,
        error_action=error_action,
        alert_threshold=(typed or {}).get(
            "threshold", roubles_text(low.threshold_minor if low else None, lang)
        ),
        alert_days=(typed or {}).get("days", str(runs.days) if runs and runs.days else ""),
        alert_data_gb=(typed or {}).get(
            "data_gb", gigabytes_text(low_data.threshold_units if low_data is not None else None)
        ),
        alert_minutes=(typed or {}).get(
            "minutes",
            str(low_minutes.threshold_units // 60)
            if low_minutes is not None and low_minutes.threshold_units is not None
            else "",
        ),
        remainder_charts=remainder_charts,
        **remainder_totals(
            summary, translate_, server.renderer.helpers(lang, user.timezone)["size"]
        ),
        account=account,
        summary=summary,
        provider_name=provider_name(server, account.provider_id, lang),
        plugin_missing=provider_class(server, account.provider_id) is None,
        report_url=report_url(
            server.require_runtime().registry, account.provider_id, server.settings.dashboard_url
        ),
        assumed=assumed_operations(provider_class(server, account.provider_id)),
        caps=capabilities_of(server, account.provider_id),
        chart=chart,
        history_points=len(history),
        rules=rules,
        today=today,
        report_start=(typed or {}).get(
            "report_start",
            (today.replace(day=1) if today.day > 1 else today - dt.timedelta(days=30)).isoformat(),
        ),
        report_end=(typed or {}).get("report_end", today.isoformat()),
        suspend_start=today + dt.timedelta(days=1),
        suspend_end=today + dt.timedelta(days=14),
    )


async def _account(request: Request[Any, Any, Any], db: DB, account_id: int) -> LinkedAccount:
    user = require_user(request)
    return await get_account(db, user.household_id, account_id)


def _ops(server: Server) -> AccountOperations:
    return server.require_operations()


# -- sections (GET, operator reads) -------------------------------------------------------


@get("/accounts/{account_id:int}/tariffs", include_in_schema=False)
async def tariffs_section(
    request: Request[Any, Any, Any], db: DB, server: Server, account_id: FromPath[int]
) -> Response[Any]:
    account = await _account(request, db, account_id)
    catalogue = await _ops(server).tariffs(db, account)
    return fragment(
        request,
        "partials/tariffs.html",
        account=account,
        catalogue=catalogue,
        caps=capabilities_of(server, account.provider_id),
        back=f"/accounts/{account_id}",
    )


@get("/accounts/{account_id:int}/tariffs/confirm", include_in_schema=False)
async def tariff_confirm(
    request: Request[Any, Any, Any],
    db: DB,
    server: Server,
    account_id: FromPath[int],
    tariff_id: FromQuery[str],
) -> Response[Any]:
    account = await _account(request, db, account_id)
    catalogue = await _ops(server).tariffs(db, account)
    chosen = next((t for t in catalogue.available if t.id == tariff_id), None)
    if chosen is None:
        raise NotFoundException("no such tariff")
    return fragment(
        request,
        "partials/tariff_confirm.html",
        account=account,
        current=catalogue.current,
        tariff=chosen,
        back=f"/accounts/{account_id}",
    )


async def _services_fragment(
    request: Request[Any, Any, Any],
    db: DB,
    server: Server,
    account: LinkedAccount,
    *,
    result: object,
) -> Response[Any]:
    """The services section, after a toggle (``result``) or on its own."""
    services = await _ops(server).services(db, account)
    return fragment(
        request,
        "partials/services.html",
        account=account,
        services=services,
        caps=capabilities_of(server, account.provider_id),
        result=result,
        back=f"/accounts/{account.id}",
    )


@get("/accounts/{account_id:int}/services", include_in_schema=False)
async def services_section(
    request: Request[Any, Any, Any], db: DB, server: Server, account_id: FromPath[int]
) -> Response[Any]:
    account = await _account(request, db, account_id)
    return await _services_fragment(request, db, server, account, result=None)


async def _suspension_fragment(
    request: Request[Any, Any, Any],
    db: DB,
    server: Server,
    account: LinkedAccount,
    *,
    check: FormCheck | None = None,
    typed: dict[str, str] | None = None,
) -> Response[Any]:
    """The suspension section; after a wrong period, again with the dates as typed and the
    problem at its field (an htmx quote request is re-targeted to the whole section)."""
    user = require_user(request)
    suspension = await _ops(server).suspension(db, account)
    today = await accounts_service.operator_today(db, account.id, user.timezone)
    response = fragment(
        request,
        "partials/suspension.html",
        status_code=400 if check else 200,
        account=account,
        suspension=suspension,
        caps=capabilities_of(server, account.provider_id),
        start=today + dt.timedelta(days=1),
        end=today + dt.timedelta(days=14),
        today=today,
        errors=check.messages(lambda key, **v: translate(request, key, **v)) if check else {},
        typed=typed or {},
        back=f"/accounts/{account.id}",
    )
    if check:
        response.headers["HX-Retarget"] = "#suspension-body"
        response.headers["HX-Reswap"] = "innerHTML"
    return response


@get("/accounts/{account_id:int}/suspension", include_in_schema=False)
async def suspension_section(
    request: Request[Any, Any, Any], db: DB, server: Server, account_id: FromPath[int]
) -> Response[Any]:
    account = await _account(request, db, account_id)
    return await _suspension_fragment(request, db, server, account)


@get("/accounts/{account_id:int}/suspension/quote", include_in_schema=False)
async def suspension_quote(
    request: Request[Any, Any, Any],
    db: DB,
    server: Server,
    account_id: FromPath[int],
    start: FromQuery[str] = "",
    end: FromQuery[str] = "",
) -> Response[Any]:
    account = await _account(request, db, account_id)
    check = FormCheck()
    first, last = check(parse_date, start, "start"), check(parse_date, end, "end")
    if not check:
        try:
            quote = await _ops(server).quote_suspension(db, account, first, last)
        except BadInput as exc:
            check.catch(exc)
    if check:
        typed = {"start": start, "end": end}
        return await _suspension_fragment(request, db, server, account, check=check, typed=typed)
    return fragment(
        request,
        "partials/suspension_quote.html",
        account=account,
        quote=quote,
        back=f"/accounts/{account_id}",
    )


@get("/accounts/{account_id:int}/usage", include_in_schema=False)
async def usage_section(
    request: Request[Any, Any, Any], db: DB, server: Server, account_id: FromPath[int]
) -> Response[Any]:
    """The remainders and traffic; where the operator counts traffic over any period, the
    period asked (``start``, ``end``; this month unless asked)."""
    user = require_user(request)
    account = await get_account(db, user.household_id, account_id)
    caps = capabilities_of(server, account.provider_id)
    ops = _ops(server)
    usage = await ops.usage(db, account) if "usage" in caps else None
    traffic: TrafficStats | None = None
    context: dict[str, Any] = {}
    if "traffic" in caps:
        today = await accounts_service.operator_today(db, account.id, user.timezone)
        start, end, check = _period(request, today, today.day - 1)
        traffic = None if check else await ops.traffic(db, account, start, end)
        errors = check.messages(lambda key, **v: translate(request, key, **v))
        context = {"start": start, "end": end, "errors": errors}
    return fragment(
        request,
        "partials/usage.html",
        account=account,
        usage=usage,
        traffic=traffic or (usage.traffic if usage else None),
        # ?packages=0: the account page shows the packages above, the section the traffic only
        packages=request.query_params.get("packages") != "0",
        **context,
    )


def _period(
    request: Request[Any, Any, Any], today: dt.date, default_days: int
) -> tuple[dt.date, dt.date, FormCheck]:
    """The period a section was asked for (``start``, ``end`` as typed: 2025-01-31 or
    31.01.2025), else the last ``default_days`` days; a wrong date is named in the check."""
    check = FormCheck()
    typed = {k: (request.query_params.get(k) or "").strip() for k in ("start", "end")}
    start = check(parse_date, typed["start"], "start") if typed["start"] else None
    end = (check(parse_date, typed["end"], "end") if typed["end"] else None) or today
    start = start or end - dt.timedelta(days=default_days)
    if not check:
        try:
            check_period(start, end)
        except BadInput as exc:
            check.add(exc.field, exc.key or "form.check_fields", **exc.values)
    return start, end, check


@get("/accounts/{account_id:int}/payments", include_in_schema=False)
async def payments_section(
    request: Request[Any, Any, Any], db: DB, server: Server, account_id: FromPath[int]
) -> Response[Any]:
    """The payment history for the period asked (90 days unless asked), up to a year: as far
    as the operators' histories go."""
    user = require_user(request)
    account = await get_account(db, user.household_id, account_id)
    return await _payments_fragment(request, db, server, account)


async def _payments_fragment(
    request: Request[Any, Any, Any],
    db: DB,
    server: Server,
    account: LinkedAccount,
    *,
    autopay_check: FormCheck | None = None,
    typed: dict[str, str] | None = None,
) -> Response[Any]:
    """The payments section; after a wrong autopay field, again with the values as typed and
    the problem at its field (``ap_threshold``, ``ap_amount``)."""
    user = require_user(request)
    caps = capabilities_of(server, account.provider_id)
    today = await accounts_service.operator_today(db, account.id, user.timezone)
    ops = _ops(server)
    start, end, check = _period(request, today, 90)
    payments = [] if check else await ops.payments(db, account, start, end)
    autopay = await ops.autopay(db, account) if "autopay" in caps else None
    messages = check.messages(lambda key, **v: translate(request, key, **v))
    if autopay_check:
        messages.update(autopay_check.messages(lambda key, **v: translate(request, key, **v)))
    return fragment(
        request,
        "partials/payments.html",
        status_code=400 if autopay_check else 200,
        account=account,
        payments=sorted(payments, key=lambda p: p.at, reverse=True),
        autopay=autopay,
        caps=caps,
        start=start,
        end=end,
        errors=messages,
        autopay_typed=typed or {},
    )


@get("/accounts/{account_id:int}/spending", include_in_schema=False)
async def spending_section(
    request: Request[Any, Any, Any], db: DB, server: Server, account_id: FromPath[int]
) -> Response[Any]:
    """Spending by month (a chart and a table): six months unless asked, up to a year."""
    user = require_user(request)
    account = await get_account(db, user.household_id, account_id)
    today = await accounts_service.operator_today(db, account.id, user.timezone)
    start, end, check = _period(request, today, 0)
    if not request.query_params.get("start") and not check:
        start = (today.replace(day=1) - dt.timedelta(days=150)).replace(day=1)
    spending = None
    if not check:
        spending = await account_spending(
            db, _ops(server), account, start, end, zone(user.timezone)
        )
    return fragment(
        request,
        "partials/spending.html",
        account=account,
        spending=spending,
        bars=_bars(spending.months) if spending else [],
        start=start,
        end=end,
        errors=check.messages(lambda key, **v: translate(request, key, **v)),
    )


def _bars(months: list[MonthSpending], height: int = 120) -> list[dict[str, Any]]:
    """The bar chart of spending by month, drawn as SVG by the template."""
    top = max((m.spent_minor or 0 for m in months), default=0) or 1
    return [
        {
            "month": m.month,
            "spent": m.spent_minor,
            "h": round(max(m.spent_minor or 0, 0) * height / top),
        }
        for m in months
    ]


@get("/accounts/{account_id:int}/news", include_in_schema=False)
async def news_section(
    request: Request[Any, Any, Any], db: DB, server: Server, account_id: FromPath[int]
) -> Response[Any]:
    account = await _account(request, db, account_id)
    news = await _ops(server).news(db, account)
    return fragment(request, "partials/news.html", account=account, news=news[:20])


@get("/accounts/{account_id:int}/profile", include_in_schema=False)
async def profile_section(
    request: Request[Any, Any, Any], db: DB, server: Server, account_id: FromPath[int]
) -> Response[Any]:
    account = await _account(request, db, account_id)
    profile = await _ops(server).profile(db, account)
    return fragment(request, "partials/profile.html", account=account, profile=profile)


@get("/accounts/{account_id:int}/report", include_in_schema=False)
async def download_report(
    request: Request[Any, Any, Any],
    db: DB,
    server: Server,
    account_id: FromPath[int],
    start: FromQuery[str] = "",
    end: FromQuery[str] = "",
    format: FromQuery[str] = "pdf",
) -> Response[Any]:
    """The report as a file; a wrong period gives the account page again with the dates as
    typed and the problem at its field (the report form's fields are ``report_start``/``_end``)."""
    account = await _account(request, db, account_id)
    check = FormCheck()
    first = check(parse_date, start, "report_start")
    last = check(parse_date, end, "report_end")
    if first is not None and last is not None:
        try:
            check_period(first, last)
        except BadInput as exc:
            check.add(f"report_{exc.field}", exc.key or "form.check_fields", **exc.values)
    if check or first is None or last is None:
        typed = {"report_start": start, "report_end": end}
        return await _account_page(request, db, server, account_id, check=check, typed=typed)
    try:
        fmt = ReportFormat(format)
    except ValueError:
        raise ValidationException("format: pdf or xlsx") from None
    report = await _ops(server).report(db, account, first, last, fmt)
    return report_response(report, fmt)


# -- chat ---------------------------------------------------------------------------------


@get("/accounts/{account_id:int}/chat", include_in_schema=False)
async def chat_section(
    request: Request[Any, Any, Any], db: DB, server: Server, account_id: FromPath[int]
) -> Response[Any]:
    account = await _account(request, db, account_id)
    chat = await _ops(server).chat(db, account)
    return fragment(
        request,
        "partials/chat.html",
        account=account,
        topics=chat.topics,
        messages=chat.messages,
        back=f"/accounts/{account_id}",
    )


@get("/accounts/{account_id:int}/chat/messages", include_in_schema=False)
async def chat_messages(
    request: Request[Any, Any, Any],
    db: DB,
    server: Server,
    account_id: FromPath[int],
    seen: FromQuery[int | None] = None,
) -> Response[Any]:
    """Polled by htmx while the chat is open: new bot and agent replies appear live.

    ``seen`` is how many messages the page shows; with nothing new the answer is 204 and the
    page stays as it is (no flicker, nothing re-announced to screen readers).
    """
    account = await _account(request, db, account_id)
    messages = await _ops(server).chat_messages(db, account)
    if seen is not None and seen == len(messages):
        return Response(b"", status_code=204)
    return page(request, "partials/chat_messages.html", account=account, messages=messages)


@post("/accounts/{account_id:int}/chat", include_in_schema=False)
async def chat_send(
    request: Request[Any, Any, Any], db: DB, server: Server, account_id: FromPath[int]
) -> Response[Any]:
    account = await _account(request, db, account_id)
    form = await form_data(request)
    chat = await _ops(server).send_chat(db, account, form.get("topic", ""), form.get("text", ""))
    return fragment(
        request,
        "partials/chat_messages.html",
        account=account,
        messages=chat.messages,
        back=f"/accounts/{account_id}",
    )


# -- operations (POST; each may come back with a code challenge) ---------------------------


def _outcome(
    request: Request[Any, Any, Any],
    server: Server,
    account: LinkedAccount,
    outcome: Done[Any] | NeedsCode,
    flow: PendingFlow | None = None,
    typed_code: str = "",
) -> Response[Any]:
    """The result of an operation, or its code form (again, with the error, if any, and the
    code as typed)."""
    if isinstance(outcome, NeedsCode):
        user = require_user(request)
        kept = confirmations.keep(server, user, account, outcome, flow)
        return fragment(
            request,
            "partials/confirm_code.html",
            status_code=400 if outcome.error else 200,
            flow=kept,
            account=account,
            error=outcome.error,
            reason=outcome.reason,
            notice=outcome.notice,
            typed_code=typed_code if outcome.error else "",
            back=f"/accounts/{account.id}",
        )
    if flow is not None:
        server.flows.drop(flow.token)
    return fragment(
        request,
        "partials/op_result.html",
        account=account,
        operation=outcome.operation,
        result=outcome.result,
        args=outcome.args,
        back=f"/accounts/{account.id}",
    )


@post("/accounts/{account_id:int}/tariff", include_in_schema=False)
async def change_tariff(
    request: Request[Any, Any, Any], db: DB, server: Server, account_id: FromPath[int]
) -> Response[Any]:
    user = require_user(request)
    account = await get_account(db, user.household_id, account_id)
    form = await form_data(request)
    ask = second_confirmation(
        request, server, account, "change_tariff", form, f"/accounts/{account_id}/tariff"
    )
    if ask is not None:
        return ask
    outcome = await _ops(server).change_tariff(
        db, account, form.get("tariff_id", ""), user_id=user.user_id
    )
    return _outcome(request, server, account, outcome)


@post("/accounts/{account_id:int}/services/{service_id:str}", include_in_schema=False)
async def toggle_service(
    request: Request[Any, Any, Any],
    db: DB,
    server: Server,
    account_id: FromPath[int],
    service_id: FromPath[str],
) -> Response[Any]:
    user = require_user(request)
    account = await get_account(db, user.household_id, account_id)
    form = await form_data(request)
    enabled = form.get("enabled", "") in ("1", "true", "on")
    action = f"/accounts/{account_id}/services/{service_id}"
    ask = second_confirmation(
        request, server, account, "set_service", form, action, enabling=enabled
    )
    if ask is not None:
        return ask
    outcome = await _ops(server).set_service(db, account, service_id, enabled, user_id=user.user_id)
    if isinstance(outcome, NeedsCode):
        return _outcome(request, server, account, outcome)
    return await _services_fragment(request, db, server, account, result=outcome.result)


@post("/accounts/{account_id:int}/suspension", include_in_schema=False)
async def suspend(
    request: Request[Any, Any, Any], db: DB, server: Server, account_id: FromPath[int]
) -> Response[Any]:
    user = require_user(request)
    account = await get_account(db, user.household_id, account_id)
    form = await form_data(request)
    check = FormCheck()
    first = check(parse_date, form.get("start"), "start")
    last = check(parse_date, form.get("end"), "end")
    if check:
        return await _suspension_fragment(request, db, server, account, check=check, typed=form)
    ask = second_confirmation(
        request, server, account, "suspend", form, f"/accounts/{account_id}/suspension"
    )
    if ask is not None:
        return ask
    try:
        outcome = await _ops(server).suspend(db, account, first, last, user_id=user.user_id)
    except BadInput as exc:  # the period does not fit: the section again, the dates as typed
        check.catch(exc)
        return await _suspension_fragment(request, db, server, account, check=check, typed=form)
    return _outcome(request, server, account, outcome)


@post("/accounts/{account_id:int}/suspension/resume", include_in_schema=False)
async def resume(
    request: Request[Any, Any, Any], db: DB, server: Server, account_id: FromPath[int]
) -> Response[Any]:
    user = require_user(request)
    account = await get_account(db, user.household_id, account_id)
    outcome = await _ops(server).resume(db, account, user_id=user.user_id)
    return _outcome(request, server, account, outcome)


def _amount(value: str | None, field: str = "amount") -> Decimal:
    """Roubles as typed ("500", "150,50", "1 234,56 ₽"), from 0,01 to 1 000 000."""
    minor = parse_roubles(value, field, low=Decimal("0.01"), high=Decimal(1_000_000))
    if minor is None:
        raise FieldInvalid(field, "form.expect_money")
    return quantize(from_minor(minor))


@post("/accounts/{account_id:int}/top-up", include_in_schema=False)
async def top_up(
    request: Request[Any, Any, Any], db: DB, server: Server, account_id: FromPath[int]
) -> Response[Any]:
    user = require_user(request)
    account = await get_account(db, user.household_id, account_id)
    form = await form_data(request)
    try:
        amount = _amount(form.get("amount"))
    except FieldInvalid as exc:  # the form again, the amount as typed, the field marked
        return fragment(
            request,
            "partials/top_up_form.html",
            status_code=400,
            account=account,
            errors={exc.field: translate(request, exc.key, **exc.values)},
            typed=form,
        )
    ask = second_confirmation(
        request, server, account, "top_up", form, f"/accounts/{account_id}/top-up"
    )
    if ask is not None:
        return ask
    outcome = await _ops(server).top_up(db, account, amount, user_id=user.user_id)
    return _outcome(request, server, account, outcome)


async def _trusted_fragment(
    request: Request[Any, Any, Any],
    db: DB,
    server: Server,
    account: LinkedAccount,
    *,
    errors: dict[str, str] | None = None,
    typed: dict[str, str] | None = None,
) -> Response[Any]:
    """The trusted payment section: what is owed and the offer (the form, with a typed amount
    and its error again when the amount was not accepted)."""
    state = await _ops(server).trusted_payment(db, account)
    return fragment(
        request,
        "partials/trusted_payment.html",
        status_code=400 if errors else 200,
        account=account,
        state=state,
        caps=capabilities_of(server, account.provider_id),
        errors=errors or {},
        typed=typed,
    )


@get("/accounts/{account_id:int}/trusted-payment", include_in_schema=False)
async def trusted_payment_section(
    request: Request[Any, Any, Any], db: DB, server: Server, account_id: FromPath[int]
) -> Response[Any]:
    return await _trusted_fragment(request, db, server, await _account(request, db, account_id))


@post("/accounts/{account_id:int}/trusted-payment", include_in_schema=False)
async def take_trusted_payment(
    request: Request[Any, Any, Any], db: DB, server: Server, account_id: FromPath[int]
) -> Response[Any]:
    """Take a trusted payment of the chosen (or typed) amount: credit now, debt later."""
    user = require_user(request)
    account = await get_account(db, user.household_id, account_id)
    form = await form_data(request)
    try:
        amount = _amount(form.get("amount"))
    except FieldInvalid as exc:  # the section again, the amount as typed, the field marked
        errors = {exc.field: translate(request, exc.key, **exc.values)}
        return await _trusted_fragment(request, db, server, account, errors=errors, typed=form)
    ask = second_confirmation(
        request,
        server,
        account,
        "take_trusted_payment",
        form,
        f"/accounts/{account_id}/trusted-payment",
    )
    if ask is not None:
        return ask
    outcome = await _ops(server).take_trusted_payment(db, account, amount, user_id=user.user_id)
    return _outcome(request, server, account, outcome)


@post("/accounts/{account_id:int}/autopay", include_in_schema=False)
async def set_autopay(
    request: Request[Any, Any, Any], db: DB, server: Server, account_id: FromPath[int]
) -> Response[Any]:
    user = require_user(request)
    account = await get_account(db, user.household_id, account_id)
    form = await form_data(request)
    enabled = form.get("enabled", "") in ("1", "true", "on")
    check = FormCheck()
    threshold = amount = None
    if enabled:
        if form.get("threshold", "").strip():
            threshold = check(_amount, form.get("threshold"), "ap_threshold")
        if form.get("amount", "").strip():
            amount = check(_amount, form.get("amount"), "ap_amount")
    if check:  # the section again, the sums as typed, each wrong one marked
        return await _payments_fragment(
            request, db, server, account, autopay_check=check, typed=form
        )
    settings = AutopaySettings(
        enabled=enabled,
        threshold=Money.rub(threshold) if threshold is not None else None,
        amount=Money.rub(amount) if amount is not None else None,
    )
    outcome = await _ops(server).set_autopay(db, account, settings, user_id=user.user_id)
    return _outcome(request, server, account, outcome)


@post("/flows/{token:str}/confirm", include_in_schema=False)
async def confirm_operation(
    request: Request[Any, Any, Any], db: DB, server: Server, token: FromPath[str]
) -> Response[Any]:
    user = require_user(request)
    flow, pending = confirmations.pending(server, user, token)
    account = await get_account(db, user.household_id, pending.account_id)
    form = await form_data(request)
    code = form.get("code", "")
    outcome = await _ops(server).confirm(db, account, pending, code, user_id=user.user_id)
    return _outcome(request, server, account, outcome, flow, typed_code=code.strip())


@post("/flows/{token:str}/confirm/resend", include_in_schema=False)
async def confirm_resend(
    request: Request[Any, Any, Any], db: DB, server: Server, token: FromPath[str]
) -> Response[Any]:
    """Ask the operator for a new confirmation code (after its countdown)."""
    user = require_user(request)
    flow, pending = confirmations.pending(server, user, token)
    account = await get_account(db, user.household_id, pending.account_id)
    outcome = await _ops(server).resend_code(db, account, pending)
    return _outcome(request, server, account, outcome, flow)


@post("/flows/{token:str}/confirm/cancel", include_in_schema=False)
async def confirm_cancel(
    request: Request[Any, Any, Any], db: DB, server: Server, token: FromPath[str]
) -> Response[Any]:
    """Drop the operation waiting for a code; nothing was changed at the operator."""
    user = require_user(request)
    flow = server.flows.get(token, user.session_id)
    if flow is not None and flow.purpose == "operation":
        server.flows.drop(flow.token)
    return fragment(request, "partials/op_cancelled.html")


# -- settings of one account ------------------------------------------------------------


@post("/accounts/{account_id:int}/alerts", include_in_schema=False)
async def account_alerts(
    request: Request[Any, Any, Any], db: DB, server: Server, account_id: FromPath[int]
) -> Response[Any]:
    user = require_user(request)
    account = await get_account(db, user.household_id, account_id)
    form = await form_data(request)
    from .settings_pages import parse_threshold

    check = FormCheck()
    threshold = check(parse_threshold, form.get("threshold"))
    days = check(parse_int, form.get("days"), "days", 1, 60)
    data_bytes = check(parse_gigabytes, form.get("data_gb"), "data_gb")
    minutes = check(parse_int, form.get("minutes"), "minutes", 1, 100_000)
    if check:  # the page again, everything as typed, the message at the field
        return await _account_page(request, db, server, account_id, check=check, typed=form)
    thresholds = alert_rules.AccountThresholds(
        threshold_minor=threshold,
        days=days,
        data_bytes=data_bytes,
        minutes_seconds=minutes * 60 if minutes is not None else None,
    )
    await alert_rules.save_account_thresholds(db, user.household_id, account.id, thresholds)
    return redirect(request, f"/accounts/{account_id}?saved=alerts")


@post("/accounts/{account_id:int}/label", include_in_schema=False)
async def rename(
    request: Request[Any, Any, Any], db: DB, account_id: FromPath[int]
) -> Response[Any]:
    user = require_user(request)
    form = await form_data(request)
    await accounts_service.set_label(
        db, user.household_id, account_id, form.get("label", ""), user_id=user.user_id
    )
    return redirect(request, f"/accounts/{account_id}")


@post("/accounts/{account_id:int}/delete", include_in_schema=False)
async def remove(
    request: Request[Any, Any, Any], db: DB, account_id: FromPath[int]
) -> Response[Any]:
    user = require_user(request)
    await accounts_service.remove_account(db, user.household_id, account_id, user_id=user.user_id)
    return redirect(request, "/?removed=1")


@post("/accounts/{account_id:int}/refresh", include_in_schema=False)
async def refresh(
    request: Request[Any, Any, Any], db: DB, server: Server, account_id: FromPath[int]
) -> Response[Any]:
    """Poll this account now (the same poll the scheduler runs)."""
    account = await _account(request, db, account_id)
    from ..integration import poll_now

    await poll_now(server, db, account)
    return redirect(request, f"/accounts/{account_id}")


ROUTES = [
    account_page,
    tariffs_section,
    tariff_confirm,
    services_section,
    suspension_section,
    suspension_quote,
    usage_section,
    payments_section,
    spending_section,
    news_section,
    profile_section,
    download_report,
    chat_section,
    chat_messages,
    chat_send,
    change_tariff,
    toggle_service,
    suspend,
    resume,
    top_up,
    trusted_payment_section,
    take_trusted_payment,
    set_autopay,
    confirm_operation,
    confirm_resend,
    confirm_cancel,
    account_alerts,
    rename,
    remove,
    refresh,
]
