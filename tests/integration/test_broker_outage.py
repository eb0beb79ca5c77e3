"""A broker outage: fast 503s, local reads go on, and recovery without a restart.

These tests stop and pause Kafka, so they get a platform of their own.
"""

import asyncio
import logging
import time
from collections.abc import Callable, Iterator

import pytest

from infra.kafka_connection import KafkaConnection
from infra.topics import ORDER_TOPICS, TopicSpec, create_topics
from local_kafka.stack import LocalStack
from models.codec import dumps
from tests.integration.client import (
    call,
    create_once_accepted,
    create_order,
    eventually,
    produce,
    registry_reachable,
)

logger = logging.getLogger(__name__)

#: Enough bytes that a scan is still fetching seconds after it starts (the
#: consumer prefetches: a small topic would be read before Kafka hangs).
SCAN_RECORDS = 40_000
SCAN_PADDING = "x" * 4000


#: The large topic a scan is caught in; the order service may scan it.
SCAN_TOPIC = "scan-outage"


@pytest.fixture(scope="module")
def fragile(tmp_path_factory: pytest.TempPathFactory) -> Iterator[LocalStack]:
    scannable = ",".join((*ORDER_TOPICS, SCAN_TOPIC))
    with LocalStack(
        tmp_path_factory.mktemp("fragile"), service_env={"ORDERS_SCANNABLE_TOPICS": scannable}
    ) as platform:
        yield platform


async def timed(coro) -> tuple[float, tuple]:
    started = time.monotonic()
    result = await coro
    return time.monotonic() - started, result


def outage_cases() -> list[tuple[str, Callable, Callable]]:
    return [
        ("stopped", lambda b: b.stop(), lambda b: b.start()),
        ("paused", lambda b: b.pause(), lambda b: b.resume()),
    ]


@pytest.mark.parametrize(("kind", "break_kafka", "heal_kafka"), outage_cases())
async def test_outage_gives_fast_503s_and_the_services_recover_by_themselves(
    http, fragile, order_id, kind, break_kafka, heal_kafka
):
    cart, orders = fragile.cart.base_url, fragile.orders.base_url
    created = await create_order(http, fragile, order_id)
    assert created[0] == 201
    await eventually(
        lambda: call(http, "GET", f"{orders}/order-details?orderId={order_id}"),
        lambda r: r[0] == 200,
    )

    await asyncio.to_thread(break_kafka, fragile.broker)
    try:
        for base in (cart, orders):
            await eventually(lambda b=base: call(http, "GET", f"{b}/ready"), lambda r: r[0] == 503)

        create_time, create = await timed(create_order(http, fragile, f"{order_id}-x"))
        update_time, update = await timed(
            call(
                http, "PUT", f"{cart}/update-order", json={"orderId": order_id, "status": "pending"}
            )
        )
        scan_time, scan = await timed(
            call(http, "GET", f"{orders}/getAllOrderIdsFromTopic?topicName=order-events")
        )
        details = await call(http, "GET", f"{orders}/order-details?orderId={order_id}")
        health = [(await call(http, "GET", f"{b}/health"))[0] for b in (cart, orders)]
    finally:
        await asyncio.to_thread(heal_kafka, fragile.broker)

    assert (create[0], update[0], scan[0]) == (503, 503, 503), kind
    assert create[2]["Retry-After"]
    assert update[2]["Retry-After"]
    assert create[1]["status"] == 503
    assert max(create_time, update_time) < 2.0
    assert scan_time < 10.0
    assert details[0] == 200  # the table is local state
    assert health == [200, 200]

    # Back without restarting anything: the first create succeeds within 30 s.
    healed_at = time.monotonic()
    recovered = await create_once_accepted(http, fragile, f"{order_id}-after", timeout=30)
    recovery_time = time.monotonic() - healed_at
    logger.info(
        "%s broker: 503 in %.3f s (create) / %.3f s (update), scan %d in %.3f s; "
        "first create %.1f s after Kafka was back",
        kind,
        create_time,
        update_time,
        scan[0],
        scan_time,
        recovery_time,
    )
    assert recovery_time < 30
    # ... and the order service applies events again.
    await eventually(
        lambda: call(http, "GET", f"{orders}/order-details?orderId={recovered['orderId']}"),
        lambda r: r[0] == 200,
        timeout=30,
    )
    # The update refused during the outage was not applied behind the client's back.
    _, found, _ = await call(http, "GET", f"{orders}/order-details?orderId={order_id}")
    assert found["status"] == "new"


async def test_a_request_caught_by_the_outage_is_answered_within_two_seconds(
    http, fragile, order_id
):
    """Kafka hangs after the service last saw it: the request must not hang too."""
    await asyncio.to_thread(fragile.broker.pause)
    try:
        elapsed, (status, problem, headers) = await timed(create_order(http, fragile, order_id))
    finally:
        await asyncio.to_thread(fragile.broker.resume)

    logger.info("request during a fresh outage: %d in %.3f s", status, elapsed)
    # 503 if the outage was known before sending, 504 if it began while waiting.
    assert status in (503, 504)
    assert headers["Retry-After"]
    assert problem["status"] == status
    assert elapsed < 2.0


@pytest.mark.parametrize("stop_how", ["stopped", "paused"])
async def test_a_registry_outage_stops_no_create(http, fragile, order_id, stop_how):
    """The services hold the schemas they write with: no 503 for a registry that is away."""
    registry = fragile.registry
    cart = fragile.cart.base_url
    # Given everything healthy again after the Kafka outages before,
    await eventually(lambda: call(http, "GET", f"{cart}/ready"), lambda r: r[0] == 200)
    await asyncio.to_thread(registry.stop if stop_how == "stopped" else registry.pause)
    try:
        await eventually(lambda: registry_reachable(http, cart), "0.0".__eq__)
        elapsed, (status, created, _) = await timed(create_order(http, fragile, order_id))
        ready, _, _ = await call(http, "GET", f"{cart}/ready")
    finally:
        await asyncio.to_thread(registry.start if stop_how == "stopped" else registry.resume)

    logger.info("registry %s: create %d in %.3f s", stop_how, status, elapsed)
    assert (status, created["orderId"]) == (201, order_id)
    assert elapsed < 2.0
    assert ready == 200
    again, _, _ = await create_order(http, fragile, f"{order_id}-2")
    assert again == 201


async def test_a_scan_caught_by_the_outage_ends_within_two_seconds(http, fragile, order_id):
    """Kafka hangs in the middle of a long scan: the scan ends as the cart's requests do."""
    topic = SCAN_TOPIC
    await create_topics(KafkaConnection(fragile.bootstrap_servers), 6, 1, [TopicSpec(topic)])
    records = [
        (None, dumps({"orderId": f"{order_id}-{n}", "pad": SCAN_PADDING}))
        for n in range(SCAN_RECORDS)
    ]
    await produce(fragile.bootstrap_servers, records, topic=topic)
    await eventually(
        lambda: call(http, "GET", f"{fragile.orders.base_url}/ready"), lambda r: r[0] == 200
    )

    scan = asyncio.ensure_future(
        call(http, "GET", f"{fragile.orders.base_url}/getAllOrderIdsFromTopic?topicName={topic}")
    )
    await asyncio.sleep(0.5)
    assert not scan.done(), "the scan finished before the outage: make the topic larger"
    await asyncio.to_thread(fragile.broker.pause)
    paused_at = time.monotonic()
    try:
        status, problem, headers = await scan
        elapsed = time.monotonic() - paused_at
    finally:
        await asyncio.to_thread(fragile.broker.resume)

    logger.info("scan caught by an outage: %d %.3f s after the pause", status, elapsed)
    assert status in (503, 504)
    assert problem["status"] == status
    assert headers["Retry-After"]
    assert elapsed < 2.0
