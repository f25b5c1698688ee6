"""The shared Chromium's memory, for the browser-login benches (bench_bashtel, bench_rostelecom).

Chromium is a tree of processes (browser, GPU, network, zygotes, one renderer per page) started
by Playwright's driver, a child of this process. :func:`chromium_memory` sums over every
descendant whose name says Chromium: RSS (what ``top`` shows; shared pages counted in each
process, so it overstates) and PSS (shared pages split between the processes that share them,
the fair total).
"""

from __future__ import annotations

import asyncio
import contextlib
from dataclasses import dataclass
from typing import Any

import psutil

__all__ = ["ChromiumMemory", "MemorySampler", "chromium_memory", "idle_rows", "print_memory"]


@dataclass(frozen=True)
class ChromiumMemory:
    processes: int
    rss: int  # bytes
    pss: int  # bytes

    def row(self, moment: str) -> str:
        mib = 1024 * 1024
        return f"| {moment} | {self.processes} | {self.rss / mib:.0f} | {self.pss / mib:.0f} |"


def chromium_memory() -> ChromiumMemory:
    """The Chromium processes below this one, now."""
    processes = rss = pss = 0
    for child in psutil.Process().children(recursive=True):
        try:
            if "chrom" not in child.name().lower():
                continue
            info = child.memory_full_info()
        except (psutil.NoSuchProcess, psutil.AccessDenied):
            continue
        processes += 1
        rss += info.rss
        pss += getattr(info, "pss", info.rss)
    return ChromiumMemory(processes, rss, pss)


def print_memory(rows: list[tuple[str, ChromiumMemory]], idle_s: float) -> None:
    print(f"Memory of the shared Chromium (it stops after {idle_s:g} s without a login)")
    print()
    print("| moment | Chromium processes | RSS MiB | PSS MiB |")
    print("|---|---:|---:|---:|")
    for moment, memory in rows:
        print(memory.row(moment))
    print()


class MemorySampler:
    """Samples :func:`chromium_memory` every ``interval_s`` while open; keeps the peak (PSS)."""

    def __init__(self, interval_s: float = 0.5) -> None:
        self.interval_s = interval_s
        self.peak = ChromiumMemory(0, 0, 0)
        self._task: asyncio.Task[None] | None = None

    async def _run(self) -> None:
        while True:
            now = chromium_memory()
            if now.pss > self.peak.pss:
                self.peak = now
            await asyncio.sleep(self.interval_s)

    async def __aenter__(self) -> MemorySampler:
        self._task = asyncio.create_task(self._run())
        return self

    async def __aexit__(self, *exc: object) -> None:
        if self._task is not None:
            self._task.cancel()
            with contextlib.suppress(asyncio.CancelledError):
                await self._task


async def idle_rows(sampler: MemorySampler, browser: Any) -> list[tuple[str, ChromiumMemory]]:
    """The peak, the memory just after the last login, and after the browser's idle time."""
    rows = [("peak during the logins", sampler.peak), ("after the last login", chromium_memory())]
    await asyncio.sleep(browser.idle_s + 1.0)
    assert not browser.running, "the shared browser did not stop when idle"
    rows.append((f"{browser.idle_s + 1.0:g} s later (stopped when idle)", chromium_memory()))
    return rows
