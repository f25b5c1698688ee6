"""The simulation API under ``/sim``: only mounted with ``--sim`` and only for loopback clients.

Everything here is also a Python method of :class:`~reference_provider.backend.Backend`
(``backend.advance(...)``, ``backend.faults.add(...)``, ``backend.last_code(...)``, ...).
"""

from __future__ import annotations

import ipaddress
from typing import Any, Literal

from litestar import Response, Router, delete, get, post, put
from litestar.connection import ASGIConnection
from litestar.exceptions import PermissionDeniedException
from litestar.handlers.base import BaseRouteHandler
from litestar.params import FromPath, FromQuery, JSONBody
from pydantic import BaseModel, Field

from .backend import Backend
from .demo_page import demo_page
from .domain.errors import DomainError
from .domain.money import kop, rub
from .faults import FAULT_KINDS
from .registry import load_dialect

__all__ = ["is_loopback", "sim_router"]


def is_loopback(host: str | None) -> bool:
    if not host:
        return False
    try:
        return ipaddress.ip_address(host).is_loopback
    except ValueError:
        return host == "localhost"


def loopback_only(connection: ASGIConnection[Any, Any, Any, Any], _: BaseRouteHandler) -> None:
    client = connection.scope.get("client")
    if not is_loopback(client[0] if client else None):
        raise PermissionDeniedException("the simulation API answers loopback clients only")


class Advance(BaseModel):
    days: float = Field(0, ge=0, le=3660)
    hours: float = Field(0, ge=0)
    minutes: float = Field(0, ge=0)
    seconds: float = Field(0, ge=0)


class Speed(BaseModel):
    speed: float = Field(ge=0, le=1_000_000)


class SetBalance(BaseModel):
    amount: str = Field(description="roubles, e.g. '-10.50'")


class SetUsage(BaseModel):
    factor: float | None = Field(
        None, ge=0, le=50, description="how fast the packages are used: 1 uses them by month end"
    )
    used: float | None = Field(
        None, ge=0, le=1, description="the share of each package used, fixed (null: by the pace)"
    )


class BulkRequest(BaseModel):
    operator: str
    count: int = Field(ge=1, le=100_000)
    password: str = "Bulk-pass-1"
    balance: str = "500.00"


class FaultRequest(BaseModel):
    kind: str = Field(description=" | ".join(FAULT_KINDS))
    operator: str | None = None
    path: str | None = Field(None, description="a path prefix, or a glob with * ? [")
    count: int | None = Field(None, ge=1)
    probability: float = Field(1.0, gt=0, le=1)
    seconds: float | None = Field(None, ge=0, le=600)
    # Seconds, or the header's text as is (an HTTP-date, or garbage as some servers send).
    retry_after: int | str = Field(30)


class IdpComplete(BaseModel):
    authorize_url: str
    username: str
    password: str
    allow: bool = True


class ExpireSessions(BaseModel):
    operator: str | None = None
    login: str | None = None


class Announce(BaseModel):
    operator: str
    title: str = Field(min_length=1, max_length=300)
    text: str = Field("", max_length=2000)
    kind: Literal["news", "offer", "maintenance"] = "maintenance"
    in_days: int = Field(1, ge=-365, le=365, description="its date, from today")


def _err(exc: DomainError) -> Response[Any]:
    return Response({"error": exc.to_dict()}, status_code=exc.status)


def sim_router(backend: Backend) -> Router:
    @get("/clock", sync_to_thread=False)
    def clock() -> dict[str, Any]:
        """The billing clock."""
        return backend.clock.snapshot()

    @post("/clock/advance", status_code=200, sync_to_thread=False)
    def advance(data: JSONBody[Advance]) -> dict[str, Any]:
        backend.advance(
            days=data.days, hours=data.hours, minutes=data.minutes, seconds=data.seconds
        )
        return backend.clock.snapshot()

    @put("/clock/speed", sync_to_thread=False)
    def speed(data: JSONBody[Speed]) -> dict[str, Any]:
        backend.clock.set_speed(data.speed)
        return backend.clock.snapshot()

    @get("/accounts/{operator:str}/{number:str}", sync_to_thread=False)
    def account(operator: FromPath[str], number: FromPath[str]) -> Response[Any]:
        """An account as the domain sees it (balance, state, tariff, pending change)."""
        try:
            acc = backend.account_by_number(operator, number)
        except DomainError as exc:
            return _err(exc)
        pending = backend.pending_tariff(acc)
        block = backend.current_suspension(acc)
        return Response(
            {
                "id": acc.id,
                "number": acc.number,
                "balance": str(rub(backend.balance(acc))),
                "state": backend.status(acc),
                "tariff_id": acc.tariff_id,
                "pending_tariff_id": pending[0].id if pending else None,
                "pending_from": pending[1].isoformat() if pending else None,
                "services": sorted(acc.services),
                "suspension": None
                if block is None
                else {
                    "status": block.status(backend.now()),
                    "start": block.start.isoformat(),
                    "end": block.last_day.isoformat(),
                },
                "autopay": {"enabled": acc.autopay.enabled},
            }
        )

    @put("/accounts/{operator:str}/{number:str}/balance", sync_to_thread=False)
    def set_balance(
        operator: FromPath[str], number: FromPath[str], data: JSONBody[SetBalance]
    ) -> Response[Any]:
        try:
            acc = backend.account_by_number(operator, number)
            backend.set_balance(acc, kop(data.amount))
        except DomainError as exc:
            return _err(exc)
        return Response({"number": number, "balance": str(rub(acc.balance))})

    @put("/accounts/{operator:str}/{number:str}/usage", sync_to_thread=False)
    def set_usage(
        operator: FromPath[str], number: FromPath[str], data: JSONBody[SetUsage]
    ) -> Response[Any]:
        """How heavily the number uses its packages (its remainders follow at once)."""
        try:
            acc = backend.account_by_number(operator, number)
        except DomainError as exc:
            return _err(exc)
        if data.factor is not None:
            acc.usage_factor = data.factor
        if data.used is None:
            acc.extra.pop("used_share", None)
        else:
            acc.extra["used_share"] = data.used
        return Response(
            {
                "number": number,
                "remainders": [
                    {"name": r.name, "unit": r.unit, "rest": r.rest, "size": r.size}
                    for r in backend.usage(acc).remainders
                ],
            }
        )

    @post("/accounts/bulk", status_code=201, sync_to_thread=False)
    def bulk(data: JSONBody[BulkRequest]) -> Response[Any]:
        """N subscribers with one account each and a valid session each (benchmarks)."""
        try:
            created = backend.bulk_create(
                data.operator, data.count, password=data.password, balance=kop(data.balance)
            )
        except DomainError as exc:
            return _err(exc)
        dialect = "native" if data.operator == "reference" else data.operator
        module = load_dialect(dialect)
        hook = getattr(module, "bulk_session", None) if module else None
        items = []
        for b in created:
            item: dict[str, Any] = {
                "login": b.login,
                "password": b.password,
                "account_id": b.account_id,
                "number": b.number,
                "token": b.token,
            }
            if hook is not None:
                item["session"] = hook(backend, b)
            items.append(item)
        return Response({"operator": data.operator, "accounts": items}, status_code=201)

    @get("/outbox", sync_to_thread=False)
    def outbox(
        operator: FromQuery[str | None] = None,
        destination: FromQuery[str | None] = None,
        channel: FromQuery[str | None] = None,
        purpose: FromQuery[str | None] = None,
    ) -> dict[str, Any]:
        """SMS and e-mails sent (codes, temporary passwords), oldest first."""
        return {
            "messages": [
                {
                    "id": m.id,
                    "operator": m.operator,
                    "channel": m.channel,
                    "destination": m.destination,
                    "text": m.text,
                    "code": m.code,
                    "purpose": m.purpose,
                    "sent_at": m.sent_at.isoformat(),
                }
                for m in backend.outbox_for(operator, destination, channel, purpose)
            ]
        }

    @get("/outbox/last-code", sync_to_thread=False)
    def last_code(
        operator: FromQuery[str | None] = None,
        destination: FromQuery[str | None] = None,
        purpose: FromQuery[str | None] = None,
    ) -> Response[Any]:
        try:
            return Response({"code": backend.last_code(operator, destination, purpose)})
        except DomainError as exc:
            return _err(exc)

    @get("/captcha", sync_to_thread=False)
    def captcha(
        operator: FromQuery[str | None] = None, captcha_id: FromQuery[str | None] = None
    ) -> Response[Any]:
        """The answer of a captcha (by id, or the newest one issued for an operator)."""
        try:
            return Response({"answer": backend.captcha_answer(operator, captcha_id)})
        except DomainError as exc:
            return _err(exc)

    @get("/faults", sync_to_thread=False)
    def faults() -> dict[str, Any]:
        return {"faults": [f.to_dict() for f in backend.faults.rules], "kinds": FAULT_KINDS}

    @post("/faults", status_code=201, sync_to_thread=False)
    def add_fault(data: JSONBody[FaultRequest]) -> Response[Any]:
        try:
            fault = backend.faults.add(
                data.kind,
                operator=data.operator,
                path=data.path,
                count=data.count,
                probability=data.probability,
                seconds=data.seconds,
                retry_after=data.retry_after,
            )
        except DomainError as exc:
            return _err(exc)
        return Response(fault.to_dict(), status_code=201)

    @delete("/faults", status_code=200, sync_to_thread=False)
    def clear_faults(operator: FromQuery[str | None] = None) -> dict[str, Any]:
        return {"removed": backend.faults.clear(operator)}

    @post("/sessions/expire", status_code=200, sync_to_thread=False)
    def expire(data: JSONBody[ExpireSessions]) -> Response[Any]:
        sub_id = None
        if data.login:
            if not data.operator:
                return Response(
                    {
                        "error": {
                            "code": "invalid_input",
                            "message": "operator is required with login",
                        }
                    },
                    status_code=400,
                )
            sub = backend.find_subscriber(data.operator, data.login)
            if sub is None:
                return Response(
                    {"error": {"code": "not_found", "message": "no such login"}}, status_code=404
                )
            sub_id = sub.id
        return Response(
            {"expired": backend.expire_sessions(operator=data.operator, subscriber_id=sub_id)}
        )

    @post("/news", status_code=201, sync_to_thread=False)
    def announce(data: JSONBody[Announce]) -> Response[Any]:
        """The operator publishes a news item (by default maintenance works tomorrow)."""
        try:
            item = backend.announce(
                data.operator, data.title, data.text, kind=data.kind, in_days=data.in_days
            )
        except DomainError as exc:
            return _err(exc)
        return Response(
            {"id": item.id, "published": item.published.isoformat(), "kind": item.kind},
            status_code=201,
        )

    @post("/idp/complete", status_code=200, sync_to_thread=False)
    def idp_complete(data: JSONBody[IdpComplete]) -> Response[Any]:
        """Do what a person does at the identity provider; return the callback URL."""
        try:
            url = backend.idp_complete_as_user(
                data.authorize_url, data.username, data.password, data.allow
            )
        except DomainError as exc:
            return _err(exc)
        return Response({"callback_url": url})

    @get("/chat/{operator:str}/{number:str}", sync_to_thread=False)
    def chat(operator: FromPath[str], number: FromPath[str]) -> Response[Any]:
        """The whole chat of an account including replies still on their way."""
        try:
            acc = backend.account_by_number(operator, number)
        except DomainError as exc:
            return _err(exc)
        return Response(
            {
                "messages": [
                    {
                        "id": m.id,
                        "topic_id": m.topic_id,
                        "author": m.author,
                        "text": m.text,
                        "sent_at": m.sent_at.isoformat(),
                        "seen": m.seen,
                    }
                    for m in acc.chat
                ]
            }
        )

    @get("/in-flight", sync_to_thread=False)
    def in_flight() -> dict[str, Any]:
        """Per operator: requests in flight now, the most at once, the total."""
        return backend.in_flight.snapshot()

    @delete("/in-flight", status_code=200, sync_to_thread=False)
    def reset_in_flight() -> dict[str, Any]:
        backend.in_flight.reset()
        return backend.in_flight.snapshot()

    return Router(
        path="/sim",
        guards=[loopback_only],
        include_in_schema=False,
        route_handlers=[
            clock,
            advance,
            speed,
            account,
            set_balance,
            set_usage,
            bulk,
            outbox,
            last_code,
            captcha,
            faults,
            add_fault,
            clear_faults,
            expire,
            announce,
            idp_complete,
            chat,
            in_flight,
            reset_in_flight,
            demo_page(backend),
        ],
    )
