"""``aggregator demo`` whose preparation never ends, for tests/server/test_demo_stop.py.

Usage: demo_startup_process.py DATA_DIR REFERENCE_PORT DASHBOARD_PORT. Prints ``PREPARING``
once the reference provider answers and the preparation (linking accounts) has begun.
"""

from __future__ import annotations

import asyncio
import sys
from pathlib import Path
from typing import Any

from aggregator import demo
from aggregator.settings import Settings


async def endless_prepare(settings: Any, reference_url: str) -> list[str]:
    print("PREPARING", flush=True)
    await asyncio.sleep(3600)
    return []


if __name__ == "__main__":
    data_dir, reference_port, dashboard_port = sys.argv[1], int(sys.argv[2]), int(sys.argv[3])
    demo.REFERENCE_PORT = reference_port
    demo.prepare = endless_prepare  # type: ignore[assignment]
    demo.run_demo(Settings(data_dir=Path(data_dir), port=dashboard_port))
