"""The poller as its own process, for the kill -9 test (tests/polling/test_kill9.py).

Runs the embedded PollingService (its scheduler tick, the outbox sender) against a
reference provider over loopback until killed or SIGTERM. Writes one line per event to
``<data-dir>/events-<life>.log`` (one ``write()`` each, *after* the commit it reports, so a
line survives a kill of the process):

    STARTED
    COMMIT <reading id> <reading id> ...     readings just committed
    QUEUED <n>                               alert messages just committed to the outbox

With ``--zygote`` the script imports everything once and then forks one poller per
``spawn <life>`` line on stdin (answering ``PID <pid>``); ``kill <pid>`` sends it SIGKILL and
reaps it (``DEAD <pid>``), ``term <pid>`` sends SIGTERM and waits. Each life is still a
process of its own killed with SIGKILL; the zygote only saves the ~2 s of imports per life.
"""

from __future__ import annotations

import argparse
import asyncio
import faulthandler
import logging
import os
import signal
import sys
from pathlib import Path
from typing import Any

from reference_provider.testing.aggregator_env import provider_urls

from aggregator.plugins import load_plugins
from aggregator.polling import PollingOptions, PollingService
from aggregator.runtime import Runtime
from aggregator.settings import Settings


def parse() -> argparse.Namespace:
    parser = argparse.ArgumentParser()
    parser.add_argument("--data-dir", required=True)
    parser.add_argument("--provider", required=True)
    parser.add_argument("--sink-port", type=int, required=True)
    parser.add_argument("--zygote", action="store_true")
    return parser.parse_args()


async def main(args: argparse.Namespace, events: Path) -> None:
    log = open(events, "a", buffering=1, encoding="utf-8")  # noqa: SIM115, ASYNC230

    def emit(line: str) -> None:
        log.write(line + "\n")

    logging.basicConfig(level=logging.WARNING, stream=sys.stderr)
    faulthandler.register(signal.SIGUSR1)  # a stack dump on demand, for a stuck process
    registry = load_plugins()
    settings = Settings(
        data_dir=Path(args.data_dir),
        provider_urls=provider_urls(registry, args.provider),
        mail_sink_port=args.sink_port,
        min_poll_interval_s=1,
        poll_interval_s=1,
    )
    options = PollingOptions(
        tick_interval_s=0.2,
        lease_s=3.0,
        min_interval_s=0.3,
        max_batch=10,
        jobs_per_operator=2,
        outbox_interval_s=0.2,
        start_sink=False,
        outbox_lease_s=3.0,
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


def zygote(args: argparse.Namespace) -> None:
    load_plugins()  # import every plugin once, before forking
    for line in sys.stdin:
        command, _, arg = line.strip().partition(" ")
        if command == "spawn":
            pid = os.fork()
            if pid == 0:
                devnull = os.open(os.devnull, os.O_WRONLY)
                os.dup2(devnull, 1)
                try:
                    asyncio.run(main(args, Path(args.data_dir) / f"events-{arg}.log"))
                finally:
                    os._exit(0)
            answer = f"PID {pid}"
        elif command in ("kill", "term"):
            pid = int(arg)
            os.kill(pid, signal.SIGKILL if command == "kill" else signal.SIGTERM)
            os.waitpid(pid, 0)
            answer = f"DEAD {pid}"
        else:
            return
        sys.stdout.write(answer + "\n")
        sys.stdout.flush()


if __name__ == "__main__":
    arguments = parse()
    if arguments.zygote:
        zygote(arguments)
    else:
        asyncio.run(main(arguments, Path(arguments.data_dir) / "events.log"))
