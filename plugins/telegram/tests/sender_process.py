"""The aggregator's sending side as its own process, for the kill -9 test (test_kill9.py).

Runs the PollingService without the scheduler: the outbox sender and the Telegram channel's
loop, against the fake Bot API on loopback, until killed (SIGKILL) or stopped (SIGTERM).
"""

from __future__ import annotations

import argparse
import asyncio
import json
import logging
import signal
import sys
from pathlib import Path

from aggregator.plugins import load_plugins
from aggregator.polling import PollingOptions, PollingService
from aggregator.runtime import Runtime
from aggregator.settings import Settings


async def main(args: argparse.Namespace) -> None:
    logging.basicConfig(level=logging.WARNING, stream=sys.stderr)
    registry = load_plugins()
    settings = Settings(
        data_dir=Path(args.data_dir),
        notifier_urls=json.loads(args.notifier_urls),
        mail_sink_port=args.sink_port,
    )
    options = PollingOptions(outbox_interval_s=0.2, outbox_lease_s=2.0, start_sink=False)
    stop = asyncio.Event()
    asyncio.get_running_loop().add_signal_handler(signal.SIGTERM, stop.set)
    async with (
        Runtime(settings, registry=registry) as runtime,
        PollingService(runtime, settings=settings, options=options, schedule=False),
    ):
        print("STARTED", flush=True)
        await stop.wait()


if __name__ == "__main__":
    parser = argparse.ArgumentParser()
    parser.add_argument("--data-dir", required=True)
    parser.add_argument("--notifier-urls", required=True)
    parser.add_argument("--sink-port", type=int, required=True)
    asyncio.run(main(parser.parse_args()))
