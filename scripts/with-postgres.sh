#!/usr/bin/env bash
# with-postgres.sh CMD...: start a throwaway PostgreSQL on loopback (Debian's binaries), run CMD
# with AGGREGATOR_TEST_POSTGRES_URL set, stop and delete the cluster afterwards; exits with CMD's
# status. Each run gets its own cluster directory (mktemp under ${TMPDIR:-/tmp}, not inside the
# checkout) and its own free port, so runs in parallel (several engineers, several checkouts) do
# not collide, and it works from any checkout location. As root the server runs as the
# "postgres" system user (created when missing) through runuser: PostgreSQL refuses root; the
# cluster directory is then owned by postgres, in a place it can reach even when the checkout
# sits in a directory only root may enter (a 0700 home).
set -euo pipefail
initdb_path="$(ls -d /usr/lib/postgresql/*/bin/initdb 2>/dev/null | sort -V | tail -n1 || true)"
if [[ -z "$initdb_path" ]]; then
    echo "error: PostgreSQL is not installed; run: scripts/ensure-debian-package.sh '' postgresql" >&2
    exit 1
fi
bindir="$(dirname "$initdb_path")"
tmp_base="${TMPDIR:-/tmp}"
as_pg=()
if [[ "$(id -u)" == "0" ]]; then
    id postgres >/dev/null 2>&1 || useradd --system --no-create-home --home-dir /nonexistent postgres
    as_pg=(runuser -u postgres --)
    # The postgres user must be able to enter every directory above the cluster: /tmp always is.
    if ! runuser -u postgres -- test -w "$tmp_base" 2>/dev/null; then
        tmp_base=/tmp
    fi
fi
root="$(mktemp -d "$tmp_base/aggregator-pgtest.XXXXXX")"
if [[ ${#as_pg[@]} -gt 0 ]]; then
    chown postgres "$root"
fi
cleanup() {
    "${as_pg[@]}" "$bindir/pg_ctl" -D "$root/data" -m immediate -w stop >/dev/null 2>&1 || true
    rm -rf "$root"
}
trap cleanup EXIT
"${as_pg[@]}" "$bindir/initdb" -D "$root/data" -U postgres -A trust --no-sync -E UTF8 \
    --locale=C >/dev/null
started=""
for _ in 1 2 3; do
    port="$(python3 -c 'import socket; s=socket.socket(); s.bind(("127.0.0.1", 0)); print(s.getsockname()[1])')"
    # TCP on loopback only (no unix socket: no path-length or directory issues)
    if "${as_pg[@]}" "$bindir/pg_ctl" -D "$root/data" -l "$root/log" -w -t 60 \
        -o "-h 127.0.0.1 -p $port -k '' -c fsync=off -c full_page_writes=off -c max_connections=200" \
        start >/dev/null; then
        started=1
        break
    fi
done
if [[ -z "$started" ]]; then
    echo "error: the throwaway PostgreSQL did not start; its log:" >&2
    cat "$root/log" >&2 || true
    exit 1
fi
export AGGREGATOR_TEST_POSTGRES_URL="postgresql+psycopg://postgres@127.0.0.1:$port/postgres"
status=0
"$@" || status=$?
exit "$status"
