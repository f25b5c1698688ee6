"""Run the server: ``python -m reference_provider --host 127.0.0.1 --port 8081``.

Options: ``--seed N``, ``--sim``, ``--clock-speed X``, ``--clock-start-days-ago D``.
"""

from __future__ import annotations

import argparse
import datetime as dt
import gc
import sys

__all__ = ["main"]


def main(argv: list[str] | None = None) -> None:
    parser = argparse.ArgumentParser(
        prog="reference-provider",
        description="A fake telecom operator backend with one dialect per operator.",
    )
    parser.add_argument("--host", default="127.0.0.1")
    parser.add_argument("--port", type=int, default=8081)
    parser.add_argument("--seed", type=int, default=1, help="demo data seed (default 1)")
    parser.add_argument(
        "--sim", action="store_true", help="enable the simulation API at /sim (loopback only)"
    )
    parser.add_argument(
        "--clock-speed",
        type=float,
        default=1.0,
        help="billing clock speed: 1 = real time, 60 = a minute per second, 0 = frozen",
    )
    parser.add_argument(
        "--clock-start-days-ago",
        type=float,
        default=0.0,
        help="start the billing calendar this many days back: a fast clock runs fast until it "
        "reaches today, then keeps to real time, so nothing it dates is ever in the future",
    )
    parser.add_argument(
        "--keep-alive-s",
        type=float,
        default=5.0,
        help="close an idle keep-alive connection after this many seconds (uvicorn's 5 by "
        "default; a benchmark on a loaded machine wants more, so that a client reusing a "
        "connection never races the server closing it)",
    )
    parser.add_argument("--log-level", default="warning")
    args = parser.parse_args(argv)
    if args.clock_speed < 0:
        parser.error("--clock-speed must be >= 0")

    import uvicorn

    from .app import create_app

    start = None
    if args.clock_start_days_ago:
        start = dt.datetime.now(dt.UTC) - dt.timedelta(days=args.clock_start_days_ago)
    app = create_app(
        seed=args.seed,
        sim=args.sim,
        clock_speed=args.clock_speed,
        clock_start=start,
        clock_not_after_real=start is not None,
    )
    gc.collect()
    gc.freeze()  # the demo data and the app live forever: keep them out of every GC pass
    print(
        f"reference provider on http://{args.host}:{args.port} "
        f"(seed {args.seed}, clock x{args.clock_speed}{', sim API on' if args.sim else ''})",
        file=sys.stderr,
        flush=True,
    )
    uvicorn.run(
        app,
        host=args.host,
        port=args.port,
        log_level=args.log_level,
        access_log=False,
        date_header=False,  # the app dates answers with its billing clock
        timeout_keep_alive=max(1, round(args.keep_alive_s)),
    )


if __name__ == "__main__":
    main()
