"""Poll throughput: the aggregator's poll cycle next to a bare httpx loop, same requests.

    .venv/bin/python bench/bench_polling.py            # SQLite, 1,000 and 10,000 accounts
    .venv/bin/python bench/bench_polling.py --sizes 500,5000
    scripts/with-postgres.sh .venv/bin/python bench/bench_polling.py --postgres \\
        --sizes 10000,100000 --workers 1,2,4          # PostgreSQL, 1, 2 and 4 workers

The reference provider runs in its own process (uvicorn, clock frozen, long keep-alive). For
each size, accounts are spread evenly over every operator's dialect (bashtel, beeline,
netbynet, reference, rostelecom), each with a valid session (the provider's bulk creation),
linked in a fresh database. Then, each in turn:

1. the aggregator, in a child process of its own: ``PollingService`` exactly as ``aggregator
   serve`` (SQLite) or ``aggregator worker`` (PostgreSQL) runs it (APScheduler tick, claims,
   one httpx client per operator within the operator's limits shared through the database,
   plugins, the group-committed writer, alert evaluation), polling every account once. A first
   cycle records every request it sends (warm-up); then the measured cycles: on SQLite one
   process, on PostgreSQL 1, 2 and 4 worker processes at once (time until every account has
   a new reading, requests, peak RSS and CPU seconds of each process, duplicate polls);
2. bare httpx loops in this process replaying exactly the recorded requests, each account's in
   order, with the same concurrency per operator as the aggregator's limit: with one shared
   client, and with one client per operator (the best; the ratio is against it).

The reference provider counts the requests each operator has in flight: the table shows the
most any operator saw at once from the whole cluster, next to the declared limit.
Goals (docs/quality.md): SQLite 10,000 accounts >= 80% of the best bare loop's request rate,
peak RSS < 150 MB; PostgreSQL 2 workers faster than 1; cost per account flat with size; 0
duplicate polls; no operator above its limit.
"""

from __future__ import annotations

import argparse
import asyncio
import contextvars
import dataclasses
import datetime as dt
import json
import os
import pickle
import resource
import signal
import subprocess
import sys
import tempfile
import time
import uuid
from collections import defaultdict
from pathlib import Path
from typing import Any

import httpx

sys.path.insert(0, str(Path(__file__).resolve().parents[1]))

from reference_provider.testing import ReferenceServer
from reference_provider.testing.aggregator_env import (
    bulk_links,
    create_household,
    link_many,
    provider_urls,
)

from aggregator.plugins import load_plugins
from aggregator.polling import PollingOptions, PollingService
from aggregator.runtime import Runtime
from aggregator.settings import Settings

OPERATORS = ("bashtel", "beeline", "netbynet", "reference", "rostelecom")
OPTIONS = PollingOptions(
    tick_interval_s=0.2,
    jobs_per_operator=4,
    max_batch=100,
    send_mail=False,
    start_sink=False,
)
PG_ENV = "AGGREGATOR_TEST_POSTGRES_URL"
Recorded = list[tuple[str, str, str, list[tuple[str, str]], bytes]]


def settings_for(data_dir: Path, provider: str, database_url: str | None) -> Settings:
    return Settings(
        data_dir=data_dir,
        provider_urls=provider_urls(load_plugins(), provider),
        log_level="WARNING",
        **({"database_url": database_url} if database_url else {}),
    )


BENCH_RATE = 1000.0
"""The request-rate budget per operator in the bench (``--rate``): the plugins declare what
the real operators tolerate (tens of requests a second); the reference provider is local, so
the bench raises the budget to measure the poll cycle, not the budget. The token bucket, its
refills through the database and the declared concurrency stay in force."""


def bench_limits(rate: float | None) -> None:
    """Every plugin's declared limits with the bench's rate budget (None: as declared)."""
    if rate is None:
        return
    for operator in OPERATORS:
        cls = load_plugins().provider(operator)
        cls.limits = dataclasses.replace(cls.limits, requests_per_s=rate, burst=None)


def limit_of(operator: str) -> int:
    """The operator's concurrency limit as the aggregator applies it (declared, lowered)."""
    runtime = Runtime(Settings(), registry=load_plugins())
    return runtime.politeness.limits(operator).concurrency


def declared_text() -> str:
    runtime = Runtime(Settings(), registry=load_plugins())
    out = []
    for op in OPERATORS:
        limits = runtime.politeness.limits(op)
        out.append(f"{op} {limits.concurrency} at once, {limits.requests_per_s or 0:g} req/s")
    return "; ".join(out)


# -- setup (parent) ----------------------------------------------------------------------------
async def setup(
    data_dir: Path, server: ReferenceServer, size: int, database_url: str | None
) -> None:
    from aggregator.storage.db import create_engine
    from aggregator.storage.schema import upgrade
    from aggregator.vault import Vault

    settings = settings_for(data_dir, server.url, database_url)
    engine = create_engine(settings.resolved_database_url)
    await upgrade(engine)
    vault = Vault.from_settings(settings)
    household = await create_household(engine, poll_interval_s=3600)
    registry = load_plugins()
    async with Runtime(settings, registry=registry) as runtime:
        for index, operator in enumerate(OPERATORS):
            count = size // len(OPERATORS) + (1 if index < size % len(OPERATORS) else 0)
            for start in range(0, count, 5000):  # the provider's bulk call in pieces
                items = server.bulk(operator, min(5000, count - start), balance="5000.00")
                links = await bulk_links(runtime.provider(operator), items)
                await link_many(engine, vault, household, registry.provider(operator), links)
    await engine.dispose()


async def make_due(database_url: str, poll: int | None = None) -> list[int]:
    """Accounts due now, no claim; their ids. ``poll``: only that many (0: none), spread evenly
    over the ids (so over every operator); the others are due tomorrow (still in every index
    and every claim's way).

    Only rows that are not so already are written: rewriting every row of 100,000 before each
    cycle would leave as many dead row versions for autovacuum to clean up during the measured
    cycle, a cost of the bench, not of polling (:func:`settle` cleans up before it starts)."""
    from sqlalchemy import or_, select, update

    from aggregator.storage.models import LinkedAccount
    from aggregator.storage.transactions import polling_engine

    engine = polling_engine(database_url)
    later = dt.datetime.now(dt.UTC) + dt.timedelta(days=1)
    async with engine.begin() as conn:
        ids = list(
            (await conn.execute(select(LinkedAccount.id).order_by(LinkedAccount.id)))
            .scalars()
            .all()
        )
        if poll is None or poll >= len(ids):
            chosen = ids
        else:
            chosen = list(ids[:: len(ids) // poll][:poll]) if poll else []
        if len(chosen) < len(ids):
            # The others due tomorrow (those already due about then are left alone).
            await conn.execute(
                update(LinkedAccount)
                .where(
                    or_(
                        LinkedAccount.next_due_at.is_(None),
                        LinkedAccount.next_due_at < later - dt.timedelta(hours=1),
                        LinkedAccount.poll_claim.is_not(None),
                    )
                )
                .values(next_due_at=later, poll_claim=None)
            )
        for start in range(0, len(chosen), 5000):
            await conn.execute(
                update(LinkedAccount)
                .where(LinkedAccount.id.in_(chosen[start : start + 5000]))
                .values(next_due_at=None, poll_claim=None)
            )
    await engine.dispose()
    return chosen


async def settle(database_url: str) -> None:
    """PostgreSQL: vacuum and analyze the accounts after the bench's own bulk writes, so the
    measured cycle does not share the machine with autovacuum cleaning up after them."""
    from sqlalchemy import text
    from sqlalchemy.exc import DBAPIError

    from aggregator.storage.transactions import polling_engine

    engine = polling_engine(database_url)
    try:
        async with engine.connect() as conn:
            conn = await conn.execution_options(isolation_level="AUTOCOMMIT")
            await conn.execute(text("VACUUM (ANALYZE) linked_accounts"))
            try:
                await conn.execute(text("CHECKPOINT"))
            except DBAPIError:  # a role that may not: the vacuum is what matters
                print("  (no CHECKPOINT: this role may not run it)", flush=True)
    finally:
        await engine.dispose()


async def wait_polled(database_url: str, since: dt.datetime, ids: list[int]) -> float:
    """Wait until every account of ``ids`` has been polled since ``since``; when
    (perf_counter). Counted among those ids only, off the primary key: a count over every
    account four times a second would itself load the database at 100,000 accounts."""
    from sqlalchemy import select

    from aggregator.storage.models import LinkedAccount
    from aggregator.storage.transactions import polling_engine

    engine = polling_engine(database_url)
    pending = list(ids)
    try:
        while pending:
            async with engine.connect() as conn:
                done = set(
                    (
                        await conn.execute(
                            select(LinkedAccount.id).where(
                                LinkedAccount.id.in_(pending), LinkedAccount.last_polled_at >= since
                            )
                        )
                    )
                    .scalars()
                    .all()
                )
            pending = [i for i in pending if i not in done]
            if pending:
                await asyncio.sleep(0.25)
        return time.perf_counter()
    finally:
        await engine.dispose()


# -- the aggregator (child process) ----------------------------------------------------------
async def child(
    data_dir: Path,
    provider: str,
    database_url: str | None,
    record: Path | None,
    identity: str,
    polled_path: Path | None,
) -> dict[str, Any]:
    """One polling process. Alone (SQLite, or the warm-up): makes everyone due and polls them
    once. As one of several PostgreSQL workers (``polled_path``): says READY, polls what it
    claims until SIGTERM, writes the ids it polled."""
    settings = settings_for(data_dir, provider, database_url)
    recorded: dict[int, Recorded] = defaultdict(list)
    current: contextvars.ContextVar[int] = contextvars.ContextVar("account", default=-1)
    requests = 0

    async def on_request(request: httpx.Request) -> None:
        nonlocal requests
        requests += 1
        if record is not None:
            operator = request.url.path.split("/")[1]
            recorded[current.get()].append(
                (
                    operator,
                    request.method,
                    str(request.url),
                    list(request.headers.multi_items()),
                    request.content,
                )
            )

    polled: list[int] = []
    from aggregator.polling.poller import Poller

    poll = Poller.poll

    async def tracked(self: Poller, account: Any) -> Any:
        current.set(account.id)  # the plugin's own subtasks inherit it
        polled.append(account.id)
        return await poll(self, account)

    Poller.poll = tracked  # type: ignore[method-assign]
    stop = asyncio.Event()
    loop = asyncio.get_running_loop()
    loop.add_signal_handler(signal.SIGTERM, stop.set)
    async with Runtime(settings, event_hooks={"request": [on_request]}) as runtime:
        total = 0
        if polled_path is None:
            total = len(await make_due(settings.resolved_database_url, _poll_limit()))
        cpu_before = _cpu()
        started = time.perf_counter()
        profile = os.environ.get("BENCH_PROFILE_MEMORY")
        sampler = loop.create_task(_sample_memory(profile)) if profile else None
        service = PollingService(runtime, settings=settings, options=OPTIONS, identity=identity)
        async with service:
            if polled_path is None:
                for _ in iter(lambda: service.runner.polls >= total, True):
                    await asyncio.sleep(0.02)
            else:
                print("READY", flush=True)
                await stop.wait()
            seconds = time.perf_counter() - started
        if sampler is not None:
            sampler.cancel()
        peaks = {op: budget.peak_in_flight for op, budget in runtime.politeness.budgets().items()}
    if record is not None:
        record.write_bytes(pickle.dumps([recorded[k] for k in sorted(recorded) if k >= 0]))  # noqa: ASYNC240
    if polled_path is not None:
        polled_path.write_text(" ".join(map(str, polled)))  # noqa: ASYNC240
    return {
        "accounts": total,
        "polls": len(polled),
        "seconds": seconds,
        "requests": requests,
        "rss_mb": peak_rss_mb(),
        "cpu_s": _cpu() - cpu_before,
        "peaks": peaks,
    }


def _poll_limit() -> int | None:
    """``--poll``: how many accounts a cycle polls (None: every one)."""
    value = os.environ.get("BENCH_POLL", "")
    return int(value) if value else None


def _cpu() -> float:
    usage = resource.getrusage(resource.RUSAGE_SELF)
    return usage.ru_utime + usage.ru_stime


def peak_rss_mb() -> float:
    """This process's peak RSS (VmHWM). Not ``ru_maxrss``: Linux carries that across exec from
    the parent that forked us, so a child of a big parent would report the parent's size."""
    try:
        with open("/proc/self/status") as status:
            for line in status:
                if line.startswith("VmHWM:"):
                    return int(line.split()[1]) / 1024
    except OSError:
        pass
    return resource.getrusage(resource.RUSAGE_SELF).ru_maxrss / 1024


async def _sample_memory(path: str) -> None:
    """Diagnostics (BENCH_PROFILE_MEMORY=<file>): RSS over time, the biggest allocators."""
    import threading
    import tracemalloc

    tracemalloc.start(3)
    best: Any = None
    with open(path, "w") as out:  # noqa: ASYNC230
        while True:
            await asyncio.sleep(2)
            current, _peak = tracemalloc.get_traced_memory()
            out.write(
                f"rss_peak={peak_rss_mb():.0f}MB traced={current / 2**20:.1f}MB "
                f"threads={threading.active_count()}\n"
            )
            if best is None or current > best[0]:
                best = (current, tracemalloc.take_snapshot())
                for stat in best[1].statistics("traceback")[:12]:
                    out.write(f"  {stat.size / 2**20:.1f}MB {stat.count} {stat.traceback}\n")
            out.flush()


def child_command(
    data_dir: Path,
    provider: str,
    database_url: str | None,
    *,
    record: Path | None = None,
    identity: str = "bench",
    polled: Path | None = None,
) -> list[str]:
    command = [
        sys.executable,
        __file__,
        "--child",
        str(data_dir),
        "--provider",
        provider,
        "--identity",
        identity,
    ]
    if database_url:
        command += ["--database-url", database_url]
    if record is not None:
        command += ["--record", str(record)]
    if polled is not None:
        command += ["--polled", str(polled)]
    return command


def run_child(
    data_dir: Path, provider: str, database_url: str | None, record: Path | None
) -> dict[str, Any]:
    out = subprocess.run(
        child_command(data_dir, provider, database_url, record=record),
        check=True,
        capture_output=True,
        text=True,
    )
    return dict(json.loads(out.stdout.strip().splitlines()[-1]))


def run_workers(
    tmp: Path, data_dir: Path, server: ReferenceServer, database_url: str, count: int
) -> dict[str, Any]:
    """``count`` worker processes poll every account once, together."""
    asyncio.run(make_due(database_url, 0))  # nobody due while the workers start
    asyncio.run(settle(database_url))
    polled = [tmp / f"polled-{count}-{n}.txt" for n in range(count)]
    workers = [
        subprocess.Popen(
            child_command(
                data_dir, server.url, database_url, identity=f"bench-{n}", polled=polled[n]
            ),
            stdout=subprocess.PIPE,
            text=True,
        )
        for n in range(count)
    ]
    try:
        for worker in workers:
            assert worker.stdout is not None
            line = worker.stdout.readline()
            if line.strip() != "READY":
                raise RuntimeError(f"a worker did not start: {line!r}")
        server.reset_in_flight()
        since = dt.datetime.now(dt.UTC)
        chosen = asyncio.run(make_due(database_url, _poll_limit()))
        total = len(chosen)
        started = time.perf_counter()
        finished = asyncio.run(wait_polled(database_url, since, chosen))
        seen = server.in_flight()
    finally:
        for worker in workers:
            worker.send_signal(signal.SIGTERM)
    results = []
    for worker in workers:
        out, _ = worker.communicate(timeout=120)
        results.append(json.loads(out.strip().splitlines()[-1]))
    ids = [int(i) for path in polled for i in path.read_text().split()]
    return {
        "workers": count,
        "accounts": total,
        "seconds": finished - started,
        "requests": sum(r["requests"] for r in results),
        "duplicates": len(ids) - len(set(ids)),
        "rss_mb": [r["rss_mb"] for r in results],
        "cpu_s": [r["cpu_s"] for r in results],
        "polls": [r["polls"] for r in results],
        "peaks": {op: counts["peak"] for op, counts in seen.items()},
    }


# -- the bare loop (parent) ------------------------------------------------------------------
async def bare(record: Path, *, client_per_operator: bool) -> dict[str, Any]:
    accounts: list[Recorded] = pickle.loads(record.read_bytes())  # noqa: ASYNC240
    limits = {op: asyncio.Semaphore(limit_of(op)) for op in OPERATORS}
    requests = 0

    def new_client(connections: int) -> httpx.AsyncClient:
        return httpx.AsyncClient(
            timeout=httpx.Timeout(20.0),
            limits=httpx.Limits(max_connections=connections, max_keepalive_connections=connections),
        )

    shared = new_client(200)
    clients = {op: new_client(limit_of(op)) for op in OPERATORS} if client_per_operator else {}

    async def one(calls: Recorded) -> None:
        nonlocal requests
        operator = calls[0][0]
        client = clients.get(operator, shared)
        async with limits.get(operator, limits["reference"]):
            for _operator, method, url, headers, content in calls:
                response = await client.request(method, url, headers=headers, content=content)
                await response.aread()
                requests += 1

    started = time.perf_counter()
    await asyncio.gather(*(one(calls) for calls in accounts if calls))
    seconds = time.perf_counter() - started
    for client in [shared, *clients.values()]:
        await client.aclose()
    return {"accounts": len(accounts), "seconds": seconds, "requests": requests}


def bare_split(record: Path) -> dict[str, Any]:
    """The one-client-per-operator loop once (PostgreSQL mode: it runs before and after the
    workers, the faster of the two counts)."""
    return asyncio.run(bare(record, client_per_operator=True))


def load() -> str:
    return "{:.2f} {:.2f} {:.2f}".format(*os.getloadavg())


# -- main ------------------------------------------------------------------------------------
def main() -> None:
    parser = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    parser.add_argument("--sizes", default="1000,10000")
    parser.add_argument(
        "--postgres",
        nargs="?",
        const=os.environ.get(PG_ENV, ""),
        default=None,
        help=f"poll on PostgreSQL (a server URL; default ${PG_ENV}, which "
        "scripts/with-postgres.sh sets); a database per size is created and dropped",
    )
    parser.add_argument("--workers", default="1,2,4", help="PostgreSQL: worker counts")
    parser.add_argument("--child", type=Path)
    parser.add_argument("--provider")
    parser.add_argument("--database-url")
    parser.add_argument("--identity", default="bench")
    parser.add_argument("--record", type=Path)
    parser.add_argument("--polled", type=Path)
    parser.add_argument(
        "--poll",
        type=int,
        default=int(os.environ.get("BENCH_POLL") or 0),
        help="PostgreSQL: poll only this many of the accounts in each cycle, spread evenly "
        "(every account stays linked and indexed); 0: all",
    )
    parser.add_argument(
        "--rate",
        type=float,
        default=float(os.environ.get("BENCH_RATE", BENCH_RATE)),
        help="the request-rate budget per operator, req/s (0: as the plugins declare)",
    )
    args = parser.parse_args()
    os.environ["BENCH_RATE"] = str(args.rate)  # the children apply the same limits
    os.environ["BENCH_POLL"] = str(args.poll or "")
    bench_limits(args.rate or None)
    if args.child:
        work = child(
            args.child, args.provider, args.database_url, args.record, args.identity, args.polled
        )
        # Diagnostics: BENCH_CPROFILE=<file> profiles the measured run (a PostgreSQL worker
        # writes <file>.<identity>).
        profile = os.environ.get("BENCH_CPROFILE")
        if profile and args.polled is not None:
            profile = f"{profile}.{args.identity}"
        if profile and args.record is None:
            import cProfile

            with cProfile.Profile(time.thread_time) as profiler:  # CPU, not wall time
                result = asyncio.run(work)
            profiler.dump_stats(profile)
        else:
            result = asyncio.run(work)
        print(json.dumps(result), flush=True)
        return
    sizes = [int(s) for s in args.sizes.split(",")]
    print(f"limits (concurrency declared, rate --rate {args.rate:g}): {declared_text()}")
    if args.postgres is not None:
        if not args.postgres:
            parser.error(f"--postgres needs a URL or ${PG_ENV}")
        postgres_main(args.postgres, sizes, [int(w) for w in args.workers.split(",")])
    else:
        sqlite_main(sizes)


def sqlite_main(sizes: list[int]) -> None:
    rows = []
    with (
        tempfile.TemporaryDirectory(prefix="bench-polling-") as tmp,
        ReferenceServer(
            clock_speed=0, log_path=os.path.join(tmp, "provider.log"), keep_alive_s=600
        ) as server,
    ):
        for size in sizes:
            data_dir = Path(tmp) / f"n{size}"
            print(f"setting up {size} accounts ...", file=sys.stderr, flush=True)
            data_dir.mkdir(parents=True)
            asyncio.run(setup(data_dir, server, size, None))
            record = Path(tmp) / f"requests-{size}.pickle"
            run_child(data_dir, server.url, None, record)  # warm-up, records the requests
            shared_before = asyncio.run(bare(record, client_per_operator=False))
            split_before = bare_split(record)
            before = load()
            server.reset_in_flight()
            aggregator = run_child(data_dir, server.url, None, None)
            seen = server.in_flight()
            split_after = bare_split(record)  # the best of one loop before and one after
            best = min(split_before, split_after, key=lambda r: r["seconds"])
            shared_s = shared_before["seconds"]
            rows.append((size, aggregator, best, shared_s, seen, before))
            print(f"  done {size} (load {load()})", file=sys.stderr, flush=True)

    print("\nSQLite, one process (aggregator serve's polling)")
    print(
        f"{'accounts':>9} | {'agg acc/s':>9} | {'agg req/s':>9} | {'best bare req/s':>15} | "
        f"{'ratio':>6} | {'shared-client bare':>18} | {'ms/account':>10} | {'peak RSS':>9} | "
        f"{'CPU s':>6} | {'load':>14}"
    )
    print("-" * 130)
    for size, agg, best, shared_s, _seen, before in rows:
        agg_rps = agg["requests"] / agg["seconds"]
        best_rps = best["requests"] / best["seconds"]
        print(
            f"{size:>9} | {agg['accounts'] / agg['seconds']:>9.0f} | {agg_rps:>9.0f} | "
            f"{best_rps:>15.0f} | {agg_rps / best_rps:>6.0%} | "
            f"{best['requests'] / shared_s:>14.0f} r/s | "
            f"{1000 * agg['seconds'] / agg['accounts']:>10.3f} | {agg['rss_mb']:>6.0f} MB | "
            f"{agg['cpu_s']:>6.1f} | {before:>14}"
        )
    for size, _agg, _best, _shared, seen, _before in rows:
        print(f"peak requests at once at {size}: " + peaks_text(seen))
    if len(rows) > 1:
        small, large = rows[0], rows[-1]
        per_small = small[1]["seconds"] / small[1]["accounts"]
        per_large = large[1]["seconds"] / large[1]["accounts"]
        print(
            f"cost per account at {large[0]} vs {small[0]}: {per_large / per_small:.2f}x "
            "(1.00 = linear)"
        )
    print(
        f"requests per poll: {rows[-1][1]['requests'] / rows[-1][1]['accounts']:.2f} "
        f"(operators: {', '.join(OPERATORS)}); goals: ratio >= 80%, peak RSS < 150 MB"
    )


def peaks_text(seen: dict[str, Any]) -> str:
    return ", ".join(
        f"{op} {seen[op] if isinstance(seen[op], int) else seen[op]['peak']}/{limit_of(op)}"
        for op in sorted(seen)
    )


def postgres_main(server_url: str, sizes: list[int], worker_counts: list[int]) -> None:
    from sqlalchemy.engine import make_url

    admin = make_url(server_url).set(drivername="postgresql").render_as_string(False)
    rows = []
    with (
        tempfile.TemporaryDirectory(prefix="bench-polling-pg-") as tmp,
        ReferenceServer(
            clock_speed=0, log_path=os.path.join(tmp, "provider.log"), keep_alive_s=600
        ) as server,
    ):
        for size in sizes:
            name = f"bench_{size}_{uuid.uuid4().hex[:6]}"
            _admin(admin, f'CREATE DATABASE "{name}"')
            url = make_url(server_url).set(database=name).render_as_string(False)
            try:
                data_dir = Path(tmp) / f"n{size}"
                data_dir.mkdir(parents=True)
                print(f"setting up {size} accounts ...", file=sys.stderr, flush=True)
                asyncio.run(setup(data_dir, server, size, url))
                record = Path(tmp) / f"requests-{size}.pickle"
                run_child(data_dir, server.url, url, record)  # warm-up, records the requests
                best = bare_split(record)
                for count in worker_counts:
                    before = load()
                    result = run_workers(Path(tmp), data_dir, server, url, count)
                    rows.append((size, result, best, before))
                    print(
                        f"  {size} accounts, {count} workers: {result['seconds']:.1f} s "
                        f"(load {load()})",
                        file=sys.stderr,
                        flush=True,
                    )
                best_after = bare_split(record)
                for index, row in enumerate(rows):
                    if row[0] == size and best_after["seconds"] < row[2]["seconds"]:
                        rows[index] = (row[0], row[1], best_after, row[3])
            finally:
                _admin(admin, f'DROP DATABASE IF EXISTS "{name}" WITH (FORCE)')

    print("\nPostgreSQL, aggregator worker processes polling together")
    print(
        f"{'accounts':>9} | {'polled':>7} | {'workers':>7} | {'acc/s':>6} | {'req/s':>6} | "
        f"{'best bare req/s':>15} | {'ratio':>6} | {'ms/account':>10} | "
        f"{'CPU ms/account':>14} | {'dup':>3} | "
        f"{'peak RSS per worker MB':>22} | {'CPU s per worker':>18} | {'load':>14}"
    )
    print("-" * 175)
    for size, result, best, before in rows:
        rps = result["requests"] / result["seconds"]
        best_rps = best["requests"] / best["seconds"]
        print(
            f"{size:>9} | {result['accounts']:>7} | {result['workers']:>7} | "
            f"{result['accounts'] / result['seconds']:>6.0f} | "
            f"{rps:>6.0f} | {best_rps:>15.0f} | {rps / best_rps:>6.0%} | "
            f"{1000 * result['seconds'] / result['accounts']:>10.3f} | "
            f"{1000 * sum(result['cpu_s']) / result['accounts']:>14.2f} | "
            f"{result['duplicates']:>3} | "
            f"{' '.join(f'{r:.0f}' for r in result['rss_mb']):>22} | "
            f"{' '.join(f'{c:.1f}' for c in result['cpu_s']):>18} | {before:>14}"
        )
    for size, result, _best, _before in rows:
        print(
            f"{size} accounts, {result['workers']} workers: polls per worker "
            f"{result['polls']}; peak requests at once per operator (seen/limit): "
            + peaks_text(result["peaks"])
        )
    for count in worker_counts:
        mine = [r for r in rows if r[1]["workers"] == count]
        if len(mine) > 1:
            small, large = mine[0][1], mine[-1][1]
            ratio = (large["seconds"] / large["accounts"]) / (small["seconds"] / small["accounts"])
            cpu = (sum(large["cpu_s"]) / large["accounts"]) / (
                sum(small["cpu_s"]) / small["accounts"]
            )
            print(
                f"{count} workers: cost per polled account with {mine[-1][0]} vs "
                f"{mine[0][0]} accounts linked: {ratio:.2f}x wall, {cpu:.2f}x CPU (1.00 = flat)"
            )


def _admin(url: str, sql: str) -> None:
    import psycopg

    with psycopg.connect(url, autocommit=True) as conn:
        conn.execute(sql)  # type: ignore[arg-type]


if __name__ == "__main__":
    main()
