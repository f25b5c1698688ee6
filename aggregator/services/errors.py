"""The application layer's own exceptions; the adapters translate them (404, one CLI line).

The provider contract's errors (:mod:`aggregator.core.errors`) pass through unchanged.
"""

from __future__ import annotations

__all__ = ["BadInput", "Forbidden", "NotFound"]


class NotFound(LookupError):
    """The thing asked for does not exist in this household (an account, a flow, a rule)."""

    def __init__(self, what: str, ident: object) -> None:
        super().__init__(f"нет {_RU.get(what, what)} {ident} / no {what} {ident}")
        self.what = what
        self.ident = ident


_RU = {
    "account": "счёта",
    "household": "семьи",
    "confirmation": "подтверждения",
    "member": "участника",
    "user": "пользователя",
}


class Forbidden(PermissionError):
    """The acting person may not do this (the owner removing themselves)."""


class BadInput(ValueError):
    """A value a person gave does not fit; ``field`` names it (the adapters show it there).

    ``key`` (with ``values``) names the message in the dashboard's translation table, so a
    page can say it at the field in the reader's language; ``message`` is the plain fallback.
    """

    def __init__(
        self, field: str, message: str, *, key: str | None = None, **values: object
    ) -> None:
        super().__init__(f"{field}: {message}")
        self.field = field
        self.message = message
        self.key = key
        self.values = values
