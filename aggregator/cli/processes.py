"""``aggregator serve``, ``demo`` and ``worker``: the long-running processes."""

from __future__ import annotations

from typing import Annotated

import typer

from .app import app
from .base import load_settings, run

# -- serve, demo, worker, poll --------------------------------------------------------------


@app.command()
def serve(
    host: Annotated[str | None, typer.Option(help="Адрес / listen address.")] = None,
    port: Annotated[int | None, typer.Option(help="Порт / port.")] = None,
) -> None:
    """Запустить панель (веб, планировщик, опрос) / Run the dashboard, scheduler and poller."""
    from ..server.app import serve as serve_dashboard

    serve_dashboard(load_settings(host=host, port=port))


@app.command()
def demo() -> None:
    """Демо: эталонный оператор и панель с демо-семьёй / The demo with a demo household."""
    from ..demo import run_demo

    run_demo(load_settings())


@app.command()
def worker(
    identity: Annotated[
        str | None,
        typer.Option(
            help="Имя процесса / this worker's name (default: host-pid); restarting with the "
            "same name frees at once what a killed worker of that name held."
        ),
    ] = None,
    metrics_port: Annotated[
        int | None,
        typer.Option(
            min=1,
            max=65535,
            help="Порт метрик Prometheus этого процесса / serve this worker's Prometheus "
            "metrics on this port (default: none).",
        ),
    ] = None,
    metrics_host: Annotated[
        str, typer.Option(help="Адрес метрик / the metrics port's listen address.")
    ] = "127.0.0.1",
    concurrency: Annotated[
        int | None,
        typer.Option(
            min=1,
            help="Опросов одновременно / the most polls this worker runs at once (each "
            "operator's limit, shared by all workers, applies as well).",
        ),
    ] = None,
) -> None:
    """Дополнительный процесс опроса (PostgreSQL) / An extra polling worker process."""
    from ..polling.worker import run_worker

    run(
        run_worker(
            load_settings(),
            identity=identity,
            metrics_port=metrics_port,
            metrics_host=metrics_host,
            concurrency=concurrency,
        )
    )
