"""``aggregator report``: download a spending-detail report (PDF or XLSX) of one account."""

from __future__ import annotations

from pathlib import Path
from typing import Annotated

import typer

from .app import app
from .base import fail, print_json
from .operator import AccountArg, JsonOption, parse_day, read


@app.command("report")
def report(
    account_id: AccountArg,
    start: Annotated[str, typer.Option("--from", help="С / first day, YYYY-MM-DD.")],
    end: Annotated[str, typer.Option("--to", help="По / last day, YYYY-MM-DD.")],
    fmt: Annotated[str, typer.Option("--format", help="pdf или xlsx / pdf or xlsx.")] = "pdf",
    out: Annotated[
        Path | None,
        typer.Option(
            "--out", help="Файл или каталог / file or folder (default: the report's name)."
        ),
    ] = None,
    force: Annotated[bool, typer.Option("--force", help="Перезаписать / overwrite.")] = False,
    as_json: JsonOption = False,
) -> None:
    """Детализация расходов / A spending-detail report, saved to a file."""
    from ..core.models import ReportFormat

    first, last = parse_day(start, "--from"), parse_day(end, "--to")
    try:
        format_ = ReportFormat(fmt.lower())
    except ValueError:
        fail(f"--format: pdf или xlsx / pdf or xlsx, not {fmt!r}")

    found = read(account_id, lambda w: w.ops.report(w.db, w.account, first, last, format_))
    name = Path(found.filename).name or f"report-{account_id}.{format_.value}"
    target = out if out is not None else Path(name)
    if target.is_dir():
        target = target / name
    if target.exists() and not force:
        fail(f"файл уже есть / the file exists: {target} (--force)")
    target.write_bytes(found.content)
    if as_json:
        print_json(
            {
                "path": str(target),
                "bytes": len(found.content),
                "format": format_.value,
                "from": found.period_start.isoformat(),
                "to": found.period_end.isoformat(),
            }
        )
        return
    typer.echo(f"Сохранено / saved: {target} ({len(found.content)} bytes)")
