"""The NetByNet wire format shared by the dialect's modules: replies (a success names nothing,
an error ``resultCode`` / ``resultText``), the session cookie, request fields, and how every
error is rendered.

Citations (repository, path, line) are in ``reference_provider/DIALECTS.md`` (NetByNet).
"""

from __future__ import annotations

import datetime as dt
import json
from typing import Any, TypeAlias

from litestar import Request, Response
from litestar.datastructures import Cookie
from litestar.di import NamedDependency
from litestar.exceptions import HTTPException, ValidationException

from ...backend import Backend
from ...domain.errors import (
    AuthFailure,
    CodeInvalid,
    DomainError,
    Forbidden,
    InvalidInput,
    NotFound,
    PasswordChangeRequired,
    Rejected,
)
from ...domain.models import Account, Session, TariffDef
from ...domain.money import kop, rub

OPERATOR = "netbynet"
BASE = "/netbynet"
SESSION_COOKIE = "AUTHORIZATION"  # AnyBalance main.js lines 110-116: AUTHO*, value quoted
CAPTCHA_COOKIE = "NBN_CAPTCHA"
DEVICE_COOKIE = "nbn_device"

RESULT = {
    "INVALID_CREDENTIALS": 5,
    "CAPTCHA_REQUIRED": 8,
    "CAPTCHA_WRONG": 8,
    "ACCOUNT_LOCKED": 13,
    "NOT_AUTHORIZED": 20,
    "PASSWORD_CHANGE_REQUIRED": 21,
    "VALIDATION_ERROR": 30,
    "OPERATION_REJECTED": 31,
    "NOT_FOUND": 32,
    "WRONG_CODE": 33,
    "INTERNAL_ERROR": 99,
}


# -- replies ----------------------------------------------------------------------------------
def ok(text: str = "Успешно", *, cookies: list[Cookie] | None = None, **data: Any) -> Response[Any]:
    del text  # a success names nothing: no resultCode (the operator's words are for errors)
    return Response(
        data,
        status_code=200,
        cookies=cookies or [],
        headers={"Cache-Control": "no-store"},
    )


def fail(
    code: str, text: str, status: int = 200, *, cookies: list[Cookie] | None = None, **data: Any
) -> Response[Any]:
    return Response(
        {"resultCode": RESULT[code], "resultText": text, **data},
        status_code=status,
        cookies=cookies or [],
        headers={"Cache-Control": "no-store"},
    )


def money(kopecks: int) -> float:
    return float(rub(kopecks))


def cookie(key: str, value: str, max_age: int | None = None) -> Cookie:
    return Cookie(key=key, value=value, path=BASE, httponly=True, samesite="lax", max_age=max_age)


def session_token(request: Request[Any, Any, Any]) -> str | None:
    """The session cookie; its value comes quoted (AnyBalance main.js lines 110-116)."""
    value = request.cookies.get(SESSION_COOKIE)
    return value.strip('"') if value else None


def date_field(value: Any, field: str) -> dt.date:
    try:
        return dt.date.fromisoformat(str(value or "").strip()[:10])
    except ValueError:
        raise InvalidInput(f"{field}: дата в формате ГГГГ-ММ-ДД") from None


def tariff_view(t: TariffDef) -> dict[str, Any]:
    return {
        "id": t.id,
        "name": t.name,
        "cost": money(t.fee),
        "description": t.description,
        "speed": t.speed_mbps,
    }


async def body_of(request: Request[Any, Any, Any]) -> dict[str, Any]:
    raw = await request.body()
    if not raw:
        return {}
    try:
        data = json.loads(raw)
    except ValueError:
        raise InvalidInput("Тело запроса должно быть JSON") from None
    if not isinstance(data, dict):
        raise InvalidInput("Тело запроса должно быть объектом JSON")
    return data


def text_field(data: dict[str, Any], key: str, label: str, *, required: bool = True) -> str:
    value = data.get(key)
    if value is None or value == "":
        if required:
            raise InvalidInput(f"Не заполнено поле «{label}»")
        return ""
    if isinstance(value, int | float) and not isinstance(value, bool):
        value = str(value)
    if not isinstance(value, str):
        raise InvalidInput(f"Поле «{label}» заполнено неверно")
    return value.strip()


def amount_field(data: dict[str, Any], key: str, label: str) -> int:
    value = data.get(key)
    if isinstance(value, bool) or not isinstance(value, int | float | str):
        raise InvalidInput(f"Поле «{label}» должно быть числом")
    return kop(value)


#: The injected backend (a Litestar dependency of the router).
BackendDep: TypeAlias = NamedDependency[Backend]


def current(request: Request[Any, Any, Any], backend: Backend) -> tuple[Session, Account]:
    session = backend.session(session_token(request), operator=OPERATOR)
    acc = backend.account_for(session, session.current_account_id or "")
    backend.touch(acc)
    return session, acc


def device_of(request: Request[Any, Any, Any]) -> str | None:
    return request.headers.get("x-device-id") or request.cookies.get(DEVICE_COOKIE) or None


def error_response(request: Request[Any, Any, Any], exc: Exception) -> Response[Any]:
    """Every error in NetByNet's format (resultCode / resultText), never a traceback."""
    if isinstance(exc, PasswordChangeRequired):
        return fail("PASSWORD_CHANGE_REQUIRED", exc.message, 403)
    if isinstance(exc, CodeInvalid):
        return fail("WRONG_CODE", exc.message, 400)
    if isinstance(exc, AuthFailure):
        return fail("NOT_AUTHORIZED", "Требуется авторизация", 401)
    if isinstance(exc, InvalidInput):
        return fail("VALIDATION_ERROR", exc.message, 400)
    if isinstance(exc, NotFound):
        return fail("NOT_FOUND", exc.message, 404)
    if isinstance(exc, Rejected | Forbidden):
        return fail("OPERATION_REJECTED", exc.message, 409)
    if isinstance(exc, DomainError):
        return fail("OPERATION_REJECTED", exc.message, 409)
    if isinstance(exc, ValidationException):
        return fail("VALIDATION_ERROR", "Некорректные параметры запроса", 400)
    if isinstance(exc, HTTPException):
        if exc.status_code == 404:
            return fail("NOT_FOUND", "Метод не найден", 404)
        if exc.status_code == 405:
            return fail("VALIDATION_ERROR", "Метод не поддерживается", 405)
        return fail("VALIDATION_ERROR", "Некорректный запрос", exc.status_code)
    return fail("INTERNAL_ERROR", "Внутренняя ошибка, попробуйте позже", 500)
