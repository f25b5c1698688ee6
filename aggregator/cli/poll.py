"""``aggregator poll``: one polling round now, with a progress bar and a result table.

The round is the poller's own (:mod:`aggregator.services.polls`): backoff, the breaker and the
alerts it opens included. The exit code is 1 when any polled account failed, so a script or a
cron job notices; ``--json`` prints the outcomes for scripts.
"""

from __future__ import annotations

from typing import TYPE_CHECKING, Annotated

import typer

from .app import app
from .base import console, fail, load_settings, print_json, run, safe_cell

if TYPE_CHECKING:
    from ..polling.models import PollOutcome


@app.command()
def poll(
    account: Annotated[
        int | None, typer.Option("--account", help="Опросить один счёт / poll one account.")
    ] = None,
    all_accounts: Annotated[
        bool, typer.Option("--all", help="Опросить все счета / poll every account.")
    ] = False,
    as_json: Annotated[bool, typer.Option("--json", help="JSON вместо таблицы / JSON.")] = False,
) -> None:
    """Опросить счета сейчас / Run one poll cycle now, with a progress bar and a result table."""
    if account is None and not all_accounts:
        fail("укажите --account ID или --all / give --account ID or --all")
    if account is not None and all_accounts:
        fail("--account и --all вместе нельзя / use one of --account and --all")
    from rich.progress import BarColumn, MofNCompleteColumn, Progress, TextColumn, TimeElapsedColumn

    from ..services.polls import failed, poll_now

    settings = load_settings()
    with Progress(
        TextColumn("{task.description}"),
        BarColumn(),
        MofNCompleteColumn(),
        TimeElapsedColumn(),
        console=console(stderr=True),
        disable=as_json,
    ) as progress:
        task = progress.add_task("Опрос / polling", total=None)

        def advance(done: int, total: int) -> None:
            progress.update(task, completed=done, total=total)

        outcomes = run(poll_now(settings, account, advance))
    if not outcomes and account is not None:
        fail(f"нет счёта {account} / no account {account}")
    if as_json:
        print_json([_outcome_json(o) for o in outcomes])
    elif not outcomes:
        typer.echo("Нет связанных счетов / no linked accounts: aggregator accounts add")
    else:
        _print_outcomes(outcomes)
    bad = failed(outcomes)
    if bad:
        fail(
            f"не опрошено счетов: {len(bad)} из {len(outcomes)} / "
            f"{len(bad)} of {len(outcomes)} accounts failed: "
            + ", ".join(f"{o.account_id} ({o.error_key or o.status})" for o in bad)
        )


def _outcome_json(o: PollOutcome) -> dict[str, object]:
    return {
        "id": o.account_id,
        "operator": o.provider_id,
        "label": o.label,
        "number": o.number_masked,
        "status": o.status,
        "balance": str(o.balance) if o.balance is not None else None,
        "currency": o.currency,
        "as_of": o.as_of.isoformat() if o.as_of else None,
        "error": o.error_key,
    }


def _print_outcomes(outcomes: list[PollOutcome]) -> None:
    from rich.table import Table

    from ..i18n import format_money

    table = Table(title="Результат опроса / Poll results")
    for column in ("id", "operator", "label", "number", "status", "balance", "error"):
        table.add_column(column, no_wrap=column == "balance")
    for o in outcomes:
        table.add_row(
            str(o.account_id),
            safe_cell(o.provider_id),
            safe_cell(o.label or ""),
            safe_cell(o.number_masked or ""),
            o.status,
            format_money(o.balance, o.currency or "RUB", "ru") if o.balance is not None else "—",
            o.error_key or "",
        )
    console().print(table)
