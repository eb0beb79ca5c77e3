"""Per-order ordering under concurrency, and many orders at once."""

import asyncio

from tests.integration.client import call, create_order, eventually, order_events

FORWARD = ["pending", "confirmed", "shipped", "delivered"]


async def test_concurrent_updates_of_one_order_yield_versions_one_to_n(http, platform, order_id):
    """Given one order, when many updates race, then its events are 1..n, no gap, no repeat."""
    cart = platform.cart.base_url
    await create_order(http, platform, order_id, num_items=2)

    updates = [
        call(http, "PUT", f"{cart}/update-order", json={"orderId": order_id, "status": status})
        for status in FORWARD * 5
    ]
    statuses = [status for status, _, _ in await asyncio.gather(*updates)]

    assert set(statuses) <= {200, 409}
    events = await order_events(platform, order_id)
    assert [e.version for e in events] == list(range(1, len(events) + 1))
    # Each accepted move went forward: the statuses in the log never go back.
    order_of = {status: n for n, status in enumerate(["new", *FORWARD])}
    positions = [order_of[e.order.status.value] for e in events]
    assert positions == sorted(positions)
    assert len(set(positions)) == len(positions)
    # The order service ends on the last event.
    _, found, _ = await eventually(
        lambda: call(http, "GET", f"{platform.orders.base_url}/order-details?orderId={order_id}"),
        lambda r: r[0] == 200 and r[1]["status"] == events[-1].order.status.value,
    )
    assert found["status"] == events[-1].order.status.value


async def test_two_hundred_concurrent_creates_are_all_visible(http, platform, order_id):
    ids = [f"{order_id}-{n:03d}" for n in range(200)]
    creates = [
        create_order(http, platform, each, num_items=1 + n % 5) for n, each in enumerate(ids)
    ]

    statuses = [status for status, _, _ in await asyncio.gather(*creates)]

    assert statuses == [201] * 200

    async def missing_details() -> list[str]:
        results = await asyncio.gather(
            *(
                call(http, "GET", f"{platform.orders.base_url}/order-details?orderId={each}")
                for each in ids
            )
        )
        return [each for each, (status, _, _) in zip(ids, results, strict=True) if status != 200]

    assert await eventually(missing_details, lambda missing: not missing) == []
    _, scan, _ = await call(
        http,
        "GET",
        f"{platform.orders.base_url}/getAllOrderIdsFromTopic?topicName=order-events",
    )
    assert set(ids) <= set(scan["orderIds"])
