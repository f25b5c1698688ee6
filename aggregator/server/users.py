"""Who is asking: the signed-in user of a request (loaded by :mod:`.security`)."""

from __future__ import annotations

from dataclasses import dataclass

__all__ = ["CurrentUser"]


@dataclass(frozen=True, slots=True)
class CurrentUser:
    """The signed-in user, loaded from the server-side session on every request."""

    user_id: int
    household_id: int
    email: str
    display_name: str
    role: str
    lang: str
    timezone: str
    household_name: str
    session_id: str  # sha256 of the cookie token (the WebSession primary key); "" for a token
    csrf_token: str
    token_id: int | None = None  # signed in by a personal API token (Authorization: Bearer)
    token_scope: str | None = None  # that token's scope: read | write

    @property
    def is_owner(self) -> bool:
        return self.role == "owner"
