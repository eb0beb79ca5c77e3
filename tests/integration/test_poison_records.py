"""Records the services cannot use: dead-lettered, and the stream goes on.

Written as any process that may write to the topics could: bytes that are no
value, values framed with a schema id the registry holds for another format
(or none at all), numbers beyond what the wire carries.
"""

import asyncio
from collections.abc import Callable

import pytest

from infra.topics import events_format
from infra.value_formats import HEADER
from models.codec import dumps
from tests.integration.client import (
    UNKNOWN_SCHEMA_ID,
    call,
    create_order,
    dead_letters,
    event,
    eventually,
    produce,
    register_foreign_schema,
    the_letter_for,
)
from tests.integration.load import Acknowledged, burst, not_found


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


@pytest.mark.parametrize("schema", ["JSON", "PROTOBUF", "unknown id"])
async def test_a_value_framed_with_a_foreign_schema_id_is_dead_lettered_and_nothing_stops(
    http, platform, order_id, schema
):
    schema_id = (
        UNKNOWN_SCHEMA_ID
        if schema == "unknown id"
        else await register_foreign_schema(platform.registry_url, schema)
    )
    running = platform.orders.pid
    value = HEADER.pack(0, schema_id) + b'{"orderId": "x"}'
    await produce(platform.bootstrap_servers, [(order_id.encode(), value)])

    letter, headers = await the_letter_for(platform.bootstrap_servers, order_id.encode())

    assert letter.value == value
    assert headers["dlq.error"] == "InvalidRecord"
    assert f"schema id {schema_id}" in headers["dlq.reason"]
    # The order service went on, in the same process: a real order behind it is applied.
    status, _, _ = await create_order(http, platform, f"{order_id}-after")
    assert status == 201
    await eventually(
        lambda: call(
            http, "GET", f"{platform.orders.base_url}/order-details?orderId={order_id}-after"
        ),
        lambda r: r[0] == 200,
    )
    assert platform.orders.pid == running


async def test_unreadable_commands_among_commands_in_flight_lose_nothing(http, platform, order_id):
    """Records on order-commands no cart wrote (an unknown schema id, as from a worker of
    another version) while clients create and update orders: each dead-lettered in its
    place, every acknowledged change applied, the cart never restarted."""
    running = platform.cart.pid
    acked = Acknowledged()
    poison = [
        (f"{order_id}-poison-{n}".encode(), HEADER.pack(0, UNKNOWN_SCHEMA_ID) + b"?")
        for n in range(20)
    ]

    async def poison_meanwhile() -> None:
        for key, value in poison:
            await produce(platform.bootstrap_servers, [(key, value)], topic="order-commands")
            await asyncio.sleep(0.05)

    await asyncio.gather(burst(http, platform, order_id, acked), poison_meanwhile())

    assert acked.status, "the burst acknowledged nothing"
    # Nothing in flight was dropped: no request was left without its answer.
    assert not acked.refusals, acked.refusals
    lost = await eventually(
        lambda: not_found(http, platform.orders.base_url, acked), lambda m: not m, timeout=60
    )
    assert lost == {}
    letters = await eventually(
        lambda: dead_letters(platform.bootstrap_servers, "order-commands.DLQ"),
        lambda records: {key for key, _ in poison} <= {r.key for r in records},
    )
    reasons = {
        dict(r.headers)["dlq.reason"] for r in letters if r.key.startswith(order_id.encode())
    }
    assert all(b"schema id %d" % UNKNOWN_SCHEMA_ID in reason for reason in reasons)
    assert platform.cart.pid == running
