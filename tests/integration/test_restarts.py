"""Nothing is lost when a service restarts: tables come back from disk and changelog."""

import asyncio
import shutil

from tests.integration.client import call, eventually


async def create_orders(http, platform, ids: list[str]) -> None:
    results = await asyncio.gather(
        *(
            call(
                http,
                "POST",
                f"{platform.cart.base_url}/create-order",
                json={"orderId": each, "numItems": 2},
            )
            for each in ids
        )
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

    status, _, _ = await call(
        http,
        "POST",
        f"{platform.cart.base_url}/create-order",
        json={"orderId": order_id, "numItems": 1},
    )
    assert status == 409
