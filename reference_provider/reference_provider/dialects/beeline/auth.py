"""Beeline login: the token, the SMS temporary password, the offer to accept, the numbers of a
login and its contact data. Handlers get the backend and the rate limiter injected.

Citations (repository, path, line) are in ``reference_provider/DIALECTS.md`` (Beeline).
"""

from __future__ import annotations

import secrets
from typing import Any

from litestar import Request, Response, get, put, route
from litestar.params import FromPath

from ...domain.errors import InvalidCredentials, InvalidInput
from ...domain.models import Subscriber
from .wire import (
    OPERATOR,
    UNKNOWN_LOGIN,
    BackendDep,
    LimiterDep,
    body_of,
    error,
    login_param,
    ok,
    session_of,
    text_field,
)

__all__ = ["HANDLERS", "OFFER_PENDING"]

#: ``Subscriber.extra`` key: the subscriber has not accepted the terms of the app yet; the
#: next successful login answers ``offerUrl`` and a one-time ``token`` instead of the session
#: (lkapi.js lines 97-104: the client GETs ``offerUrl`` with header ``X-Offer-Token``).
OFFER_PENDING = "offer_pending"
_OFFER = "offer"


def _api_root(request: Request[Any, Any, Any]) -> str:
    """``http://host/beeline/api/`` as the client reached it."""
    url = str(request.url)
    return url[: url.index("/api/") + len("/api/")]


def _kind(kind: str) -> str:
    return {"internet": "FTTB", "tv": "TV", "landline": "LANDLINE", "bundle": "FMC"}.get(
        kind, "MOBILE"
    )


@put("/api/2.0/auth/auth", status_code=200)
async def auth(request: Request[Any, Any, Any], backend: BackendDep) -> Response[Any]:
    """``PUT 2.0/auth/auth?login=<ctn>&userType=Mobile`` with ``{"password": ...}``."""
    login = login_param(request)
    data = await body_of(request)
    password = text_field(data, "password")
    captcha_id = data.get("captchaId")
    captcha_text = data.get("captchaText")
    result = backend.login_password(
        OPERATOR,
        login,
        password,
        device=request.headers.get("x-device-id"),
        captcha_id=captcha_id if isinstance(captcha_id, str) else None,
        captcha_answer=captcha_text if isinstance(captcha_text, str) else None,
    )
    sub = result.subscriber
    if sub.extra.get(OFFER_PENDING):
        offer_token = secrets.token_hex(16)
        sub.extra[_OFFER] = {
            "token": offer_token,
            "session": result.session.token,
            "temp": result.must_change_password,
        }
        return ok(
            offerUrl=f"{_api_root(request)}1.0/offer/accept?subscriber={sub.id}",
            token=offer_token,
        )
    return ok(token=result.session.token, tempPassInd=result.must_change_password)


@get("/api/1.0/offer/accept", sync_to_thread=False)
def accept_offer(request: Request[Any, Any, Any], backend: BackendDep) -> Response[Any]:
    """The offer accepted (header ``X-Offer-Token``): the login's real answer follows."""
    sub_id = request.query_params.get("subscriber") or ""
    sub = backend.subscribers.get(sub_id)
    pending = sub.extra.get(_OFFER) if sub is not None else None
    given = request.headers.get("x-offer-token") or ""
    if (
        sub is None
        or not isinstance(pending, dict)
        or not secrets.compare_digest(given, str(pending.get("token", "")))
    ):
        raise InvalidCredentials()
    sub.extra.pop(_OFFER, None)
    sub.extra[OFFER_PENDING] = False
    return ok(token=pending["session"], tempPassInd=bool(pending.get("temp")))


@route("/api/2.0/auth/auth", http_method=["DELETE"], status_code=200)
async def logout(
    request: Request[Any, Any, Any], backend: BackendDep, limiter: LimiterDep
) -> Response[Any]:
    session = session_of(request, backend, limiter, allow_restricted=True)
    backend.logout(session.token)
    return ok()


@route("/api/1.0/passReset", http_method=["GET", "POST"], status_code=200, sync_to_thread=False)
def pass_reset(request: Request[Any, Any, Any], backend: BackendDep) -> Response[Any]:
    """``GET 1.0/passReset?login=<ctn>&channelType=CTN`` -> ``channel`` (lkapi.js 977-978)."""
    login = login_param(request)
    sub = backend.find_subscriber(OPERATOR, login)
    if sub is None:
        return error(UNKNOWN_LOGIN)
    channel = (request.query_params.get("channelType") or "CTN").upper()
    if channel not in ("CTN", "SMS"):
        raise InvalidInput("channelType: CTN")
    backend.issue_temp_password(sub, "sms")
    phone = sub.phone or login
    return ok(channel="SMS", ctnMask=f"+7 {phone[:3]} ***-**-{phone[-2:]}")


@put("/api/1.0/setting/changePassword", status_code=200)
async def change_password(
    request: Request[Any, Any, Any], backend: BackendDep, limiter: LimiterDep
) -> Response[Any]:
    """``PUT 1.0/setting/changePassword?login=&newPassword=`` after a temporary password
    (lkapi.js line 986: the query carries them, no body). A body with ``oldPassword`` and
    ``newPassword`` changes a permanent password."""
    session = session_of(request, backend, limiter, allow_restricted=True)
    data = await body_of(request)
    new = request.query_params.get("newPassword") or text_field(data, "newPassword", False)
    if not new:
        raise InvalidInput("Параметр newPassword обязателен")
    old = data.get("oldPassword")
    if isinstance(old, str) and old:
        backend.change_password(session, old, new)
    else:
        backend.replace_temporary_password(session, new)
    return ok()


@get("/api/1.0/captcha/{name:str}", sync_to_thread=False)
def captcha_image(name: FromPath[str], backend: BackendDep) -> Response[Any]:
    captcha = backend.captcha(name.removesuffix(".png"))
    return Response(captcha.png, media_type="image/png", headers={"Cache-Control": "no-store"})


def _login_subscriber(
    request: Request[Any, Any, Any], backend: BackendDep, limiter: LimiterDep
) -> Subscriber:
    """The session's subscriber; ``login`` (when given) must be that subscriber's."""
    session = session_of(request, backend, limiter)
    sub = backend.subscriber(session.subscriber_id)
    login = request.query_params.get("login")
    if login and login != sub.login:
        raise InvalidCredentials()
    return sub


@get("/api/1.0/sso/list", sync_to_thread=False)
def sso_list(
    request: Request[Any, Any, Any], backend: BackendDep, limiter: LimiterDep
) -> Response[Any]:
    """``1.0/sso/list?login=`` -> ``ssoAccountList[].name`` (lkapi.js lines 195-196)."""
    sub = _login_subscriber(request, backend, limiter)
    return ok(ssoAccountList=[{"name": sub.login, "type": "MOBILE"}])


@get("/api/1.0/sso/subscribers", sync_to_thread=False)
def subscribers(
    request: Request[Any, Any, Any], backend: BackendDep, limiter: LimiterDep
) -> Response[Any]:
    """``1.0/sso/subscribers?login=`` -> ``subscribers[].ctn``, ``ctnDefault``
    (lkapi.js lines 208-245)."""
    sub = _login_subscriber(request, backend, limiter)
    accounts = [acc for acc in backend.accounts_of(sub.id) if not acc.closed]
    return ok(
        subscribers=[
            {
                "ctn": acc.number,
                "ctnDefault": i == 0,
                "name": acc.label,
                "accountType": _kind(acc.kind),
            }
            for i, acc in enumerate(accounts)
        ]
    )


@get("/api/1.0/sso/contactData", sync_to_thread=False)
def contact_data(
    request: Request[Any, Any, Any], backend: BackendDep, limiter: LimiterDep
) -> Response[Any]:
    """``1.0/sso/contactData?login=`` -> ``firstName``, ``lastName``, ``invoiceAddr``,
    ``market``, ``ban`` (lkapi.js lines 431-449); ``email`` is assumed."""
    sub = _login_subscriber(request, backend, limiter)
    data = backend.profile(sub)
    parts = (data["full_name"] or "").split()
    first = " ".join(parts[1:]) if len(parts) > 1 else (parts[0] if parts else "")
    last = parts[0] if len(parts) > 1 else ""
    return ok(
        firstName=first,
        lastName=last,
        invoiceAddr=data["address"],
        market="MOSCOW",
        ban=data["account_number"],
        email=data["email"],
    )


HANDLERS = [
    auth,
    accept_offer,
    logout,
    pass_reset,
    change_password,
    captcha_image,
    sso_list,
    subscribers,
    contact_data,
]
