"""``python -m reference_provider`` serves the app on loopback (a real process)."""

from __future__ import annotations

import socket
import subprocess
import sys
import time

import httpx

NATIVE = "/reference/api/v1"


def free_port() -> int:
    with socket.socket() as s:
        s.bind(("127.0.0.1", 0))
        return int(s.getsockname()[1])


def test_the_server_process_serves_every_part() -> None:
    port = free_port()
    process = subprocess.Popen(
        [
            sys.executable,
            "-m",
            "reference_provider",
            "--host",
            "127.0.0.1",
            "--port",
            str(port),
            "--seed",
            "3",
            "--sim",
            "--clock-speed",
            "0",
        ],
        stdout=subprocess.DEVNULL,
        stderr=subprocess.PIPE,
    )
    base = f"http://127.0.0.1:{port}"
    try:
        deadline = time.monotonic() + 30
        while True:
            try:
                httpx.get(f"{base}/", timeout=1)
                break
            except httpx.TransportError:
                assert process.poll() is None, process.stderr.read() if process.stderr else ""
                assert time.monotonic() < deadline, "the server did not start"
                time.sleep(0.1)
        assert httpx.get(f"{base}/schema/openapi.json").status_code == 200
        assert httpx.get(f"{base}/sim/clock").json()["speed"] == 0
        login = httpx.post(
            f"{base}{NATIVE}/auth/login", json={"login": "demo", "password": "demo-password"}
        )
        assert login.status_code == 200
    finally:
        process.terminate()
        process.wait(timeout=10)


def test_bad_options_are_refused() -> None:
    result = subprocess.run(
        [sys.executable, "-m", "reference_provider", "--clock-speed", "-1"],
        capture_output=True,
        text=True,
        timeout=30,
    )
    assert result.returncode == 2 and "--clock-speed" in result.stderr
