"""Password recovery ("Забыли пароль?"), once for the dashboard's wizard and the CLI.

The operator's own flow (:mod:`aggregator.core.recovery`) runs step by step: :func:`start`
with what the person typed, :func:`answer` for each challenge (a captcha, a one-time code, a
new password), until a :class:`~aggregator.core.recovery.RecoveryDone`. A new password is
checked here against the step's policy (and typed twice) *before* anything is sent, so an
operator never sees a password it would refuse. When the password is set, :func:`log_in`
starts the login with it, and the adapters go on linking (or re-logging in) as after any
login.
"""

from __future__ import annotations

from typing import TYPE_CHECKING

from ..core.flows import Challenge, ChallengeAnswer, ChallengeKind, Session
from ..core.recovery import RecoveryDone, RecoveryOutcome, RecoveryRequest
from ..core.secret import Secret
from .errors import BadInput

if TYPE_CHECKING:
    from ..core.provider import Provider

__all__ = ["Step", "answer", "build_request", "check_new_password", "log_in", "start"]

Step = Challenge | RecoveryDone


def build_request(
    cls: type[Provider],
    scheme_id: str | None,
    identifier: str,
    *,
    identifier_kind: str | None = None,
    extras: dict[str, str | None] | None = None,
    channel: str | None = None,
) -> RecoveryRequest:
    """The first screen's input, validated against the operator's recovery scheme."""
    try:
        scheme = cls.recovery_scheme(scheme_id)
    except ValueError as exc:
        raise BadInput("operator", str(exc), key="recovery.unsupported") from None
    try:
        return scheme.build_request(
            identifier, identifier_kind=identifier_kind, extras=extras, channel=channel
        )
    except ValueError as exc:
        raise BadInput("identifier", str(exc)) from None


async def start(provider: Provider, request: RecoveryRequest) -> Step:
    """Ask the operator to begin; the first challenge or the end."""
    return await provider.start_recovery(request)


def check_new_password(challenge: Challenge, password: str, confirm: str | None) -> None:
    """A new password must be typed twice alike and obey the step's policy: BadInput
    (field ``new_password``; ``values['problems']`` lists the broken rules) otherwise."""
    if confirm is not None and password != confirm:
        raise BadInput("new_password", "the passwords differ", key="form.password_mismatch")
    problems = challenge.password_policy.check(password) if challenge.password_policy else []
    if not password:
        problems = problems or ["password.length"]
    if problems:
        raise BadInput(
            "new_password",
            "the password does not fit the operator's rules: " + ", ".join(problems),
            key="wizard.password_policy",
            problems=problems,
        )


async def answer(
    provider: Provider,
    challenge: Challenge,
    *,
    text: str | None = None,
    new_password: str | None = None,
    confirm: str | None = None,
) -> Step:
    """Answer one recovery step; the next challenge or the end. Nothing is sent when the
    answer is missing or the new password breaks the policy (BadInput)."""
    if challenge.kind is ChallengeKind.NEW_PASSWORD:
        password = new_password or ""
        check_new_password(challenge, password, confirm)
        reply = ChallengeAnswer(new_password=Secret(password))
    else:
        value = (text or "").strip()
        if not value:
            raise BadInput("answer", "an answer is required", key="wizard.answer_required")
        reply = ChallengeAnswer(text=Secret(value))
    return await provider.continue_recovery(challenge, reply)


async def log_in(provider: Provider, done: RecoveryDone) -> Session | Challenge:
    """After ``password_set``: the session the operator opened, or a login with the new
    password (which may ask for a captcha like any login)."""
    if done.outcome is not RecoveryOutcome.PASSWORD_SET or done.credentials is None:
        raise BadInput("recovery", "no new password to log in with", key="recovery.not_set")
    if done.session is not None:
        return done.session
    return await provider.start_login(done.credentials)
