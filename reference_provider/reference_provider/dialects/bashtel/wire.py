"""The Bashtel cabinet's shared parts: constants, Russian formats, page rendering, the cabinet
of a request (its session, subscriber and account; a form with its CSRF token checked), dates
and periods from forms, and every error as a page of the cabinet.
"""

from __future__ import annotations

import datetime as dt
import secrets
from dataclasses import dataclass
from pathlib import Path
from typing import Any, TypeAlias

import jinja2
from litestar import Request, Response
from litestar.datastructures import Cookie
from litestar.di import NamedDependency
from litestar.exceptions import HTTPException, ValidationException

from ...backend import Backend
from ...domain.clock import MSK
from ...domain.errors import AuthFailure, DomainError, InvalidInput, SessionExpired
from ...domain.models import Account, Session, Subscriber
from ...domain.money import format_rub

OPERATOR = "bashtel"
BASE = "/bashtel"
SESSION_COOKIE = "BTSESSID"
DEVICE_COOKIE = "bt_device"
CSRF_COOKIE = "bt_csrf"
DEVICE_MAX_AGE = 180 * 24 * 3600
HTML = "text/html; charset=utf-8"
TEMPLATES = Path(__file__).resolve().parents[1] / "templates"

_env = jinja2.Environment(
    loader=jinja2.FileSystemLoader(TEMPLATES),
    autoescape=jinja2.select_autoescape(["html"]),
    trim_blocks=True,
    lstrip_blocks=True,
)
CSS = (TEMPLATES / "bashtel" / "cabinet.css").read_bytes()


_MONTHS = (
    "Январь", "Февраль", "Март", "Апрель", "Май", "Июнь", "Июль", "Август", "Сентябрь",
    "Октябрь", "Ноябрь", "Декабрь",
)  # fmt: skip

BackendDep: TypeAlias = NamedDependency[Backend]


# -- formatting -------------------------------------------------------------------------------
def fmt_date(day: dt.date) -> str:
    return day.strftime("%d.%m.%Y")


def fmt_datetime(moment: dt.datetime) -> str:
    return moment.astimezone(MSK).strftime("%d.%m.%Y %H:%M")


def plain(kopecks: int) -> str:
    """``1 234,56`` (no currency sign: the column says ₽)."""
    return format_rub(kopecks).replace("\u00a0₽", "")


def fmt_bytes(count: int) -> str:
    size = float(count)
    for unit in ("Б", "КБ", "МБ", "ГБ"):
        if size < 1024 or unit == "ГБ":
            return f"{size:.2f} {unit}".replace(".", ",") if unit != "Б" else f"{count} Б"
        size /= 1024
    return f"{count} Б"  # pragma: no cover


def fmt_phone(digits: str | None) -> str:
    if not digits or len(digits) != 10:
        return digits or ""
    return f"+7 ({digits[:3]}) {digits[3:6]}-{digits[6:8]}-{digits[8:]}"


def iso_date(value: Any, field: str) -> dt.date:
    try:
        return dt.date.fromisoformat(str(value or "").strip())
    except ValueError:
        raise InvalidInput(f"{field}: укажите дату в формате ГГГГ-ММ-ДД") from None


def month_title(day: dt.date) -> str:
    return f"{_MONTHS[day.month - 1]} {day.year}"


# -- pages ------------------------------------------------------------------------------------
def render(template: str, status: int = 200, **context: Any) -> Response[str]:
    context.setdefault("base", BASE)
    context.setdefault("flashes", [])
    context.setdefault("me", None)
    html = _env.get_template(f"bashtel/{template}").render(**context)
    return Response(
        html, status_code=status, media_type=HTML, headers={"Cache-Control": "no-store"}
    )


def error_page(status: int, heading: str, message: str) -> Response[str]:
    return render(
        "error.html", status, title=heading, heading=heading, message=message, http_status=status
    )


def redirect(path: str, cookies: list[Cookie] | None = None) -> Response[str]:
    return Response(
        "",
        status_code=303,
        headers={"Location": f"{BASE}{path}", "Cache-Control": "no-store"},
        cookies=cookies or [],
        media_type=HTML,
    )


def cookie(key: str, value: str, max_age: int | None = None) -> Cookie:
    return Cookie(key=key, value=value, path=BASE, httponly=True, samesite="lax", max_age=max_age)


@dataclass
class Cabinet:
    """What every cabinet page needs: the session, the subscriber, the chosen account."""

    session: Session
    sub: Subscriber
    acc: Account

    def context(self, backend: Backend, page: str, title: str) -> dict[str, Any]:
        flashes = self.session.data.pop("flashes", [])
        return {
            "page": page,
            "title": title,
            "me": {"full_name": self.sub.full_name, "account_number": self.acc.number},
            "csrf": self.session.data["csrf"],
            "flashes": flashes,
            "now": fmt_datetime(backend.now()),
            "now_iso": backend.now().isoformat(timespec="seconds"),
            "today_iso": backend.clock.today().isoformat(),
        }

    def flash(self, kind: str, text: str) -> None:
        self.session.data.setdefault("flashes", []).append({"kind": kind, "text": text})


# -- the cabinet of a request -------------------------------------------------------------
def cabinet(request: Request[Any, Any, Any], backend: Backend) -> Cabinet:
    """The logged-in cabinet, or SessionExpired (the handler redirects to the form)."""
    session = backend.session(request.cookies.get(SESSION_COOKIE), operator=OPERATOR)
    sub = backend.subscriber(session.subscriber_id)
    acc = backend.account_for(session, session.current_account_id or "")
    backend.touch(acc)
    session.data.setdefault("csrf", secrets.token_urlsafe(24))
    return Cabinet(session, sub, acc)


async def form(request: Request[Any, Any, Any]) -> dict[str, str]:
    data = await request.form()
    return {str(k): str(v) for k, v in data.items()}


async def posted(
    request: Request[Any, Any, Any], backend: Backend
) -> tuple[Cabinet, dict[str, str]]:
    """A cabinet form submission with a valid CSRF token."""
    cab = cabinet(request, backend)
    fields = await form(request)
    if not secrets.compare_digest(fields.get("csrf_token", ""), cab.session.data["csrf"]):
        raise CsrfError()
    return cab, fields


def window(
    backend: Backend, since: str | None, until: str | None, default_days: int
) -> tuple[dt.date, dt.date]:
    today = backend.clock.today()
    end = iso_date(until, "Дата окончания") if until else today
    start = iso_date(since, "Дата начала") if since else end - dt.timedelta(days=default_days)
    if end < start:
        raise InvalidInput("Дата окончания раньше даты начала")
    if (end - start).days > 366:
        raise InvalidInput("Период не может быть длиннее года")
    return start, end


class CsrfError(Exception):
    """A cabinet form came without the page's CSRF token (stale or forged)."""


def error_response(request: Request[Any, Any, Any], exc: Exception) -> Response[str]:
    """Every error as a page of the cabinet (or the way back to the login form)."""
    if isinstance(exc, AuthFailure | SessionExpired):
        return redirect("/login?expired=1", [cookie(SESSION_COOKIE, "", 0)])
    if isinstance(exc, CsrfError):
        return error_page(
            403,
            "Срок действия страницы истёк",
            "Форма устарела или отправлена не со страницы кабинета. Обновите страницу и "
            "повторите действие.",
        )
    if isinstance(exc, DomainError):
        return error_page(exc.status if exc.status < 500 else 400, "Ошибка", exc.message)
    if isinstance(exc, ValidationException):
        return error_page(400, "Ошибка в запросе", "Проверьте введённые данные.")
    if isinstance(exc, HTTPException):
        if exc.status_code == 404:
            return error_page(404, "Страница не найдена", "Такой страницы в кабинете нет.")
        if exc.status_code == 405:
            return error_page(405, "Действие недоступно", "Этот адрес так не открывается.")
        return error_page(exc.status_code, "Ошибка", "Запрос не может быть выполнен.")
    return error_page(
        500, "Технические работы", "Сервис временно недоступен. Повторите попытку позже."
    )
