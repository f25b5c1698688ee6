"""Login schemes: what a user must supply to log in, declared by each plugin as data.

The web wizard and the CLI build their forms from a :class:`LoginScheme`; nothing in the
core knows an operator. Identifiers are normalised and validated here (a Beeline phone typed
``+7 (903) 123-45-67`` becomes ``9031234567``) so that every plugin receives clean values.
"""

from __future__ import annotations

import re
from enum import StrEnum
from typing import Any, Literal

from pydantic import Field, model_validator

from .models import Model
from .secret import Secret

__all__ = [
    "Credentials",
    "ExtraField",
    "IdentifierKind",
    "IdentifierSpec",
    "LoginScheme",
    "PasswordPolicy",
    "SecretKind",
    "SsoProvider",
    "normalise_phone",
]


class IdentifierKind(StrEnum):
    PHONE = "phone"
    EMAIL = "email"
    LOGIN = "login"
    ACCOUNT_NUMBER = "account_number"
    CONTRACT_NUMBER = "contract_number"


class SecretKind(StrEnum):
    PASSWORD = "password"  # permanent password
    SMS_CODE = "sms_code"  # one-time code sent by SMS
    EMAIL_CODE = "email_code"  # one-time code sent by e-mail
    SSO = "sso"  # no secret here: an identity provider logs the user in


class SsoProvider(StrEnum):
    GOSUSLUGI = "gosuslugi"
    TBANK = "tbank"
    VK = "vk"
    ODNOKLASSNIKI = "ok"
    MAILRU = "mailru"


def normalise_phone(value: str) -> str:
    """A Russian mobile number as 10 digits: strip +7 or a leading 8, spaces, brackets, dashes."""
    digits = re.sub(r"[\s()\-.]", "", value.strip())
    if digits.startswith("+7"):
        digits = digits[2:]
    elif len(digits) == 11 and digits[0] in "78":
        digits = digits[1:]
    if not re.fullmatch(r"9\d{9}|[3-8]\d{9}", digits):
        raise ValueError("phone must be a Russian number: 10 digits, e.g. 9031234567")
    return digits


class IdentifierSpec(Model):
    """One kind of identifier a scheme accepts, with how to normalise and check it."""

    kind: IdentifierKind
    label_ru: str
    label_en: str
    pattern: str | None = None  # a full-match regex on the normalised value
    hint_ru: str = ""
    hint_en: str = ""
    example: str = ""

    def normalise(self, value: str) -> str:
        """Return the clean value or raise ``ValueError`` with a message for the user."""
        value = value.strip()
        if not value:
            raise ValueError(f"{self.label_en} is required")
        if self.kind is IdentifierKind.PHONE:
            value = normalise_phone(value)
        elif self.kind is IdentifierKind.EMAIL:
            value = value.lower()
            if not re.fullmatch(r"[^@\s]+@[^@\s]+\.[^@\s]+", value):
                raise ValueError("e-mail address is not valid")
        elif self.kind in (IdentifierKind.ACCOUNT_NUMBER, IdentifierKind.CONTRACT_NUMBER):
            value = re.sub(r"[\s\-]", "", value)
        if self.pattern and not re.fullmatch(self.pattern, value):
            hint = self.hint_en or f"{self.label_en} has the wrong format"
            raise ValueError(hint)
        return value


class ExtraField(Model):
    """A field besides identifier and secret: region, last 3 digits of the account, ..."""

    name: str
    label_ru: str
    label_en: str
    kind: Literal["text", "digits", "choice"] = "text"
    pattern: str | None = None
    choices: list[tuple[str, str]] = []  # (value, label)
    required: bool = True
    hint_ru: str = ""
    hint_en: str = ""

    def normalise(self, value: str | None) -> str | None:
        value = (value or "").strip()
        if not value:
            if self.required:
                raise ValueError(f"{self.label_en} is required")
            return None
        if self.kind == "choice" and value not in {c[0] for c in self.choices}:
            raise ValueError(f"{self.label_en}: choose one of the listed values")
        if self.pattern and not re.fullmatch(self.pattern, value):
            raise ValueError(self.hint_en or f"{self.label_en} has the wrong format")
        return value


class PasswordPolicy(Model):
    """Rules for a new password (Rostelecom: 8-20, upper and lower Latin, digits)."""

    min_length: int = 1
    max_length: int = 128
    require_upper: bool = False
    require_lower: bool = False
    require_digit: bool = False
    latin_only: bool = False
    description_ru: str = ""
    description_en: str = ""

    def check(self, password: str) -> list[str]:
        """Return the broken rules as message keys; an empty list means the password is fine."""
        problems: list[str] = []
        if not self.min_length <= len(password) <= self.max_length:
            problems.append("password.length")
        if self.require_upper and not re.search(r"[A-Z]", password):
            problems.append("password.upper")
        if self.require_lower and not re.search(r"[a-z]", password):
            problems.append("password.lower")
        if self.require_digit and not re.search(r"\d", password):
            problems.append("password.digit")
        if self.latin_only and re.search(r"[^\x21-\x7e]", password):
            problems.append("password.latin")
        return problems


class LoginScheme(Model):
    """One way to log in to an operator, as data."""

    id: str
    title_ru: str
    title_en: str
    identifiers: list[IdentifierSpec] = []
    secret: SecretKind = SecretKind.PASSWORD
    extra_fields: list[ExtraField] = []
    sso_providers: list[SsoProvider] = []
    password_policy: PasswordPolicy | None = None
    # The operator always asks for a one-time code after the password (an SMS, an e-mail): a
    # scheduled re-login would text the user each time, so ``silent_relogin`` is then off
    # unless the scheme sets it explicitly. Shown by ``aggregator plugins list``.
    code_follows: bool = False
    # Stored credentials can log in again without a person (default: True, or False when
    # ``code_follows``).
    silent_relogin: bool = True

    @model_validator(mode="before")
    @classmethod
    def _no_silent_relogin_when_a_code_follows(cls, data: Any) -> Any:
        if isinstance(data, dict) and data.get("code_follows") and "silent_relogin" not in data:
            data = {**data, "silent_relogin": False}
        return data

    def identifier(self, kind: IdentifierKind | str) -> IdentifierSpec:
        for spec in self.identifiers:
            if spec.kind == kind:
                return spec
        raise ValueError(f"this login does not accept {kind}")

    def build_credentials(
        self,
        identifier: str = "",
        secret: str | Secret | None = None,
        *,
        identifier_kind: IdentifierKind | str | None = None,
        extras: dict[str, str | None] | None = None,
        sso_provider: str | None = None,
    ) -> Credentials:
        """Validate raw form input into :class:`Credentials`; ``ValueError`` says what is wrong."""
        extras = extras or {}
        clean_extras: dict[str, str] = {}
        for extra in self.extra_fields:
            value = extra.normalise(extras.get(extra.name))
            if value is not None:
                clean_extras[extra.name] = value
        if self.secret is SecretKind.SSO:
            if sso_provider not in {p.value for p in self.sso_providers}:
                raise ValueError("choose an identity provider")
            return Credentials(scheme=self.id, sso_provider=SsoProvider(sso_provider))
        if not self.identifiers:
            raise ValueError("this login scheme declares no identifier")
        spec = self.identifier(identifier_kind) if identifier_kind else self.identifiers[0]
        value = spec.normalise(identifier)
        if self.secret is SecretKind.PASSWORD and not secret:
            raise ValueError("password is required")
        return Credentials(
            scheme=self.id,
            identifier_kind=spec.kind,
            identifier=value,
            secret=Secret(secret) if secret else None,
            extras=clean_extras,
        )


class Credentials(Model):
    """What the user supplied, validated. ``secret`` never shows in repr or logs."""

    scheme: str
    identifier_kind: IdentifierKind | None = None
    identifier: str = ""
    secret: Secret | None = None
    extras: dict[str, str] = Field(default_factory=dict)
    sso_provider: SsoProvider | None = None

    def secrets(self) -> list[str]:
        """Plain secret values, for :func:`aggregator.core.errors.redact`."""
        return [self.secret.reveal()] if self.secret else []
