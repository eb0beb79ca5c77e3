"""Two workers of each service on one broker: any worker answers any request.

The cart worker that takes a request is often not the owner of the order's
partition: the command goes to the owner's agent and the reply comes back
through ``order-command-replies``.  An order-service worker that does not
hold an order's partition forwards ``/order-details`` to the one that does.
"""

import asyncio
from collections import Counter
from collections.abc import Iterator

import pytest

from local_kafka.stack import LocalStack
from models.money import shipping_cost
from tests.integration.client import call, eventually

ORDERS = 24
RACES = 20


@pytest.fixture(scope="module")
def pair(tmp_path_factory: pytest.TempPathFactory) -> Iterator[LocalStack]:
    with LocalStack(tmp_path_factory.mktemp("workers"), workers=2) as stack:
        yield stack


async def test_every_worker_takes_creates_and_updates_for_any_partition(http, pair, order_id):
    carts = [worker.base_url for worker in pair.cart_workers]
    ids = [f"{order_id}-{n}" for n in range(ORDERS)]

    created = await asyncio.gather(
        *(
            call(http, "POST", f"{carts[n % 2]}/create-order", json={"orderId": oid, "numItems": 1})
            for n, oid in enumerate(ids)
        )
    )
    updated = await asyncio.gather(
        *(
            call(
                http,
                "PUT",
                f"{carts[(n + 1) % 2]}/update-order",
                json={"orderId": oid, "status": "confirmed"},
            )
            for n, oid in enumerate(ids)
        )
    )

    assert [status for status, _, _ in created] == [201] * ORDERS
    assert [(status, body["status"]) for status, body, _ in updated] == [
        (200, "confirmed")
    ] * ORDERS


async def test_every_order_worker_finds_every_order(http, pair, order_id):
    ids = [f"{order_id}-{n}" for n in range(ORDERS)]
    for oid in ids:
        status, _, _ = await call(
            http, "POST", f"{pair.cart.base_url}/create-order", json={"orderId": oid, "numItems": 1}
        )
        assert status == 201

    for worker in pair.order_workers:
        for oid in ids:
            _, body, _ = await eventually(
                lambda w=worker, o=oid: call(
                    http, "GET", f"{w.base_url}/order-details?orderId={o}"
                ),
                lambda r: r[0] == 200,
            )
            assert body["orderId"] == oid
            assert body["shippingCost"] == shipping_cost(body["totalAmount"])


async def test_a_race_on_one_order_id_is_decided_once(http, pair, order_id):
    carts = [worker.base_url for worker in pair.cart_workers]
    outcomes: Counter[tuple[int, ...]] = Counter()
    for race in range(RACES):
        body = {"orderId": f"{order_id}-{race}", "numItems": 1}
        answers = await asyncio.gather(
            *(call(http, "POST", f"{cart}/create-order", json=body) for cart in carts)
        )
        outcomes[tuple(sorted(status for status, _, _ in answers))] += 1

    assert outcomes == {(201, 409): RACES}
