"""``aggregator tokens``: personal API tokens (create, list, revoke).

A thin adapter over :mod:`aggregator.services.tokens`. ``create`` prints the token itself alone
on stdout (so ``TOKEN=$(aggregator tokens create ...)`` works) and the explanation on stderr;
it is shown this once and stored only as a hash.
"""

from __future__ import annotations

from typing import TYPE_CHECKING, Annotated, Any

import typer

from .base import console, database, fail, load_settings, new_typer, print_json, run

if TYPE_CHECKING:
    from ..services.tokens import TokenInfo
    from ..settings import Settings

tokens_app = new_typer("API-токены / personal API tokens (Home Assistant, scripts).")

EMAIL = Annotated[
    str, typer.Option("--email", help="Участник, от чьего имени / the member it acts for.")
]


def _row(info: TokenInfo) -> dict[str, Any]:
    return {
        "id": info.id,
        "name": info.name,
        "prefix": info.prefix,
        "scope": info.scope,
        "member": info.user_email,
        "created_at": info.created_at.isoformat(timespec="seconds"),
        "last_used_at": info.last_used_at.isoformat(timespec="seconds")
        if info.last_used_at
        else None,
        "revoked_at": info.revoked_at.isoformat(timespec="seconds") if info.revoked_at else None,
    }


@tokens_app.command("create")
def tokens_create(
    email: EMAIL,
    name: Annotated[str, typer.Option("--name", help="Название / what uses it.")],
    scope: Annotated[
        str, typer.Option("--scope", help="read (только чтение) или write / read or write.")
    ] = "read",
) -> None:
    """Создать токен (показывается один раз) / create a token (shown once)."""
    info, value = run(_create(load_settings(), email, name, scope))
    console(stderr=True).print(
        f"Токен {info.id} «{info.name}» ({info.scope}) создан; он показан один раз. / "
        f"Token {info.id} created; it is shown this once."
    )
    typer.echo(value)


async def _create(settings: Settings, email: str, name: str, scope: str) -> tuple[TokenInfo, str]:
    from ..services import tokens

    async with database(settings) as db:
        try:
            user = await tokens.member_by_email(db, email)
            created = await tokens.create_token(
                db, household_id=user.household_id, user_id=user.id, name=name, scope=scope
            )
        except tokens.TokenError as exc:
            fail(str(exc))
    return created.info, created.token.reveal()


@tokens_app.command("list")
def tokens_list(
    email: EMAIL,
    as_json: Annotated[bool, typer.Option("--json", help="JSON")] = False,
) -> None:
    """Токены семьи участника / the tokens of the member's household."""
    rows = [_row(info) for info in run(_list(load_settings(), email))]
    if as_json:
        print_json(rows)
        return
    if not rows:
        typer.echo("Токенов нет / no tokens")
        return
    from rich.table import Table

    table = Table("id", "name", "prefix", "scope", "member", "created", "last used", "state")
    for row in rows:
        table.add_row(
            str(row["id"]),
            row["name"],
            row["prefix"] + "…",
            row["scope"],
            row["member"],
            row["created_at"],
            row["last_used_at"] or "—",
            "revoked" if row["revoked_at"] else "active",
        )
    console().print(table)


async def _list(settings: Settings, email: str) -> list[TokenInfo]:
    from ..services import tokens

    async with database(settings) as db:
        try:
            user = await tokens.member_by_email(db, email)
        except tokens.TokenError as exc:
            fail(str(exc))
        return await tokens.list_tokens(db, user.household_id)


@tokens_app.command("revoke")
def tokens_revoke(
    token_id: Annotated[int, typer.Argument(help="id из списка / the id from the list")],
    email: EMAIL,
) -> None:
    """Отозвать токен / revoke a token (at once)."""
    info = run(_revoke(load_settings(), email, token_id))
    typer.echo(f"Токен {info.id} «{info.name}» отозван / token {info.id} revoked")


async def _revoke(settings: Settings, email: str, token_id: int) -> TokenInfo:
    from ..services import tokens

    async with database(settings) as db:
        try:
            user = await tokens.member_by_email(db, email)
            return await tokens.revoke_token(db, user.household_id, token_id, by_user_id=user.id)
        except tokens.TokenError as exc:
            fail(str(exc))
