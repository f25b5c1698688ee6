"""Redaction of a diagnostics trace: secrets removed, personal data masked consistently.

A :class:`Redactor` is told what it must never let through — the credentials, the session's
tokens and cookies (*secrets*), the household's names, phone numbers, e-mail addresses, postal
addresses, account and contract numbers (*personal data*) — and finds more on its own: values
under sensitive keys (``password``, ``token``, ``Set-Cookie`` ...) become secrets, values under
personal keys (``phone``, ``email``, ``fullName``, ``accountNumber`` ...) and anything shaped like
an e-mail address or a formatted phone number become personal data.

Secrets are **removed** (``[removed]``). Personal values are **masked consistently**: the same
value gives the same stand-in everywhere (``Name-1``, ``person-2@example.invalid``), and digit
strings keep their shape (``+7 903 123-45-67`` -> ``+7 900 000-00-01``; the same number written
``9031234567`` elsewhere -> ``9000000001``), so the trace stays readable and replays: a plugin that
checks a number's format still accepts it.

The last pass, :meth:`Redactor.scrub`, looks for every known value in every encoding a value may
take in a trace — raw, URL-encoded, JSON-escaped, hex, base64 at every alignment, UTF-16 inside
base64 — and removes what it finds.
"""

from __future__ import annotations

import base64
import binascii
import json
import re
import urllib.parse
from collections import Counter
from collections.abc import Iterable, Mapping
from typing import Any

__all__ = ["PERSONAL_KINDS", "REMOVED", "Redactor"]

REMOVED = "[removed]"
PERSONAL_KINDS = ("name", "phone", "email", "address", "account")

# Keys whose values are secrets (compared without case, "_" and "-").
_SECRET_KEY = re.compile(
    r"(pass(word|wd)?|pwd|secret|token|cookie|session(id)?|sid|csrf|xsrf|authori[sz]ation|auth"
    r"|bearer|jwt|otp|pin|smscode|confirmcode|confirmationcode|verificationcode|captcha(answer|"
    r"text|value)?|apikey|privatekey|signature|nonce|ticket|setcookie|refresh|access)$"
)
# "code" is a one-time code only when it is digits in text ("1234"); a JSON number is a status
# code (20000) and a word is an error code ("invalid_credentials").
_ONE_TIME_CODE = re.compile(r"\s*\d{3,10}\s*")
_PERSONAL_KEYS: tuple[tuple[re.Pattern[str], str], ...] = (
    (re.compile(r"e?mail(address)?$"), "email"),
    (re.compile(r"(phone|msisdn|ctn|tel|mobile|phonenumber|contactphone)\w*$"), "phone"),
    (
        re.compile(
            r"(fullname|fio|firstname|lastname|middlename|surname|patronymic|username|"
            r"ownername|clientname|customername|contactname|subscribername|holder|person)$"
        ),
        "name",
    ),
    (re.compile(r"(address|addr|fulladdress|postaddress|street|flat|apartment)$"), "address"),
    (
        re.compile(
            r"(number|accountnumber|account|accountid|contract|contractnumber|agreement|"
            r"agreementnumber|ls|lschet|licschet|personalaccount|login|identifier|inn|snils|"
            r"passport)$"
        ),
        "account",
    ),
)
_EMAIL = re.compile(r"[A-Za-z0-9._%+-]+@[A-Za-z0-9.-]+\.[A-Za-z]{2,}")
_PHONE = re.compile(
    r"(?<![\w+])(?:\+7|8|7)?[\s(-]{0,2}\d{3}[\s)-]{0,2}\d{3}[\s-]?\d{2}[\s-]?\d{2}(?!\w)"
)
_BASE64_TOKEN = re.compile(r"[A-Za-z0-9+/_-]{8,}={0,2}")
_HEX_TOKEN = re.compile(r"(?<![0-9A-Fa-f])[0-9A-Fa-f]{8,}(?![0-9A-Fa-f])")
_MIN_SECRET = 4  # shorter values (a 3-digit code) are removed where they stand, not searched


def _norm(key: str) -> str:
    return re.sub(r"[\W_]+", "", key).lower()


def _digits(value: str) -> str:
    return re.sub(r"\D", "", value)


class Redactor:
    """Removes secrets and masks personal data; remembers what it did for the summary."""

    def __init__(
        self,
        secrets: Iterable[str] = (),
        personal: Mapping[str, str] | Iterable[tuple[str, str]] = (),
    ) -> None:
        self._secrets: set[str] = set()
        self._masks: dict[str, str] = {}  # personal value -> stand-in
        self._phones: dict[str, str] = {}  # the ten-digit core of a phone -> stand-in core
        self._counters: Counter[str] = Counter()
        self.removed: Counter[str] = Counter()  # what was removed, by kind (for the summary)
        self.masked: dict[str, set[str]] = {kind: set() for kind in PERSONAL_KINDS}
        for secret in secrets:
            self.secret(secret)
        items = personal.items() if isinstance(personal, Mapping) else personal
        for value, kind in items:
            self.personal(value, kind)

    # -- what must not get through -----------------------------------------------------------
    def secret(self, value: Any) -> None:
        """Never let ``value`` through (a password, a code, a token, a cookie)."""
        if isinstance(value, bool) or value is None:
            return
        text = str(value).strip()
        if len(text) >= _MIN_SECRET:
            self._secrets.add(text)
            decoded = urllib.parse.unquote_plus(text)
            if decoded != text and len(decoded) >= _MIN_SECRET:
                self._secrets.add(decoded)

    def personal(self, value: Any, kind: str) -> str:
        """Mask ``value`` (of ``kind``: name, phone, email, address, account) everywhere; the
        stand-in it gets, the same for the same value."""
        text = str(value).strip() if value is not None else ""
        if len(text) < 3 or text in self._masks.values() or text == REMOVED:
            return text
        if kind == "phone" or (kind == "account" and len(_digits(text)) in (10, 11)):
            digits = _digits(text)
            if len(digits) >= 10 and len(digits) - len(text.replace(" ", "")) <= 6:
                return self._phone(text)
        if text in self._masks:
            return self._masks[text]
        if kind not in PERSONAL_KINDS:
            kind = "account"
        self._counters[kind] += 1
        n = self._counters[kind]
        if kind == "email":
            mask = f"person-{n}@example.invalid"
        elif kind == "account":
            mask = self._shaped(text, n)
        else:
            mask = f"{kind.capitalize()}-{n}"
        self._masks[text] = mask
        self.masked[kind].add(mask)
        if kind == "name":  # each part of a full name alone too ("Иван", "Смирнов")
            for part in text.split():
                if len(part) >= 4 and part not in self._masks:
                    self._masks[part] = f"{mask}.{len(self._masks)}"
        return mask

    def _phone(self, text: str) -> str:
        """A phone number keeps its formatting; its digits become a stand-in's (by the core)."""
        digits = _digits(text)
        core = digits[-10:]
        fake = self._phones.get(core)
        if fake is None:
            self._counters["phone"] += 1
            fake = core[0] + str(self._counters["phone"]).rjust(9, "0")
            self._phones[core] = fake
        out = list(text)
        positions = [i for i, ch in enumerate(out) if ch.isdigit()][-10:]
        for i, digit in zip(positions, fake, strict=True):
            out[i] = digit
        masked = "".join(out)
        self._masks.setdefault(text, masked)
        self.masked["phone"].add(fake)
        for form in {core, "7" + core, "8" + core, "+7" + core}:
            self._masks.setdefault(form, masked if form == text else form[:-10] + fake)
        return masked

    @staticmethod
    def _shaped(text: str, n: int) -> str:
        """``0274000123`` -> ``0000000001``, ``REF-0001`` -> ``XXX-0001``: the index, same shape."""
        index = str(n)
        digit_slots = sum(ch.isdigit() for ch in text)
        fill = index.rjust(digit_slots, "0")[-digit_slots:] if digit_slots else ""
        out, k = [], 0
        for ch in text:
            if ch.isdigit():
                out.append(fill[k])
                k += 1
            elif ch.isalpha():
                out.append("X")
            else:
                out.append(ch)
        masked = "".join(out)
        return masked if digit_slots else f"{masked}-{index}"

    # -- structured data ---------------------------------------------------------------------
    def key_kind(self, key: str, value: Any) -> str | None:
        """``"secret"``, a personal kind, or None for an ordinary key."""
        name = _norm(key)
        if not name:
            return None
        if _SECRET_KEY.search(name):
            return "secret"
        if name == "key" and isinstance(value, str):
            return "secret"
        if name == "code" and isinstance(value, str) and _ONE_TIME_CODE.fullmatch(value):
            return "secret"
        for pattern, kind in _PERSONAL_KEYS:
            if pattern.match(name):
                return kind
        return None

    def learn(self, data: Any) -> None:
        """Walk decoded JSON (or form fields) and remember sensitive values by their keys."""
        if isinstance(data, Mapping):
            for key, value in data.items():
                kind = self.key_kind(str(key), value)
                if isinstance(value, Mapping | list):
                    if kind == "secret":
                        for leaf in _leaves(value):
                            self.secret(leaf)
                    self.learn(value)
                elif value is None or isinstance(value, bool):
                    continue
                elif kind == "secret":
                    self.secret(value)
                elif kind is not None and isinstance(value, str | int):
                    self.personal(value, kind)
        elif isinstance(data, list):
            for item in data:
                self.learn(item)

    def data(self, data: Any) -> Any:
        """A copy of decoded JSON with secrets removed and personal values masked."""
        if isinstance(data, Mapping):
            out: dict[str, Any] = {}
            for key, value in data.items():
                kind = self.key_kind(str(key), value)
                if kind == "secret" and value not in (None, "", [], {}, True, False):
                    self.removed["secret fields"] += 1
                    out[str(key)] = REMOVED
                else:
                    out[str(key)] = self.data(value)
            return out
        if isinstance(data, list):
            return [self.data(item) for item in data]
        if isinstance(data, str):
            return self.text(data)
        if isinstance(data, int) and not isinstance(data, bool):
            masked = self.text(str(data))
            return data if masked == str(data) else masked
        return data

    # -- text --------------------------------------------------------------------------------
    def text(self, text: str) -> str:
        """Secrets out, personal values masked, e-mails and formatted phones found and masked."""
        if not text:
            return text
        for email in set(_EMAIL.findall(text)):
            if email not in self._masks.values():
                self.personal(email, "email")
        for match in set(_PHONE.findall(text)):
            candidate = match.strip()
            digits = _digits(candidate)
            known = digits[-10:] in self._phones
            formatted = candidate.startswith("+") or bool(re.search(r"[\s()-]", candidate))
            if known or (formatted and len(digits) in (10, 11)):
                self.personal(candidate, "phone")
        return self.scrub(text)

    def _forms(self) -> list[tuple[str, str]]:
        """(form, replacement) for every known value, longest first."""
        pairs: dict[str, str] = {}
        for secret in self._secrets:
            for form in _plain_forms(secret):
                pairs.setdefault(form, REMOVED)
        for value, mask in self._masks.items():
            for form in _plain_forms(value):
                pairs.setdefault(form, mask)
        return sorted(pairs.items(), key=lambda item: -len(item[0]))

    def scrub(self, text: str) -> str:
        """Remove every known value from ``text`` in any encoding (the last line of defence)."""
        forms = self._forms()
        if forms:
            pattern = re.compile("|".join(re.escape(f) for f, _ in forms), re.I)
            table = {f.lower(): r for f, r in forms}

            def replace(match: re.Match[str]) -> str:
                replacement = table.get(match.group(0).lower(), REMOVED)
                if replacement == REMOVED:
                    self.removed["known secrets"] += 1
                return replacement

            text = pattern.sub(replace, text)
        needles = self._needles()
        if needles:
            text = _BASE64_TOKEN.sub(lambda m: self._encoded(m.group(0), needles, "base64"), text)
            text = _HEX_TOKEN.sub(lambda m: self._encoded(m.group(0), needles, "hex"), text)
        return text

    def _needles(self) -> list[bytes]:
        values = [v for v in (*self._secrets, *self._masks) if len(v) >= _MIN_SECRET]
        needles: list[bytes] = []
        for value in values:
            needles.append(value.encode())
            needles.append(value.encode("utf-16-le"))
            needles.append(value.encode("utf-16-be"))
        return needles

    def _encoded(self, token: str, needles: list[bytes], how: str) -> str:
        for decoded in _decodings(token, how):
            if any(needle in decoded for needle in needles):
                self.removed[f"{how}-encoded values"] += 1
                return REMOVED
        return token

    # -- the summary -------------------------------------------------------------------------
    def summary(self) -> dict[str, Any]:
        return {
            "removed": dict(sorted(self.removed.items())),
            "masked": {kind: len(values) for kind, values in self.masked.items() if values},
        }


def _leaves(data: Any) -> Iterable[Any]:
    if isinstance(data, Mapping):
        for value in data.values():
            yield from _leaves(value)
    elif isinstance(data, list):
        for value in data:
            yield from _leaves(value)
    else:
        yield data


def _plain_forms(value: str) -> set[str]:
    """The textual forms of a value: raw, URL-encoded, JSON-escaped, hex."""
    forms = {
        value,
        urllib.parse.quote(value),
        urllib.parse.quote_plus(value),
        urllib.parse.quote(value, safe=""),
        json.dumps(value)[1:-1],
        json.dumps(value, ensure_ascii=False)[1:-1],
        value.encode("unicode_escape").decode("ascii"),
    }
    raw = value.encode()
    if len(value) >= _MIN_SECRET:
        forms.add(binascii.hexlify(raw).decode())
        forms.add(binascii.hexlify(value.encode("utf-16-le")).decode())
    return {f for f in forms if f}


def _decodings(token: str, how: str) -> Iterable[bytes]:
    """``token`` decoded at every alignment (a value may sit anywhere inside a longer token)."""
    if how == "hex":
        for start in (0, 1):
            chunk = token[start:]
            chunk = chunk[: len(chunk) // 2 * 2]
            try:
                yield binascii.unhexlify(chunk)
            except (binascii.Error, ValueError):
                continue
        return
    body = token.rstrip("=")
    for start in range(4):
        chunk = body[start:]
        rest = len(chunk) % 4
        chunk = chunk[:-1] if rest == 1 else chunk + "=" * ((4 - rest) % 4)
        if not chunk:
            continue
        for alphabet in (None, b"-_"):
            try:
                yield base64.b64decode(chunk, altchars=alphabet, validate=alphabet is None)
            except (binascii.Error, ValueError):
                continue
