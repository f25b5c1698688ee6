"""The Bashtel dialect: «Башинформсвязь»'s server-rendered HTML cabinet under ``/bashtel/``.

No JSON API: Russian HTML pages (Jinja2 templates in ``templates/bashtel/``), forms with
hidden CSRF fields, cookie sessions. Pages::

    GET  /login                 the form: login, password, last 3 digits of the account,
                                a captcha picture on an unknown device; POST /login ("Вход")
    GET  /captcha/<id>.png      the captcha picture (a real PNG from the domain)
    GET  /cabinet               «Состояние лицевого счёта»: balance, tariff, status
    GET  /detail?period=YYYY-MM spending detail of one billing period (a calendar month);
    GET  /detail/export?period=&format=pdf|xlsx   the same as a file
    GET  /tariff                current tariff, a change ordered for the next period, the
                                catalogue; POST /tariff/change {tariff_id}
    GET  /services              extra services; POST /services/order|cancel {service_id}
    GET  /block                 voluntary block while away; POST /block/quote {start, end}
                                (the cost, shown before confirming); POST /block/confirm;
                                POST /block/cancel
    GET  /pay                   top-up; POST /pay {amount, method} -> a code by SMS;
                                POST /pay/confirm {ticket, code}
    GET  /payments?from=&to=    payment history
    GET  /traffic?from=&to=     traffic downloaded / uploaded per day
    GET  /speedtest             speed test; POST /speedtest measures
    GET  /support               support chat and quality complaints; POST /support/send
    GET  /news                  news, offers, maintenance notices
    GET  /profile               the subscriber's profile
    POST /logout

Cookies (path ``/bashtel``): ``BTSESSID`` the session (the domain session token);
``bt_device`` a long-lived device id (180 days); ``bt_csrf`` the login form's double-submit
token. Inside the cabinet every form carries ``csrf_token`` (kept in the domain session's data).

Captcha: the cabinet asks for one on a device it does not know. The device cookie is issued on
the first visit of the login form and becomes known to the subscriber at a successful login
(``device_id.subscriber_id`` afterwards, so the form knows whom it remembers). The domain's
captcha policy decides (``captcha_needed``): with ``new_device``, a silent re-login from a
remembered device needs no captcha; failures, the sim ``captcha`` fault or ``always`` still
demand one. The last 3 digits choose the account (лицевой счёт) the session works on.

A session that expired (or a sim fault) sends any page to ``/login?expired=1``. Errors are the
cabinet's own HTML pages, never a traceback.

The package is split: :mod:`.wire` (constants, formats, pages, the cabinet of a request,
errors), :mod:`.auth` (login form, captcha, logout), :mod:`.account` (state, tariffs, services,
news, profile), :mod:`.detail` (spending detail and its export), :mod:`.block` (voluntary
block), :mod:`.payments`, :mod:`.traffic` (traffic, speed test), :mod:`.support` (chat).
Handlers are plain functions; the backend is injected (a Litestar dependency), so nothing
closes over the backend.
"""

from __future__ import annotations

import secrets
from typing import Any

from litestar import Router
from litestar.di import Provide

from ...backend import Backend
from ...domain.models import BulkAccount
from . import account, auth, block, detail, payments, support, traffic
from .wire import SESSION_COOKIE, error_response

__all__ = ["HANDLERS", "bulk_session", "error_response", "router"]

HANDLERS = [
    *auth.HANDLERS,
    *account.HANDLERS,
    *detail.HANDLERS,
    *block.HANDLERS,
    *payments.HANDLERS,
    *traffic.HANDLERS,
    *support.HANDLERS,
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
    """What the bashtel plugin keeps in Session.data for a bulk-created account."""
    session = backend.sessions[account.token]
    session.current_account_id = account.account_id
    session.data.setdefault("csrf", secrets.token_urlsafe(24))
    return {"cookies": {SESSION_COOKIE: account.token}, "persistent": {}}
