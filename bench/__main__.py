"""Benchmark the order platform against baselines measured in the same run.

Starts a fresh local Kafka and both services in a temporary folder, runs the
scenarios, prints an aligned table and writes ``bench/results/<UTC>.json``.
Everything it started is stopped at the end, also on Ctrl-C, SIGTERM or errors.
"""

import argparse
import asyncio
import logging
import os
import shutil
import signal
import sys
import tempfile
import time
from collections.abc import Awaitable, Callable
from pathlib import Path

from bench import (
    coldstart,
    latency,
    memory,
    projection,
    restart,
    scale,
    scan,
    throughput,
    waits,
    wrk,
)
from bench.procstat import rss_mb
from bench.report import environment, table, write_json
from bench.run import BenchRun, bench_run
from bench.sizes import FULL, QUICK, Sizes
from bench.stats import Figure
from infra.topics import events_format

Scenario = Callable[[BenchRun, Sizes], Awaitable[list[Figure]]]

#: In run order: projection first, so that ``order-events`` holds only the
#: preloaded events; memory next, while the order service has just taken them
#: in; restart, coldstart (the cart's, which restores from ``order-events``)
#: and scan before anything else is written there; the HTTP scenarios last.
SCENARIOS: dict[str, Scenario] = {
    projection.NAME: projection.run,
    memory.NAME: memory.run,
    restart.NAME: restart.run,
    coldstart.NAME: coldstart.run,
    scan.NAME: scan.run,
    throughput.NAME: throughput.run,
    wrk.NAME: wrk.run,
    latency.NAME: latency.run,
    waits.NAME: waits.run,
    scale.NAME: scale.run,
}
#: Idle means right after start-up, once its first burst of work has settled.
SETTLE_SECONDS = 2.0
#: What a full run may take on 2 cores; the sizes are chosen for it.  Coldstart
#: (~1 min) and wrk (~1.7 min) took it from 10 minutes to 12.
BUDGET_SECONDS = 720

logger = logging.getLogger("bench")


def _terminate(signum: int, _frame: object) -> None:
    # SIGTERM ends the run as Ctrl-C does: through every finally, stopping all.
    raise KeyboardInterrupt(f"signal {signum}")


async def _scenarios(platform: BenchRun, sizes: Sizes, names: list[str]) -> list[Figure]:
    figures: list[Figure] = []
    async with events_format(platform.stack.registry_url) as events:
        platform.events = events
        for name in names:
            started = time.monotonic()
            logger.info("scenario %s ...", name)
            figures += await SCENARIOS[name](platform, sizes)
            logger.info("scenario %s done in %.0f s", name, time.monotonic() - started)
    return figures


def run(sizes: Sizes, names: list[str], workdir: Path) -> list[Figure]:
    with bench_run(workdir) as platform:
        time.sleep(SETTLE_SECONDS)
        pids = platform.process_ids()
        platform.shared["idle_rss"] = {name: rss_mb(pids[name]) for name in ("cart", "orders")}
        return asyncio.run(_scenarios(platform, sizes, names))


def main() -> None:
    parser = argparse.ArgumentParser(prog="python -m bench", description=__doc__)
    parser.add_argument("--quick", action="store_true", help="small sizes, 1 repetition")
    parser.add_argument(
        "--only",
        action="append",
        choices=list(SCENARIOS),
        metavar="NAME",
        help=f"run only this scenario; repeatable ({', '.join(SCENARIOS)})",
    )
    parser.add_argument(
        "--size",
        action="append",
        default=[],
        metavar="NAME=VALUE",
        help="override one size, e.g. --size orders=200000 (see bench/sizes.py)",
    )
    parser.add_argument("--keep", action="store_true", help="keep the folder with the logs")
    args = parser.parse_args()
    logging.basicConfig(
        level=logging.INFO,
        format="%(asctime)s [bench] %(message)s",
        datefmt="%H:%M:%S",
        stream=sys.stdout,
    )
    signal.signal(signal.SIGTERM, _terminate)
    sizes = (QUICK if args.quick else FULL).override(args.size)
    names = [name for name in SCENARIOS if name in (args.only or SCENARIOS)]
    env = environment()
    print("  ".join(f"{key}={value}" for key, value in env.items()), flush=True)

    started = time.monotonic()
    workdir = Path(tempfile.mkdtemp(prefix="order-bench-"))
    try:
        figures = run(sizes, names, workdir)
    except KeyboardInterrupt:
        # Every process was stopped on the way out of bench_run.
        raise SystemExit("interrupted; everything the bench started is stopped") from None
    finally:
        if args.keep:
            print(f"logs and data kept in {workdir}")
        else:
            shutil.rmtree(workdir, ignore_errors=True)
    elapsed = time.monotonic() - started

    print(f"\n{table(figures)}")
    options: dict[str, object] = {"quick": args.quick, "scenarios": names, "sizes": vars(sizes)}
    load_after = [round(x, 2) for x in os.getloadavg()]
    print(f"load average at the end: {load_after} (at the start: {env['loadavg']})")
    options.update(seconds=round(elapsed), loadavgEnd=load_after)
    path = write_json(env, options, figures)
    print(f"\ntotal {elapsed:.0f} s; results in {path}")
    if not args.quick and not args.only and elapsed > BUDGET_SECONDS:
        print(
            f"over the {BUDGET_SECONDS} s budget: this machine is slower or busier than the "
            "sizes assume (see the per-scenario times above; --size shrinks them)"
        )


if __name__ == "__main__":
    main()
