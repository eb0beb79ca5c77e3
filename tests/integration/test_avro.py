"""Avro on the wire with a real schema registry: format, evolution, compatibility."""

import asyncio
import copy
import itertools
import logging
import time
from collections import Counter

import pytest
from aiokafka import AIOKafkaConsumer

from infra.schema_registry import IncompatibleSchema, SchemaRegistryClient
from infra.topics import events_format
from infra.value_formats import HEADER, AvroFormat
from models.avro import ORDER_COMMAND, ORDER_EVENT
from models.codec import dumps
from models.events import OrderEvent
from tests.integration.client import (
    call,
    create_order,
    event,
    eventually,
    order_events,
    produce,
    registry_reachable,
)
from tests.unit.factories import make_create_command, make_event, make_update_command

logger = logging.getLogger(__name__)

EVENTS_SUBJECT = "order-events-value"


@pytest.fixture
async def registry(platform) -> SchemaRegistryClient:
    client = SchemaRegistryClient(platform.registry_url)
    await client.start()
    yield client
    await client.stop()


def with_optional_channel(schema: dict) -> dict:
    """A compatible evolution: one more field, optional, with a default."""
    evolved = copy.deepcopy(schema)
    evolved["fields"].append({"name": "channel", "type": ["null", "string"], "default": None})
    return evolved


async def test_events_are_confluent_framed_avro_under_the_topic_subject(
    http, platform, registry, order_id
):
    await create_order(http, platform, order_id)
    consumer = AIOKafkaConsumer(
        "order-events", bootstrap_servers=platform.bootstrap_servers, auto_offset_reset="earliest"
    )
    await consumer.start()
    try:
        records = [r for batch in (await consumer.getmany(timeout_ms=2000)).values() for r in batch]
    finally:
        await consumer.stop()

    (value,) = [r.value for r in records if r.key == order_id.encode()]
    magic, schema_id = HEADER.unpack_from(value)
    assert magic == 0
    assert (await registry.parsed_schema(schema_id))["name"] == "io.orderevents.OrderEvent"
    (decoded,) = await order_events(platform, order_id)
    assert decoded.orderId == order_id


@pytest.mark.parametrize(
    ("subject", "schema", "record"),
    [
        ("order-events-value", ORDER_EVENT, make_event()),
        ("order-commands-value", ORDER_COMMAND, make_create_command()),
        ("order-commands-value", ORDER_COMMAND, make_update_command()),
    ],
)
async def test_every_record_type_round_trips_through_the_registry(
    registry, subject, schema, record
):
    avro = AvroFormat(subject, schema, registry)
    await avro.prepare()

    decoded = await avro.decode(avro.encode(record.to_wire()))

    assert type(record).from_wire(decoded) == record


async def test_a_reader_on_a_newer_compatible_schema_reads_older_records(
    http, platform, registry, order_id
):
    await create_order(http, platform, order_id, num_items=2)
    newer = AvroFormat(EVENTS_SUBJECT, with_optional_channel(ORDER_EVENT), registry)

    await newer.prepare()  # accepted: BACKWARD-compatible

    (written,) = await order_events(platform, order_id)
    async with events_format(platform.registry_url) as current:
        old_bytes = current.encode(written.to_wire())  # as the cart wrote it
    decoded = await newer.decode(old_bytes)
    assert decoded["channel"] is None
    assert OrderEvent.from_wire(decoded) == written


async def test_the_order_service_reads_events_written_with_the_newer_schema(
    http, platform, registry, order_id
):
    newer = AvroFormat(EVENTS_SUBJECT, with_optional_channel(ORDER_EVENT), registry)
    await newer.prepare()
    data = {**event(order_id, 1), "channel": "web"}

    await produce(platform.bootstrap_servers, [(order_id.encode(), newer.encode(data))])

    _, found, _ = await eventually(
        lambda: call(http, "GET", f"{platform.orders.base_url}/order-details?orderId={order_id}"),
        lambda r: r[0] == 200,
    )
    assert found["orderId"] == order_id


async def test_an_incompatible_schema_change_is_refused_by_the_registry(registry):
    incompatible = copy.deepcopy(ORDER_EVENT)
    version = next(f for f in incompatible["fields"] if f["name"] == "version")
    version["type"] = "string"

    with pytest.raises(IncompatibleSchema):
        await registry.register(EVENTS_SUBJECT, incompatible, "BACKWARD")


async def test_the_topic_scan_reads_avro_and_json_values(http, platform, order_id):
    """Another producer's JSON among the services' Avro: both name their orderIds."""
    await create_order(http, platform, order_id)
    await produce(platform.bootstrap_servers, [(b"k", dumps(event(f"{order_id}-json", 1)))])

    _, scan, _ = await call(
        http, "GET", f"{platform.orders.base_url}/getAllOrderIdsFromTopic?topicName=order-events"
    )

    assert {order_id, f"{order_id}-json"} <= set(scan["orderIds"])


REGISTRY_PAUSE_SECONDS = 10.0


async def test_a_registry_pause_stops_neither_creates_nor_projection(http, platform, order_id):
    """The services hold every schema they need: a registry that does not answer (SIGSTOP)
    for 10 s is logged and reported, and every create meanwhile is a 201, projected."""
    statuses: Counter[int] = Counter()
    created: list[str] = []
    numbers = itertools.count()

    async def client(until: float) -> None:
        while time.monotonic() < until:
            each = f"{order_id}-{next(numbers)}"
            status, _, _ = await create_order(http, platform, each)
            statuses[status] += 1
            if status == 201:
                created.append(each)

    platform.registry.pause()
    try:
        for service in (platform.cart, platform.orders):
            await eventually(lambda s=service: registry_reachable(http, s.base_url), "0.0".__eq__)
        started = time.monotonic()
        await asyncio.gather(*(client(started + REGISTRY_PAUSE_SECONDS) for _ in range(8)))
        projected = await eventually(
            lambda: asyncio.gather(
                *(
                    call(http, "GET", f"{platform.orders.base_url}/order-details?orderId={each}")
                    for each in created[-20:]
                )
            ),
            lambda answers: {status for status, _, _ in answers} == {200},
        )
        ready = await call(http, "GET", f"{platform.cart.base_url}/ready")
    finally:
        platform.registry.resume()

    logger.info(
        "registry paused %.0f s: %d creates answered %s (%.0f/s); the last 20 projected",
        REGISTRY_PAUSE_SECONDS,
        sum(statuses.values()),
        dict(statuses),
        sum(statuses.values()) / REGISTRY_PAUSE_SECONDS,
    )
    assert set(statuses) == {201}
    assert len(projected) == 20
    assert ready[0] == 200  # every schema it needs is known: ready
