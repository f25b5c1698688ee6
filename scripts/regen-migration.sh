#!/usr/bin/env bash
# regen-migration.sh: regenerate aggregator/storage/migrations/versions/0001_initial.py from the
# models (aggregator/storage/models.py) by Alembic autogenerate against a scratch SQLite.
# Nothing is released yet, so the schema has ONE initial migration: rerun this after adding a
# column or a table, then run the storage tests (they upgrade SQLite and PostgreSQL from empty).
set -euo pipefail
cd "$(dirname "$0")/.."
py="${PYTHON:-.venv/bin/python}"
versions=aggregator/storage/migrations/versions
scratch="$(mktemp -d)"
trap 'rm -rf "$scratch"' EXIT
rm -f "$versions/0001_initial.py"
"$py" - "$scratch/scratch.db" <<'PY'
import sys

from alembic import command

from aggregator.storage.schema import alembic_config

config = alembic_config(f"sqlite+aiosqlite:///{sys.argv[1]}")
command.revision(config, message="initial", autogenerate=True, rev_id="0001")
PY
if [[ -x .venv/bin/ruff ]]; then
    .venv/bin/ruff format --quiet --no-force-exclude "$versions/0001_initial.py" || true
fi
echo "regenerated $versions/0001_initial.py"
