"""What scaling out buys on this machine: create throughput with 1 and 2 cart workers,
on one broker and on a three-node cluster (replication 3, ``min.insync.replicas`` 2).

Each combination is a stack of its own (:class:`~local_kafka.stack.LocalStack`,
started and stopped here), driven by the same closed loop as the throughput
scenario, its clients spread over the cart workers; the order service runs
as many workers and keeps up meanwhile.  Baseline: the factory-built no-op
view (the throughput scenario's ceiling), measured in this scenario.  On 2
cores, every extra process competes for the same CPU: the figures show what
scaling costs here, and what it buys where each worker has a machine.
"""

import asyncio
from collections import Counter

from bench.run import BenchRun
from bench.sizes import Sizes
from bench.stats import Figure, Metrics, column
from bench.throughput import ceiling_process, load
from local_kafka.stack import LocalStack

NAME = "scale"
SHAPES = ((1, 1), (1, 2), (3, 1), (3, 2))  # (brokers, workers of each service)


async def _measure(platform: BenchRun, sizes: Sizes, brokers: int, workers: int) -> list[Metrics]:
    stack = LocalStack(
        platform.workdir / f"scale-{brokers}-{workers}", brokers=brokers, workers=workers
    )
    await asyncio.to_thread(stack.start)
    try:
        urls = [f"{worker.base_url}/create-order" for worker in stack.cart_workers]
        await load(urls, sizes, sizes.warmup_seconds, {}, Counter())
        # One repetition each: four stacks to start make this the longest scenario.
        return [await load(urls, sizes, sizes.throughput_seconds, {}, Counter())]
    finally:
        await asyncio.to_thread(stack.stop)


async def run(platform: BenchRun, sizes: Sizes) -> list[Figure]:
    # The platform's own services would compete for the CPU: stopped meanwhile.
    for service in platform.stack.services:
        await asyncio.to_thread(service.stop)
    ceiling = ceiling_process(platform.bootstrap_servers, platform.workdir)
    ceiling.start()
    try:
        await asyncio.to_thread(ceiling.wait_ready)
        url = f"{ceiling.base_url}/create-order"
        await load(url, sizes, sizes.warmup_seconds, {}, Counter())
        base = [await load(url, sizes, sizes.throughput_seconds, {}, Counter())]
    finally:
        ceiling.stop()
    figures = []
    for brokers, workers in SHAPES:
        ours = await _measure(platform, sizes, brokers, workers)
        label = f"create-order, {brokers} broker(s), {workers} worker(s) of each"
        figures += [
            Figure(NAME, f"{label}: rate", "req/s", column(ours, "rate"), column(base, "rate")),
            Figure(NAME, "p99", "ms", column(ours, "p99"), column(base, "p99")),
            Figure(NAME, "errors", "count", column(ours, "errors")),
        ]
    return figures
