"""Records the order service cannot use: dead-lettered, and the stream goes on."""

from collections.abc import Callable

import pytest
from aiokafka import AIOKafkaConsumer

from infra.topics import events_format
from models.codec import dumps
from tests.integration.client import call, create_order, event, eventually, produce


async def dead_letters(bootstrap_servers: str) -> list:
    consumer = AIOKafkaConsumer(
        "order-events.DLQ",
        bootstrap_servers=bootstrap_servers,
        auto_offset_reset="earliest",
        enable_auto_commit=False,
    )
    await consumer.start()
    try:
        batches = await consumer.getmany(timeout_ms=1000)
        return [record for records in batches.values() for record in records]
    finally:
        await consumer.stop()


def poison(order_id: str, encode: Callable[[dict], bytes]) -> dict[str, bytes]:
    """Unusable records; the ones that break a rule are in the services' own format."""
    wrong_status = event(order_id, 1)
    wrong_status["order"]["status"] = "teleported"
    return {
        "garbage bytes": b"\x00\xff not json",
        "wrong schema": dumps({"hello": "world"}),
        "negative quantity": encode(event(order_id, 1, quantity=-2, total="-20.00")),
        "total mismatch": encode(event(order_id, 1, total="999.00")),
        "unknown status": encode(wrong_status),
    }


@pytest.mark.parametrize("case", list(poison("x", dumps)))
async def test_a_record_that_cannot_be_used_goes_to_the_dlq_intact(http, platform, order_id, case):
    async with events_format(platform.registry_url) as values:
        value = poison(order_id, values.encode)[case]
    ((partition, offset),) = await produce(platform.bootstrap_servers, [(order_id.encode(), value)])

    letters = await eventually(
        lambda: dead_letters(platform.bootstrap_servers),
        lambda records: any(r.key == order_id.encode() for r in records),
    )

    (letter,) = [r for r in letters if r.key == order_id.encode()]
    headers = {name: data.decode() for name, data in letter.headers}
    assert letter.value == value
    assert headers["dlq.source.topic"] == "order-events"
    assert (headers["dlq.source.partition"], headers["dlq.source.offset"]) == (
        str(partition),
        str(offset),
    )
    assert headers["dlq.error"] == "InvalidRecord"
    assert headers["dlq.reason"]
    # The projector went on: a real order behind it is applied.
    status, _, _ = await create_order(http, platform, f"{order_id}-after")
    assert status == 201
    await eventually(
        lambda: call(
            http,
            "GET",
            f"{platform.orders.base_url}/order-details?orderId={order_id}-after",
        ),
        lambda r: r[0] == 200,
    )


async def test_a_version_gap_applies_the_snapshot_and_older_versions_are_skipped(
    http, platform, order_id
):
    details = f"{platform.orders.base_url}/order-details?orderId={order_id}"
    key = order_id.encode()
    async with events_format(platform.registry_url) as values:
        encode = values.encode

    # Versions 1 and 2 never arrive; 3 carries the whole order.
    third = event(order_id, 3)
    await produce(platform.bootstrap_servers, [(key, encode(third))])
    _, found, _ = await eventually(lambda: call(http, "GET", details), lambda r: r[0] == 200)
    assert found["status"] == "confirmed"

    # The late version 2 is older than what is held: skipped.
    late = event(order_id, 2)
    late["order"]["status"] = "pending"
    await produce(platform.bootstrap_servers, [(key, encode(late))])
    marker = f"{order_id}-marker"
    await produce(platform.bootstrap_servers, [(key, encode(event(marker, 1)))])  # key ≠ id: DLQ
    await eventually(
        lambda: dead_letters(platform.bootstrap_servers),
        lambda records: any(marker.encode() in r.value for r in records),
    )
    _, found, _ = await call(http, "GET", details)
    assert found["status"] == "confirmed"
