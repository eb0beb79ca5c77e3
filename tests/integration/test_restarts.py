"""Nothing is lost when a service restarts: tables come back from disk and changelog."""

import asyncio
import shutil

from infra.topics import events_format
from tests.integration.client import call, create_order, event, eventually, produce


async def create_orders(http, platform, ids: list[str]) -> None:
    results = await asyncio.gather(
        *(create_order(http, platform, each, num_items=2) for each in ids)
    )
    assert [status for status, _, _ in results] == [201] * len(ids)


async def all_found(http, platform, ids: list[str]) -> bool:
    results = await asyncio.gather(
        *(
            call(http, "GET", f"{platform.orders.base_url}/order-details?orderId={each}")
            for each in ids
        )
    )
    return all(status == 200 for status, _, _ in results)


async def test_order_service_restart_keeps_every_order(http, platform, order_id):
    ids = [f"{order_id}-{n}" for n in range(50)]
    await create_orders(http, platform, ids)
    await eventually(lambda: all_found(http, platform, ids), bool)

    await asyncio.to_thread(platform.restart, platform.orders)

    # Ready means recovered: every order is there at once, no waiting.
    assert await all_found(http, platform, ids)


async def test_order_service_rebuilds_its_table_from_the_changelog_alone(http, platform, order_id):
    ids = [f"{order_id}-{n}" for n in range(30)]
    await create_orders(http, platform, ids)
    await eventually(lambda: all_found(http, platform, ids), bool)

    await asyncio.to_thread(platform.orders.stop)
    # Lose the local RocksDB state, as on a new host.
    shutil.rmtree(platform.orders.data_dir / "order-service")
    await asyncio.to_thread(platform.orders.start)
    await asyncio.to_thread(platform.orders.wait_ready)

    assert await all_found(http, platform, ids)


async def test_cart_restart_still_rejects_a_duplicate_order_id(http, platform, order_id):
    await create_orders(http, platform, [order_id])

    await asyncio.to_thread(platform.restart, platform.cart)

    status, _, _ = await create_order(http, platform, order_id)
    assert status == 409


async def test_ten_thousand_orders_are_all_back_when_ready_says_so(http, platform, order_id):
    """Given 10,000 orders in the table, a restarted order service is complete at /ready."""
    ids = [f"{order_id}-{n:05d}" for n in range(10_000)]
    async with events_format(platform.registry_url) as values:
        records = [(i.encode(), values.encode(event(i, 1))) for i in ids]
    await produce(platform.bootstrap_servers, records)
    # The machine may be busy: 10,000 events take a few seconds to apply.
    await eventually(
        lambda: missing_details(http, platform, ids[-100:]), lambda m: not m, timeout=90
    )

    await asyncio.to_thread(platform.restart, platform.orders)

    assert await missing_details(http, platform, ids) == []


async def missing_details(http, platform, ids: list[str]) -> list[str]:
    """The ids /order-details does not know, asked 50 at a time."""
    gate = asyncio.Semaphore(50)

    async def known(order_id: str) -> bool:
        async with gate:
            url = f"{platform.orders.base_url}/order-details?orderId={order_id}"
            return (await call(http, "GET", url))[0] == 200

    found = await asyncio.gather(*(known(each) for each in ids))
    return [each for each, ok in zip(ids, found, strict=True) if not ok]
