"""Settings are checked with ranges and say what is wrong in one line (attack review, low)."""

from __future__ import annotations

import os
import socket
import stat
import subprocess
import sys
from pathlib import Path

import pytest
from pydantic import ValidationError

from aggregator.settings import Settings

BAD = [
    ("AGGREGATOR_HTTP_TIMEOUT_S", "0", "AGGREGATOR_HTTP_TIMEOUT_S"),
    ("AGGREGATOR_POLL_INTERVAL_S", "-5", "AGGREGATOR_POLL_INTERVAL_S"),
    ("AGGREGATOR_MIN_POLL_INTERVAL_S", "-1", "AGGREGATOR_MIN_POLL_INTERVAL_S"),
    ("AGGREGATOR_POLL_JITTER", "5", "AGGREGATOR_POLL_JITTER"),
    ("AGGREGATOR_PER_OPERATOR_CONCURRENCY", "0", "AGGREGATOR_PER_OPERATOR_CONCURRENCY"),
    ("AGGREGATOR_LOG_LEVEL", "LOUD", "AGGREGATOR_LOG_LEVEL"),
    ("AGGREGATOR_PORT", "70000", "AGGREGATOR_PORT"),
    ("AGGREGATOR_SMTP_PORT", "0", "AGGREGATOR_SMTP_PORT"),
    ("AGGREGATOR_PROVIDER_URLS", '{"beeline": "ftp://127.0.0.1/beeline"}', "ftp"),
    ("AGGREGATOR_PROVIDER_URLS", '{"beeline": {"base": "127.0.0.1:8081"}}', "http"),
    ("AGGREGATOR_PUBLIC_URL", "dashboard.example.ru", "AGGREGATOR_PUBLIC_URL"),
]


def _cli(tmp_path: Path, *args: str, **env: str) -> subprocess.CompletedProcess[str]:
    clean = {k: v for k, v in os.environ.items() if not k.startswith("AGGREGATOR_")}
    return subprocess.run(
        [
            str(Path(sys.executable).with_name("aggregator")),
            "--data-dir",
            str(tmp_path / "data"),
            *args,
        ],
        capture_output=True,
        text=True,
        timeout=60,
        env={**clean, **env},
    )


@pytest.mark.parametrize(("name", "value", "named"), BAD)
def test_out_of_range_settings_are_refused(
    monkeypatch: pytest.MonkeyPatch, name: str, value: str, named: str
) -> None:
    monkeypatch.setenv(name, value)
    with pytest.raises(ValidationError):
        Settings()


def test_a_bad_setting_is_one_clear_line_and_exit_1(tmp_path: Path) -> None:
    result = _cli(tmp_path, "plugins", "list", AGGREGATOR_POLL_JITTER="5")
    assert result.returncode == 1
    lines = result.stderr.strip().splitlines()
    assert len(lines) == 1, result.stderr
    assert "AGGREGATOR_POLL_JITTER" in lines[0] and "0.5" in lines[0]


def test_an_ftp_provider_url_is_refused_clearly(tmp_path: Path) -> None:
    result = _cli(
        tmp_path,
        "plugins",
        "list",
        AGGREGATOR_PROVIDER_URLS='{"beeline": "ftp://127.0.0.1/beeline"}',
    )
    assert result.returncode == 1
    line = result.stderr.strip()
    assert "\n" not in line and "beeline" in line and "ftp://" in line and "http" in line


def test_good_settings_pass(monkeypatch: pytest.MonkeyPatch) -> None:
    monkeypatch.setenv("AGGREGATOR_LOG_LEVEL", "debug")
    monkeypatch.setenv("AGGREGATOR_POLL_JITTER", "0.2")
    monkeypatch.setenv(
        "AGGREGATOR_PROVIDER_URLS",
        '{"beeline": "http://127.0.0.1:8081/beeline", "rostelecom": {"base": "https://lk.rt.ru"}}',
    )
    settings = Settings()
    assert settings.log_level == "DEBUG" and settings.poll_jitter == 0.2


def test_serve_on_a_busy_port_is_one_line_and_exit_1(tmp_path: Path) -> None:
    busy = socket.socket()
    busy.bind(("127.0.0.1", 0))
    busy.listen()
    try:
        port = busy.getsockname()[1]
        result = _cli(
            tmp_path,
            "serve",
            "--port",
            str(port),
            AGGREGATOR_EMBEDDED_SCHEDULER="false",
        )
    finally:
        busy.close()
    assert result.returncode == 1, result.stderr
    lines = result.stderr.strip().splitlines()
    assert len(lines) == 1, result.stderr
    assert str(port) in lines[0]


def test_the_data_directory_is_made_private_with_a_warning(tmp_path: Path) -> None:
    data = tmp_path / "data"
    data.mkdir(mode=0o755)
    os.chmod(data, 0o755)
    (data / "mail").mkdir()
    os.chmod(data / "mail", 0o755)
    (data / "mail" / "old.eml").write_text("Subject: x\n\nbody\n")
    os.chmod(data / "mail" / "old.eml", 0o644)
    result = _cli(tmp_path, "db", "upgrade")
    assert result.returncode == 0, result.stderr
    assert "0755" in result.stderr or "0644" in result.stderr  # the warning says what changed
    for path in [data, *data.rglob("*")]:
        mode = stat.S_IMODE(path.stat().st_mode)
        assert mode & 0o077 == 0, f"{path} is {mode:04o}"
