"""The poller as its own process, for the kill -9 test (tests/polling/test_kill9.py).

Runs the embedded PollingService (APScheduler on SQLite, the outbox sender) against a
reference provider over loopback until killed or SIGTERM. Prints one line per event to
stdout, flushed *after* the commit it reports:

    STARTED
    COMMIT <reading id> <reading id> ...     readings just committed
    QUEUED <n>                               alert messages just committed to the outbox
"""

from __future__ import annotations

import argparse
import asyncio
import logging
import signal
import sys
from pathlib import Path
from typing import Any

from aggregator.plugins import load_plugins
from aggregator.polling import PollingOptions, PollingService
from aggregator.polling.harness import provider_urls
from aggregator.runtime import Runtime
from aggregator.settings import Settings


def emit(line: str) -> None:
    sys.stdout.write(line + "\n")
    sys.stdout.flush()


async def main() -> None:
    parser = argparse.ArgumentParser()
    parser.add_argument("--data-dir", required=True)
    parser.add_argument("--provider", required=True)
    parser.add_argument("--sink-port", type=int, required=True)
    args = parser.parse_args()
    logging.basicConfig(level=logging.WARNING, stream=sys.stderr)
    registry = load_plugins()
    settings = Settings(
        data_dir=Path(args.data_dir),
        provider_urls=provider_urls(registry, args.provider),
        mail_sink_port=args.sink_port,
        min_poll_interval_s=1,
        poll_interval_s=1,
    )
    options = PollingOptions(
        dispatch_interval_s=0.2,
        dispatch_budget_s=2.0,
        lease_s=3.0,
        min_interval_s=0.3,
        max_batch=10,
        jobs_per_operator=2,
        outbox_interval_s=0.2,
        start_sink=False,
        scheduler_cleanup_s=5.0,
    )
    stop = asyncio.Event()
    asyncio.get_running_loop().add_signal_handler(signal.SIGTERM, stop.set)
    async with Runtime(settings, registry=registry) as runtime:
        service = PollingService(runtime, settings=settings, options=options)

        def committed(records: Any, results: Any) -> None:
            ids = [str(r.reading_id) for r in results if r.stored and r.reading_id]
            if ids:
                emit("COMMIT " + " ".join(ids))

        async with service:
            service.runner.committer.on_committed.append(committed)
            previous = service.store.on_queued

            def queued(n: int) -> None:
                emit(f"QUEUED {n}")
                if previous is not None:
                    previous(n)

            service.store.on_queued = queued
            emit("STARTED")
            await stop.wait()


if __name__ == "__main__":
    asyncio.run(main())
