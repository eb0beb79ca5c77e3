"""Resident memory of each service idle (right after start) and holding the preloaded orders.

The order service takes the orders in from ``order-events``.  So does the
cart, whose table is restored from ``order-events`` itself, but only at
start-up: it is restarted once the events are there, and the end of its
restore taken from its log (:mod:`bench.cart_log`).  A duplicate create of
preloaded orderIds then answers 409, so the cart really holds them; its RSS
is read after that check.  One measurement each: repeating an RSS reading a
second later says nothing new.
"""

import asyncio
import random

from bench.cart_log import LogMark
from bench.dataset import ensure_events, wait_caught_up
from bench.loadgen import duplicate_create_statuses, http_session, other_statuses
from bench.procstat import rss_mb
from bench.run import BenchRun, wait_ready
from bench.sizes import Sizes
from bench.stats import Figure, Target

NAME = "memory"
LIMIT_MB = 250
DUPLICATE_CHECK = 20


async def run(platform: BenchRun, sizes: Sizes) -> list[Figure]:
    idle: dict[str, float] = platform.shared["idle_rss"]  # type: ignore[assignment]
    ids = await ensure_events(platform, sizes)
    await wait_caught_up(platform)
    assert platform.orders.pid is not None
    orders_after = rss_mb(platform.orders.pid)

    cart = platform.cart
    assert cart.log_path is not None  # the bench's services always log to a file
    async with http_session() as http:
        await asyncio.to_thread(cart.stop)
        mark = LogMark(cart.log_path)
        cart.start()
        await wait_ready(http, cart, timeout=300)
        restored = await mark.wait_restored(timeout=300)
        sample = random.sample(ids, DUPLICATE_CHECK)
        # First: RSS is read once the cart has shown it holds the orders.
        statuses = await duplicate_create_statuses(http, cart.base_url, sample)
        await asyncio.sleep(1)  # let the restore's buffers go before reading RSS
        assert cart.pid is not None
        cart_after = rss_mb(cart.pid)

    limit = Target("<=", LIMIT_MB)
    orders = f"{len(ids):,} orders"
    return [
        Figure(NAME, "cart RSS idle", "MB", [round(idle["cart"], 1)], target=limit),
        Figure(NAME, "orders RSS idle", "MB", [round(idle["orders"], 1)], target=limit),
        Figure(
            NAME,
            f"cart RSS with {orders}",
            "MB",
            [round(cart_after, 1)],
            target=limit,
            note="restored from order-events by a restart (the table's rows are in RocksDB)",
        ),
        Figure(NAME, f"orders RSS with {orders}", "MB", [round(orders_after, 1)], target=limit),
        Figure(
            NAME,
            f"cart start → {orders} restored from order-events (the cart's log)",
            "s",
            [round(restored.seconds, 2)],
        ),
        Figure(
            NAME,
            f"cart: of {DUPLICATE_CHECK} preloaded ids refused (409)",
            "count",
            [statuses[409]],
            target=Target(">=", DUPLICATE_CHECK),
            note=f"other answers: {other_statuses(statuses, 409)}",
        ),
    ]
