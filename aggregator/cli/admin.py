"""``aggregator keys`` and ``aggregator db``: vault keys and the database schema."""

from __future__ import annotations

import typer

from .base import (
    console,
    fail,
    load_settings,
    new_typer,
    require_sqlite_file,
    run,
)

keys_app = new_typer("Ключи хранилища секретов / Vault keys.")
db_app = new_typer("Схема базы данных / The database schema.")

# -- keys and db ---------------------------------------------------------------------------


@keys_app.command("rotate")
def keys_rotate() -> None:
    """Новый основной ключ и перешифровка всех секретов / New primary key; re-seal everything."""
    from rich.progress import BarColumn, MofNCompleteColumn, Progress, TextColumn

    from ..services.keys import rotate_keys

    settings = load_settings()
    with Progress(
        TextColumn("{task.description}"),
        BarColumn(),
        MofNCompleteColumn(),
        console=console(stderr=True),
    ) as progress:
        task = progress.add_task("Перешифровка / re-sealing", total=None)

        def advance(done: int, total: int) -> None:
            progress.update(task, completed=done, total=total)

        report = run(rotate_keys(settings, progress=advance))
    typer.echo(
        f"Основной ключ / primary key: {report.new_key_id}; "
        f"перешифровано / re-sealed: {report.values} values in {report.rows} rows"
    )
    if report.old_key_ids:
        typer.echo(
            "Старые ключи / old keys: "
            + ", ".join(report.old_key_ids)
            + " — удалить / remove them: aggregator keys remove-old"
        )
    if report.unreadable:
        fail(
            f"{len(report.unreadable)} значений не открылись / values did not open: "
            + ", ".join(report.unreadable[:5])
        )


@keys_app.command("remove-old")
def keys_remove_old() -> None:
    """Удалить старые ключи, которые больше не нужны / Remove old keys no longer used."""
    from ..services.keys import remove_old_keys

    report = run(remove_old_keys(load_settings()))
    typer.echo(f"Основной ключ / primary key: {report.primary_key_id}")
    typer.echo("Удалены / removed: " + (", ".join(report.removed) or "—"))
    for key_id, fields in report.in_use.items():
        typer.echo(f"Ещё используется / still in use: {key_id} ({len(fields)} values)")
    if report.removable_from_env:
        typer.echo(
            "Уберите из AGGREGATOR_VAULT_KEY / remove from AGGREGATOR_VAULT_KEY: "
            + ", ".join(report.removable_from_env)
        )


@db_app.command("upgrade")
def db_upgrade() -> None:
    """Обновить схему базы данных / Migrate the database to the newest schema."""
    from ..services.database import upgrade_schema

    settings = load_settings()
    with console(stderr=True).status("Миграция / migrating…"):
        revision = run(upgrade_schema(settings))
    typer.echo(f"Схема / schema: {revision}")


@db_app.command("current")
def db_current() -> None:
    """Версия схемы базы / The database's schema revision (and whether it is current)."""
    from ..services.database import schema_state

    settings = load_settings()
    require_sqlite_file(settings)
    state = run(schema_state(settings))
    if state.is_current:
        typer.echo(f"{state.current} (актуальна / current)")
        return
    typer.echo(f"{state.current or '—'} (новейшая / newest: {state.head})")
    fail("схема устарела / the schema is behind: aggregator db upgrade")
