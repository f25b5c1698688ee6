"""Poll throughput: the aggregator's poll cycle next to a bare httpx loop, same requests.

    .venv/bin/python bench/bench_polling.py            # 1,000 and 10,000 accounts
    .venv/bin/python bench/bench_polling.py --sizes 500,5000

The reference provider runs in its own process (uvicorn, clock frozen). For each size, accounts
are spread evenly over every operator's dialect (bashtel, beeline, netbynet, reference,
rostelecom), each with a valid session (the provider's bulk creation), linked in a fresh SQLite
database. Then, each in turn:

1. the aggregator, in a child process of its own: ``PollingService`` exactly as ``aggregator
   serve`` runs it (APScheduler dispatcher, poll jobs, plugins, the group-committed writer,
   alert evaluation), polling every account once; a first cycle records every request it
   sends (warm-up), a second one is measured (time, requests, peak RSS of that process);
2. a bare httpx loop in this process replaying exactly the recorded requests, each account's
   in order, with the same concurrency per operator (``per_operator_concurrency``) and, like
   the aggregator's runtime, one shared ``httpx.AsyncClient``; run before and after 1.

For information it also prints the bare loop with one client per operator: httpcore's pool
slows down with many requests in flight on one client (its bookkeeping grows with queued
requests times connections), which costs the aggregator and the bare loop alike.

The table shows accounts/s and requests/s of both, their ratio (goal >= 80%), the peak RSS of
the aggregator process (goal < 150 MB) and the cost per account at both sizes (linear growth:
about the same).
"""

from __future__ import annotations

import argparse
import asyncio
import contextvars
import json
import os
import pickle
import resource
import subprocess
import sys
import tempfile
import time
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
CONCURRENCY = 8  # settings.per_operator_concurrency, for both sides
OPTIONS = PollingOptions(
    tick_interval_s=0.2,
    jobs_per_operator=4,
    max_batch=100,
    send_mail=False,
    start_sink=False,
)


def settings_for(data_dir: Path, provider: str) -> Settings:
    return Settings(
        data_dir=data_dir,
        provider_urls=provider_urls(load_plugins(), provider),
        per_operator_concurrency=CONCURRENCY,
        log_level="WARNING",
    )


# -- setup (parent) ----------------------------------------------------------------------------
async def setup(data_dir: Path, server: ReferenceServer, size: int) -> None:
    from aggregator.storage.db import create_engine
    from aggregator.storage.schema import upgrade
    from aggregator.vault import Vault

    settings = settings_for(data_dir, server.url)
    engine = create_engine(settings.resolved_database_url)
    await upgrade(engine)
    vault = Vault.from_settings(settings)
    household = await create_household(engine, poll_interval_s=3600)
    registry = load_plugins()
    async with Runtime(settings, registry=registry) as runtime:
        for index, operator in enumerate(OPERATORS):
            count = size // len(OPERATORS) + (1 if index < size % len(OPERATORS) else 0)
            items = server.bulk(operator, count, balance="5000.00")
            links = await bulk_links(runtime.provider(operator), items)
            await link_many(engine, vault, household, registry.provider(operator), links)
    await engine.dispose()


# -- the aggregator (child process) ----------------------------------------------------------
async def child(data_dir: Path, provider: str, record: Path | None) -> dict[str, Any]:
    from sqlalchemy import func, select, update

    from aggregator.storage.models import LinkedAccount

    settings = settings_for(data_dir, provider)
    recorded: dict[int, list[tuple[str, str, str, list[tuple[str, str]], bytes]]] = defaultdict(
        list
    )
    current: contextvars.ContextVar[int] = contextvars.ContextVar("account", default=-1)
    requests = 0

    async def on_request(request: httpx.Request) -> None:
        nonlocal requests
        requests += 1
        if record is not None:
            account_id = current.get()
            operator = request.url.path.split("/")[1]
            recorded[account_id].append(
                (
                    operator,
                    request.method,
                    str(request.url),
                    list(request.headers.multi_items()),
                    request.content,
                )
            )

    http = httpx.AsyncClient(
        timeout=httpx.Timeout(settings.http_timeout_s),
        limits=httpx.Limits(max_connections=200, max_keepalive_connections=100),
        headers={"User-Agent": "aggregator/0.1"},
        event_hooks={"request": [on_request]},
    )
    async with Runtime(settings, http=http) as runtime:
        service = PollingService(runtime, settings=settings, options=OPTIONS)
        from aggregator.storage.transactions import polling_engine

        engine = polling_engine(settings.resolved_database_url)
        async with engine.begin() as conn:  # everyone due now
            await conn.execute(update(LinkedAccount).values(next_due_at=None, poll_claim=None))
            total = int(await conn.scalar(select(func.count()).select_from(LinkedAccount)) or 0)
        await engine.dispose()
        started = time.perf_counter()
        profile = os.environ.get("BENCH_PROFILE_MEMORY")
        if profile:
            asyncio.get_running_loop().create_task(_sample_memory(profile))
        if record is not None:  # before the first poll: every request belongs to an account
            from aggregator.polling.poller import Poller

            poll = Poller.poll

            async def tracked(self: Poller, account: Any) -> Any:
                current.set(account.id)  # the plugin's own subtasks inherit it
                return await poll(self, account)

            Poller.poll = tracked  # type: ignore[method-assign]
        async with service:
            for _ in iter(lambda: service.runner.polls >= total, True):
                await asyncio.sleep(0.02)
            seconds = time.perf_counter() - started
        await http.aclose()
    if record is not None:
        record.write_bytes(pickle.dumps([recorded[k] for k in sorted(recorded) if k >= 0]))  # noqa: ASYNC240
    return {
        "accounts": total,
        "seconds": seconds,
        "requests": requests,
        "rss_mb": peak_rss_mb(),
    }


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
    import tracemalloc

    tracemalloc.start(3)
    best: Any = None
    with open(path, "w") as out:  # noqa: ASYNC230
        while True:
            await asyncio.sleep(2)
            rss = peak_rss_mb()
            current, _peak = tracemalloc.get_traced_memory()
            import threading

            out.write(
                f"rss_peak={rss:.0f}MB traced={current / 2**20:.1f}MB "
                f"threads={threading.active_count()}\n"
            )
            if best is None or current > best[0]:
                best = (current, tracemalloc.take_snapshot())
                for stat in best[1].statistics("traceback")[:12]:
                    out.write(f"  {stat.size / 2**20:.1f}MB {stat.count} {stat.traceback}\n")
            out.flush()


def run_child(data_dir: Path, provider: str, record: Path | None) -> dict[str, Any]:
    command = [sys.executable, __file__, "--child", str(data_dir), "--provider", provider]
    if record is not None:
        command += ["--record", str(record)]
    out = subprocess.run(command, check=True, capture_output=True, text=True)
    return dict(json.loads(out.stdout.strip().splitlines()[-1]))


# -- the bare loop (parent) ------------------------------------------------------------------
async def bare(record: Path, *, client_per_operator: bool = False) -> dict[str, Any]:
    accounts: list[list[tuple[str, str, str, list[tuple[str, str]], bytes]]] = pickle.loads(
        record.read_bytes()  # noqa: ASYNC240
    )
    limits = {op: asyncio.Semaphore(CONCURRENCY) for op in OPERATORS}
    requests = 0

    def new_client() -> httpx.AsyncClient:
        return httpx.AsyncClient(
            timeout=httpx.Timeout(20.0),
            limits=httpx.Limits(max_connections=200, max_keepalive_connections=100),
        )

    shared = new_client()
    clients = {op: new_client() for op in OPERATORS} if client_per_operator else {}

    async def one(calls: list[tuple[str, str, str, list[tuple[str, str]], bytes]]) -> None:
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


# -- main ------------------------------------------------------------------------------------
def main() -> None:
    parser = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    parser.add_argument("--sizes", default="1000,10000")
    parser.add_argument("--child", type=Path)
    parser.add_argument("--provider")
    parser.add_argument("--record", type=Path)
    args = parser.parse_args()
    if args.child:
        result = asyncio.run(child(args.child, args.provider, args.record))
        print(json.dumps(result))
        return

    sizes = [int(s) for s in args.sizes.split(",")]
    rows = []
    with (
        tempfile.TemporaryDirectory(prefix="bench-polling-") as tmp,
        ReferenceServer(clock_speed=0, log_path=os.path.join(tmp, "provider.log")) as server,
    ):
        for size in sizes:
            data_dir = Path(tmp) / f"n{size}"
            print(f"setting up {size} accounts ...", file=sys.stderr, flush=True)
            data_dir.mkdir(parents=True)
            asyncio.run(setup(data_dir, server, size))
            record = Path(tmp) / f"requests-{size}.pickle"
            run_child(data_dir, server.url, record)  # warm-up, records the requests
            bare_before = asyncio.run(bare(record))
            aggregator = run_child(data_dir, server.url, None)
            bare_after = asyncio.run(bare(record))
            bare_seconds = (bare_before["seconds"] + bare_after["seconds"]) / 2
            split = asyncio.run(bare(record, client_per_operator=True))
            rows.append((size, aggregator, bare_before, bare_seconds, split))
            print(f"  done {size}", file=sys.stderr, flush=True)

    print()
    print(
        f"{'accounts':>9} | {'aggregator acc/s':>16} | {'agg req/s':>9} | {'bare req/s':>10} | "
        f"{'ratio':>6} | {'ms/account':>10} | {'peak RSS':>9}"
    )
    print("-" * 92)
    for size, agg, bare_run, bare_seconds, _split in rows:
        agg_rps = agg["requests"] / agg["seconds"]
        bare_rps = bare_run["requests"] / bare_seconds
        print(
            f"{size:>9} | {agg['accounts'] / agg['seconds']:>16.0f} | {agg_rps:>9.0f} | "
            f"{bare_rps:>10.0f} | {agg_rps / bare_rps:>6.0%} | "
            f"{1000 * agg['seconds'] / agg['accounts']:>10.3f} | {agg['rss_mb']:>6.0f} MB"
        )
    if len(rows) > 1:
        small, large = rows[0], rows[-1]
        per_small = small[1]["seconds"] / small[1]["accounts"]
        per_large = large[1]["seconds"] / large[1]["accounts"]
        print(
            f"\ncost per account at {large[0]} vs {small[0]}: {per_large / per_small:.2f}x "
            "(1.00 = linear)"
        )
    print(
        "for information, the bare loop with one httpx client per operator instead of one "
        "shared client: "
        + ", ".join(
            f"{row[4]['requests'] / row[4]['seconds']:.0f} req/s at {row[0]}" for row in rows
        )
    )
    print(
        f"requests per poll: {rows[-1][1]['requests'] / rows[-1][1]['accounts']:.2f} "
        f"(operators: {', '.join(OPERATORS)}); goals: ratio >= 80%, peak RSS < 150 MB"
    )


if __name__ == "__main__":
    main()
