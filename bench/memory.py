"""Resident memory of each service idle (right after start) and holding the preloaded orders.

The order service takes the orders in from ``order-events``.  The cart gets
them as rows of its table, written to its changelog and recovered by a
restart (``dataset.ensure_cart_rows``); a duplicate create of a preloaded
orderId then answers 409, so the cart really knows them.  One measurement
each: repeating an RSS reading a second later says nothing new.
"""

import asyncio
import random
import time

from bench.dataset import ensure_cart_rows, ensure_events, wait_caught_up
from bench.loadgen import JSON, create_body, http_session
from bench.procstat import rss_mb
from bench.run import BenchRun, wait_ready
from bench.sizes import Sizes
from bench.stats import Figure, Target

NAME = "memory"
LIMIT_MB = 250
DUPLICATE_CHECK = 20


async def run(platform: BenchRun, sizes: Sizes) -> list[Figure]:
    idle: dict[str, float] = platform.shared["idle_rss"]  # type: ignore[assignment]
    await ensure_events(platform, sizes)
    await wait_caught_up(platform)
    assert platform.orders.pid is not None
    orders_after = rss_mb(platform.orders.pid)

    ids = await ensure_cart_rows(platform, sizes)
    cart = platform.cart
    async with http_session() as http:
        await asyncio.to_thread(cart.stop)
        started = time.monotonic()
        cart.start()
        recovered = await wait_ready(http, cart, timeout=300) - started
        await asyncio.sleep(1)  # let the recovery's buffers go before reading RSS
        assert cart.pid is not None
        cart_after = rss_mb(cart.pid)
        duplicates = 0
        for order_id in random.sample(ids, DUPLICATE_CHECK):
            async with http.post(
                f"{cart.base_url}/create-order", data=create_body(order_id), headers=JSON
            ) as response:
                duplicates += response.status == 409

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
            note="rows via the cart's changelog, then a restart",
        ),
        Figure(NAME, f"orders RSS with {orders}", "MB", [round(orders_after, 1)], target=limit),
        Figure(
            NAME,
            f"cart start, recovering {orders} from its changelog → ready",
            "s",
            [round(recovered, 2)],
        ),
        Figure(
            NAME,
            f"cart: of {DUPLICATE_CHECK} preloaded ids refused (409)",
            "count",
            [duplicates],
            target=Target(">=", DUPLICATE_CHECK),
        ),
    ]
