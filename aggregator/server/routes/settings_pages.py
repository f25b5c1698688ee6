"""Alert settings, members and invitations, the outbox, plugins and personal settings."""

from __future__ import annotations

import re
from typing import Any

from litestar import Request, Response, get, post
from litestar.exceptions import NotFoundException, PermissionDeniedException
from litestar.params import FromPath

from ...services import alert_rules, households, outbox
from ...services.errors import BadInput, Forbidden, NotFound
from ..forms import FormCheck, gigabytes_text, parse_gigabytes, parse_int, parse_roubles
from ..i18n import LANGS
from ..rendering import page, translate
from .common import DB, Server, form_data, owner_required, redirect, require_user

__all__ = ["ROUTES", "parse_threshold"]

_EMAIL = re.compile(r"[^@\s,;]+@[^@\s,;]+\.[^@\s,;]+")


def parse_threshold(value: str | None, field: str = "threshold") -> int | None:
    """Roubles typed by a person ("150", "150,50", "1 000 ₽") as kopecks; empty means none."""
    return parse_roubles(value, field)


def _int_field(form: dict[str, str], name: str, low: int, high: int) -> int | None:
    return parse_int(form.get(name), name, low, high)


@get("/settings/alerts", include_in_schema=False)
async def alerts_page(request: Request[Any, Any, Any], db: DB) -> Response[Any]:
    user = require_user(request)
    alerts = await alert_rules.household_alerts(db, user.household_id, user.lang)
    return page(
        request,
        "alerts.html",
        rules=await alert_rules.household_rules(db, user.household_id),
        recipients="\n".join(alerts.recipients),
        alert_lang=alerts.lang,
        saved=request.query_params.get("saved") == "1",
        error=None,
        errors={},
        typed=None,
        gigabytes=gigabytes_text,
    )


@post("/settings/alerts", include_in_schema=False)
async def alerts_save(request: Request[Any, Any, Any], db: DB) -> Response[Any]:
    user = require_user(request)
    form = await form_data(request)
    check = FormCheck()
    recipients = _EMAIL.findall(form.get("recipients", ""))
    garbage = _EMAIL.sub("", form.get("recipients", "")).replace(",", " ").replace(";", " ").split()
    if garbage:
        check.add("recipients", "form.expect_emails", example=garbage[0][:60])
    lang = form.get("lang", "ru") if form.get("lang") in LANGS else "ru"
    reminder_h = check(_int_field, form, "reminder_hours", 1, 24 * 30)
    threshold = check(parse_threshold, form.get("threshold"))
    margin = check(parse_threshold, form.get("margin"), "margin")
    days = check(_int_field, form, "days", 1, 60)
    suspension_days = check(_int_field, form, "suspension_days", 1, 60)
    trusted_days = check(_int_field, form, "trusted_days", 1, 30)
    data_bytes = check(parse_gigabytes, form.get("data_gb"), "data_gb")
    minutes = check(_int_field, form, "minutes", 1, 100_000)
    if check:
        return page(
            request,
            "alerts.html",
            status_code=400,
            rules=await alert_rules.household_rules(db, user.household_id),
            recipients=form.get("recipients", ""),
            alert_lang=lang,
            saved=False,
            error="form.check_fields",
            errors=check.messages(lambda key, **v: translate(request, key, **v)),
            typed=form,
            gigabytes=gigabytes_text,
        )
    reminder_s = reminder_h * 3600 if reminder_h else None
    alerts = alert_rules.HouseholdAlerts(
        low_balance_enabled=form.get("low_balance_enabled") == "on",
        threshold_minor=threshold,
        margin_minor=margin,
        runs_out_enabled=form.get("runs_out_enabled") == "on",
        days=days,
        needs_login_enabled=form.get("needs_login_enabled") == "on",
        suspension_ends_enabled=form.get("suspension_ends_enabled") == "on",
        suspension_days=suspension_days,
        trusted_payment_due_enabled=form.get("trusted_payment_due_enabled") == "on",
        trusted_days=trusted_days,
        reminder_interval_s=reminder_s,
        notices={kind: form.get(f"{kind}_enabled") == "on" for kind in alert_rules.NOTICE_KINDS},
        remainders=alert_rules.RemainderDefaults(
            data_bytes=data_bytes, minutes_seconds=minutes * 60 if minutes else None
        ),
        recipients=tuple(recipients),
        lang=lang,
    )
    await alert_rules.save_household_alerts(db, user.household_id, user.user_id, alerts)
    return redirect(request, "/settings/alerts?saved=1")


# -- members ----------------------------------------------------------------------------


async def _members_page(
    request: Request[Any, Any, Any],
    db: DB,
    household_id: int,
    *,
    status_code: int = 200,
    **values: Any,
) -> Response[Any]:
    """The members page: who is in the household and the open invitations."""
    members = await households.members(db, household_id)
    invitations = await households.open_invitations(db, household_id)
    context: dict[str, Any] = {"invite_link": None, "error": None, "errors": {}, "typed": {}}
    context.update(values)
    return page(
        request,
        "members.html",
        status_code=status_code,
        members=members,
        invitations=invitations,
        **context,
    )


@get("/members", include_in_schema=False)
async def members_page(request: Request[Any, Any, Any], db: DB) -> Response[Any]:
    user = require_user(request)
    return await _members_page(request, db, user.household_id)


@post("/members/invite", include_in_schema=False)
async def invite(request: Request[Any, Any, Any], db: DB, server: Server) -> Response[Any]:
    user = owner_required(request)
    form = await form_data(request)
    try:
        token = await households.invite_member(
            db, user.household_id, user.user_id, form.get("email", "")
        )
    except BadInput as exc:  # the page again, the address as typed, the message at the field
        check = FormCheck()
        check.add(exc.field, exc.key or "form.email_invalid")
        return await _members_page(
            request,
            db,
            user.household_id,
            status_code=400,
            errors=check.messages(lambda key, **v: translate(request, key, **v)),
            typed=form,
        )
    link = f"{server.settings.dashboard_url}/invite/{token}"
    return await _members_page(
        request,
        db,
        user.household_id,
        invite_link=link,
        invite_email=form.get("email", "").strip().lower(),
    )


@post("/members/invitations/{invitation_id:int}/revoke", include_in_schema=False)
async def revoke_invitation(
    request: Request[Any, Any, Any], db: DB, invitation_id: FromPath[int]
) -> Response[Any]:
    user = owner_required(request)
    await households.revoke_invitation(db, user.household_id, invitation_id)
    return redirect(request, "/members")


@post("/members/{member_id:int}/remove", include_in_schema=False)
async def remove_member(
    request: Request[Any, Any, Any], db: DB, member_id: FromPath[int]
) -> Response[Any]:
    user = owner_required(request)
    try:
        await households.remove_member(db, user.household_id, user.user_id, member_id)
    except NotFound:
        raise NotFoundException("no such member") from None
    except Forbidden as exc:
        raise PermissionDeniedException(str(exc)) from None
    return redirect(request, "/members")


# -- outbox ------------------------------------------------------------------------------


@get("/outbox", include_in_schema=False)
async def outbox_page(request: Request[Any, Any, Any], db: DB, server: Server) -> Response[Any]:
    user = require_user(request)
    messages = await outbox.recent_messages(db, user.household_id)
    sink = await outbox.household_mail(db, server.settings, user.household_id)
    return page(
        request,
        "outbox.html",
        messages=messages,
        sink=sink,
        sink_enabled=server.settings.smtp_host is None,
    )


@get("/outbox/{message_id:int}", include_in_schema=False)
async def outbox_message(
    request: Request[Any, Any, Any], db: DB, message_id: FromPath[int]
) -> Response[Any]:
    user = require_user(request)
    try:
        message = await outbox.outbox_message(db, user.household_id, message_id)
    except NotFound:
        raise NotFoundException("no such message") from None
    return page(request, "outbox_message.html", message=message)


# -- plugins -------------------------------------------------------------------------------


@get("/plugins", include_in_schema=False)
async def plugins_page(request: Request[Any, Any, Any], server: Server) -> Response[Any]:
    require_user(request)
    registry = server.require_runtime().registry
    return page(
        request,
        "plugins.html",
        plugins=sorted(registry.plugins.values(), key=lambda p: p.name),
        providers=registry.providers,
        failures=registry.failures,
    )


# -- personal and household settings ---------------------------------------------------------


async def _settings(
    request: Request[Any, Any, Any],
    db: DB,
    household_id: int,
    *,
    check: FormCheck | None = None,
    error: str | None = None,
    typed: dict[str, str] | None = None,
) -> Response[Any]:
    """The settings page; with a failed ``check`` (or ``error``) again as a 400, what was typed
    kept (passwords are never sent back), each message at its field."""
    failed = bool(check) or error is not None
    return page(
        request,
        "settings.html",
        status_code=400 if failed else 200,
        household=await households.household(db, household_id),
        zones=households.TIME_ZONES,
        saved=None if failed else request.query_params.get("saved"),
        error=error,
        errors=check.messages(lambda key, **v: translate(request, key, **v)) if check else {},
        typed=typed or {},
    )


@get("/settings", include_in_schema=False)
async def settings_page(request: Request[Any, Any, Any], db: DB) -> Response[Any]:
    user = require_user(request)
    return await _settings(request, db, user.household_id)


@post("/settings", include_in_schema=False)
async def settings_save(request: Request[Any, Any, Any], db: DB) -> Response[Any]:
    user = require_user(request)
    form = await form_data(request)
    check = FormCheck()
    interval = check(_int_field, form, "poll_interval_min", 5, 24 * 60) if user.is_owner else None
    if check:  # nothing is changed; the page again with everything typed
        return await _settings(
            request, db, user.household_id, check=check, error="form.check_fields", typed=form
        )
    profile = households.Profile(
        display_name=form.get("display_name", ""),
        lang=form.get("lang"),
        household_name=form.get("household_name"),
        timezone=form.get("timezone"),
        poll_interval_s=interval * 60 if interval else None,  # empty keeps the current one
    )
    await households.save_profile(
        db, user.household_id, user.user_id, is_owner=user.is_owner, profile=profile
    )
    return redirect(request, "/settings?saved=profile")


@post("/settings/password", include_in_schema=False)
async def change_password(request: Request[Any, Any, Any], db: DB) -> Response[Any]:
    user = require_user(request)
    form = await form_data(request)
    try:
        await households.change_password(
            db,
            user.user_id,
            current=form.get("current_password", ""),
            new=form.get("new_password", ""),
            confirm=form.get("new_password_confirm", ""),
            keep_session_id=user.session_id,
        )
    except BadInput as exc:  # the message at its field; passwords are never sent back
        check = FormCheck()
        check.add(exc.field, exc.key or "form.check_fields")
        return await _settings(request, db, user.household_id, check=check)
    return redirect(request, "/settings?saved=password")


ROUTES = [
    alerts_page,
    alerts_save,
    members_page,
    invite,
    revoke_invitation,
    remove_member,
    outbox_page,
    outbox_message,
    plugins_page,
    settings_page,
    settings_save,
    change_password,
]
