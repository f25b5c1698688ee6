"""Checks on what a provider returns: the right type, valid models, aware times, Decimal money."""

from __future__ import annotations

import datetime as dt
import re
from decimal import Decimal
from typing import Any

from pydantic import BaseModel

from ..core.flows import Challenge, ChallengeKind, Session
from ..core.models import (
    BonusPoints,
    Money,
    PackageRemainder,
    PollResult,
    Report,
    ReportFormat,
    TrustedPayment,
    UsageUnit,
)
from ..core.provider import Capability, Provider

__all__ = [
    "ContractViolation",
    "check_challenge",
    "check_declaration",
    "check_poll",
    "check_remainders",
    "check_result",
    "check_trusted_payment",
]

_ID = re.compile(r"[a-z][a-z0-9_]*")
_MAGIC = {ReportFormat.PDF: b"%PDF", ReportFormat.XLSX: b"PK"}


class ContractViolation(AssertionError):
    """The provider broke the contract; the message says where and how."""


def _fail(message: str) -> ContractViolation:
    return ContractViolation(message)


def _walk(value: Any, where: str) -> None:
    """Every datetime timezone-aware, every Money a Decimal, recursively."""
    if isinstance(value, dt.datetime):
        if value.tzinfo is None or value.utcoffset() is None:
            raise _fail(f"{where} is a naive datetime; return an aware one (UTC)")
    elif isinstance(value, Money):
        if not isinstance(value.amount, Decimal):
            raise _fail(f"{where}.amount is not a Decimal")
        if not re.fullmatch(r"[A-Z]{3}", value.currency):
            raise _fail(f"{where}.currency {value.currency!r} is not an ISO 4217 code")
    elif isinstance(value, BaseModel):
        for name in type(value).model_fields:
            _walk(getattr(value, name), f"{where}.{name}")
    elif isinstance(value, list | tuple):
        for i, item in enumerate(value):
            _walk(item, f"{where}[{i}]")
    elif isinstance(value, dict):
        for key, item in value.items():
            _walk(item, f"{where}[{key!r}]")


def check_result(value: Any, expected: type | tuple[type, ...], where: str) -> None:
    """``value`` is an instance of ``expected`` (or a list of it), valid and JSON-safe."""
    items = value if isinstance(value, list) else [value]
    for i, item in enumerate(items):
        label = f"{where}[{i}]" if isinstance(value, list) else where
        if not isinstance(item, expected):
            names = (
                " or ".join(t.__name__ for t in expected)
                if isinstance(expected, tuple)
                else expected.__name__
            )
            raise _fail(f"{label} returned {type(item).__name__}, expected {names}")
        _walk(item, label)
        if isinstance(item, BaseModel):
            cls = type(item)
            try:
                again = cls.model_validate(item.model_dump())
                if not isinstance(item, Report | Challenge):  # these carry raw bytes
                    cls.model_validate_json(item.model_dump_json())
            except Exception as exc:
                raise _fail(f"{label} does not survive validation: {exc}") from None
            if again != item:
                raise _fail(f"{label} changes when validated again")
        if isinstance(item, Report):
            magic = _MAGIC[item.format]
            if not item.content.startswith(magic):
                raise _fail(f"{label} is not a {item.format.value} file (starts {magic!r}?)")


def check_remainders(remainders: list[PackageRemainder] | None, where: str) -> None:
    """Package remainders a household can read: in the contract's units, whole seconds, bytes
    and messages, never below zero or above their package, an unknown unit named as sent."""
    for i, r in enumerate(remainders or []):
        label = f"{where}[{i}] ({r.name!r})"
        if not r.name.strip():
            raise _fail(f"{label} has no name")
        if r.unit is UsageUnit.UNKNOWN:
            if not r.raw_unit:
                raise _fail(f"{label} has an unknown unit and no raw_unit saying which")
        elif r.rest != r.rest.to_integral_value() or (
            r.size is not None and r.size != r.size.to_integral_value()
        ):
            raise _fail(f"{label} is not in whole {r.unit.value}: convert minutes, MB, GB")
        if r.unlimited:
            continue
        if r.rest < 0:
            raise _fail(f"{label}.rest is below zero; an overdraft is not a package")
        if r.size is not None and r.size < r.rest:
            raise _fail(f"{label}.rest {r.rest} is above its package size {r.size}")


def check_challenge(challenge: Challenge, provider: type[Provider], where: str) -> None:
    """A challenge carries what a person needs to answer it."""
    check_result(challenge, Challenge, where)
    if challenge.provider != provider.id:
        raise _fail(f"{where}.provider is {challenge.provider!r}, expected {provider.id!r}")
    if challenge.expired:
        raise _fail(f"{where} is already expired")
    if not challenge.step:
        raise _fail(f"{where}.step is empty")
    kind = challenge.kind
    if kind is ChallengeKind.CAPTCHA:
        if not challenge.image:
            raise _fail(f"{where} is a captcha without an image")
        if not challenge.image_type.startswith("image/"):
            raise _fail(f"{where}.image_type {challenge.image_type!r} is not an image type")
        if challenge.image_type == "image/png" and not challenge.image.startswith(b"\x89PNG"):
            raise _fail(f"{where}.image is not a PNG although image_type says so")
    elif kind is ChallengeKind.CODE:
        if challenge.channel not in ("sms", "email"):
            raise _fail(f"{where}.channel must be 'sms' or 'email', not {challenge.channel!r}")
        if not challenge.masked_destination:
            raise _fail(f"{where} must say where the code went (masked_destination)")
        if challenge.resend_after_s is not None and provider.resend_code is Provider.resend_code:
            # The page offers "send the code again" after resend_after_s: it must work.
            raise _fail(f"{where} offers a resend (resend_after_s) but resend_code is missing")
    elif kind is ChallengeKind.SSO_REDIRECT and not (challenge.url or "").startswith(
        ("http://", "https://")
    ):
        raise _fail(f"{where}.url must be the identity provider's http(s) URL")


def check_declaration(provider: type[Provider]) -> None:
    """The class-level declaration: ids, names, login schemes as data, capabilities."""
    import inspect

    name = provider.__name__
    for attr in ("id", "name", "name_en", "default_base_url", "login_schemes"):
        if not hasattr(provider, attr):
            raise _fail(f"{name} lacks the class attribute {attr!r}")
    if not _ID.fullmatch(provider.id):
        raise _fail(f"{name}.id {provider.id!r} must be lower-case letters, digits, _")
    if not provider.name.strip() or not provider.name_en.strip():
        raise _fail(f"{name} needs name (Russian) and name_en (English)")
    if not provider.default_base_url.startswith(("http://", "https://")):
        raise _fail(f"{name}.default_base_url must be an http(s) URL")
    if not provider.login_schemes:
        raise _fail(f"{name} declares no login scheme")
    ids = [s.id for s in provider.login_schemes]
    if len(set(ids)) != len(ids):
        raise _fail(f"{name} declares a login scheme id twice: {ids}")
    for scheme in provider.login_schemes:
        again = type(scheme).model_validate_json(scheme.model_dump_json())
        if again != scheme:
            raise _fail(f"login scheme {scheme.id!r} does not survive a JSON round trip")
        if scheme.secret.value == "sso":
            if not scheme.sso_providers:
                raise _fail(f"SSO login scheme {scheme.id!r} names no identity provider")
        elif not scheme.identifiers:
            raise _fail(f"login scheme {scheme.id!r} declares no identifier kind")
    _check_recovery_schemes(provider)
    capabilities = provider.capabilities()
    if Capability.BALANCE not in capabilities:
        raise _fail(f"{name} must implement balance")
    for method in ("start_login", *(c.value for c in capabilities)):
        if not inspect.iscoroutinefunction(getattr(provider, method)):
            raise _fail(f"{name}.{method} must be an async method")
    if provider.min_poll_interval < dt.timedelta(minutes=1):
        raise _fail(f"{name}.min_poll_interval is under a minute: operators block that")


def _check_recovery_schemes(provider: type[Provider]) -> None:
    """Recovery schemes come with start_recovery and the other way round; each is data."""
    name = provider.__name__
    schemes = provider.recovery_schemes
    if bool(schemes) != provider.has(Capability.RECOVERY):
        raise _fail(f"{name}: recovery_schemes and start_recovery/continue_recovery go together")
    ids = [s.id for s in schemes]
    if len(set(ids)) != len(ids):
        raise _fail(f"{name} declares a recovery scheme id twice: {ids}")
    logins = {s.id: s for s in provider.login_schemes}
    for scheme in schemes:
        if type(scheme).model_validate_json(scheme.model_dump_json()) != scheme:
            raise _fail(f"recovery scheme {scheme.id!r} does not survive a JSON round trip")
        if not scheme.identifiers or not scheme.channels:
            raise _fail(f"recovery scheme {scheme.id!r} needs identifiers and channels")
        login = logins.get(scheme.login_scheme)
        if login is None or login.secret.value != "password":
            raise _fail(
                f"recovery scheme {scheme.id!r}: login_scheme {scheme.login_scheme!r} must be "
                "one of the provider's password login schemes"
            )


def dummy_session(provider: type[Provider]) -> Session:
    """A session for calls that must fail before any I/O (NotSupported)."""
    return Session(provider=provider.id, data={})


def check_trusted_payment(state: TrustedPayment, today: dt.date, where: str) -> None:
    """A debt has a due date; an offer names what can be taken; amounts are positive."""
    if state.owed and state.due_date is None:
        raise _fail(f"{where}: a debt without a due date")
    if state.available and not state.options and state.max_amount is None:
        raise _fail(f"{where}: available, but neither options nor max_amount say how much")
    low, high = state.min_amount, state.max_amount
    if low is not None and high is not None and low.amount > high.amount:
        raise _fail(f"{where}: min_amount is above max_amount")
    money_fields = [state.fee, low, high, *(o.amount for o in state.options)]
    money_fields += [o.fee for o in state.options]
    for money in (m for m in money_fields if m is not None):
        if money.amount < 0:
            raise _fail(f"{where}: a negative amount in the offer")
    if state.days is not None and state.days <= 0:
        raise _fail(f"{where}: days must be positive")


def check_poll(poll: PollResult) -> None:
    """Notice ids are unique within a poll (each is delivered once by its id); a bonus is
    never below zero."""
    ids = [(n.kind, n.id) for n in poll.notices]
    if len(ids) != len(set(ids)):
        raise _fail("poll: two notices of one kind share an id")
    bonus = poll.balance.bonus
    if bonus is not None:
        # Points are BonusPoints (shown as points), never Money; either is never below zero.
        value = bonus.points if isinstance(bonus, BonusPoints) else bonus.amount
        if value < 0:
            raise _fail("poll: a bonus balance below zero (none is None)")
    trusted = poll.trusted_payment
    if trusted is not None and trusted.owed and trusted.due_date is None:
        raise _fail("poll: a trusted payment debt without a due date")
