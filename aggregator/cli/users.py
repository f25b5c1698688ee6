"""``aggregator users``: households and their users."""

from __future__ import annotations

from typing import TYPE_CHECKING, Annotated

import typer

from .base import (
    is_interactive,
    load_settings,
    new_typer,
    open_db,
    read_secret,
    run,
)

if TYPE_CHECKING:
    from ..settings import Settings

users_app = new_typer("Пользователи и семьи / Users and households.")

# -- users ---------------------------------------------------------------------------------


@users_app.command("create")
def users_create(
    email: Annotated[str, typer.Option("--email", help="E-mail для входа / sign-in e-mail.")],
    password_stdin: Annotated[
        bool, typer.Option("--password-stdin", help="Пароль из stdin / read it from stdin.")
    ] = False,
    password_env: Annotated[
        str | None, typer.Option("--password-env", help="Имя переменной / env variable name.")
    ] = None,
    name: Annotated[str, typer.Option("--name", help="Имя семьи / household name.")] = "",
    lang: Annotated[str, typer.Option("--lang", help="ru или en / ru or en.")] = "ru",
    interactive: Annotated[
        bool | None, typer.Option("--interactive/--no-interactive", help="Спрашивать / prompt.")
    ] = None,
) -> None:
    """Создать семью и её первого пользователя / Create a household and its owner."""
    asking = is_interactive(interactive) and not password_stdin
    if password_stdin or password_env or not asking:
        password = read_secret(
            stdin=password_stdin,
            env=password_env,
            interactive=False,
            label="",
            option_hint="--password-stdin | --password-env VAR",
        )
    else:
        password = str(
            typer.prompt(
                "Пароль / password", hide_input=True, confirmation_prompt="Повторите / repeat"
            )
        )
    user_id, household_id = run(_users_create(load_settings(), email, password, name, lang))
    typer.echo(
        f"Создан пользователь {user_id} в семье {household_id} / created user {user_id} "
        f"in household {household_id}"
    )


async def _users_create(
    settings: Settings, email: str, password: str, name: str, lang: str
) -> tuple[int, int]:
    from ..services.households import create_household_with_owner
    from ..storage.db import session_factory

    engine = await open_db(settings)
    try:
        async with session_factory(engine)() as db, db.begin():
            user = await create_household_with_owner(
                db, email=email, password=password, name=name, lang=lang
            )
            return user.id, user.household_id
    finally:
        await engine.dispose()
