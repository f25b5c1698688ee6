"""The root ``aggregator`` command group and its ``--data-dir`` option."""

from __future__ import annotations

from pathlib import Path
from typing import Annotated

import typer

from .base import load_settings, new_typer, set_data_dir

__all__ = ["app"]

app = new_typer(
    "Агрегатор: все счета связи семьи на одной панели.\n\n"
    "The aggregator: one dashboard for a household's telecom accounts.",
    name="aggregator",
)


@app.callback()
def _root(
    ctx: typer.Context,
    data_dir: Annotated[
        Path | None,
        typer.Option(
            "--data-dir",
            help="Каталог данных / data directory (default: AGGREGATOR_DATA_DIR or .data).",
        ),
    ] = None,
) -> None:
    set_data_dir(data_dir)
    from ..logs import install_redaction

    install_redaction()
    if ctx.invoked_subcommand is not None and not ctx.resilient_parsing:
        load_settings()  # a bad setting stops every command, in one line naming it
