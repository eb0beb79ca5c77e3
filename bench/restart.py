"""Restart of the order service holding the preloaded orders.

Stop (SIGTERM: Faust commits and flushes), start, time until ``/ready`` is
200 and a random sample of orders is all found in ``/order-details``.
"""

import asyncio
import random
import time

from bench.dataset import ensure_events, wait_caught_up
from bench.loadgen import count_found, http_session
from bench.run import BenchRun, wait_ready
from bench.sizes import Sizes
from bench.stats import Figure, Target

NAME = "restart"


async def run(platform: BenchRun, sizes: Sizes) -> list[Figure]:
    ids = await ensure_events(platform, sizes)
    await wait_caught_up(platform)
    service = platform.orders
    total, ready_after, stop_took, missing = [], [], [], []
    async with http_session() as http:
        for _ in range(sizes.reps):
            sample = random.sample(ids, sizes.sample)
            stopping = time.monotonic()
            await asyncio.to_thread(service.stop)
            started = time.monotonic()
            service.start()
            ready = await wait_ready(http, service, timeout=120)
            found = await count_found(http, service.base_url, sample)
            total.append(round(time.monotonic() - started, 2))
            ready_after.append(round(ready - started, 2))
            stop_took.append(round(started - stopping, 2))
            missing.append(len(sample) - found)
    label = f"{len(ids):,} orders, sample {sizes.sample:,}"
    return [
        Figure(NAME, f"{label}: start → ready + sample found", "s", total, target=Target("<=", 5)),
        Figure(NAME, "start → /ready 200", "s", ready_after),
        Figure(NAME, "stop (SIGTERM → exit)", "s", stop_took),
        Figure(NAME, "sample orders missing", "count", missing, target=Target("<=", 0, worst=True)),
    ]
