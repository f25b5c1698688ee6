"""The in-memory store shared by the domain's parts, with the indexes that make lookups O(1)."""

from __future__ import annotations

import contextvars
import datetime as dt
import hashlib
import hmac
import itertools
import random
import re
from collections import defaultdict

from .catalogue import OPERATORS, OperatorConfig
from .clock import MSK, BillingClock
from .errors import Forbidden, InvalidInput, NotFound
from .models import (
    Account,
    Captcha,
    ConfirmationTicket,
    IdpIdentity,
    NewsItem,
    OutboxMessage,
    Session,
    Subscriber,
)

__all__ = ["FORCED_FAULTS", "DomainState", "hash_password", "normalise_phone"]

#: Faults the simulation middleware forces on the current request: a set holding
#: "expired_session" and/or "captcha". The domain reads it in session lookups and logins.
FORCED_FAULTS: contextvars.ContextVar[frozenset[str]] = contextvars.ContextVar(
    "forced_faults", default=frozenset()
)

PBKDF2_ITERATIONS = 10_000
_PHONE_JUNK = re.compile(r"[\s()\-.]")


def hash_password(password: str, salt: bytes) -> bytes:
    return hashlib.pbkdf2_hmac("sha256", password.encode(), salt, PBKDF2_ITERATIONS)


def check_password(password: str, salt: bytes, expected: bytes | None) -> bool:
    if expected is None:
        return False
    return hmac.compare_digest(hash_password(password, salt), expected)


def normalise_phone(value: str) -> str | None:
    """10 digits from ``+7 (903) 123-45-67``, ``89031234567`` or ``9031234567``; else None."""
    digits = _PHONE_JUNK.sub("", value.strip())
    if digits.startswith("+7"):
        digits = digits[2:]
    elif len(digits) == 11 and digits[0] in "78":
        digits = digits[1:]
    return digits if len(digits) == 10 and digits.isdigit() else None


def mask_phone(phone: str) -> str:
    return f"+7 {phone[:3]} ***-**-{phone[-2:]}"


def mask_email(email: str) -> str:
    name, _, domain = email.partition("@")
    return f"{name[:2]}***@{domain}"


class DomainState:
    """State and indexes. Everything is keyed so that a request touches O(1) records."""

    def __init__(self, clock: BillingClock, seed: int = 1) -> None:
        self.clock = clock
        self.seed = seed
        self.rng = random.Random(seed)
        self.subscribers: dict[str, Subscriber] = {}
        self.accounts: dict[str, Account] = {}
        self.sessions: dict[str, Session] = {}
        self.captchas: dict[str, Captcha] = {}
        self.latest_captcha: dict[str, Captcha] = {}  # operator -> last issued
        self.tickets: dict[str, ConfirmationTicket] = {}
        self.retired_tickets: dict[str, ConfirmationTicket] = {}  # expired or tried out
        self.outbox: list[OutboxMessage] = []
        self.announcements: dict[str, list[NewsItem]] = {}  # operator -> news announced since
        self.demo_passwords: dict[str, str] = {}  # subscriber id -> password (demo data only)
        self.idp_identities: dict[tuple[str, str], IdpIdentity] = {}  # (idp, username)
        self.idp_subjects: dict[tuple[str, str], IdpIdentity] = {}  # (idp, subject)
        # (operator, kind, value) -> subscriber id; kind in login/phone/email
        self._ident: dict[tuple[str, str, str], str] = {}
        self._by_number: dict[tuple[str, str], str] = {}  # (operator, number) -> account id
        self._idp_links: dict[tuple[str, str, str], str] = {}  # (operator, idp, sub) -> sub id
        self._ids = itertools.count(1)
        self._serial: defaultdict[str, itertools.count[int]] = defaultdict(
            lambda: itertools.count(1)
        )

    # -- helpers -------------------------------------------------------------------------
    def next_id(self) -> int:
        return next(self._ids)

    @staticmethod
    def operator(operator: str) -> OperatorConfig:
        try:
            return OPERATORS[operator]
        except KeyError:
            raise NotFound(f"Неизвестный оператор: {operator}") from None

    def now(self) -> dt.datetime:
        return self.clock.now()

    def lifetime(self, span: dt.timedelta) -> dt.timedelta:
        """A login-side lifetime (a code, a session, an SSO round trip) on the billing clock.

        Billing may run faster than real time (the demo runs it 720 times faster), but a person
        still needs real minutes to read an SMS and type it: ``span`` is real time, so on a fast
        clock it becomes ``span * speed`` of billing time. A frozen or slow clock (tests) keeps
        it as is, so advancing the clock by ``span`` still expires it.
        """
        return span * max(1.0, self.clock.speed)

    def real_seconds(self, span: dt.timedelta) -> int:
        """A span of billing time as the real seconds it lasts (for ``expires_in`` fields)."""
        return int(span.total_seconds() / max(1.0, self.clock.speed))

    # -- lookups -------------------------------------------------------------------------
    def subscriber(self, subscriber_id: str) -> Subscriber:
        try:
            return self.subscribers[subscriber_id]
        except KeyError:
            raise NotFound("Абонент не найден") from None

    def find_subscriber(
        self, operator: str, identifier: str, kind: str | None = None
    ) -> Subscriber | None:
        """The subscriber of ``operator`` known by ``identifier``, or None.

        ``kind`` restricts the lookup: "login", "phone", "email" or "account" (an account
        number); None tries them in that order. Phones are normalised to 10 digits.
        """
        value = identifier.strip()
        kinds = (kind,) if kind else ("login", "phone", "email", "account")
        for k in kinds:
            if k == "account":
                acc_id = self._by_number.get((operator, value))
                if acc_id is not None:
                    return self.subscribers[self.accounts[acc_id].subscriber_id]
                continue
            key = value.lower()
            if k == "phone":
                key = normalise_phone(value) or ""
            sid = self._ident.get((operator, k, key))
            if sid is not None:
                return self.subscribers[sid]
        return None

    def account(self, account_id: str) -> Account:
        try:
            return self.accounts[account_id]
        except KeyError:
            raise NotFound("Лицевой счёт не найден") from None

    def account_by_number(self, operator: str, number: str) -> Account:
        acc_id = self._by_number.get((operator, number.strip()))
        if acc_id is None:
            raise NotFound("Лицевой счёт не найден")
        return self.accounts[acc_id]

    def accounts_of(self, subscriber_id: str) -> list[Account]:
        sub = self.subscriber(subscriber_id)
        return [self.accounts[a] for a in sub.account_ids]

    def account_for(self, session: Session, ref: str) -> Account:
        """The account ``ref`` (an account id or number) if the session's subscriber owns it."""
        acc = self.accounts.get(ref)
        if acc is None or acc.operator != session.operator:
            acc_id = self._by_number.get((session.operator, ref))
            acc = self.accounts.get(acc_id) if acc_id else None
        if acc is None:
            raise NotFound("Лицевой счёт не найден")
        if acc.subscriber_id != session.subscriber_id:
            raise Forbidden()
        return acc

    # -- indexes ---------------------------------------------------------------------------
    def _index_subscriber(self, sub: Subscriber) -> None:
        for kind, value in (("login", sub.login), ("phone", sub.phone), ("email", sub.email)):
            if value:
                key = (sub.operator, kind, value.lower())
                if key in self._ident and self._ident[key] != sub.id:
                    raise InvalidInput(f"{kind} {value} is already taken at {sub.operator}")
                self._ident[key] = sub.id

    def _index_account(self, acc: Account) -> None:
        key = (acc.operator, acc.number)
        if key in self._by_number:
            raise InvalidInput(f"account number {acc.number} is already taken")
        self._by_number[key] = acc.id

    def next_serial(self, operator: str) -> int:
        return next(self._serial[operator])

    def msk(self, day: dt.date, hour: int = 0, minute: int = 0) -> dt.datetime:
        return dt.datetime(day.year, day.month, day.day, hour, minute, tzinfo=MSK)
