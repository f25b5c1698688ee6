"""scripts/with-postgres.sh works from any checkout location, as root or not.

As root the throwaway server runs as the ``postgres`` user: a checkout inside a directory only
root may enter (a 0700 home) used to leave it unable to reach its cluster directory.
"""

from __future__ import annotations

import glob
import os
import shutil
import subprocess
import sys
from pathlib import Path

import pytest

SCRIPT = Path(__file__).parents[1] / "scripts" / "with-postgres.sh"

pytestmark = pytest.mark.skipif(
    not glob.glob("/usr/lib/postgresql/*/bin/initdb"), reason="PostgreSQL is not installed"
)


def test_runs_from_a_checkout_inside_a_private_directory(tmp_path: Path) -> None:
    home = tmp_path / "home"
    checkout = home / "projects" / "aggregator"
    (checkout / "scripts").mkdir(parents=True)
    shutil.copy2(SCRIPT, checkout / "scripts" / "with-postgres.sh")
    os.chmod(home, 0o700)
    probe = (
        "import os, psycopg; "
        "url = os.environ['AGGREGATOR_TEST_POSTGRES_URL'].replace('+psycopg', ''); "
        "print(psycopg.connect(url).execute('select 41 + 1').fetchone()[0])"
    )
    result = subprocess.run(
        ["scripts/with-postgres.sh", sys.executable, "-c", probe],
        cwd=checkout,
        capture_output=True,
        text=True,
        timeout=180,
    )
    assert result.returncode == 0, result.stderr
    assert result.stdout.strip() == "42"
    assert not (checkout / ".pgtest").exists() or not any((checkout / ".pgtest").iterdir())
