"""``aggregator accounts recover``: "Забыли пароль?" at a terminal, then linking goes on.

A thin adapter over :mod:`aggregator.services.recovery`: the operator's recovery scheme asks
for the identifier (and a region...), where the code goes, then each challenge (the captcha
picture saved to a file, the code from a prompt, ``--code-env`` or ``--code-stdin``, the new
password twice or from ``--new-password-env``, checked against the operator's policy before
it is sent). When the operator sets the password, the login with it follows and the accounts
are linked as ``accounts add`` links them (``--no-link`` stops after the password).
"""

from __future__ import annotations

from typing import TYPE_CHECKING, Annotated

import typer

from .accounts import accounts_app, print_linked
from .base import choose, fail, is_interactive, load_settings, run
from .login import (
    AllSubaccountsOption,
    HouseholdOption,
    InteractiveOption,
    LabelOption,
    SubaccountOption,
    TerminalLogin,
    choose_operator,
    finish_login,
    link_found,
    open_linking,
    parse_fields,
)
from .operator import CodeEnvOption, Codes, CodeStdinOption

if TYPE_CHECKING:
    from ..core.flows import Challenge
    from ..core.provider import Provider
    from ..core.recovery import RecoveryDone
    from ..settings import Settings

__all__ = ["accounts_recover"]


@accounts_app.command("recover")
def accounts_recover(
    provider_id: Annotated[
        str | None, typer.Option("--provider", help="Оператор / operator id (rostelecom, ...).")
    ] = None,
    identifier: Annotated[
        str | None, typer.Option("--identifier", help="Телефон, почта, логин / login.")
    ] = None,
    identifier_kind: Annotated[
        str | None, typer.Option("--identifier-kind", help="phone, email, login, ...")
    ] = None,
    channel: Annotated[
        str | None, typer.Option("--channel", help="Куда прислать код / sms or email.")
    ] = None,
    fields: Annotated[
        list[str] | None,
        typer.Option("--field", help="Доп. поле / extra field name=value (region=...)."),
    ] = None,
    new_password_env: Annotated[
        str | None,
        typer.Option("--new-password-env", help="Новый пароль / env variable with it."),
    ] = None,
    link: Annotated[
        bool,
        typer.Option("--link/--no-link", help="Войти и добавить счета / then log in and link."),
    ] = True,
    subaccounts: SubaccountOption = None,
    all_subaccounts: AllSubaccountsOption = False,
    label: LabelOption = None,
    household_id: HouseholdOption = None,
    interactive: InteractiveOption = None,
    code_env: CodeEnvOption = None,
    code_stdin: CodeStdinOption = False,
) -> None:
    """Восстановить пароль и добавить счёт / Recover a forgotten password, then link."""
    asking = is_interactive(interactive) and not code_stdin
    terminal = TerminalLogin(
        asking, new_password_env, Codes(env=code_env, stdin=code_stdin, interactive=asking)
    )
    run(
        _recover(
            load_settings(),
            provider_id=provider_id,
            identifier=identifier,
            identifier_kind=identifier_kind,
            channel=channel,
            fields=parse_fields(fields or []),
            link=link,
            wanted=subaccounts or [],
            all_subaccounts=all_subaccounts,
            label=label,
            household_id=household_id,
            terminal=terminal,
        )
    )


async def _steps(
    provider: Provider, first: Challenge | RecoveryDone, terminal: TerminalLogin
) -> RecoveryDone:
    """Answer each recovery challenge in the terminal until the operator is done."""
    from ..core.flows import Challenge, ChallengeKind
    from ..services import recovery as recovery_service
    from ..services.errors import BadInput

    step = first
    for _ in range(12):
        if not isinstance(step, Challenge):
            return step
        challenge = step
        reply = await terminal.answer(challenge)
        try:
            step = await recovery_service.answer(
                provider,
                challenge,
                text=reply.text.reveal() if reply.text else None,
                new_password=reply.new_password.reveal() if reply.new_password else None,
            )
        except BadInput as exc:
            if not terminal.interactive or challenge.kind is not ChallengeKind.NEW_PASSWORD:
                fail(f"{exc.message}")
            typer.echo(exc.message, err=True)
    fail("восстановление не завершилось / the recovery did not finish")


async def _recover(
    settings: Settings,
    *,
    provider_id: str | None,
    identifier: str | None,
    identifier_kind: str | None,
    channel: str | None,
    fields: dict[str, str],
    link: bool,
    wanted: list[str],
    all_subaccounts: bool,
    label: str | None,
    household_id: int | None,
    terminal: TerminalLogin,
) -> None:
    from ..core.recovery import RecoveryOutcome
    from ..runtime import Runtime
    from ..services import recovery as recovery_service
    from ..services.errors import BadInput

    asking = terminal.interactive
    async with (
        open_linking(settings, household_id) as (engine, vault, household_pk),
        Runtime(settings) as runtime,
    ):
        able = {pid: cls for pid, cls in runtime.registry.providers.items() if cls.recovery_schemes}
        provider_id = choose_operator(
            able,
            provider_id,
            terminal,
            "ни один оператор не восстанавливает пароль / no operator offers it",
        )
        cls = runtime.registry.provider(provider_id)
        if not cls.recovery_schemes:
            fail(
                f"{cls.name} не восстанавливает пароль здесь / "
                f"{cls.name_en} offers no password recovery here"
            )
        scheme = cls.recovery_scheme()
        kind, value = terminal.identifier(scheme, identifier_kind, identifier)
        extras = {f.name: terminal.extra(f, fields.get(f.name)) for f in scheme.extra_fields}
        if channel is None and len(scheme.channels) > 1 and asking:
            channel = choose(
                "Куда прислать код / where to send the code:",
                [(c, {"sms": "SMS", "email": "e-mail"}[c]) for c in scheme.channels],
            )
        try:
            request = recovery_service.build_request(
                cls, scheme.id, value, identifier_kind=kind, extras=extras, channel=channel
            )
        except BadInput as exc:
            fail(exc.message)
        provider = runtime.provider(cls.id)
        typer.echo(f"Восстановление пароля / password recovery: {cls.name} ({cls.name_en})…")
        done = await _steps(provider, await recovery_service.start(provider, request), terminal)
        where = done.masked_destination or "—"
        if done.outcome is RecoveryOutcome.INSTRUCTIONS_SENT or done.credentials is None:
            typer.echo(
                f"Инструкция отправлена ({done.channel or 'sms'}) на {where}; задайте пароль "
                f"по ней и выполните `aggregator accounts add` / instructions sent to {where}: "
                "follow them, then run `aggregator accounts add`"
            )
            return
        typer.echo("Пароль изменён / the password is changed.")
        if not link:
            return
        session = await finish_login(
            provider, await recovery_service.log_in(provider, done), terminal
        )
        rows = await link_found(
            engine,
            vault,
            provider,
            household_id=household_pk,
            credentials=done.credentials,
            session=session,
            wanted=wanted,
            all_subaccounts=all_subaccounts,
            label=label,
            interactive=asking,
        )
    print_linked(rows, cls.id)
