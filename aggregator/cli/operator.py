"""What the operator commands share: one account's operations, and codes from a person or a
script.

:func:`operating` opens the database, the vault and a runtime and yields an
:class:`~aggregator.services.operations.AccountOperations` with the account. :class:`Codes`
answers the operator's one-time codes: from ``--code-env VAR`` or ``--code-stdin`` when
given, else a hidden prompt on a terminal, else the command fails saying which option to
give. :func:`finish` runs the confirmation loop of the application layer until the operator
is satisfied (a rejected code is asked again at a terminal; from a script it is an error).
"""

from __future__ import annotations

import datetime as dt
import os
from collections.abc import AsyncIterator, Awaitable, Callable
from contextlib import asynccontextmanager
from dataclasses import dataclass
from typing import TYPE_CHECKING, Annotated, Any, TypeVar

import typer

from .base import catalogue_text, fail, is_interactive, load_settings, open_db, run

if TYPE_CHECKING:
    from sqlalchemy.ext.asyncio import AsyncSession

    from ..core.flows import Challenge
    from ..services.operations import AccountOperations, Done, NeedsCode
    from ..settings import Settings
    from ..storage.models import LinkedAccount

__all__ = [
    "AccountArg",
    "Assumed",
    "CodeEnvOption",
    "CodeStdinOption",
    "Codes",
    "ConfirmAssumedOption",
    "JsonOption",
    "Operating",
    "change",
    "confirm_assumed",
    "finish",
    "operating",
    "parse_day",
    "read",
]

AccountArg = Annotated[int, typer.Argument(help="Номер счёта / account id (accounts list).")]
JsonOption = Annotated[bool, typer.Option("--json", help="JSON вместо таблицы / JSON.")]
CodeEnvOption = Annotated[
    str | None,
    typer.Option(
        "--code-env",
        help="Код из SMS в этой переменной окружения / the one-time code is in this env variable.",
    ),
]
CodeStdinOption = Annotated[
    bool,
    typer.Option("--code-stdin", help="Код из stdin, по строке / codes from stdin, one a line."),
]
ConfirmAssumedOption = Annotated[
    bool,
    typer.Option(
        "--confirm-assumed",
        help="Подтверждаю ещё раз: формат оператора предположен / confirm once more an operation "
        "that moves money on an assumed wire format (for scripts).",
    ),
]
MAX_CODE_ATTEMPTS = 3
T = TypeVar("T")


@dataclass
class Codes:
    """Where one-time codes come from: an environment variable, stdin, or the person."""

    env: str | None = None
    stdin: bool = False
    interactive: bool = False

    def __post_init__(self) -> None:
        if self.env and self.stdin:
            fail("--code-env и --code-stdin вместе нельзя / use one of --code-env and --code-stdin")

    @property
    def scripted(self) -> bool:
        return bool(self.env or self.stdin)

    def announce(self, challenge: Challenge) -> None:
        """Say where the code went (on stderr: stdout stays clean for ``--json``)."""
        channel = {"sms": "SMS", "email": "e-mail", "push": "push"}.get(challenge.channel or "", "")
        where = challenge.masked_destination or "?"
        typer.echo(
            f"Оператор прислал код ({channel}) на {where} / "
            f"the operator sent a code ({channel}) to {where}",
            err=True,
        )
        if challenge.message:
            typer.echo(challenge.message, err=True)

    def code(self, challenge: Challenge) -> str:
        """The code for ``challenge``."""
        if self.env:
            value = os.environ.get(self.env, "").strip()
            if not value:
                fail(
                    f"переменная {self.env} не задана / environment variable {self.env} is not set"
                )
            return value
        if self.stdin:
            value = typer.get_text_stream("stdin").readline().strip()
            if not value:
                fail("нет кода во входном потоке / no code on stdin")
            return value
        if not self.interactive:
            fail(
                "оператор прислал код: запустите в терминале или дайте --code-env VAR / "
                "--code-stdin / the operator sent a code: run in a terminal or give "
                "--code-env VAR or --code-stdin"
            )
        return str(typer.prompt("Код / code", hide_input=True)).strip()


@dataclass
class Operating:
    db: AsyncSession
    ops: AccountOperations
    account: LinkedAccount


@asynccontextmanager
async def operating(settings: Settings, account_id: int) -> AsyncIterator[Operating]:
    """The account ``account_id`` (any household: the machine's administrator runs the CLI)
    with the operations of a fresh runtime."""
    from ..polling.login_lease import LoginLeases
    from ..runtime import Runtime
    from ..services.accounts import get_account
    from ..services.operations import AccountOperations
    from ..storage.db import session_factory
    from ..storage.keycheck import open_vault

    engine = await open_db(settings)
    try:
        vault = await open_vault(settings, engine)
        async with Runtime(settings) as runtime, session_factory(engine)() as db:
            account = await get_account(db, None, account_id)
            leases = LoginLeases(engine, vault, "cli")
            yield Operating(db, AccountOperations(runtime, vault, leases=leases), account)
    finally:
        await engine.dispose()


async def finish(work: Operating, outcome: Done[Any] | NeedsCode, codes: Codes) -> Done[Any]:
    """Answer the operator's codes until the operation is done (or fail in one line)."""
    from ..services.operations import NeedsCode

    wrong = 0
    while isinstance(outcome, NeedsCode):
        if outcome.error is not None:
            reason = f": {outcome.reason}" if outcome.reason else ""
            if outcome.error == "confirm.rejected":
                wrong += 1
            if codes.scripted or wrong >= MAX_CODE_ATTEMPTS:
                fail(f"оператор не принял код / the operator rejected the code{reason}")
            typer.echo(f"Код не подошёл / the code did not work{reason}", err=True)
        else:
            codes.announce(outcome.challenge)
        code = codes.code(outcome.challenge)
        outcome = await work.ops.confirm(work.db, work.account, outcome.pending, code, user_id=None)
    return outcome


def read(account_id: int, fetch: Callable[[Operating], Awaitable[T]]) -> T:
    """What ``fetch`` reads from the operator about one account."""

    async def go() -> T:
        async with operating(load_settings(), account_id) as work:
            return await fetch(work)

    return run(go())


@dataclass(frozen=True)
class Assumed:
    """An operation that may move money: the second confirmation the page and the API ask
    for when it rests on an assumed wire format (:mod:`aggregator.services.provenance`).
    ``confirmed`` is the script's ``--confirm-assumed``."""

    operation: str
    confirmed: bool = False
    enabling: bool = True


def confirm_assumed(work: Operating, assumed: Assumed) -> bool:
    """True when the operation may go ahead: its format is known, or the person (or the
    script's ``--confirm-assumed``) confirmed once more; a script without the flag fails in
    one line saying why."""
    from ..services.provenance import needs_second_confirmation

    provider_id = work.account.provider_id
    provider = work.ops.runtime.registry.providers.get(provider_id)
    if assumed.confirmed or not needs_second_confirmation(
        provider, assumed.operation, enabling=assumed.enabling
    ):
        return True
    name = provider.name if provider is not None else provider_id
    why = catalogue_text("provenance.confirm_why", operator=name)
    if not is_interactive(None):
        fail(f"{why} {catalogue_text('provenance.confirm_title')}: --confirm-assumed")
    typer.echo(why, err=True)
    return bool(typer.confirm(catalogue_text("provenance.confirm_yes") + "?", default=False))


def change(
    account_id: int,
    codes: Codes,
    start: Callable[[Operating], Awaitable[Done[Any] | NeedsCode]],
    before: Callable[[Operating], Awaitable[bool]] | None = None,
    assumed: Assumed | None = None,
) -> Done[Any] | None:
    """Run an operation and answer its codes; ``before`` may look first and say no (None);
    ``assumed`` asks once more when the operation moves money on an assumed wire format."""

    async def go() -> Done[Any] | None:
        async with operating(load_settings(), account_id) as work:
            if before is not None and not await before(work):
                return None
            if assumed is not None and not confirm_assumed(work, assumed):
                return None
            return await finish(work, await start(work), codes)

    return run(go())


def parse_day(value: str, option: str) -> dt.date:
    """A date option, ``YYYY-MM-DD``; one line naming the option otherwise."""
    try:
        return dt.date.fromisoformat(value.strip())
    except ValueError:
        fail(f"{option}: дата ГГГГ-ММ-ДД / a date YYYY-MM-DD, not {value!r}")
