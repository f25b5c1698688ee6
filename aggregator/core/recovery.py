"""Password recovery ("Забыли пароль?"): a flow of challenges, like a login.

A provider whose operator lets a person recover a forgotten password declares its ways as
:class:`RecoveryScheme` data (what to type: identifier kinds, extra fields such as the region,
where the code or instructions may go, the new password's policy) and implements
``start_recovery(request)`` and ``continue_recovery(challenge, answer)``. Each step returns a
:class:`~aggregator.core.flows.Challenge` (a captcha, a one-time code, a new password checked
against ``password_policy`` by the application layer *before* it is sent) or the end,
a :class:`RecoveryDone`:

- ``password_set``: the operator took the new password; ``credentials`` log in with it (the
  wizard and the CLI go on linking with them), ``session`` when the operator logged the person
  in at once;
- ``instructions_sent``: the operator sent instructions by SMS or e-mail
  (``masked_destination``); the person follows them and then logs in.
"""

from __future__ import annotations

from enum import StrEnum
from typing import Literal

from pydantic import ConfigDict, Field

from .flows import Session
from .login import Credentials, ExtraField, IdentifierKind, IdentifierSpec, PasswordPolicy
from .models import Model

__all__ = ["RecoveryDone", "RecoveryOutcome", "RecoveryRequest", "RecoveryScheme"]

Channel = Literal["sms", "email"]


class RecoveryOutcome(StrEnum):
    PASSWORD_SET = "password_set"
    INSTRUCTIONS_SENT = "instructions_sent"


class RecoveryRequest(Model):
    """What the person typed on the first recovery screen, validated."""

    scheme: str
    identifier_kind: IdentifierKind
    identifier: str
    extras: dict[str, str] = Field(default_factory=dict)
    channel: Channel = "sms"


class RecoveryScheme(Model):
    """One way to recover a password at an operator, as data (forms are built from it)."""

    id: str
    title_ru: str
    title_en: str
    identifiers: list[IdentifierSpec]
    extra_fields: list[ExtraField] = []
    # Where the operator can send the code or the instructions; more than one: the person
    # chooses.
    channels: list[Channel] = ["sms"]
    # The new password's rules (checked before anything is sent), when one is set here.
    password_policy: PasswordPolicy | None = None
    # The login scheme the recovered password logs in with.
    login_scheme: str = "password"
    description_ru: str = ""
    description_en: str = ""

    def identifier(self, kind: IdentifierKind | str) -> IdentifierSpec:
        for spec in self.identifiers:
            if spec.kind == kind:
                return spec
        raise ValueError(f"this recovery does not accept {kind}")

    def build_request(
        self,
        identifier: str,
        *,
        identifier_kind: IdentifierKind | str | None = None,
        extras: dict[str, str | None] | None = None,
        channel: str | None = None,
    ) -> RecoveryRequest:
        """Validate raw form input; ``ValueError`` says what is wrong."""
        spec = self.identifier(identifier_kind) if identifier_kind else self.identifiers[0]
        value = spec.normalise(identifier)
        clean: dict[str, str] = {}
        for extra in self.extra_fields:
            normalised = extra.normalise((extras or {}).get(extra.name))
            if normalised is not None:
                clean[extra.name] = normalised
        chosen = channel or self.channels[0]
        if chosen not in self.channels:
            raise ValueError("choose where the code should go: " + ", ".join(self.channels))
        return RecoveryRequest(
            scheme=self.id,
            identifier_kind=spec.kind,
            identifier=value,
            extras=clean,
            channel=chosen,
        )


class RecoveryDone(Model):
    """The end of a recovery flow."""

    model_config = ConfigDict(frozen=True, extra="forbid")

    outcome: RecoveryOutcome
    channel: Channel | None = None
    masked_destination: str | None = None
    message: str = ""  # the operator's own words
    # PASSWORD_SET: log in with these (the identifier and the new password).
    credentials: Credentials | None = Field(default=None, repr=False)
    # PASSWORD_SET, when the operator logged the person in already.
    session: Session | None = Field(default=None, repr=False)
