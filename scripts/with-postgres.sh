#!/usr/bin/env bash
# with-postgres.sh CMD...: start a throwaway PostgreSQL on loopback (Debian's binaries), run CMD
# with AGGREGATOR_TEST_POSTGRES_URL set, stop and delete the cluster afterwards.
set -euo pipefail
bindir="$(dirname "$(ls -d /usr/lib/postgresql/*/bin/initdb | sort -V | tail -n1)")"
root="$(pwd)/.pgtest"
rm -rf "$root"
mkdir -p "$root"
port="$(python3 -c 'import socket; s=socket.socket(); s.bind(("127.0.0.1", 0)); print(s.getsockname()[1])')"
as_pg=()
if [[ "$(id -u)" == "0" ]]; then
    id postgres >/dev/null 2>&1 || useradd --system --home-dir "$root" postgres
    chown postgres "$root"
    as_pg=(runuser -u postgres --)
fi
"${as_pg[@]}" "$bindir/initdb" -D "$root/data" -U postgres -A trust --no-sync -E UTF8 >/dev/null
"${as_pg[@]}" "$bindir/pg_ctl" -D "$root/data" -l "$root/log" -w \
    -o "-h 127.0.0.1 -p $port -k $root -c fsync=off -c max_connections=200" start >/dev/null
cleanup() {
    "${as_pg[@]}" "$bindir/pg_ctl" -D "$root/data" -m immediate -w stop >/dev/null 2>&1 || true
    rm -rf "$root"
}
trap cleanup EXIT
export AGGREGATOR_TEST_POSTGRES_URL="postgresql+psycopg://postgres@127.0.0.1:$port/postgres"
"$@"
