"""``aggregator demo`` stopped during start-up (SIGTERM, or killed outright) stops the reference
provider it started: nothing is left listening."""

from __future__ import annotations

import signal
import socket
import subprocess
import sys
from pathlib import Path

import psutil
import pytest

SCRIPT = Path(__file__).with_name("demo_startup_process.py")


def free_port() -> int:
    with socket.socket() as sock:
        sock.bind(("127.0.0.1", 0))
        return int(sock.getsockname()[1])


def listening(port: int) -> bool:
    with socket.socket() as sock:
        sock.settimeout(0.3)
        return sock.connect_ex(("127.0.0.1", port)) == 0


@pytest.mark.parametrize("stop", [signal.SIGTERM, signal.SIGKILL])
def test_a_demo_stopped_during_start_up_leaves_no_reference_provider(
    tmp_path: Path, stop: signal.Signals
) -> None:
    port = free_port()
    process = subprocess.Popen(
        [sys.executable, str(SCRIPT), str(tmp_path), str(port), str(free_port())],
        stdout=subprocess.PIPE,
        text=True,
    )
    provider: psutil.Process | None = None
    try:
        assert process.stdout is not None
        assert process.stdout.readline().strip() == "PREPARING", "the demo did not start"
        children = psutil.Process(process.pid).children()
        assert len(children) == 1 and listening(port)
        provider = children[0]
        process.send_signal(stop)
        process.wait(30)
        provider.wait(15)  # psutil.TimeoutExpired if it is still running
        assert not listening(port)
    finally:
        if process.poll() is None:
            process.kill()
        if provider is not None and provider.is_running():  # the bug: do not leak it here
            provider.kill()
