"""Projection rate: events preloaded, a fresh order service started, time until its lag is 0.

Each repetition starts an order service with an app id of its own (so its own
consumer group, table and changelog): it reads ``order-events`` from the
start, as a new service would, while the previous one is stopped.  The last
one stays as the platform's order service: it holds the preloaded orders for
the scenarios after this one.

"Lag 0" is the group's committed offsets against the end offsets, asked of
the broker (``dataset.wait_caught_up``).  The rate counts from the process
start (what an operator waits for); the rate from ``/ready`` leaves out
start-up and table recovery.  Baseline: a raw aiokafka consumer reads the
same topic and decodes every value in the run's value format (Avro).
"""

import asyncio
import random
import time
import uuid

from bench.dataset import ensure_events, wait_caught_up
from bench.kafka_io import read_all
from bench.loadgen import count_found, http_session
from bench.run import BenchRun, wait_ready
from bench.sizes import Sizes
from bench.stats import Figure, Target
from infra.topics import ORDER_EVENTS

NAME = "projection"
SPOT_CHECK = 100


async def run(platform: BenchRun, sizes: Sizes) -> list[Figure]:
    # The running order service would take the preloaded events in meanwhile.
    await asyncio.to_thread(platform.orders.stop)
    ids = await ensure_events(platform, sizes)
    ours, from_ready, base, found = [], [], [], []
    run_id = uuid.uuid4().hex[:6]
    async with http_session() as http:
        for rep in range(1, sizes.reps + 1):
            events, seconds = await read_all(
                platform.bootstrap_servers, ORDER_EVENTS.name, platform.events.decode_cached
            )
            base.append(round(events / seconds))
            service = await platform.replace_orders(f"bench-projection-{run_id}-{rep}")
            started = time.monotonic()
            service.start()
            ready = asyncio.create_task(wait_ready(http, service, timeout=300))
            try:
                caught_up = await wait_caught_up(platform, timeout=600)
                ready_at = await ready
            finally:
                ready.cancel()  # a no-op once done; stops the polling if catching up failed
            ours.append(round(events / (caught_up - started)))
            from_ready.append(round(events / (caught_up - ready_at)))
            found.append(await count_found(http, service.base_url, random.sample(ids, SPOT_CHECK)))
    label = f"{events:,} events ({len(ids):,} orders)"
    return [
        Figure(
            NAME,
            f"{label}: rate from start",
            "events/s",
            ours,
            base,
            Target(">=", 0.25, relative=True),
            note="baseline: raw consumer + decoding each value (Avro, as the service reads); "
            "lag 0 = the projector's committed offsets (committed after each batch)",
        ),
        Figure(NAME, "rate from /ready", "events/s", from_ready, base),
        Figure(
            NAME,
            f"spot check: of {SPOT_CHECK} orders found",
            "count",
            found,
            target=Target(">=", SPOT_CHECK, worst=True),
        ),
    ]
