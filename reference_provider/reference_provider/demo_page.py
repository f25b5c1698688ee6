"""``GET /sim/demo``: the demo's crib sheet, in Russian, for a person at the dashboard.

The demo household's operator logins and passwords, the identity-provider accounts, the SMS and
e-mails the fake operator "sent" (one-time codes, temporary passwords) and the captchas it issued
with their answers: everything a person needs to finish a login in the dashboard by hand. Loopback
only, like the rest of the simulation API.
"""

from __future__ import annotations

import base64
import datetime as dt
from pathlib import Path
from typing import Any

import jinja2
from litestar import Response, get
from litestar.handlers import HTTPRouteHandler

from .backend import Backend
from .domain.catalogue import OPERATORS
from .domain.demo import IDP_PASSWORD

__all__ = ["demo_page"]

_env = jinja2.Environment(
    loader=jinja2.FileSystemLoader(Path(__file__).parent / "templates"),
    autoescape=jinja2.select_autoescape(["html"]),
)

IDP_NAMES = {
    "gosuslugi": "Госуслуги",
    "tbank": "Т-Банк",
    "vk": "VK ID",
    "ok": "Одноклассники",
    "mailru": "Почта Mail.ru",
}
PURPOSES = {
    "login": "код входа",
    "password_reset": "восстановление пароля",
    "temp_password": "временный пароль",
}
RECENT = 15


def _phone(digits: str | None) -> str:
    if not digits or len(digits) != 10:
        return digits or ""
    return f"+7 {digits[:3]} {digits[3:6]}-{digits[6:8]}-{digits[8:]}"


def _ago(then: dt.datetime, now: dt.datetime, speed: float) -> str:
    """How long ago, in real time (the billing clock may run faster)."""
    seconds = max(0, int((now - then).total_seconds() / max(speed, 1.0)))
    if seconds < 60:
        return f"{seconds} с назад"
    if seconds < 3600:
        return f"{seconds // 60} мин назад"
    return f"{seconds // 3600} ч назад"


def context(backend: Backend) -> dict[str, Any]:
    now = backend.now()
    speed = backend.clock.speed
    logins = []
    for sub in backend.subscribers.values():
        password = backend.demo_passwords.get(sub.id)
        if password is None:
            continue
        cfg = OPERATORS[sub.operator]
        logins.append(
            {
                "operator": cfg.name,
                "name": sub.full_name,
                "login": sub.login,
                "phone": _phone(sub.phone),
                "email": sub.email or "",
                "password": password,
                "temporary": sub.temp_password,
                "captcha": sub.captcha_policy in ("always", "new_device"),
                "accounts": [backend.accounts[a].number for a in sub.account_ids],
                "region": sub.region or "",
            }
        )
    idps = [
        {"provider": IDP_NAMES.get(ident.provider, ident.provider), "username": ident.username}
        for ident in backend.idp_identities.values()
    ]
    messages = [
        {
            "operator": OPERATORS[m.operator].name if m.operator in OPERATORS else m.operator,
            "channel": "SMS" if m.channel == "sms" else "e-mail",
            "destination": _phone(m.destination) if m.channel == "sms" else m.destination,
            "code": m.code,
            "purpose": PURPOSES.get(m.purpose, "подтверждение операции"),
            "text": m.text,
            "ago": _ago(m.sent_at, now, speed),
        }
        for m in reversed(backend.outbox[-RECENT:])
    ]
    captchas = [
        {
            "operator": OPERATORS[c.operator].name if c.operator in OPERATORS else c.operator,
            "answer": c.answer,
            "image": "data:image/png;base64," + base64.b64encode(c.png).decode(),
            "ago": _ago(c.created_at, now, speed),
        }
        for c in reversed(list(backend.captchas.values())[-RECENT:])
    ]
    return {
        "logins": logins,
        "idps": idps,
        "idp_password": IDP_PASSWORD,
        "messages": messages,
        "captchas": captchas,
        "speed": speed,
        "day_minutes": round(1440 / speed, 1) if speed > 1 else None,
        "now": now.strftime("%d.%m.%Y %H:%M"),
    }


def demo_page(backend: Backend) -> HTTPRouteHandler:
    """The handler of ``/demo`` (mounted under ``/sim``)."""

    @get("/demo", sync_to_thread=False, include_in_schema=False)
    def page() -> Response[str]:
        html = _env.get_template("demo.html").render(**context(backend))
        return Response(
            html, media_type="text/html; charset=utf-8", headers={"Cache-Control": "no-store"}
        )

    return page
