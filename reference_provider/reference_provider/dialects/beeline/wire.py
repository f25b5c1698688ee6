"""The Beeline wire format shared by the dialect's modules: replies, named errors, the rate
limit, and how a request names its session and its number.

Every JSON reply wraps its data with ``meta`` (``AzamatLT/ScriptsLoadRunner``
``api_b2c_multi/checkResult.c`` line 3: ``"status":"OK","code":20000,"message":null``). An
error keeps HTTP 200 and names itself in ``meta.message`` (``s3va/BeeOptions``
``PassUserViewModel.kt`` lines 139-170 read ``AUTH_ERROR`` and ``LOGIN_TRY_NUMBER_EXCEED`` from
a 2xx body; ``artyl/mbplugin`` ``plugin/beeline.py`` lines 208-227 read ``meta.code`` 49999
after a 200). See ``reference_provider/DIALECTS.md`` (Beeline) for every citation.
"""

from __future__ import annotations

import datetime as dt
import re
import time
from typing import Any, TypeAlias

from litestar import Request, Response
from litestar.di import NamedDependency
from litestar.exceptions import HTTPException

from ...backend import Backend
from ...domain.clock import MSK
from ...domain.errors import (
    AccountLocked,
    CaptchaRequired,
    CodeInvalid,
    DomainError,
    Forbidden,
    InvalidCredentials,
    InvalidInput,
    NotFound,
    PasswordChangeRequired,
    Rejected,
    SessionExpired,
)
from ...domain.models import Account, Session
from ...domain.money import rub

OPERATOR = "beeline"
#: Requests per token allowed within one second before 429.
RATE_LIMIT = 40
RETRY_AFTER_S = 1

CODE_OK = 20000
#: The one error code an independent client reads (``artyl/mbplugin`` ``plugin/beeline.py``
#: line 227: prepaidBalance of a postpaid number); every refusal carries it.
CODE_ERROR = 49999

# meta.message of the named errors. Proven: AUTH_ERROR and for.existent.users.only
# (dukei/any-balance-providers modules/extract/abe-cell-beeline/source/lkapi.js lines 43-44),
# LOGIN_TRY_NUMBER_EXCEED (s3va/BeeOptions PassUserViewModel.kt line 163), TOKEN_NOT_FOUND
# (dukei/any-balance-providers providers/ab-cell-beeline-new/history.xml line 99). The others
# are assumed names.
AUTH_ERROR = "AUTH_ERROR"
UNKNOWN_LOGIN = "for.existent.users.only"
LOCKED = "LOGIN_TRY_NUMBER_EXCEED"
TOKEN_NOT_FOUND = "TOKEN_NOT_FOUND"
PASSWORD_CHANGE_REQUIRED = "PASSWORD_CHANGE_REQUIRED"
CAPTCHA_REQUIRED = "CAPTCHA_REQUIRED"
CTN_NOT_FOUND = "CTN_NOT_FOUND"
WRONG_CODE = "WRONG_CODE"
TOO_MANY_REQUESTS = "Too Many Requests"

LOGIN = re.compile(r"\d{10}")


# -- replies ----------------------------------------------------------------------------------
def ok(**data: Any) -> Response[Any]:
    return Response({"meta": {"status": "OK", "code": CODE_OK, "message": None}, **data})


def error(
    message: str, *, code: int = CODE_ERROR, status: int = 200, **extra: Any
) -> Response[Any]:
    return Response(
        {"meta": {"status": "ERROR", "code": code, "message": message}, **extra},
        status_code=status,
    )


def when(value: dt.datetime | dt.date) -> str:
    """Beeline's time format: ``2024-06-01T00:00:00.000+0300``."""
    if not isinstance(value, dt.datetime):
        value = dt.datetime(value.year, value.month, value.day, tzinfo=MSK)
    value = value.astimezone(MSK)
    return value.strftime("%Y-%m-%dT%H:%M:%S.") + f"{value.microsecond // 1000:03d}+0300"


def amount(kopecks: int) -> float | int:
    """Roubles as a JSON number (Beeline sends floats): 412.5, 400."""
    value = rub(kopecks)
    return int(value) if value == value.to_integral_value() else float(value)


def render_domain_error(exc: DomainError) -> Response[Any]:
    if isinstance(exc, CaptchaRequired):
        captcha = exc.captcha
        return error(
            CAPTCHA_REQUIRED,
            captcha={"id": captcha.id, "url": f"1.0/captcha/{captcha.id}.png"},
            text=exc.message,
        )
    if isinstance(exc, AccountLocked):
        return error(f"{LOCKED}: {exc.message}")
    if isinstance(exc, InvalidCredentials):
        return error(AUTH_ERROR)
    if isinstance(exc, SessionExpired):
        return error(TOKEN_NOT_FOUND)
    if isinstance(exc, PasswordChangeRequired):
        return error(PASSWORD_CHANGE_REQUIRED)
    if isinstance(exc, CodeInvalid):
        return error(WRONG_CODE)
    if isinstance(exc, Forbidden):
        return error(CTN_NOT_FOUND)
    if isinstance(exc, Rejected):
        return error(exc.message)
    if isinstance(exc, NotFound):
        return error(exc.message, status=404)
    return error(exc.message, status=400)


class TooManyRequests(Exception):
    pass


def error_response(request: Request[Any, Any, Any], exc: Exception) -> Response[Any]:
    """Errors raised before or by a handler, in Beeline's format."""
    if isinstance(exc, DomainError):
        return render_domain_error(exc)
    if isinstance(exc, TooManyRequests):
        response = error(TOO_MANY_REQUESTS, status=429)
        response.headers["Retry-After"] = str(RETRY_AFTER_S)
        return response
    status = exc.status_code if isinstance(exc, HTTPException) else 500
    if status >= 500:
        return error("Внутренняя ошибка", status=500)
    return error(
        "Метод не найден" if status in (404, 405) else "Некорректный запрос", status=status
    )


# -- the rate limit ----------------------------------------------------------------------------
class RateLimiter:
    """A fixed one-second window per token; O(1) per request, pruned as it grows."""

    def __init__(self, limit: int = RATE_LIMIT) -> None:
        self.limit = limit
        self._windows: dict[str, tuple[int, int]] = {}

    def hit(self, key: str) -> None:
        second = int(time.monotonic())
        window, count = self._windows.get(key, (second, 0))
        if window != second:
            window, count = second, 0
        count += 1
        self._windows[key] = (window, count)
        if len(self._windows) > 50_000:
            self._windows = {k: v for k, v in self._windows.items() if v[0] == second}
        if count > self.limit:
            raise TooManyRequests()


#: The injected backend and rate limiter (Litestar dependencies of the dialect's router).
BackendDep: TypeAlias = NamedDependency[Backend]
LimiterDep: TypeAlias = NamedDependency[RateLimiter]


# -- what a request names -----------------------------------------------------------------------
def token_of(request: Request[Any, Any, Any]) -> str:
    """The token: header ``X-Auth-Token`` (lkapi.js lines 135, 163) or cookie ``token``
    (lkapi.js line 180; ScriptsLoadRunner's ``web_add_cookie("token=...")``)."""
    return request.headers.get("x-auth-token") or request.cookies.get("token") or ""


def session_of(
    request: Request[Any, Any, Any],
    backend: Backend,
    limiter: RateLimiter,
    allow_restricted: bool = False,
) -> Session:
    token = token_of(request)
    limiter.hit(token or (request.client.host if request.client else "anonymous"))
    return backend.session(token, operator=OPERATOR, allow_restricted=allow_restricted)


def account_of(
    request: Request[Any, Any, Any], backend: Backend, limiter: RateLimiter
) -> tuple[Session, Account]:
    """The number a request is about: query ``ctn`` (lkapi.js line 276 and every ``info/*``
    call), else header ``X-CTN`` (lkapi.js line 227), else the login's first number."""
    session = session_of(request, backend, limiter)
    ctn = request.query_params.get("ctn") or request.headers.get("x-ctn")
    if ctn:
        if not LOGIN.fullmatch(ctn):
            raise InvalidInput("Номер: 10 цифр")
        acc = backend.account_for(session, ctn)
    elif session.current_account_id:
        acc = backend.account(session.current_account_id)
    else:
        raise NotFound("К логину не привязано ни одного номера")
    return session, backend.touch(acc)


def login_param(request: Request[Any, Any, Any]) -> str:
    login = (request.query_params.get("login") or "").strip()
    if not LOGIN.fullmatch(login):
        raise InvalidInput("Логин: номер телефона из 10 цифр без 8 и +7")
    return login


async def body_of(request: Request[Any, Any, Any]) -> dict[str, Any]:
    raw = await request.body()
    if not raw.strip():
        return {}
    try:
        data = await request.json()
    except Exception:
        raise InvalidInput("Тело запроса не JSON") from None
    if not isinstance(data, dict):
        raise InvalidInput("Тело запроса должно быть объектом")
    return data


def text_field(data: dict[str, Any], name: str, required: bool = True) -> str:
    value = data.get(name)
    if value is None and not required:
        return ""
    if not isinstance(value, str) or (required and not value):
        raise InvalidInput(f"Поле {name} обязательно")
    return value


def query_field(request: Request[Any, Any, Any], name: str) -> str:
    value = (request.query_params.get(name) or "").strip()
    if not value:
        raise InvalidInput(f"Параметр {name} обязателен")
    return value


def date_param(request: Request[Any, Any, Any], *names: str) -> dt.date:
    """The first of ``names`` present, as a date (``2024-06-01`` or a timestamp)."""
    value = next((request.query_params.get(n) for n in names if request.query_params.get(n)), "")
    try:
        return dt.date.fromisoformat((value or "")[:10])
    except ValueError:
        raise InvalidInput(f"{names[0]}: дата в формате ГГГГ-ММ-ДД") from None
