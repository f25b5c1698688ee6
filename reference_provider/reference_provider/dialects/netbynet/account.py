"""NetByNet account: balance, its details, the internet account, the profile, tariffs and
services. Handlers get the backend injected.

Citations (repository, path, line) are in ``reference_provider/DIALECTS.md`` (NetByNet).
"""

from __future__ import annotations

from typing import Any

from litestar import Request, Response, get, post

from ...backend import Backend
from ...domain.catalogue import REGIONS_NETBYNET
from ...domain.errors import InvalidInput
from ...domain.models import Account
from .wire import BackendDep, body_of, current, money, ok, tariff_view, text_field

__all__ = ["HANDLERS"]

_STATUS = {
    "active": ("ACTIVE", "Активна"),
    "blocked": ("BLOCKED", "Заблокирована: недостаточно средств"),
    "suspended": ("VOLUNTARY_BLOCK", "Добровольная блокировка"),
    "closed": ("CLOSED", "Договор расторгнут"),
}
# get-balance statusCode (MobileBalance WiFire_API_inet1.js lines 93-117): 0 active, 1 not
# activated, 2 financial block (1002 entering it), 3 blocked by the operator or from the
# cabinet (1003 entering it), 4 deleted.
_STATUS_CODE = {"active": 0, "blocked": 2, "suspended": 3, "closed": 4}


@get("/api/v1/get-balance", sync_to_thread=False)
def balance(request: Request[Any, Any, Any], backend: BackendDep) -> Response[Any]:
    _, acc = current(request, backend)
    return ok(
        accountBalance=money(backend.balance(acc)),
        statusCode=_STATUS_CODE[backend.status(acc)],
    )


@get(["/api/v1/get-balance-details", "/api/v2/get-balance-details"], sync_to_thread=False)
def balance_details(request: Request[Any, Any, Any], backend: BackendDep) -> Response[Any]:
    _, acc = current(request, backend)
    due, amount = backend.next_payment(acc)
    return ok(
        accountBalance=money(backend.balance(acc)),
        bonusBalance=money(acc.bonus) if acc.bonus is not None else -1,
        nextPayment=money(amount),
        nextPaymentDate=due.isoformat(),
        monthlyFee=money(backend.monthly_fee(acc)),
    )


@get(
    ["/api/v1/get-internet-accounts-details", "/api/v2/get-internet-accounts-details"],
    sync_to_thread=False,
)
def internet_accounts(request: Request[Any, Any, Any], backend: BackendDep) -> Response[Any]:
    session, acc = current(request, backend)
    sub = backend.subscriber(session.subscriber_id)
    code, name = _STATUS[backend.status(acc)]
    block = backend.current_suspension(acc)
    return ok(
        internetAccounts=[
            {
                "id": acc.number,
                "login": sub.login,
                "tariffPlan": tariff_view(backend.tariff_of(acc)),
                "statusCode": code,
                "statusName": name,
                "blockDateTo": block.last_day.isoformat() if block else None,
                "address": acc.address,
            }
        ]
    )


@get("/api/v1/get-profile-info", sync_to_thread=False)
def profile(request: Request[Any, Any, Any], backend: BackendDep) -> Response[Any]:
    session, acc = current(request, backend)
    sub = backend.subscriber(session.subscriber_id)
    info = backend.profile(sub, acc)
    return ok(
        id=acc.number,
        number=sub.login,
        contacts={
            "fullName": info["full_name"],
            "phone": f"+7{info['phone']}" if info["phone"] else None,
            "email": info["email"],
        },
        address=info["address"],
        region=sub.region,
        regionName=REGIONS_NETBYNET.get(sub.region or "", ""),
    )


@get("/api/v2/get-profile-info", sync_to_thread=False)
def profile_v2(request: Request[Any, Any, Any], backend: BackendDep) -> Response[Any]:
    """v2: ``fullName``, ``id`` (MobileBalance WiFire_API_inet1.js lines 136-147)."""
    session, acc = current(request, backend)
    sub = backend.subscriber(session.subscriber_id)
    info = backend.profile(sub, acc)
    return ok(
        id=int(sub.login) if sub.login.isdigit() else sub.login,
        fullName=info["full_name"],
        phone=f"+7{info['phone']}" if info["phone"] else None,
        email=info["email"],
        address=info["address"],
        accountNumber=acc.number,
    )


# -- tariffs and services -----------------------------------------------------------------
@get("/api/v1/get-tariffs", sync_to_thread=False)
def tariffs(request: Request[Any, Any, Any], backend: BackendDep) -> Response[Any]:
    _, acc = current(request, backend)
    pending = backend.pending_tariff(acc)
    return ok(
        currentTariff=tariff_view(backend.tariff_of(acc)),
        availableTariffs=[tariff_view(t) for t in backend.available_tariffs(acc)],
        scheduledTariff=(
            {**tariff_view(pending[0]), "dateFrom": pending[1].isoformat()} if pending else None
        ),
    )


@post("/api/v1/change-tariff")
async def change_tariff(request: Request[Any, Any, Any], backend: BackendDep) -> Response[Any]:
    data = await body_of(request)
    _, acc = current(request, backend)
    change = backend.change_tariff(acc, text_field(data, "tariffId", "Тариф"))
    return ok(
        f"Тариф «{change.tariff.name}» будет подключён с {change.effective:%d.%m.%Y}",
        tariffPlan=tariff_view(change.tariff),
        effectiveDate=change.effective.isoformat(),
    )


def services_of(backend: Backend, acc: Account) -> list[dict[str, Any]]:
    return [
        {
            "id": s.id,
            "name": s.name,
            "cost": money(s.fee),
            "description": s.description,
            "enabled": enabled,
            "canChange": s.can_toggle,
        }
        for s, enabled in backend.services(acc)
    ]


@get("/api/v1/get-services", sync_to_thread=False)
def services(request: Request[Any, Any, Any], backend: BackendDep) -> Response[Any]:
    _, acc = current(request, backend)
    return ok(services=services_of(backend, acc))


@post("/api/v1/change-service")
async def change_service(request: Request[Any, Any, Any], backend: BackendDep) -> Response[Any]:
    data = await body_of(request)
    _, acc = current(request, backend)
    enabled = data.get("enabled")
    if not isinstance(enabled, bool):
        raise InvalidInput("Поле «enabled»: true или false")
    change = backend.set_service(acc, text_field(data, "serviceId", "Услуга"), enabled)
    verb = "подключена" if enabled else "отключена"
    return ok(f"Услуга «{change.service.name}» {verb}", services=services_of(backend, acc))


HANDLERS = [
    balance,
    balance_details,
    internet_accounts,
    profile,
    profile_v2,
    tariffs,
    change_tariff,
    services,
    change_service,
]
