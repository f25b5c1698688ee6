"""Beeline per-number API: balances, remainders, tariff, services, payments, detail, offers,
trusted payment and the support chat. The number is the ``ctn`` query parameter. Handlers get
the backend and the rate limiter injected.

Citations (repository, path, line) are in ``reference_provider/DIALECTS.md`` (Beeline).
"""

from __future__ import annotations

import datetime as dt
from decimal import Decimal, InvalidOperation
from typing import Any

from litestar import Request, Response, get, put, route

from ...backend import Backend
from ...domain.clock import MSK, first_of_next_month
from ...domain.errors import InvalidInput, NotFound, Rejected
from ...domain.models import Account, ChatMessage, TariffDef
from ...domain.trust_payment import (
    MIN_TRUST,
    TRUST_DAYS,
    take_trust_payment,
    trust_fee,
    trust_offer,
)
from .wire import (
    OPERATOR,
    BackendDep,
    LimiterDep,
    account_of,
    amount,
    body_of,
    date_param,
    ok,
    query_field,
    text_field,
    when,
)

__all__ = ["HANDLERS", "SHARED_BALANCE", "share_balance"]

#: ``Account.extra`` key: the id of the account whose balance this number shows (numbers of one
#: contract sharing one balance); the holder names itself.
SHARED_BALANCE = "shared_balance"

_STATUS = {
    "active": ("A", "Активен"),
    "suspended": ("S", "Добровольная блокировка"),
    "blocked": ("B", "Заблокирован: недостаточно средств"),
    "closed": ("C", "Договор расторгнут"),
}
# The domain's units as accumulators (prepaid) and rests (postpaid) name them, and the
# divisor from the domain's unit (seconds, bytes) to theirs.
_ACC_UNITS = {
    "seconds": ("SECONDS", 1),
    "sms": ("SMS", 1),
    "mms": ("MMS", 1),
    "bytes": ("KBYTE", 1024),
}
_REST_UNITS = {
    "seconds": ("VOICE", 60),
    "sms": ("SMS_MMS", 1),
    "mms": ("MMS", 1),
    "bytes": ("INTERNET", 1024 * 1024),
}
_AUTHORS = {"user": "USER", "bot": "BOT", "agent": "OPERATOR"}
_DETAILS = "detail_requests"


def _plan(tariff: TariffDef) -> dict[str, Any]:
    return {
        "name": tariff.id,
        "entityName": tariff.name,
        "rcRate": amount(tariff.fee),
        "rcRatePeriod": "kb.period.monthly",
        "rcRatePeriodText": "в месяц",
        "entityDesc": tariff.description,
    }


def _service(backend: Backend, service_id: str, connected: bool) -> dict[str, Any]:
    svc = backend.operator(OPERATOR).service(service_id)
    if svc is None:
        raise NotFound("Услуга не найдена")
    return {
        "name": svc.id,
        "entityName": svc.name,
        "entityDesc": svc.description,
        "rcRate": amount(svc.fee) if svc.fee else None,
        "rcRatePeriod": "kb.period.monthly" if svc.fee else None,
        "rcRatePeriodText": "в месяц" if svc.fee else None,
        "removeInd": "Y" if svc.can_toggle else "N",
        "viewInd": "Y",
        "archiveInd": False,
        "category": None,
        "sdbSize": 0,
        "baseFeatures": [],
        "effDate": when(dt.date(2024, 1, 1)) if connected else None,
        "expDate": None,
    }


def share_balance(holder: Account, *members: Account) -> None:
    """Simulation: ``members`` show ``holder``'s balance from now on (one contract's money)."""
    for acc in (holder, *members):
        acc.extra[SHARED_BALANCE] = holder.id


def _balance(backend: Backend, acc: Account) -> tuple[int, dict[str, Any]]:
    """The number's balance in kopecks and, for a shared one, ``sharedBalance`` and the
    contract (``ban``) it belongs to (assumed fields)."""
    holder_id = acc.extra.get(SHARED_BALANCE)
    if not holder_id:
        return backend.balance(acc), {}
    return backend.balance(backend.account(holder_id)), {"sharedBalance": True, "ban": holder_id}


# -- balance, tariff, status -------------------------------------------------------------------
@get("/api/1.0/info/payType", sync_to_thread=False)
def pay_type(
    request: Request[Any, Any, Any], backend: BackendDep, limiter: LimiterDep
) -> Response[Any]:
    _, acc = account_of(request, backend, limiter)
    return ok(payType=acc.pay_type)


@get("/api/1.0/info/prepaidBalance", sync_to_thread=False)
def prepaid_balance(
    request: Request[Any, Any, Any], backend: BackendDep, limiter: LimiterDep
) -> Response[Any]:
    _, acc = account_of(request, backend, limiter)
    if acc.pay_type != "PREPAID":
        raise Rejected("Номер обслуживается по постоплатной системе расчётов")
    trust_offer(backend, acc)  # settles a trusted payment that is due
    kopecks, shared = _balance(backend, acc)
    return ok(
        balance=amount(kopecks),
        currency="RUB",
        nextBillingDate=when(first_of_next_month(backend.clock.today())),
        **shared,
    )


@get("/api/1.0/info/postpaidBalance", sync_to_thread=False)
def postpaid_balance(
    request: Request[Any, Any, Any], backend: BackendDep, limiter: LimiterDep
) -> Response[Any]:
    _, acc = account_of(request, backend, limiter)
    if acc.pay_type != "POSTPAID":
        raise Rejected("Номер обслуживается по предоплатной системе расчётов")
    due, next_amount = backend.next_payment(acc)
    kopecks, shared = _balance(backend, acc)
    return ok(
        balance=amount(kopecks),
        currency="RUB",
        nextBillingDate=when(due),
        creditLimit=amount(acc.credit_limit),
        nextBillingAmount=amount(next_amount),
        **shared,
    )


@get("/api/1.0/info/pricePlan", sync_to_thread=False)
def price_plan(
    request: Request[Any, Any, Any], backend: BackendDep, limiter: LimiterDep
) -> Response[Any]:
    _, acc = account_of(request, backend, limiter)
    reply: dict[str, Any] = {"pricePlanInfo": _plan(backend.tariff_of(acc))}
    pending = backend.pending_tariff(acc)
    if pending is not None:
        reply["futurePricePlan"] = {**_plan(pending[0]), "effectiveDate": when(pending[1])}
    return ok(**reply)


@get("/api/1.0/info/pricePlanAvailableList", sync_to_thread=False)
def price_plan_available_list(
    request: Request[Any, Any, Any], backend: BackendDep, limiter: LimiterDep
) -> Response[Any]:
    _, acc = account_of(request, backend, limiter)
    return ok(pricePlans=[_plan(t) for t in backend.available_tariffs(acc)])


@route(
    ["/api/request/changePricePlan", "/api/1.0/request/changePricePlan"],
    http_method=["PUT"],
    status_code=200,
    sync_to_thread=False,
)
def change_price_plan(
    request: Request[Any, Any, Any], backend: BackendDep, limiter: LimiterDep
) -> Response[Any]:
    """``PUT request/changePricePlan?ctn=&pricePlan=<soc>`` -> ``requestId``."""
    _, acc = account_of(request, backend, limiter)
    change = backend.change_tariff(acc, query_field(request, "pricePlan"))
    return ok(requestId=backend.next_id(), effectiveDate=when(change.effective))


@get("/api/1.0/info/status", sync_to_thread=False)
def status(
    request: Request[Any, Any, Any], backend: BackendDep, limiter: LimiterDep
) -> Response[Any]:
    _, acc = account_of(request, backend, limiter)
    letter, text = _STATUS[backend.status(acc)]
    block = backend.current_suspension(acc)
    extra: dict[str, Any] = {}
    if block is not None:  # the voluntary block asked for (assumed fields)
        extra = {
            "blockState": block.status(backend.now()).upper(),
            "blockStartDate": when(block.start),
            "blockEndDate": when(block.last_day),
        }
    return ok(
        status=letter, statusDesc=text, statusRsnCode=None if letter == "A" else letter, **extra
    )


@route(
    ["/api/1.0/request/suspendRestore", "/api/request/suspendRestore"],
    http_method=["GET", "PUT"],
    status_code=200,
    sync_to_thread=False,
)
def suspend_restore(
    request: Request[Any, Any, Any], backend: BackendDep, limiter: LimiterDep
) -> Response[Any]:
    """``GET 1.0/request/suspendRestore?ctn=&block=true|false`` (ScriptsLoadRunner): the
    voluntary number block on or off -> ``requestId``. ``actvDate`` (the first day) is proven
    in the B2B variant; ``endDate`` (the last day) is assumed; without dates the block starts
    today for the longest the operator allows."""
    _, acc = account_of(request, backend, limiter)
    flag = (request.query_params.get("block") or "").lower()
    if flag not in ("true", "false"):
        raise InvalidInput("block: true или false")
    if flag == "false":
        backend.resume(acc)
        return ok(requestId=backend.next_id())
    rule = backend.operator(OPERATOR).suspension
    start = (
        date_param(request, "actvDate")
        if request.query_params.get("actvDate")
        else backend.clock.today()
    )
    end = (
        date_param(request, "endDate")
        if request.query_params.get("endDate")
        else start + dt.timedelta(days=rule.max_days - 1)
    )
    block = backend.request_suspension(acc, start, end)
    return ok(requestId=block.id)


# -- services ------------------------------------------------------------------------------------
@get("/api/1.0/info/serviceList", sync_to_thread=False)
def service_list(
    request: Request[Any, Any, Any], backend: BackendDep, limiter: LimiterDep
) -> Response[Any]:
    _, acc = account_of(request, backend, limiter)
    return ok(services=[_service(backend, s.id, True) for s, on in backend.services(acc) if on])


@get("/api/1.0/info/serviceAvailableList", sync_to_thread=False)
def service_available_list(
    request: Request[Any, Any, Any], backend: BackendDep, limiter: LimiterDep
) -> Response[Any]:
    _, acc = account_of(request, backend, limiter)
    return ok(
        services=[
            _service(backend, s.id, False)
            for s, on in backend.services(acc)
            if not on and s.can_toggle
        ]
    )


@get("/api/1.0/info/subscriptions", sync_to_thread=False)
def subscriptions(
    request: Request[Any, Any, Any], backend: BackendDep, limiter: LimiterDep
) -> Response[Any]:
    """The number's paid content subscriptions: ``subscriptions[]`` (its length is what
    lkapi.js lines 877-881 read; the fields are assumed, named as ``serviceList``'s)."""
    _, acc = account_of(request, backend, limiter)
    return ok(
        subscriptions=[
            {
                "id": paid.id,
                "name": paid.name,
                "type": paid.type,
                "partnerName": paid.provider,
                "rcRate": amount(paid.daily_fee),
                "rcRatePeriod": "kb.period.daily",
                "rcRatePeriodText": "в день",
                "startDate": when(paid.since),
            }
            for paid in acc.subscriptions
        ]
    )


@route(
    ["/api/1.0/request/subscription/remove", "/api/request/subscription/remove"],
    http_method=["GET", "PUT"],
    status_code=200,
    sync_to_thread=False,
)
def subscription_remove(
    request: Request[Any, Any, Any], backend: BackendDep, limiter: LimiterDep
) -> Response[Any]:
    """``GET 1.0/request/subscription/remove?ctn=&subscriptionId=&type=`` -> ``requestId``
    (ScriptsLoadRunner ``m_api_request/SubscriptionRemove.c`` lines 21, 61)."""
    _, acc = account_of(request, backend, limiter)
    kind = request.query_params.get("type") or None
    backend.remove_subscription(acc, query_field(request, "subscriptionId"), kind)
    return ok(requestId=backend.next_id())


def _toggle(
    request: Request[Any, Any, Any], backend: BackendDep, limiter: LimiterDep, on: bool
) -> Response[Any]:
    _, acc = account_of(request, backend, limiter)
    backend.set_service(acc, query_field(request, "serviceName"), on)
    return ok(requestId=backend.next_id())


@route(
    ["/api/1.0/request/serviceActivate", "/api/request/serviceActivate"],
    http_method=["PUT"],
    status_code=200,
    sync_to_thread=False,
)
def service_activate(
    request: Request[Any, Any, Any], backend: BackendDep, limiter: LimiterDep
) -> Response[Any]:
    """``PUT 1.0/request/serviceActivate?serviceName=<soc>&ctn=`` -> ``requestId``."""
    return _toggle(request, backend, limiter, True)


@route(
    ["/api/1.0/request/serviceDeactivate", "/api/request/serviceDeactivate"],
    http_method=["GET", "PUT"],
    status_code=200,
    sync_to_thread=False,
)
def service_deactivate(
    request: Request[Any, Any, Any], backend: BackendDep, limiter: LimiterDep
) -> Response[Any]:
    """``GET 1.0/request/serviceDeactivate?ctn=&serviceName=<soc>`` -> ``requestId``."""
    return _toggle(request, backend, limiter, False)


def _remainders(
    backend: Backend, acc: Account, units: dict[str, tuple[str, int]]
) -> list[tuple[str, int, int, str]]:
    """(unit, rest, size, name) of the number's packages in the dialect's units."""
    out = []
    for rest in backend.usage(acc).remainders:
        unit, div = units[rest.unit]
        out.append((unit, rest.rest // div, rest.size // div, rest.name))
    return out


# -- remainders ---------------------------------------------------------------------------------
@get("/api/1.0/info/accumulators", sync_to_thread=False)
def accumulators(
    request: Request[Any, Any, Any], backend: BackendDep, limiter: LimiterDep
) -> Response[Any]:
    """Prepaid remainders: ``unit`` SECONDS | SMS | MMS | KBYTE, ``rest``, ``size``."""
    _, acc = account_of(request, backend, limiter)
    return ok(
        accumulators=[
            {"soc": acc.tariff_id, "unit": unit, "rest": rest, "size": size,
             "accName": name, "restName": name, "frequency": "kb.frequency.monthly"}
            for unit, rest, size, name in _remainders(backend, acc, _ACC_UNITS)
        ]
    )  # fmt: skip


@get("/api/1.0/info/rests", sync_to_thread=False)
def rests(
    request: Request[Any, Any, Any], backend: BackendDep, limiter: LimiterDep
) -> Response[Any]:
    """Postpaid remainders: ``unitType`` VOICE (minutes) | SMS_MMS | MMS | INTERNET (MB),
    ``currValue``, ``initialSize``."""
    _, acc = account_of(request, backend, limiter)
    return ok(
        rests=[
            {"soc": acc.tariff_id, "unitType": unit, "currValue": rest, "initialSize": size,
             "restName": name, "accName": name}
            for unit, rest, size, name in _remainders(backend, acc, _REST_UNITS)
        ]
    )  # fmt: skip


# -- payments, detail ----------------------------------------------------------------------------
@get("/api/1.0/info/payments/history", sync_to_thread=False)
def payments_history(
    request: Request[Any, Any, Any], backend: BackendDep, limiter: LimiterDep
) -> Response[Any]:
    """``?ctn=&periodStart=&periodEnd=`` -> ``paymentsHistory[]``."""
    _, acc = account_of(request, backend, limiter)
    since = date_param(request, "periodStart", "startDate")
    until = date_param(request, "periodEnd", "endDate")
    if until < since:
        raise InvalidInput("Дата окончания раньше даты начала")
    entries = backend.payments(acc, since, until)
    return ok(
        paymentsHistory=[
            {
                "dateStart": when(e.at),
                "value": amount(e.amount),
                "paymentType": "CARD" if "карт" in e.description.lower() else "OTHER",
                "paymentStatus": "SUCCESS",
                "payTypeName": e.description.removeprefix("Пополнение: "),
                "payPoint": None,
            }
            for e in reversed(entries)
        ]
    )


@route(
    ["/api/request/prepaidDetail", "/api/1.0/request/prepaidDetail"],
    http_method=["GET"],
    status_code=200,
    sync_to_thread=False,
)
def prepaid_detail(
    request: Request[Any, Any, Any], backend: BackendDep, limiter: LimiterDep
) -> Response[Any]:
    """``request/prepaidDetail?ctn&startDate&endDate&reportType`` -> ``requestId``; the file
    is fetched with ``1.0/request/requestAttachment?requestId=``."""
    session, acc = account_of(request, backend, limiter)
    start = date_param(request, "startDate")
    end = date_param(request, "endDate")
    kind = (request.query_params.get("reportType") or "").upper()
    if kind not in ("PDF", "XLS", "XLSX"):
        raise InvalidInput("reportType: PDF или XLS")
    if end < start:
        raise InvalidInput("Дата окончания раньше даты начала")
    request_id = backend.next_id()
    sub = backend.subscriber(session.subscriber_id)
    kept = sub.extra.setdefault(_DETAILS, {})
    kept[str(request_id)] = (acc.id, start, end, "pdf" if kind == "PDF" else "xlsx")
    while len(kept) > 20:
        kept.pop(next(iter(kept)))
    return ok(requestId=request_id)


@get("/api/1.0/request/requestAttachment", sync_to_thread=False)
def request_attachment(
    request: Request[Any, Any, Any], backend: BackendDep, limiter: LimiterDep
) -> Response[Any]:
    session, _ = account_of(request, backend, limiter)
    sub = backend.subscriber(session.subscriber_id)
    found = sub.extra.get(_DETAILS, {}).get(query_field(request, "requestId"))
    if found is None:
        raise NotFound("Заявка не найдена")
    acc_id, start, end, fmt = found
    report = backend.report(backend.touch(backend.account(acc_id)), start, end, fmt)
    return Response(
        report.content,
        media_type=report.media_type,
        headers={"Content-Disposition": f'attachment; filename="{report.filename}"'},
    )


# -- trusted payment (seed; shape assumed, requests as the proven 1.0/request/* ones) -----------
def _trust_state(backend: Backend, acc: Account) -> dict[str, Any]:
    offer = trust_offer(backend, acc)
    return {
        "available": offer.available,
        "reason": offer.reason or None,
        "minSum": amount(MIN_TRUST),
        "maxSum": amount(offer.max_sum),
        "sums": [{"sum": amount(c), "fee": amount(trust_fee(c))} for c in offer.choices],
        "days": offer.days,
        "debt": amount(offer.outstanding) if offer.outstanding else None,
        "dueDate": when(offer.due) if offer.due else None,
    }


@get("/api/1.0/info/trustPayment", sync_to_thread=False)
def trust_payment_info(
    request: Request[Any, Any, Any], backend: BackendDep, limiter: LimiterDep
) -> Response[Any]:
    """``?ctn=`` -> the offer (``sums[]{sum, fee}``, ``minSum``, ``maxSum``, ``days``) and
    what is owed (``debt`` = the credit and its fee, ``dueDate``)."""
    _, acc = account_of(request, backend, limiter)
    return ok(**_trust_state(backend, acc))


@route(["/api/1.0/request/trustPayment"], http_method=["PUT"], status_code=200)
async def trust_payment(
    request: Request[Any, Any, Any], backend: BackendDep, limiter: LimiterDep
) -> Response[Any]:
    """``PUT 1.0/request/trustPayment?ctn=&sum=`` (a JSON ``{amount}`` body is read too) ->
    ``requestId``, the ``debt`` and its ``dueDate``."""
    _, acc = account_of(request, backend, limiter)
    raw: Any = request.query_params.get("sum")
    if raw is None:
        raw = (await body_of(request)).get("amount")
    if isinstance(raw, bool) or not isinstance(raw, int | float | str):
        raise InvalidInput("Укажите сумму")
    try:
        value = Decimal(str(raw))
    except InvalidOperation:
        raise InvalidInput("Некорректная сумма") from None
    if not value.is_finite() or value * 100 != (value * 100).to_integral_value():
        raise InvalidInput("Некорректная сумма")
    entry = take_trust_payment(backend, acc, int(value * 100))
    state = _trust_state(backend, acc)
    return ok(
        requestId=entry.id,
        message="Доверительный платёж зачислен",
        sum=amount(entry.amount),
        fee=amount(trust_fee(entry.amount)),
        debt=state["debt"],
        dueDate=state["dueDate"],
        days=TRUST_DAYS,
    )


# -- offers (path proven, reply assumed) ---------------------------------------------------------
@get("/api/1.0/info/targetedOffers", sync_to_thread=False)
def targeted_offers(
    request: Request[Any, Any, Any], backend: BackendDep, limiter: LimiterDep
) -> Response[Any]:
    account_of(request, backend, limiter)
    return ok(
        offers=[
            {
                "id": n.id,
                "title": n.title,
                "description": n.text,
                "startDate": n.published.isoformat(),
            }
            for n in backend.news(OPERATOR)
            if n.kind == "offer"
        ]
    )


# -- chat (assumed wire, the seed's behaviour) -----------------------------------------------------
def _chat(messages: list[ChatMessage]) -> list[dict[str, Any]]:
    return [
        {
            "id": m.id,
            "topicId": m.topic_id,
            "author": _AUTHORS[m.author],
            "text": m.text,
            "date": when(m.sent_at),
            "operatorName": m.author_name if m.author == "agent" else None,
        }
        for m in messages
    ]


@get("/api/1.0/chat/topics", sync_to_thread=False)
def chat_topics(
    request: Request[Any, Any, Any], backend: BackendDep, limiter: LimiterDep
) -> Response[Any]:
    account_of(request, backend, limiter)
    return ok(topics=[{"id": t.id, "name": t.title} for t in backend.chat_topics(OPERATOR)])


@put("/api/1.0/chat/message", status_code=200)
async def chat_message(
    request: Request[Any, Any, Any], backend: BackendDep, limiter: LimiterDep
) -> Response[Any]:
    _, acc = account_of(request, backend, limiter)
    data = await body_of(request)
    sent = backend.send_chat(acc, text_field(data, "topicId"), text_field(data, "text"))
    return ok(messages=_chat(sent))


@get("/api/1.0/chat/history", sync_to_thread=False)
def chat_history(
    request: Request[Any, Any, Any], backend: BackendDep, limiter: LimiterDep
) -> Response[Any]:
    _, acc = account_of(request, backend, limiter)
    since_raw = request.query_params.get("since")
    since = None
    if since_raw:
        try:
            since = dt.datetime.fromisoformat(since_raw.replace("Z", "+00:00"))
        except ValueError:
            raise InvalidInput("since: дата и время ISO 8601") from None
        if since.tzinfo is None:
            since = since.replace(tzinfo=MSK)
    return ok(messages=_chat(backend.chat_history(acc, since)), pending=backend.chat_pending(acc))


@get("/api/1.0/chat/unseen", sync_to_thread=False)
def chat_unseen(
    request: Request[Any, Any, Any], backend: BackendDep, limiter: LimiterDep
) -> Response[Any]:
    _, acc = account_of(request, backend, limiter)
    return ok(messages=_chat(backend.chat_unseen(acc)))


HANDLERS = [
    pay_type,
    prepaid_balance,
    postpaid_balance,
    price_plan,
    price_plan_available_list,
    change_price_plan,
    status,
    suspend_restore,
    service_list,
    service_available_list,
    subscriptions,
    subscription_remove,
    service_activate,
    service_deactivate,
    accumulators,
    rests,
    payments_history,
    prepaid_detail,
    request_attachment,
    trust_payment_info,
    trust_payment,
    targeted_offers,
    chat_topics,
    chat_message,
    chat_history,
    chat_unseen,
]
