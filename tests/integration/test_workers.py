"""Two workers of each service on one broker: any worker answers any request.

The cart worker that takes a request is often not the owner of the order's
partition: the command goes to the owner's agent and the reply comes back
through ``order-command-replies``.  An order-service worker that does not
hold an order's partition forwards ``/order-details`` to the one that does.
"""

import asyncio
import itertools
import logging
import time
from collections import Counter, defaultdict
from collections.abc import Iterator

import pytest
from aiokafka.partitioner import murmur2

from local_kafka.stack import LocalStack
from models.money import shipping_cost
from tests.integration.client import call, create_order, eventually
from tests.integration.load import ORDERS, Acknowledged, burst, not_found

logger = logging.getLogger(__name__)

PAIR_ORDERS = 24
RACES = 20
PARTITIONS = 6


@pytest.fixture(scope="module")
def pair(tmp_path_factory: pytest.TempPathFactory) -> Iterator[LocalStack]:
    with LocalStack(tmp_path_factory.mktemp("workers"), workers=2) as stack:
        yield stack


async def test_every_worker_takes_creates_and_updates_for_any_partition(http, pair, order_id):
    carts = [worker.base_url for worker in pair.cart_workers]
    ids = [f"{order_id}-{n}" for n in range(PAIR_ORDERS)]

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

    assert [status for status, _, _ in created] == [201] * PAIR_ORDERS
    assert [(status, body["status"]) for status, body, _ in updated] == [
        (200, "confirmed")
    ] * PAIR_ORDERS


async def test_every_order_worker_finds_every_order(http, pair, order_id):
    ids = [f"{order_id}-{n}" for n in range(PAIR_ORDERS)]
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


def partition_of(order_id: str) -> int:
    """The partition the producers write an order to (murmur2 of the raw key)."""
    return (murmur2(order_id.encode()) & 0x7FFFFFFF) % PARTITIONS


async def test_a_worker_of_each_service_killed_in_a_burst_loses_nothing(http, pair, order_id):
    """Runs last in the module: it kills the second worker of each service."""
    survivor, victims = pair.cart, [pair.cart_workers[1], pair.order_workers[1]]
    acked = Acknowledged()
    answered: dict[int, list[float]] = defaultdict(list)  # partition → acknowledgement times
    readiness: list[tuple[float, int]] = []

    async def watch_ready(until: asyncio.Future) -> None:
        while not until.done():
            status, _, _ = await call(http, "GET", f"{survivor.base_url}/ready")
            readiness.append((time.monotonic(), status))
            await asyncio.sleep(0.1)

    clients = asyncio.ensure_future(burst(http, pair, order_id, acked))
    watcher = asyncio.ensure_future(watch_ready(clients))
    await eventually(lambda: asyncio.sleep(0, len(acked.status)), lambda n: n >= ORDERS // 4)
    for victim in victims:
        victim.kill()
    killed_at = time.monotonic()
    await clients
    await watcher
    for each, moment in zip(acked.ids, acked.times, strict=True):
        answered[partition_of(each)].append(moment)
    takeover = max(min(t for t in answered[p] if t > killed_at) for p in range(PARTITIONS))

    orders = pair.orders.base_url

    lost = await eventually(lambda: not_found(http, orders, acked), lambda m: not m, timeout=60)
    after_kill = [status for moment, status in readiness if moment > killed_at]
    logger.info(
        "one worker of each service killed: %d orders acknowledged, %d refused or cut off, "
        "%d missing; every partition served again %.1f s after the kill; /ready of the "
        "survivor after the kill: %s",
        len(acked.status),
        acked.refused,
        len(lost),
        takeover - killed_at,
        " ".join(str(s) for s, _ in itertools.groupby(after_kill)),
    )
    assert lost == {}
    # Nothing answered wrong: a 504 (fate unknown) at worst, never a 500.
    assert set(acked.refusals) <= {504}, acked.refusals
    duplicates = await asyncio.gather(*(create_order(http, pair, each) for each in acked.status))
    assert {status for status, _, _ in duplicates} == {409}
    # The survivor took the dead worker's partitions: every partition answered again.
    assert takeover - killed_at < 30
    # While its group rebalanced, the survivor said so; it is ready again after.
    assert 503 in after_kill
    assert after_kill[-1] == 200
