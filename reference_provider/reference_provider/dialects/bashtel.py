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
"""

from __future__ import annotations

import datetime as dt
import random
import secrets
from dataclasses import dataclass
from decimal import Decimal
from pathlib import Path
from typing import TYPE_CHECKING, Any
from urllib.parse import quote

import jinja2
from litestar import Request, Response, Router, get, post
from litestar.datastructures import Cookie
from litestar.exceptions import HTTPException, ValidationException

from ..domain.clock import MSK, first_of_next_month
from ..domain.errors import (
    AccountLocked,
    AuthFailure,
    CaptchaRequired,
    CodeInvalid,
    DomainError,
    InvalidCredentials,
    InvalidInput,
    NotFound,
    SessionExpired,
)
from ..domain.models import Account, BulkAccount, Captcha, Session, Subscriber
from ..domain.money import format_rub, kop, rub

if TYPE_CHECKING:
    from ..backend import Backend

__all__ = ["bulk_session", "error_response", "router"]

OPERATOR = "bashtel"
BASE = "/bashtel"
SESSION_COOKIE = "BTSESSID"
DEVICE_COOKIE = "bt_device"
CSRF_COOKIE = "bt_csrf"
DEVICE_MAX_AGE = 180 * 24 * 3600
HTML = "text/html; charset=utf-8"

_env = jinja2.Environment(
    loader=jinja2.FileSystemLoader(Path(__file__).parent / "templates"),
    autoescape=jinja2.select_autoescape(["html"]),
    trim_blocks=True,
    lstrip_blocks=True,
)
_CSS = (Path(__file__).parent / "templates" / "bashtel" / "cabinet.css").read_bytes()

_MONTHS = (
    "Январь", "Февраль", "Март", "Апрель", "Май", "Июнь", "Июль", "Август", "Сентябрь",
    "Октябрь", "Ноябрь", "Декабрь",
)  # fmt: skip
_STATUS_TEXT = {
    "active": "Активен",
    "blocked": "Заблокирован: недостаточно средств",
    "suspended": "Добровольная блокировка",
    "closed": "Договор расторгнут",
}
_BLOCK_TEXT = {
    "requested": "Заявка на добровольную блокировку рассматривается",
    "scheduled": "Добровольная блокировка запланирована",
    "active": "Лицевой счёт добровольно заблокирован",
}
_NEWS_KIND = {"news": "Новость", "offer": "Акция", "maintenance": "Профилактические работы"}
_PAYMENT_KIND = {"payment": "Платёж", "autopay": "Автоплатёж", "adjustment": "Корректировка"}
_AUTHOR = {"user": "Вы", "bot": "Бот-помощник", "agent": "Консультант"}


# -- formatting -------------------------------------------------------------------------------
def _d(day: dt.date) -> str:
    return day.strftime("%d.%m.%Y")


def _dt(moment: dt.datetime) -> str:
    return moment.astimezone(MSK).strftime("%d.%m.%Y %H:%M")


def _plain(kopecks: int) -> str:
    """``1 234,56`` (no currency sign: the column says ₽)."""
    return format_rub(kopecks).replace("\u00a0₽", "")


def _bytes(count: int) -> str:
    size = float(count)
    for unit in ("Б", "КБ", "МБ", "ГБ"):
        if size < 1024 or unit == "ГБ":
            return f"{size:.2f} {unit}".replace(".", ",") if unit != "Б" else f"{count} Б"
        size /= 1024
    return f"{count} Б"  # pragma: no cover


def _phone(digits: str | None) -> str:
    if not digits or len(digits) != 10:
        return digits or ""
    return f"+7 ({digits[:3]}) {digits[3:6]}-{digits[6:8]}-{digits[8:]}"


def _iso_date(value: Any, field: str) -> dt.date:
    try:
        return dt.date.fromisoformat(str(value or "").strip())
    except ValueError:
        raise InvalidInput(f"{field}: укажите дату в формате ГГГГ-ММ-ДД") from None


def _month_title(day: dt.date) -> str:
    return f"{_MONTHS[day.month - 1]} {day.year}"


# -- pages ------------------------------------------------------------------------------------
def _render(template: str, status: int = 200, **context: Any) -> Response[str]:
    context.setdefault("base", BASE)
    context.setdefault("flashes", [])
    context.setdefault("me", None)
    html = _env.get_template(f"bashtel/{template}").render(**context)
    return Response(
        html, status_code=status, media_type=HTML, headers={"Cache-Control": "no-store"}
    )


def _error_page(status: int, heading: str, message: str) -> Response[str]:
    return _render(
        "error.html", status, title=heading, heading=heading, message=message, http_status=status
    )


def _redirect(path: str, cookies: list[Cookie] | None = None) -> Response[str]:
    return Response(
        "",
        status_code=303,
        headers={"Location": f"{BASE}{path}", "Cache-Control": "no-store"},
        cookies=cookies or [],
        media_type=HTML,
    )


def _cookie(key: str, value: str, max_age: int | None = None) -> Cookie:
    return Cookie(key=key, value=value, path=BASE, httponly=True, samesite="lax", max_age=max_age)


@dataclass
class _Cabinet:
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
            "now": _dt(backend.now()),
            "now_iso": backend.now().isoformat(timespec="seconds"),
            "today_iso": backend.clock.today().isoformat(),
        }

    def flash(self, kind: str, text: str) -> None:
        self.session.data.setdefault("flashes", []).append({"kind": kind, "text": text})


def router(backend: Backend) -> Router:
    # -- helpers bound to this backend ------------------------------------------------------
    def cabinet(request: Request[Any, Any, Any]) -> _Cabinet:
        """The logged-in cabinet, or SessionExpired (the handler redirects to the form)."""
        session = backend.session(request.cookies.get(SESSION_COOKIE), operator=OPERATOR)
        sub = backend.subscriber(session.subscriber_id)
        acc = backend.account_for(session, session.current_account_id or "")
        backend.touch(acc)
        session.data.setdefault("csrf", secrets.token_urlsafe(24))
        return _Cabinet(session, sub, acc)

    async def form(request: Request[Any, Any, Any]) -> dict[str, str]:
        data = await request.form()
        return {str(k): str(v) for k, v in data.items()}

    async def posted(request: Request[Any, Any, Any]) -> tuple[_Cabinet, dict[str, str]]:
        """A cabinet form submission with a valid CSRF token."""
        cab = cabinet(request)
        fields = await form(request)
        if not secrets.compare_digest(fields.get("csrf_token", ""), cab.session.data["csrf"]):
            raise _CsrfError()
        return cab, fields

    def device_of(request: Request[Any, Any, Any]) -> tuple[str | None, Subscriber | None]:
        """The device id from the cookie, and the subscriber it is remembered for."""
        raw = request.cookies.get(DEVICE_COOKIE) or ""
        device, _, sub_id = raw.partition(".")
        if not device:
            return None, None
        sub = backend.subscribers.get(sub_id) if sub_id else None
        if sub is not None and sub.operator != OPERATOR:
            sub = None
        return device, sub

    def failures_gate(login: str, device: str | None, fields: dict[str, str]) -> None:
        """After failed attempts the cabinet asks for a captcha even on a known device.

        The domain's ``new_device`` policy looks at the device only; this adds Bashtel's rule
        on top: from ``captcha_after`` failures on, the form must carry a solved captcha.
        """
        sub = backend.find_subscriber(OPERATOR, login, "login")
        if sub is None or backend.captcha_needed(sub, device):
            return  # the domain's own gate decides
        if sub.failed_attempts < backend.operator(OPERATOR).captcha_after:
            return
        captcha_id = fields.get("captcha_id")
        if not captcha_id:
            raise CaptchaRequired(backend.new_captcha(OPERATOR))
        if not backend.check_captcha(captcha_id, fields.get("captcha")):
            raise CaptchaRequired(backend.new_captcha(OPERATOR), wrong=True)
        fields.pop("captcha_id", None)  # spent: the domain must not check it again

    def captcha_wanted(sub: Subscriber, device: str) -> bool:
        if backend.captcha_needed(sub, device):
            return True
        return sub.failed_attempts >= backend.operator(OPERATOR).captcha_after

    def login_form(
        request: Request[Any, Any, Any],
        *,
        status: int = 200,
        error: DomainError | None = None,
        captcha: Captcha | None = None,
        notice: str | None = None,
        values: dict[str, str] | None = None,
    ) -> Response[str]:
        device, remembered = device_of(request)
        cookies: list[Cookie] = []
        if device is None:
            device = secrets.token_urlsafe(16)
            cookies.append(_cookie(DEVICE_COOKIE, device, DEVICE_MAX_AGE))
        csrf = request.cookies.get(CSRF_COOKIE) or secrets.token_urlsafe(24)
        cookies.append(_cookie(CSRF_COOKIE, csrf))
        if captcha is None and (remembered is None or captcha_wanted(remembered, device)):
            captcha = backend.new_captcha(OPERATOR)
        values = values or {}
        response = _render(
            "login.html",
            status,
            page="login",
            title="Вход в личный кабинет",
            csrf=csrf,
            notice=notice,
            error=error.message if error else None,
            error_code=error.code if error else "",
            captcha={"id": captcha.id, "width": 160, "height": 60} if captcha else None,
            login_value=values.get("login", ""),
            ls3_value=values.get("ls3", ""),
        )
        response.cookies.extend(cookies)
        return response

    # -- login ------------------------------------------------------------------------------
    @get("/", sync_to_thread=False)
    def root() -> Response[str]:
        return _redirect("/cabinet")

    @get("/login", sync_to_thread=False)
    def login_page(request: Request[Any, Any, Any]) -> Response[str]:
        expired = request.query_params.get("expired")
        notice = "Сеанс работы истёк. Войдите заново." if expired else None
        return login_form(request, notice=notice)

    @post("/login")
    async def login(request: Request[Any, Any, Any]) -> Response[str]:
        fields = await form(request)
        values = {"login": fields.get("login", "").strip(), "ls3": fields.get("ls3", "").strip()}
        cookie_csrf = request.cookies.get(CSRF_COOKIE) or ""
        if not cookie_csrf or not secrets.compare_digest(fields.get("csrf_token", ""), cookie_csrf):
            error = DomainError("Срок действия формы истёк. Повторите вход.")
            error.code = "csrf"
            return login_form(request, status=403, error=error, values=values)
        if not values["login"] or not fields.get("password") or not values["ls3"]:
            return login_form(
                request,
                status=400,
                error=InvalidInput("Заполните логин, пароль и три цифры лицевого счёта"),
                values=values,
            )
        if not (len(values["ls3"]) == 3 and values["ls3"].isdigit()):
            return login_form(
                request,
                status=400,
                error=InvalidInput("Введите три последние цифры номера лицевого счёта"),
                values=values,
            )
        device, _ = device_of(request)
        try:
            failures_gate(values["login"], device, fields)
            result = backend.login_password(
                OPERATOR,
                values["login"],
                fields.get("password", ""),
                kind="login",
                device=device,
                captcha_id=fields.get("captcha_id") or None,
                captcha_answer=fields.get("captcha") if fields.get("captcha_id") else None,
                account_digits=values["ls3"],
            )
        except CaptchaRequired as exc:
            return login_form(request, status=401, error=exc, captcha=exc.captcha, values=values)
        except (InvalidCredentials, AccountLocked) as exc:
            if isinstance(exc, InvalidCredentials):
                exc = InvalidCredentials(
                    "Неверный логин, пароль или номер лицевого счёта"
                )  # fmt: skip
            return login_form(request, status=401, error=exc, values=values)
        session = result.session
        digits = values["ls3"]
        chosen = next(
            (a for a in backend.accounts_of(result.subscriber.id) if a.number.endswith(digits)),
            None,
        )
        if chosen is None:  # pragma: no cover - login_password checked the digits
            raise NotFound("Лицевой счёт не найден")
        session.current_account_id = chosen.id
        session.data["csrf"] = secrets.token_urlsafe(24)
        cookies = [_cookie(SESSION_COOKIE, session.token)]
        if device:
            cookies.append(
                _cookie(DEVICE_COOKIE, f"{device}.{result.subscriber.id}", DEVICE_MAX_AGE)
            )
        return _redirect("/cabinet", cookies)

    @get("/captcha/{name:str}", sync_to_thread=False)
    def captcha_image(request: Request[Any, Any, Any]) -> Response[bytes]:
        captcha_id = str(request.path_params["name"]).removesuffix(".png")
        try:
            png = backend.captcha(captcha_id).png
        except NotFound:
            return Response(b"", status_code=404, media_type="image/png")
        return Response(png, media_type="image/png", headers={"Cache-Control": "no-store"})

    @get("/static/cabinet.css", sync_to_thread=False)
    def css() -> Response[bytes]:
        return Response(_CSS, media_type="text/css", headers={"Cache-Control": "max-age=3600"})

    @post("/logout")
    async def logout(request: Request[Any, Any, Any]) -> Response[str]:
        cab, _ = await posted(request)
        backend.logout(cab.session.token)
        return _redirect("/login", [_cookie(SESSION_COOKIE, "", 0)])

    # -- the account state ------------------------------------------------------------------
    @get("/cabinet", sync_to_thread=False)
    def cabinet_page(request: Request[Any, Any, Any]) -> Response[str]:
        cab = cabinet(request)
        acc = cab.acc
        balance = backend.balance(acc)
        status = backend.status(acc)
        due, amount = backend.next_payment(acc)
        block = backend.current_suspension(acc)
        suspension = None
        if block is not None:
            suspension = {
                "start": _d(block.start),
                "start_iso": block.start.isoformat(),
                "end": _d(block.last_day),
                "end_iso": block.last_day.isoformat(),
                "status_text": {
                    "requested": "заявка рассматривается",
                    "scheduled": "запланирована",
                    "active": "действует",
                }.get(block.status(backend.now()), ""),
            }
        notices = [n for n in backend.news(OPERATOR) if n.kind == "maintenance"]
        return _render(
            "cabinet.html",
            **cab.context(backend, "cabinet", "Состояние лицевого счёта"),
            account={
                "number": acc.number,
                "address": acc.address,
                "balance": format_rub(balance),
                "negative": balance < 0,
                "credit_limit": format_rub(acc.credit_limit) if acc.credit_limit else None,
                "bonus": format_rub(acc.bonus) if acc.bonus is not None else None,
                "tariff_name": backend.tariff_of(acc).name,
                "status_text": _STATUS_TEXT[status],
                "next_charge": {
                    "amount": format_rub(amount),
                    "date": _d(due),
                    "date_iso": due.isoformat(),
                },
                "suspension": suspension,
            },
            notices=notices,
        )

    # -- spending detail ----------------------------------------------------------------------
    def periods(acc: Account) -> list[dt.date]:
        """First days of the billing periods one may detail: the last 12 since the opening."""
        today = backend.clock.today().replace(day=1)
        opened = acc.opened.replace(day=1)
        out: list[dt.date] = []
        month = today
        while month >= opened and len(out) < 12:
            out.append(month)
            month = (month - dt.timedelta(days=1)).replace(day=1)
        return out

    def chosen_period(acc: Account, value: str | None) -> dt.date:
        options = periods(acc)
        if not value:
            return options[0]
        try:
            month = dt.date.fromisoformat(f"{value.strip()}-01")
        except ValueError:
            raise InvalidInput("Расчётный период указан неверно") from None
        if month not in options:
            raise NotFound("Детализация за этот расчётный период недоступна")
        return month

    @get("/detail", sync_to_thread=False)
    def detail(request: Request[Any, Any, Any]) -> Response[str]:
        cab = cabinet(request)
        start = chosen_period(cab.acc, request.query_params.get("period"))
        end = first_of_next_month(start) - dt.timedelta(days=1)
        entries = backend.ledger(cab.acc, start, end)
        rows = [
            {
                "date": _d(e.at.date()),
                "date_iso": e.at.date().isoformat(),
                "description": e.description,
                "amount": _plain(e.amount),
            }
            for e in entries
        ]
        return _render(
            "detail.html",
            **cab.context(backend, "detail", "Детализация расходов"),
            periods=[
                {"value": m.strftime("%Y-%m"), "title": _month_title(m)} for m in periods(cab.acc)
            ],
            period={
                "value": start.strftime("%Y-%m"),
                "start": _d(start),
                "end": _d(end),
                "start_iso": start.isoformat(),
                "end_iso": end.isoformat(),
            },
            rows=rows,
            charged=_plain(sum(e.amount for e in entries if e.amount < 0)),
            paid=_plain(sum(e.amount for e in entries if e.amount > 0)),
        )

    @get("/detail/export", sync_to_thread=False)
    def detail_export(request: Request[Any, Any, Any]) -> Response[bytes]:
        cab = cabinet(request)
        start = chosen_period(cab.acc, request.query_params.get("period"))
        format = request.query_params.get("format") or "pdf"
        end = first_of_next_month(start) - dt.timedelta(days=1)
        if format not in ("pdf", "xlsx"):
            raise InvalidInput("Формат файла: PDF или XLSX")
        report = backend.report(cab.acc, start, end, format)  # type: ignore[arg-type]
        return Response(
            report.content,
            media_type=report.media_type,
            headers={
                "Content-Disposition": f'attachment; filename="{report.filename}"; '
                f"filename*=UTF-8''{quote(report.filename)}",
                "Cache-Control": "no-store",
            },
        )

    # -- tariffs --------------------------------------------------------------------------------
    @get("/tariff", sync_to_thread=False)
    def tariff_page(request: Request[Any, Any, Any]) -> Response[str]:
        cab = cabinet(request)
        current = backend.tariff_of(cab.acc)
        pending = backend.pending_tariff(cab.acc)

        def view(t: Any) -> dict[str, Any]:
            return {"id": t.id, "name": t.name, "fee": format_rub(t.fee),
                    "description": t.description}  # fmt: skip

        return _render(
            "tariff.html",
            **cab.context(backend, "tariff", "Тарифный план"),
            current=view(current),
            pending=(
                {**view(pending[0]), "from": _d(pending[1]), "from_iso": pending[1].isoformat()}
                if pending
                else None
            ),
            catalogue=[view(t) for t in backend.available_tariffs(cab.acc)],
        )

    @post("/tariff/change")
    async def tariff_change(request: Request[Any, Any, Any]) -> Response[str]:
        cab, fields = await posted(request)
        try:
            change = backend.change_tariff(cab.acc, fields.get("tariff_id", ""))
        except DomainError as exc:
            cab.flash("error", exc.message)
        else:
            if change.tariff.id == cab.acc.tariff_id:
                cab.flash("success", "Переход на другой тарифный план отменён.")
            else:
                cab.flash(
                    "success",
                    f"Заявка принята: тарифный план «{change.tariff.name}» будет подключён "
                    f"с {_d(change.effective)}, с начала следующего расчётного периода.",
                )
        return _redirect("/tariff")

    # -- services -------------------------------------------------------------------------------
    @get("/services", sync_to_thread=False)
    def services_page(request: Request[Any, Any, Any]) -> Response[str]:
        cab = cabinet(request)
        rows = []
        for svc, enabled in backend.services(cab.acc):
            since = cab.acc.services.get(svc.id) if enabled else None
            rows.append(
                {
                    "id": svc.id,
                    "name": svc.name,
                    "description": svc.description,
                    "fee": format_rub(svc.fee),
                    "enabled": enabled,
                    "since": _d(since) if since else None,
                    "since_iso": since.isoformat() if since else None,
                    "can_toggle": svc.can_toggle,
                }
            )
        return _render("services.html", **cab.context(backend, "services", "Услуги"), services=rows)

    async def toggle(request: Request[Any, Any, Any], enabled: bool) -> Response[str]:
        cab, fields = await posted(request)
        try:
            change = backend.set_service(cab.acc, fields.get("service_id", ""), enabled)
        except DomainError as exc:
            cab.flash("error", exc.message)
        else:
            verb = "подключена" if enabled else "отключена"
            cab.flash("success", f"Услуга «{change.service.name}» {verb}.")
        return _redirect("/services")

    @post("/services/order")
    async def service_order(request: Request[Any, Any, Any]) -> Response[str]:
        return await toggle(request, True)

    @post("/services/cancel")
    async def service_cancel(request: Request[Any, Any, Any]) -> Response[str]:
        return await toggle(request, False)

    # -- voluntary block ------------------------------------------------------------------------
    def rules_view() -> dict[str, Any]:
        rule = backend.operator(OPERATOR).suspension
        if rule.free_days is None:
            text = rule.description or "Бесплатно на весь срок блокировки"
        else:
            text = (
                f"Первые {rule.free_days} дней бесплатно, далее {format_rub(rule.daily_fee)} "
                "в сутки"
            )
        return {
            "text": text,
            "free_days": "" if rule.free_days is None else rule.free_days,
            "daily_fee_plain": "" if rule.free_days is None else str(rub(rule.daily_fee)),
            "min_days": rule.min_days,
            "max_days": rule.max_days,
        }

    @get("/block", sync_to_thread=False)
    def block_page(request: Request[Any, Any, Any]) -> Response[str]:
        cab = cabinet(request)
        block = backend.current_suspension(cab.acc)
        view: dict[str, Any] = {"state": "none"}
        if block is not None:
            state = block.status(backend.now())
            view = {
                "state": state,
                "status_text": _BLOCK_TEXT.get(state, ""),
                "start": _d(block.start),
                "start_iso": block.start.isoformat(),
                "end": _d(block.last_day),
                "end_iso": block.last_day.isoformat(),
            }
        return _render(
            "block.html",
            **cab.context(backend, "block", "Добровольная блокировка"),
            block=view,
            rules=rules_view(),
        )

    @post("/block/quote")
    async def block_quote(request: Request[Any, Any, Any]) -> Response[str]:
        cab, fields = await posted(request)
        try:
            start = _iso_date(fields.get("start"), "Дата начала")
            end = _iso_date(fields.get("end"), "Дата окончания")
            if backend.current_suspension(cab.acc) is not None:
                raise InvalidInput("Добровольная блокировка уже оформлена")
            quote_ = backend.quote_suspension(cab.acc, start, end)
        except DomainError as exc:
            cab.flash("error", exc.message)
            return _redirect("/block")
        return _render(
            "block_quote.html",
            **cab.context(backend, "block", "Подтверждение блокировки"),
            quote={
                "start": _d(quote_.start),
                "start_iso": quote_.start.isoformat(),
                "end": _d(quote_.end),
                "end_iso": quote_.end.isoformat(),
                "days": quote_.days,
                "free_days": quote_.free_days,
                "paid_days": quote_.paid_days,
                "daily_fee": format_rub(quote_.daily_fee),
                "total": format_rub(quote_.total),
            },
            rules=rules_view(),
        )

    @post("/block/confirm")
    async def block_confirm(request: Request[Any, Any, Any]) -> Response[str]:
        cab, fields = await posted(request)
        try:
            start = _iso_date(fields.get("start"), "Дата начала")
            end = _iso_date(fields.get("end"), "Дата окончания")
            block = backend.request_suspension(cab.acc, start, end)
        except DomainError as exc:
            cab.flash("error", exc.message)
        else:
            if block.status(backend.now()) == "requested":
                text = (
                    f"Заявка на добровольную блокировку с {_d(block.start)} по {_d(block.end)} "
                    "принята. О её рассмотрении мы сообщим в личном кабинете."
                )
            else:
                text = f"Добровольная блокировка с {_d(block.start)} по {_d(block.end)} оформлена."
            cab.flash("success", text)
        return _redirect("/block")

    @post("/block/cancel")
    async def block_cancel(request: Request[Any, Any, Any]) -> Response[str]:
        cab, _ = await posted(request)
        try:
            backend.resume(cab.acc)
        except DomainError as exc:
            cab.flash("error", exc.message)
        else:
            cab.flash("success", "Добровольная блокировка снята.")
        return _redirect("/block")

    # -- payments -------------------------------------------------------------------------------
    @get("/pay", sync_to_thread=False)
    def pay_page(request: Request[Any, Any, Any]) -> Response[str]:
        cab = cabinet(request)
        return _render(
            "pay.html",
            **cab.context(backend, "pay", "Пополнение счёта"),
            account={"balance": format_rub(backend.balance(cab.acc))},
        )

    def confirm_page(cab: _Cabinet, ticket_id: str) -> Response[str]:
        ticket = backend.tickets[ticket_id]
        return _render(
            "pay_confirm.html",
            **cab.context(backend, "pay", "Подтверждение платежа"),
            payment={
                "amount": format_rub(int(ticket.params["amount"])),
                "channel": ticket.channel,
                "masked_destination": ticket.masked_destination,
                "ticket": ticket.id,
                "code_length": backend.operator(OPERATOR).code_length,
            },
        )

    @post("/pay")
    async def pay(request: Request[Any, Any, Any]) -> Response[str]:
        cab, fields = await posted(request)
        method = {"card": "Банковская карта", "emoney": "Электронные деньги"}.get(
            fields.get("method", "card"), "Банковская карта"
        )
        try:
            amount = kop(fields.get("amount", "").strip() or "x")
            params = {"amount": amount}
            if backend.needs_confirmation(cab.acc, "top_up", params):
                ticket = backend.start_operation(cab.session, cab.acc, "top_up", params, "sms")
                return confirm_page(cab, ticket.id)
            entry = backend.top_up(cab.acc, amount, method)
        except DomainError as exc:
            cab.flash("error", exc.message)
            return _redirect("/pay")
        cab.flash("success", f"Платёж на сумму {format_rub(entry.amount)} зачислен.")
        return _redirect("/payments")

    @post("/pay/confirm")
    async def pay_confirm(request: Request[Any, Any, Any]) -> Response[str]:
        cab, fields = await posted(request)
        ticket_id = fields.get("ticket", "")
        try:
            entry = backend.confirm_operation(cab.session, ticket_id, fields.get("code", ""))
        except CodeInvalid as exc:
            if ticket_id in backend.tickets:
                cab.flash("error", exc.message)
                return confirm_page(cab, ticket_id)
            cab.flash("error", exc.message)
            return _redirect("/pay")
        except DomainError as exc:
            cab.flash("error", exc.message)
            return _redirect("/pay")
        cab.flash(
            "success",
            f"Платёж на сумму {format_rub(entry.amount)} зачислен. "
            f"Баланс: {format_rub(backend.balance(cab.acc))}.",
        )
        return _redirect("/payments")

    def window(since: str | None, until: str | None, default_days: int) -> tuple[dt.date, dt.date]:
        today = backend.clock.today()
        end = _iso_date(until, "Дата окончания") if until else today
        start = _iso_date(since, "Дата начала") if since else end - dt.timedelta(days=default_days)
        if end < start:
            raise InvalidInput("Дата окончания раньше даты начала")
        if (end - start).days > 366:
            raise InvalidInput("Период не может быть длиннее года")
        return start, end

    @get("/payments", sync_to_thread=False)
    def payments_page(request: Request[Any, Any, Any]) -> Response[str]:
        cab = cabinet(request)
        since, until = window(request.query_params.get("from"), request.query_params.get("to"), 90)
        rows = [
            {
                "id": e.id,
                "at": _dt(e.at),
                "at_iso": e.at.isoformat(timespec="seconds"),
                "kind_text": _PAYMENT_KIND.get(e.kind, "Платёж"),
                "description": e.description,
                "amount": _plain(e.amount),
            }
            for e in reversed(backend.payments(cab.acc, since, until))
        ]
        return _render(
            "payments.html",
            **cab.context(backend, "payments", "История платежей"),
            since_iso=since.isoformat(),
            until_iso=until.isoformat(),
            rows=rows,
        )

    # -- traffic and speed ----------------------------------------------------------------------
    @get("/traffic", sync_to_thread=False)
    def traffic_page(request: Request[Any, Any, Any]) -> Response[str]:
        cab = cabinet(request)
        today = backend.clock.today()
        since, until = window(
            request.query_params.get("from") or today.replace(day=1).isoformat(),
            request.query_params.get("to"),
            0,
        )
        rows = []
        day = max(since, cab.acc.opened)
        while day <= min(until, today):
            t = backend.traffic(cab.acc, day, day)
            rows.append(
                {
                    "date": _d(day),
                    "date_iso": day.isoformat(),
                    "down": _bytes(t.downloaded),
                    "down_bytes": t.downloaded,
                    "up": _bytes(t.uploaded),
                    "up_bytes": t.uploaded,
                }
            )
            day += dt.timedelta(days=1)
        total = backend.traffic(cab.acc, since, until)
        return _render(
            "traffic.html",
            **cab.context(backend, "traffic", "Статистика трафика"),
            since_iso=since.isoformat(),
            until_iso=until.isoformat(),
            rows=rows,
            total={
                "down": _bytes(total.downloaded),
                "down_bytes": total.downloaded,
                "up": _bytes(total.uploaded),
                "up_bytes": total.uploaded,
            },
        )

    @get("/speedtest", sync_to_thread=False)
    def speedtest_page(request: Request[Any, Any, Any]) -> Response[str]:
        cab = cabinet(request)
        return _render(
            "speedtest.html",
            **cab.context(backend, "speedtest", "Замер скорости"),
            tariff_mbps=backend.tariff_of(cab.acc).speed_mbps,
            result=cab.session.data.get("speedtest"),
        )

    @post("/speedtest")
    async def speedtest(request: Request[Any, Any, Any]) -> Response[str]:
        cab, _ = await posted(request)
        speed = backend.tariff_of(cab.acc).speed_mbps or 10
        now = backend.now()
        rng = random.Random(f"{cab.acc.id}:{now.isoformat()}")
        down = Decimal(str(round(speed * rng.uniform(0.86, 0.98), 1)))
        up = Decimal(str(round(float(down) * rng.uniform(0.85, 0.95), 1)))
        cab.session.data["speedtest"] = {
            "at_iso": now.isoformat(timespec="seconds"),
            "down": str(down).replace(".", ","),
            "down_plain": str(down),
            "up": str(up).replace(".", ","),
            "up_plain": str(up),
            "ping": rng.randint(3, 12),
        }
        return _redirect("/speedtest")

    # -- support chat ---------------------------------------------------------------------------
    @get("/support", sync_to_thread=False)
    def support_page(request: Request[Any, Any, Any]) -> Response[str]:
        cab = cabinet(request)
        messages = [
            {
                "id": m.id,
                "author": m.author,
                "topic_id": m.topic_id,
                "author_name": m.author_name or _AUTHOR.get(m.author, ""),
                "sent_at": _dt(m.sent_at),
                "sent_at_iso": m.sent_at.isoformat(timespec="seconds"),
                "text": m.text,
            }
            for m in backend.chat_history(cab.acc)
        ]
        topics = [{"id": t.id, "title": t.title} for t in backend.chat_topics(OPERATOR)]
        return _render(
            "support.html",
            **cab.context(backend, "support", "Чат с поддержкой"),
            messages=messages,
            topics=topics,
        )

    @post("/support/send")
    async def support_send(request: Request[Any, Any, Any]) -> Response[str]:
        cab, fields = await posted(request)
        text = fields.get("text", "").strip()
        try:
            if not text:
                raise InvalidInput("Напишите сообщение")
            if len(text) > 2000:
                raise InvalidInput("Сообщение длиннее 2000 символов")
            backend.send_chat(cab.acc, fields.get("topic", ""), text)
        except DomainError as exc:
            cab.flash("error", exc.message)
        return _redirect("/support")

    # -- news and profile -------------------------------------------------------------------------
    @get("/news", sync_to_thread=False)
    def news_page(request: Request[Any, Any, Any]) -> Response[str]:
        cab = cabinet(request)
        items = [
            {
                "id": n.id,
                "kind": n.kind,
                "kind_text": _NEWS_KIND.get(n.kind, "Новость"),
                "title": n.title,
                "text": n.text,
                "published": _d(n.published),
                "published_iso": n.published.isoformat(),
            }
            for n in backend.news(OPERATOR)
        ]
        return _render("news.html", **cab.context(backend, "news", "Новости"), news=items)

    @get("/profile", sync_to_thread=False)
    def profile_page(request: Request[Any, Any, Any]) -> Response[str]:
        cab = cabinet(request)
        data = backend.profile(cab.sub, cab.acc)
        return _render(
            "profile.html",
            **cab.context(backend, "profile", "Профиль"),
            profile={
                "full_name": data["full_name"],
                "account_number": data["account_number"],
                "address": data["address"] or "",
                "phone": _phone(data["phone"]),
                "email": data["email"] or "",
            },
        )

    return Router(
        path="/",
        route_handlers=[
            root,
            login_page,
            login,
            captcha_image,
            css,
            logout,
            cabinet_page,
            detail,
            detail_export,
            tariff_page,
            tariff_change,
            services_page,
            service_order,
            service_cancel,
            block_page,
            block_quote,
            block_confirm,
            block_cancel,
            pay_page,
            pay,
            pay_confirm,
            payments_page,
            traffic_page,
            speedtest_page,
            speedtest,
            support_page,
            support_send,
            news_page,
            profile_page,
        ],
        exception_handlers={Exception: error_response},
    )


class _CsrfError(Exception):
    """A cabinet form came without the page's CSRF token (stale or forged)."""


def error_response(request: Request[Any, Any, Any], exc: Exception) -> Response[str]:
    """Every error as a page of the cabinet (or the way back to the login form)."""
    if isinstance(exc, AuthFailure | SessionExpired):
        return _redirect("/login?expired=1", [_cookie(SESSION_COOKIE, "", 0)])
    if isinstance(exc, _CsrfError):
        return _error_page(
            403,
            "Срок действия страницы истёк",
            "Форма устарела или отправлена не со страницы кабинета. Обновите страницу и "
            "повторите действие.",
        )
    if isinstance(exc, DomainError):
        return _error_page(exc.status if exc.status < 500 else 400, "Ошибка", exc.message)
    if isinstance(exc, ValidationException):
        return _error_page(400, "Ошибка в запросе", "Проверьте введённые данные.")
    if isinstance(exc, HTTPException):
        if exc.status_code == 404:
            return _error_page(404, "Страница не найдена", "Такой страницы в кабинете нет.")
        if exc.status_code == 405:
            return _error_page(405, "Действие недоступно", "Этот адрес так не открывается.")
        return _error_page(exc.status_code, "Ошибка", "Запрос не может быть выполнен.")
    return _error_page(
        500, "Технические работы", "Сервис временно недоступен. Повторите попытку позже."
    )


def bulk_session(backend: Backend, account: BulkAccount) -> dict[str, Any]:
    """What the bashtel plugin keeps in Session.data for a bulk-created account."""
    session = backend.sessions[account.token]
    session.current_account_id = account.account_id
    session.data.setdefault("csrf", secrets.token_urlsafe(24))
    return {"cookies": {SESSION_COOKIE: account.token}, "persistent": {}}
