"""Jinja2 rendering: one environment, one translation function, one page helper.

Handlers call :func:`page` (a full page or, for htmx requests, the same template's content
block) with the template context; every template gets ``t`` (translate), ``money``, ``when``
(a time in the household's zone), ``day``, the signed-in ``user``, the ``csrf`` token and
``static`` (cache-busted asset URLs).
"""

from __future__ import annotations

import datetime as dt
from decimal import Decimal
from functools import partial
from typing import TYPE_CHECKING, Any, Protocol

from jinja2 import Environment, FileSystemLoader, StrictUndefined, select_autoescape
from litestar import Request, Response
from litestar.datastructures import Cookie

from .. import i18n as shared_i18n
from . import i18n
from .i18n import DEFAULT_LANG, LANGS, Translator
from .security import ANON_CSRF_COOKIE, LANG_COOKIE, anon_csrf_cookie, new_token

if TYPE_CHECKING:
    from ..settings import Settings
    from .assets import WebAssets
    from .users import CurrentUser

__all__ = ["Renderer", "current_user", "page", "phone_text", "request_lang", "translate"]


class Renderer:
    def __init__(self, assets: WebAssets, translator: Translator, settings: Settings) -> None:
        self.assets = assets
        self.translator = translator
        self.settings = settings
        self.env = Environment(
            loader=FileSystemLoader(str(assets.templates)),
            autoescape=select_autoescape(["html", "svg"]),
            undefined=StrictUndefined,
            trim_blocks=True,
            lstrip_blocks=True,
            auto_reload=False,
            cache_size=400,
        )
        self.env.globals.update(static=assets.static_url, LANGS=LANGS, demo_crib_url=None)

    def render(self, name: str, context: dict[str, Any]) -> str:
        return self.env.get_template(name).render(context)

    def helpers(self, lang: str, tz: str) -> dict[str, Any]:
        def money(value: int | Decimal | None, currency: str = "RUB") -> str:
            if value is None:
                return "—"
            if isinstance(value, int):
                return i18n.format_money_minor(value, currency, lang)
            return i18n.format_money(value, currency, lang)

        def when(value: dt.datetime | None, short: bool = False) -> str:
            return i18n.format_datetime(value, tz, lang, short=short)

        def day(value: dt.date | None) -> str:
            return i18n.format_date(value, lang)

        def size(value: int | Decimal) -> str:
            return i18n.format_bytes(value, lang)

        def bonus(minor: int, unit: str | None, currency: str = "RUB") -> str:
            """A bonus balance: points as points («1 250 баллов»), money as money."""
            return shared_i18n.format_bonus(minor, unit, currency, lang)

        def month_name(value: dt.date) -> str:
            return shared_i18n.format_month(value, lang)

        def month_short(value: dt.date) -> str:
            return shared_i18n.format_month(value, lang, short=True)

        def age(value: dt.datetime | None) -> str:
            """How long ago ``value`` was (our clock), in words: "3 часа"."""
            if value is None:
                return ""
            if value.tzinfo is None:
                value = value.replace(tzinfo=dt.UTC)
            return i18n.format_age(dt.datetime.now(dt.UTC) - value, lang)

        return {
            "t": partial(self.translator.translate, lang),
            "money": money,
            "when": when,
            "day": day,
            "size": size,
            "bonus": bonus,
            "month_name": month_name,
            "month_short": month_short,
            "age": age,
            "phone": phone_text,
            "lang": lang,
            "tz": tz,
        }


def phone_text(value: str) -> str:
    """A Russian phone number as people write it ("9031234567" -> "+7 903 123-45-67"); any
    other text as it is."""
    digits = "".join(ch for ch in value if ch.isdigit())
    if len(digits) == 11 and digits[0] in "78":
        digits = digits[1:]
    if len(digits) != 10 or len(value.strip()) > 18:
        return value
    return f"+7 {digits[:3]} {digits[3:6]}-{digits[6:8]}-{digits[8:]}"


class _RenderingState(Protocol):
    """What rendering needs of the server's state (:class:`.context.ServerState` has it)."""

    settings: Settings
    translator: Translator
    renderer: Renderer


def _state(request: Request[Any, Any, Any]) -> _RenderingState:
    state: _RenderingState = request.app.state.server
    return state


def current_user(request: Request[Any, Any, Any]) -> CurrentUser | None:
    user: CurrentUser | None = request.scope.get("user")
    return user


def request_lang(request: Request[Any, Any, Any]) -> str:
    user = current_user(request)
    if user is not None and user.lang in LANGS:
        return user.lang
    lang = request.cookies.get(LANG_COOKIE)
    return lang if lang in LANGS else DEFAULT_LANG


def translate(request: Request[Any, Any, Any], key: str, **values: Any) -> str:
    return _state(request).translator.translate(request_lang(request), key, **values)


def is_htmx(request: Request[Any, Any, Any]) -> bool:
    return request.headers.get("hx-request") == "true"


def base_context(request: Request[Any, Any, Any]) -> tuple[dict[str, Any], list[Cookie]]:
    """The context every template gets, and cookies the response must set."""
    state = _state(request)
    user = current_user(request)
    lang = request_lang(request)
    tz = user.timezone if user else "Europe/Moscow"
    cookies: list[Cookie] = []
    if user is not None:
        csrf = user.csrf_token
    else:
        csrf = request.cookies.get(ANON_CSRF_COOKIE) or ""
        if len(csrf) < 20:
            csrf = new_token()
            cookies.append(anon_csrf_cookie(state.settings, csrf))
    context = state.renderer.helpers(lang, tz)
    context.update(user=user, csrf=csrf, path=request.url.path, htmx=is_htmx(request))
    return context, cookies


def page(
    request: Request[Any, Any, Any],
    template: str,
    *,
    status_code: int = 200,
    headers: dict[str, str] | None = None,
    **values: Any,
) -> Response[str]:
    """Render ``template`` into an HTML response with the common context."""
    context, cookies = base_context(request)
    context.update(values)
    body = _state(request).renderer.render(template, context)
    return Response(
        body,
        status_code=status_code,
        media_type="text/html",
        cookies=cookies,
        headers=headers,
    )
