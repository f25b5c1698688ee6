"""The NetByNet dialect: «Нетбайнет» (Wifire)'s cabinet JSON API under ``/netbynet/api/``.

Shaped like the real ``my.wifire.ru/api/`` as independent clients use it (every endpoint's
citation: ``reference_provider/DIALECTS.md``, NetByNet)::

    GET  v1/get-way?accountNumber=          before the login (AnyBalance main.js line 94)
    POST v3/login {login, password, captchaCode, save, accountNumber, deviceInfo{loginType}}
                                            success: ``{}`` (+ ``needChangePassword``), cookie
                                            AUTHORIZATION (a quoted value); failure:
                                            ``{captcha, resultCode, resultText}``: 5 wrong
                                            number or password, 8 repeat with a captcha code
    GET  v2/captcha-challenge?accountNumber=&time=   the captcha picture (PNG)
    GET  v1/get-balance                     accountBalance, statusCode (0 active, 1 not
                                            activated, 2/1002 financial block, 3/1003 blocked,
                                            4 deleted)
    GET  v1|v2/get-balance-details          bonusBalance (-1 = none), nextPayment,
                                            nextPaymentDate
    GET  v1|v2/get-internet-accounts-details internetAccounts[].tariffPlan.name, statusName
    GET  v1/get-profile-info                contacts.fullName, number;  v2: fullName, id
    GET  /logout                            (outside /api/)

Assumed or from the seed only (no independent client shows them): the password change and
recovery, tariffs, services, payments and charges, top-up, autopay, promotions, notices,
support requests and the voluntary block (``v1/...`` below).

A successful reply carries no ``resultCode`` (AnyBalance main.js line 81 throws on any
``resultCode`` but 8, and 8 means "repeat with a captcha"); an error names itself with
``resultCode`` and ``resultText``. Codes besides 5 and 8 are assumed: 13 locked, 20 not
authorised (HTTP 401), 21 password change required, 30 bad request, 31 rejected, 32 not
found, 33 wrong code, 99 internal error (HTTP 500). Money is in roubles as JSON numbers; dates
are ISO.

The voluntary block is a request the operator approves (2 hours later on the billing clock);
it is free for 60 days, then a daily fee. The cost is calculated before the user confirms.

The package is split: :mod:`.wire` (format, errors, cookies), :mod:`.auth` (login, password),
:mod:`.account` (balance, profile, tariffs, services), :mod:`.payments`, :mod:`.support`
(promotions, notices, requests), :mod:`.block` (voluntary block). Handlers are plain functions;
the backend is injected (a Litestar dependency), so nothing closes over the backend.
"""

from __future__ import annotations

from typing import Any

from litestar import Router
from litestar.di import Provide

from ...backend import Backend
from ...domain.models import BulkAccount
from . import account, auth, block, payments, support
from .wire import RESULT, SESSION_COOKIE, error_response

__all__ = ["HANDLERS", "RESULT", "bulk_session", "error_response", "router"]

HANDLERS = [
    *auth.HANDLERS,
    *account.HANDLERS,
    *payments.HANDLERS,
    *support.HANDLERS,
    *block.HANDLERS,
]


def router(backend: Backend) -> Router:
    """The dialect's routes; the backend is injected into every handler (a dependency)."""
    return Router(
        path="/",
        route_handlers=HANDLERS,
        dependencies={"backend": Provide(lambda: backend, use_cache=True, sync_to_thread=False)},
        exception_handlers={Exception: error_response},
    )


def bulk_session(backend: Backend, account: BulkAccount) -> dict[str, Any]:
    """What the netbynet plugin keeps in Session.data for a bulk-created account."""
    backend.sessions[account.token].current_account_id = account.account_id
    return {"cookies": {SESSION_COOKIE: account.token}}
