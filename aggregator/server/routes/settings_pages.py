"""Alert settings, members and invitations, the outbox, plugins and personal settings."""

from __future__ import annotations

import hashlib
import re
import secrets
import zoneinfo
from typing import Any

from litestar import Request, Response, get, post
from litestar.exceptions import NotFoundException, PermissionDeniedException
from litestar.params import FromPath
from sqlalchemy import delete, select

from ...alerts.outbox import outbox_message_id
from ...alerts.sink import MailContent, MailStore
from ...storage.models import (
    AlertRule,
    AuditLog,
    Household,
    Invitation,
    OutboxMessage,
    User,
    WebSession,
    utcnow,
)
from ..forms import FormCheck, gigabytes_text, parse_gigabytes, parse_int, parse_roubles
from ..i18n import LANGS
from ..integration import hash_password, verify_password
from ..rendering import page, translate
from .auth import INVITATION_TTL, validate_new_password
from .common import DB, Server, form_data, owner_required, redirect, require_user

__all__ = ["ALERT_KINDS", "ROUTES", "parse_threshold", "save_rule"]

ALERT_KINDS = (
    "low_balance",
    "runs_out",
    "needs_login",
    "suspension_ends",
    "trusted_payment_due",
    "chat_reply",
    "suspension_approved",
    "maintenance",
    "low_data",
    "low_minutes",
)
NOTICE_KINDS = ("chat_reply", "suspension_approved", "maintenance")
_EMAIL = re.compile(r"[^@\s,;]+@[^@\s,;]+\.[^@\s,;]+")


def parse_threshold(value: str | None, field: str = "threshold") -> int | None:
    """Roubles typed by a person ("150", "150,50", "1 000 ₽") as kopecks; empty means none."""
    return parse_roubles(value, field)


async def save_rule(
    db: DB,
    household_id: int,
    account_id: int | None,
    kind: str,
    **values: Any,
) -> AlertRule | None:
    """Create or update one rule. For an account, empty values remove the override."""
    rule = await db.scalar(
        select(AlertRule).where(
            AlertRule.household_id == household_id,
            AlertRule.kind == kind,
            AlertRule.account_id.is_(None)
            if account_id is None
            else AlertRule.account_id == account_id,
        )
    )
    if account_id is not None and all(v is None for v in values.values()):
        if rule is not None:
            await db.delete(rule)
        return None
    if rule is None:
        rule = AlertRule(household_id=household_id, account_id=account_id, kind=kind)
        db.add(rule)
    for key, value in values.items():
        setattr(rule, key, value)
    return rule


def _int_field(form: dict[str, str], name: str, low: int, high: int) -> int | None:
    return parse_int(form.get(name), name, low, high)


async def _defaults(db: DB, household_id: int) -> dict[str, AlertRule]:
    rules = await db.scalars(
        select(AlertRule).where(
            AlertRule.household_id == household_id, AlertRule.account_id.is_(None)
        )
    )
    return {rule.kind: rule for rule in rules}


@get("/settings/alerts", include_in_schema=False)
async def alerts_page(request: Request[Any, Any, Any], db: DB) -> Response[Any]:
    user = require_user(request)
    rules = await _defaults(db, user.household_id)
    recipients: list[str] = []
    lang = user.lang
    for rule in rules.values():
        recipients = recipients or list(rule.recipients or [])
        lang = rule.lang or lang
    return page(
        request,
        "alerts.html",
        rules=rules,
        recipients="\n".join(recipients),
        alert_lang=lang,
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
    common = {"recipients": recipients, "lang": lang}
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
            rules=await _defaults(db, user.household_id),
            recipients=form.get("recipients", ""),
            alert_lang=lang,
            saved=False,
            error="form.check_fields",
            errors=check.messages(lambda key, **v: translate(request, key, **v)),
            typed=form,
            gigabytes=gigabytes_text,
        )
    await save_rule(
        db,
        user.household_id,
        None,
        "low_balance",
        enabled=form.get("low_balance_enabled") == "on",
        threshold_minor=threshold,
        margin_minor=margin,
        reminder_interval_s=reminder_h * 3600 if reminder_h else None,
        **common,
    )
    await save_rule(
        db,
        user.household_id,
        None,
        "runs_out",
        enabled=form.get("runs_out_enabled") == "on",
        days=days,
        reminder_interval_s=reminder_h * 3600 if reminder_h else None,
        **common,
    )
    await save_rule(
        db,
        user.household_id,
        None,
        "needs_login",
        enabled=form.get("needs_login_enabled") == "on",
        **common,
    )
    await save_rule(
        db,
        user.household_id,
        None,
        "suspension_ends",
        enabled=form.get("suspension_ends_enabled") == "on",
        days=suspension_days,
        **common,
    )
    await save_rule(
        db,
        user.household_id,
        None,
        "trusted_payment_due",
        enabled=form.get("trusted_payment_due_enabled") == "on",
        days=trusted_days,
        **common,
    )
    for kind in NOTICE_KINDS:
        await save_rule(
            db, user.household_id, None, kind, enabled=form.get(f"{kind}_enabled") == "on", **common
        )
    # Package remainders: on for every account with packages once a threshold is typed (an
    # account's own threshold, on its page, goes over it).
    for kind, units in (("low_data", data_bytes), ("low_minutes", minutes and minutes * 60)):
        await save_rule(
            db,
            user.household_id,
            None,
            kind,
            enabled=units is not None,
            threshold_units=units,
            **common,
        )
    db.add(AuditLog(household_id=user.household_id, user_id=user.user_id, action="alerts.updated"))
    await db.commit()
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
    members = list(
        await db.scalars(select(User).where(User.household_id == household_id).order_by(User.id))
    )
    invitations = list(
        await db.scalars(
            select(Invitation)
            .where(
                Invitation.household_id == household_id,
                Invitation.accepted_at.is_(None),
                Invitation.expires_at > utcnow(),
            )
            .order_by(Invitation.id.desc())
        )
    )
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
    address = form.get("email", "").strip().lower()
    check = FormCheck()
    if not _EMAIL.fullmatch(address):
        check.add("email", "form.email_invalid")
    elif await db.scalar(select(User.id).where(User.email == address)):
        check.add("email", "members.email_taken")
    if check:  # the page again, the address as typed, the message at the field
        return await _members_page(
            request,
            db,
            user.household_id,
            status_code=400,
            errors=check.messages(lambda key, **v: translate(request, key, **v)),
            typed=form,
        )
    token = secrets.token_urlsafe(32)
    db.add(
        Invitation(
            household_id=user.household_id,
            email=address,
            token_hash=hashlib.sha256(token.encode()).hexdigest(),
            expires_at=utcnow() + INVITATION_TTL,
        )
    )
    db.add(
        AuditLog(
            household_id=user.household_id,
            user_id=user.user_id,
            action="member.invited",
            details={"email": address},
        )
    )
    await db.commit()
    link = f"{server.settings.dashboard_url}/invite/{token}"
    return await _members_page(
        request, db, user.household_id, invite_link=link, invite_email=address
    )


@post("/members/invitations/{invitation_id:int}/revoke", include_in_schema=False)
async def revoke_invitation(
    request: Request[Any, Any, Any], db: DB, invitation_id: FromPath[int]
) -> Response[Any]:
    user = owner_required(request)
    await db.execute(
        delete(Invitation).where(
            Invitation.id == invitation_id, Invitation.household_id == user.household_id
        )
    )
    await db.commit()
    return redirect(request, "/members")


@post("/members/{member_id:int}/remove", include_in_schema=False)
async def remove_member(
    request: Request[Any, Any, Any], db: DB, member_id: FromPath[int]
) -> Response[Any]:
    user = owner_required(request)
    member = await db.scalar(
        select(User).where(User.id == member_id, User.household_id == user.household_id)
    )
    if member is None:
        raise NotFoundException("no such member")
    if member.id == user.user_id:
        raise PermissionDeniedException("the owner cannot remove themselves")
    await db.execute(delete(WebSession).where(WebSession.user_id == member.id))
    await db.delete(member)
    db.add(
        AuditLog(
            household_id=user.household_id,
            user_id=user.user_id,
            action="member.removed",
            details={"email": member.email},
        )
    )
    await db.commit()
    return redirect(request, "/members")


# -- outbox ------------------------------------------------------------------------------


def _sink_messages(server: Server, message_ids: set[str], limit: int = 50) -> list[MailContent]:
    """Mail the embedded SMTP sink received that this household's outbox rows queued (by
    their Message-ID), newest first. Recipients choose nothing: an address another household
    added to its alerts never shows it this household's mail, nor the reverse."""
    store = MailStore.for_settings(server.settings)
    out: list[MailContent] = []
    for mail in store.list(limit=None):
        if mail.message_id.strip() not in message_ids:
            continue
        try:
            out.append(store.read(mail.id))
        except (KeyError, OSError):
            continue
        if len(out) >= limit:
            break
    return out


async def _household_message_ids(db: DB, household_id: int, sender: str) -> set[str]:
    """The Message-IDs of this household's outbox rows (recorded before each send)."""
    rows = await db.execute(
        select(OutboxMessage.id, OutboxMessage.dedupe_key, OutboxMessage.message_id).where(
            OutboxMessage.household_id == household_id
        )
    )
    return {
        message_id or outbox_message_id(row_id, dedupe_key, sender)
        for row_id, dedupe_key, message_id in rows
    }


@get("/outbox", include_in_schema=False)
async def outbox_page(request: Request[Any, Any, Any], db: DB, server: Server) -> Response[Any]:
    user = require_user(request)
    messages = list(
        await db.scalars(
            select(OutboxMessage)
            .where(OutboxMessage.household_id == user.household_id)
            .order_by(OutboxMessage.created_at.desc(), OutboxMessage.id.desc())
            .limit(100)
        )
    )
    sink = _sink_messages(
        server,
        await _household_message_ids(db, user.household_id, server.settings.smtp_from),
    )
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
    message = await db.scalar(
        select(OutboxMessage).where(
            OutboxMessage.id == message_id, OutboxMessage.household_id == user.household_id
        )
    )
    if message is None:
        raise NotFoundException("no such message")
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


@get("/settings", include_in_schema=False)
async def settings_page(request: Request[Any, Any, Any], db: DB) -> Response[Any]:
    user = require_user(request)
    household = await db.get(Household, user.household_id)
    return page(
        request,
        "settings.html",
        household=household,
        zones=_ZONES,
        saved=request.query_params.get("saved"),
        error=None,
        errors={},
        typed={},
    )


_ZONES = sorted(
    z for z in zoneinfo.available_timezones() if z.startswith(("Europe/", "Asia/")) and "/" in z
) or ["Europe/Moscow"]


@post("/settings", include_in_schema=False)
async def settings_save(request: Request[Any, Any, Any], db: DB) -> Response[Any]:
    user = require_user(request)
    form = await form_data(request)
    row = await db.get(User, user.user_id)
    household = await db.get(Household, user.household_id)
    assert row is not None and household is not None
    check = FormCheck()
    interval = check(_int_field, form, "poll_interval_min", 5, 24 * 60) if user.is_owner else None
    if check:  # nothing is changed; the page again with everything typed
        return page(
            request,
            "settings.html",
            status_code=400,
            household=household,
            zones=_ZONES,
            saved=None,
            error="form.check_fields",
            errors=check.messages(lambda key, **v: translate(request, key, **v)),
            typed=form,
        )
    row.display_name = form.get("display_name", "").strip()[:200]
    if form.get("lang") in LANGS:
        row.lang = form["lang"]
    if user.is_owner:
        name = form.get("household_name", "").strip()
        if name:
            household.name = name[:200]
        tz = form.get("timezone", "")
        if tz in _ZONES:
            household.timezone = tz
        if interval:  # empty keeps the current interval (the demo's is below a minute)
            household.poll_interval_s = interval * 60
    await db.commit()
    return redirect(request, "/settings?saved=profile")


@post("/settings/password", include_in_schema=False)
async def change_password(request: Request[Any, Any, Any], db: DB) -> Response[Any]:
    user = require_user(request)
    form = await form_data(request)
    row = await db.get(User, user.user_id)
    household = await db.get(Household, user.household_id)
    assert row is not None and household is not None
    check = FormCheck()
    if not await verify_password(row.password_hash, form.get("current_password", "")):
        check.add("current_password", "settings.wrong_password")
    else:
        problem = validate_new_password(
            form.get("new_password", ""), form.get("new_password_confirm", "")
        )
        if problem:
            mismatch = problem == "form.password_mismatch"
            check.add("new_password_confirm" if mismatch else "new_password", problem)
    if check:  # the message at its field; passwords are never sent back into the page
        return page(
            request,
            "settings.html",
            status_code=400,
            household=household,
            zones=_ZONES,
            saved=None,
            error=None,
            errors=check.messages(lambda key, **v: translate(request, key, **v)),
            typed={},
        )
    row.password_hash = await hash_password(form["new_password"])
    # Every other session of this user ends.
    await db.execute(
        delete(WebSession).where(WebSession.user_id == row.id, WebSession.id != user.session_id)
    )
    db.add(
        AuditLog(
            household_id=user.household_id, user_id=user.user_id, action="auth.password_changed"
        )
    )
    await db.commit()
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
