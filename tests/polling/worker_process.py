"""One ``aggregator worker`` for the PostgreSQL test (tests/polling/test_postgres_workers.py).

Runs :func:`aggregator.polling.worker.run_worker` with a given identity until SIGTERM, and
writes ``POLL <account id>`` to ``--events`` when it starts polling an account.
"""

from __future__ import annotations

import argparse
import asyncio
import logging
import sys
from pathlib import Path
from typing import Any

from reference_provider.testing.aggregator_env import provider_urls

from aggregator.plugins import load_plugins
from aggregator.polling import PollingOptions
from aggregator.polling import service as service_module
from aggregator.polling.worker import run_worker
from aggregator.settings import Settings


def main() -> None:
    parser = argparse.ArgumentParser()
    parser.add_argument("--database-url", required=True)
    parser.add_argument("--data-dir", required=True)
    parser.add_argument("--provider", required=True)
    parser.add_argument("--identity", required=True)
    parser.add_argument("--events", required=True)
    parser.add_argument("--metrics-port", type=int, default=None)
    parser.add_argument("--per-operator-concurrency", type=int, default=None)
    args = parser.parse_args()
    logging.basicConfig(level=logging.WARNING, stream=sys.stderr)
    events = open(args.events, "a", buffering=1, encoding="utf-8")  # noqa: SIM115
    settings = Settings(
        data_dir=Path(args.data_dir),
        database_url=args.database_url,
        provider_urls=provider_urls(load_plugins(), args.provider),
        per_operator_concurrency=args.per_operator_concurrency,
    )
    options = PollingOptions(
        tick_interval_s=0.2,
        jobs_per_operator=4,
        max_batch=10,
        send_mail=False,
        start_sink=False,
    )
    original = service_module.PollingService.__aenter__

    async def entered(self: Any) -> Any:
        service = await original(self)
        poll = service.runner.poller.poll

        async def logged(account: Any) -> Any:
            events.write(f"POLL {account.id}\n")
            return await poll(account)

        service.runner.poller.poll = logged
        events.write("READY\n")
        return service

    service_module.PollingService.__aenter__ = entered  # type: ignore[method-assign]
    asyncio.run(
        run_worker(
            settings, identity=args.identity, options=options, metrics_port=args.metrics_port
        )
    )


if __name__ == "__main__":
    main()
