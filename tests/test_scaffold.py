"""``aggregator plugins new demo_op``: installs with one command, is listed, passes its tests.

Done for real: the scaffold is written into a temporary folder by the console script, installed
(editable) into this virtual environment with the command the scaffold prints, found by
``aggregator plugins list --json`` in a fresh process, and its generated tests (the contract kit
against the generated fake backend) run by pytest in a subprocess. It is uninstalled at the
end, whatever happens. A lock file keeps two test runs from installing it at the same time.
"""

from __future__ import annotations

import fcntl
import json
import os
import shlex
import shutil
import subprocess
import sys
from collections.abc import Iterator
from pathlib import Path

import pytest

from aggregator.scaffold import (
    TEMPLATE_DIR,
    adopting_workspace,
    install_command,
    scaffold_plugin,
    template_context,
)

NAME = "demo_op"
DISTRIBUTION = "aggregator-demo-op"
ROOT = Path(__file__).resolve().parents[1]
BIN = Path(sys.executable).parent


def _uv() -> str | None:
    found = shutil.which("uv")
    if found:
        return found
    local = ROOT / ".tools" / "uv" / "bin" / "uv"
    return str(local) if local.exists() else None


def _env() -> dict[str, str]:
    env = {k: v for k, v in os.environ.items() if not k.startswith("AGGREGATOR_")}
    env["COLUMNS"] = "200"
    return env


def _run(args: list[str], cwd: Path | None = None, timeout: int = 300) -> str:
    done = subprocess.run(
        args, cwd=cwd, env=_env(), capture_output=True, text=True, timeout=timeout, check=False
    )
    assert done.returncode == 0, f"{shlex.join(args)}\n{done.stdout}\n{done.stderr}"
    return done.stdout


@pytest.fixture
def install_lock() -> Iterator[None]:
    with open(Path("/tmp") / "aggregator-test-scaffold.lock", "w") as lock:
        fcntl.flock(lock, fcntl.LOCK_EX)
        try:
            yield
        finally:
            fcntl.flock(lock, fcntl.LOCK_UN)


def test_demo_op_installs_is_listed_and_passes_its_tests(
    tmp_path: Path, install_lock: None
) -> None:
    uv = _uv()
    if uv is None:
        pytest.skip("uv is not installed (make test installs it into .tools/uv)")
    # 1. Scaffold with the console script, from a folder of its own (default ./plugins/NAME).
    output = _run([str(BIN / "aggregator"), "plugins", "new", NAME], cwd=tmp_path)
    dest = tmp_path / "plugins" / NAME
    assert (dest / "pyproject.toml").exists()
    printed = next(
        line.strip() for line in output.splitlines() if "install" in line and "-e" in line
    )
    assert printed.endswith(f"-e {Path('plugins') / NAME}")

    # 2. It is lint- and type-clean by the workspace's own rules.
    _run([str(BIN / "ruff"), "check", "--config", str(ROOT / "pyproject.toml"), str(dest)])
    _run(
        [
            str(BIN / "ruff"),
            "format",
            "--check",
            "--config",
            str(ROOT / "pyproject.toml"),
            str(dest),
        ]
    )
    _run([str(BIN / "mypy"), "--no-incremental", str(dest / f"aggregator_{NAME}")], cwd=ROOT)

    # 3. Install with one command (the one printed, offline: nothing to download), list it.
    install = [uv, "pip", "install", "--offline", "--python", sys.executable, "-e", str(dest)]
    try:
        _run(install, cwd=tmp_path)
        listing = json.loads(_run([str(BIN / "aggregator"), "plugins", "list", "--json"]))
        entry = next((p for p in listing["providers"] if p["id"] == NAME), None)
        assert entry is not None, listing
        assert entry["distribution"] == DISTRIBUTION and entry["version"] == "0.1.0"
        assert entry["plugin"] == NAME
        assert set(entry["capabilities"]) == {"balance", "tariffs"}
        assert [s["id"] for s in entry["login_schemes"]] == ["password"]
        assert NAME not in {f["name"] for f in listing["failures"]}

        table = _run([str(BIN / "aggregator"), "plugins", "list"])
        assert NAME in table and DISTRIBUTION in table

        # 4. Its generated tests pass: the contract kit against the generated fake backend.
        result = _run(
            [sys.executable, "-m", "pytest", "-q", "-p", "no:cacheprovider", "-rs"], cwd=dest
        )
        assert " passed" in result and "failed" not in result, result
        assert "test_contract.py" not in result or "error" not in result.lower()
    finally:
        subprocess.run(
            [uv, "pip", "uninstall", "--python", sys.executable, DISTRIBUTION],
            env=_env(),
            capture_output=True,
            timeout=120,
            check=False,
        )
    listing = json.loads(_run([str(BIN / "aggregator"), "plugins", "list", "--json"]))
    assert NAME not in {p["id"] for p in listing["providers"]}


def test_the_templates_are_never_taken_for_code() -> None:
    """Every template ends in .j2, so ruff, mypy and pytest skip them in the workspace."""
    files = [p for p in TEMPLATE_DIR.rglob("*") if p.is_file()]
    assert files and all(p.suffix == ".j2" for p in files)


def test_the_scaffold_is_shaped_like_the_built_in_plugins(tmp_path: Path) -> None:
    written = scaffold_plugin("my_op", tmp_path / "my_op")
    names = {p.relative_to(tmp_path / "my_op").as_posix() for p in written}
    assert names == {
        "pyproject.toml",
        "README.md",
        "aggregator_my_op/__init__.py",
        "aggregator_my_op/plugin.py",
        "aggregator_my_op/provider.py",
        "aggregator_my_op/client.py",
        "aggregator_my_op/parsing.py",
        "tests/conftest.py",
        "tests/test_contract.py",
        "tests/test_parsing.py",
    }
    pyproject = (tmp_path / "my_op" / "pyproject.toml").read_text()
    assert '[project.entry-points.aggregator]\nmy_op = "aggregator_my_op.plugin"' in pyproject
    assert "ContractSuite" in (tmp_path / "my_op" / "tests" / "test_contract.py").read_text()
    for path in written:
        if path.suffix == ".py":
            compile(path.read_text(), str(path), "exec")


@pytest.mark.parametrize("bad", ["", "A", "my-op", "9op", "class", "op_", "x" * 50, "ä_op"])
def test_bad_plugin_names_are_refused(bad: str) -> None:
    with pytest.raises(ValueError, match="lower-case"):
        template_context(bad)


def test_a_failed_scaffold_leaves_nothing_behind(
    tmp_path: Path, monkeypatch: pytest.MonkeyPatch
) -> None:
    import jinja2

    def broken(self: jinja2.Template, *args: object, **kwargs: object) -> str:
        raise RuntimeError("disk full")

    monkeypatch.setattr(jinja2.Template, "render", broken)
    with pytest.raises(RuntimeError):
        scaffold_plugin("half_op", tmp_path / "half_op")
    assert not (tmp_path / "half_op").exists()


def test_install_command_names_this_python(tmp_path: Path) -> None:
    command = install_command(tmp_path / "x")
    assert sys.executable in command and command.endswith(f"-e {tmp_path / 'x'}")


def test_a_plugin_inside_this_workspace_is_told_to_update_the_lock(tmp_path: Path) -> None:
    assert adopting_workspace(ROOT / "plugins" / "some_new_op") == ROOT
    assert adopting_workspace(ROOT / "aggregator" / "x") is None
    assert adopting_workspace(tmp_path / "plugins" / "x") is None
    (tmp_path / "pyproject.toml").write_text(
        '[tool.uv.workspace]\nmembers = ["plugins/*"]\nexclude = ["plugins/skip"]\n'
    )
    assert adopting_workspace(tmp_path / "plugins" / "x") == tmp_path
    assert adopting_workspace(tmp_path / "plugins" / "skip") is None
    output = subprocess.run(
        [str(BIN / "aggregator"), "plugins", "new", "ws_op"],
        cwd=tmp_path,
        env=_env(),
        capture_output=True,
        text=True,
        timeout=120,
        check=True,
    ).stdout
    assert "uv lock" in output
