"""End to end: create acknowledged by the cart → visible in the order service's ``/order-details``.

Open loop at ``sizes.latency_rate`` creates/s (the target's rate), then at
``sizes.high_latency_rate`` (reported).  Every ``TRACK_EVERY``-th
order is then looked up at once and again after ``POLL_SECONDS``, or a fifth
of the time waited so far if that is longer, until it answers 200; the
latency is from the cart's 201 to that 200 (one lookup round trip included;
resolution 5 ms or 20 %).  The lookups must not load the order service more
than the creates do: polling every 5 ms throughout, they did, just when it
lagged, and so made it lag more.

Baseline: raw aiokafka, a record produced (acks=all, idempotent, no linger,
like the services) and read back by a consumer on the same broker, at the
same rate; the latency is from ``send`` to its arrival at the consumer.
"""

import asyncio
import time
import uuid

import aiohttp

from bench.kafka_io import round_trips
from bench.loadgen import LoadResult, create_body, http_session, open_loop, timed_post
from bench.run import BenchRun
from bench.sizes import Sizes
from bench.stats import Figure, Metrics, Target, column, percentile
from bench.wire import Templates, bench_order_id

NAME = "latency"
TRACK_EVERY = 3
POLL_SECONDS = 0.005
POLL_BACKOFF = 0.2
VISIBLE_DEADLINE = 30.0
#: Creates waiting for an answer at most; past it the next ones are not sent.
#: Without a cap, a cart slower than the rate would build a queue that takes
#: longer to drain than the measurement, and the load generator would measure
#: that queue.
MAX_IN_FLIGHT = 64
ROUND_TRIP_TOPIC = "bench-round-trip"


async def _visible_after(http: aiohttp.ClientSession, url: str) -> float | None:
    """Seconds until ``url`` answers 200, polled; None past the deadline."""
    started = time.perf_counter()
    while (waited := time.perf_counter() - started) < VISIBLE_DEADLINE:
        async with http.get(url) as response:
            await response.read()
            if response.status == 200:
                return time.perf_counter() - started
        await asyncio.sleep(max(POLL_SECONDS, waited * POLL_BACKOFF))
    return None


async def _ours(platform: BenchRun, rate: float, seconds: float) -> Metrics:
    prefix = f"e2e-{uuid.uuid4().hex[:8]}"
    creates, visible, invisible = LoadResult(), [], 0
    create_url = f"{platform.cart.base_url}/create-order"

    async with http_session(MAX_IN_FLIGHT + 10) as http:

        async def job(n: int) -> None:
            nonlocal invisible
            order_id = f"{prefix}-{n}"
            acknowledged = await timed_post(http, create_url, create_body(order_id), 201, creates)
            if acknowledged and n % TRACK_EVERY == 0:
                url = f"{platform.orders.base_url}/order-details?orderId={order_id}"
                seconds = await _visible_after(http, url)
                if seconds is None:
                    invisible += 1
                else:
                    visible.append(seconds * 1000)

        elapsed, skipped = await open_loop(rate, seconds, job, MAX_IN_FLIGHT)
    return {
        "p50": percentile(visible, 50),
        "p99": percentile(visible, 99),
        "rate": creates.ok / elapsed,
        "create_p99": creates.p(99),
        "skipped": skipped,
        "errors": sum(creates.errors.values()) + invisible,
    }


async def run(platform: BenchRun, sizes: Sizes) -> list[Figure]:
    await platform.create_topic(ROUND_TRIP_TOPIC)
    # The size of a real event.
    value = Templates(platform.events).event(bench_order_id("trip", 1), 1)[1]
    figures = []
    # The moderate rate is held to the end-to-end target, the high one to keeping up.
    for rate, targeted in ((sizes.latency_rate, True), (sizes.high_latency_rate, False)):
        ours: list[Metrics] = []
        base: list[Metrics] = []
        for _ in range(sizes.reps):
            ours.append(await _ours(platform, rate, sizes.latency_seconds))
            trips = await round_trips(
                platform.bootstrap_servers, ROUND_TRIP_TOPIC, rate, sizes.latency_seconds, value
            )
            base.append({"p50": percentile(trips, 50), "p99": percentile(trips, 99)})
        figures += _figures(rate, targeted, sizes, ours, base)
    return figures


def _figures(
    rate: float, targeted: bool, sizes: Sizes, ours: list[Metrics], base: list[Metrics]
) -> list[Figure]:
    label = f"create → visible at {rate:g}/s × {sizes.latency_seconds:g} s"
    return [
        Figure(NAME, f"{label}: p50", "ms", column(ours, "p50"), column(base, "p50")),
        Figure(
            NAME,
            "p99",
            "ms",
            column(ours, "p99"),
            column(base, "p99"),
            Target("<=", 3, relative=True) if targeted else None,
            note=f"baseline: raw produce → consume; every {TRACK_EVERY}rd order tracked, "
            f"resolution {POLL_SECONDS * 1000:g} ms or {POLL_BACKOFF:.0%}",
        ),
        Figure(
            NAME,
            "creates answered 201",
            "req/s",
            column(ours, "rate"),
            target=Target(">=", rate * (0.95 if targeted else 0.99)),
            note=f"open loop at {rate:g}/s; below it the cart is saturated and the latency "
            "above is at the cart's capacity, not at this rate",
        ),
        Figure(
            NAME,
            f"creates not sent: {MAX_IN_FLIGHT} in flight",
            "count",
            column(ours, "skipped"),
        ),
        Figure(
            NAME,
            "create p99",
            "ms",
            column(ours, "create_p99"),
            target=None if targeted else Target("<=", 50),
        ),
        Figure(
            NAME,
            "errors (non-201, never visible)",
            "count",
            column(ours, "errors"),
            target=Target("<=", 0, worst=True),
        ),
    ]
