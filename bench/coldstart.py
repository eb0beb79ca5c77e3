"""Start of the cart holding the preloaded orders: without its state folder, and with it.

The cart's table is a RocksDB store per partition, restored at start-up from
``order-events`` itself from the offset the store holds
(:mod:`agents.cart_orders`).  Each repetition stops the cart (SIGTERM),
deletes its state folder and starts it: it reads every event of
``order-events``; then stops it and starts it again with its state folder: it
reads only what is new (nothing: the checks write nothing).  Each start is
timed to ``/ready`` 200; then a random sample of preloaded orders must answer
409 to a duplicate create, and any other answer counts as missing (201: the
cart did not hold the order and created it again; 503 or 504: it could not
say), and the time until the whole sample is answered is reported beside.
How many events each start's restore read, and when it was over, come from
the cart's own log (:mod:`bench.cart_log`).
"""

import asyncio
import random
import shutil
import time
from collections import Counter
from dataclasses import dataclass

import aiohttp

from bench.cart_log import LogMark
from bench.dataset import ensure_events, wait_caught_up
from bench.loadgen import duplicate_create_statuses, http_session, other_statuses
from bench.run import BenchRun, wait_ready
from bench.sizes import Sizes
from bench.stats import Figure, Metrics, Target, column

NAME = "coldstart"
#: ``/ready`` may come this much before the restore's log line (its millisecond
#: stamp, the 50 ms polling); earlier, it answered before the restore was over.
READY_EARLY_TOLERANCE = 0.1


@dataclass(frozen=True)
class Start:
    label: str
    keeps_state: bool
    #: Seconds from start to ``/ready`` 200.
    target: float


STARTS = (
    Start("no state folder", keeps_state=False, target=8),
    Start("with its state folder", keeps_state=True, target=2),
)


async def _start(
    platform: BenchRun,
    http: aiohttp.ClientSession,
    start: Start,
    sample: list[str],
    statuses: Counter[int],
) -> Metrics:
    cart = platform.cart
    assert cart.log_path is not None  # the bench's services always log to a file
    await asyncio.to_thread(cart.stop)
    if not start.keeps_state:
        # Raises if it is not there: then the cart keeps its state elsewhere, and
        # neither start would be what its label says.
        await asyncio.to_thread(shutil.rmtree, platform.cart_state)
    mark = LogMark(cart.log_path)
    started = time.monotonic()
    cart.start()
    ready = await wait_ready(http, cart, timeout=120)
    answers = await duplicate_create_statuses(http, cart.base_url, sample)
    answered = time.monotonic()
    statuses.update(answers)
    restored = await mark.wait_restored()
    return {
        "ready": ready - started,
        "restored": restored.seconds,
        "answered": answered - started,
        "missing": len(sample) - answers[409],
        "events": restored.events,
    }


async def run(platform: BenchRun, sizes: Sizes) -> list[Figure]:
    ids = await ensure_events(platform, sizes)
    await wait_caught_up(platform)  # the order service taking them in would slow the cart
    runs: dict[Start, list[Metrics]] = {start: [] for start in STARTS}
    statuses: dict[Start, Counter[int]] = {start: Counter() for start in STARTS}
    async with http_session() as http:
        for _ in range(sizes.reps):
            for start in STARTS:
                sample = random.sample(ids, sizes.sample)
                runs[start].append(await _start(platform, http, start, sample, statuses[start]))
    label = f"{len(ids):,} orders ({len(ids) * sizes.events_per_order:,} events)"
    figures = []
    for start in STARTS:
        reps = runs[start]
        early = max(rep["restored"] - rep["ready"] for rep in reps)
        figures += [
            Figure(
                NAME,
                f"{label}, {start.label}: start → /ready 200",
                "s",
                column(reps, "ready"),
                target=Target("<=", start.target),
                note=f"/ready answered 200 up to {early:.2f} s before the partitions were restored"
                if early > READY_EARLY_TOLERANCE
                else "",
            ),
            Figure(
                NAME,
                f"{start.label}: start → partitions restored (the cart's log)",
                "s",
                column(reps, "restored"),
            ),
            Figure(
                NAME,
                f"{start.label}: start → sample of {sizes.sample:,} answered",
                "s",
                column(reps, "answered"),
            ),
            Figure(
                NAME,
                f"{start.label}: sampled orders missing (not 409)",
                "count",
                column(reps, "missing"),
                target=Target("<=", 0, worst=True),
                note=f"answers other than 409: {other_statuses(statuses[start], 409)}",
            ),
            Figure(
                NAME,
                f"{start.label}: events its restore read (the cart's log)",
                "count",
                column(reps, "events"),
            ),
        ]
    return figures
