"""Avro on the wire with a real schema registry: format, evolution, compatibility."""

import copy

import pytest
from aiokafka import AIOKafkaConsumer

from infra.schema_registry import IncompatibleSchema, SchemaRegistryClient
from infra.topics import TopicSpec, create_topics, events_format
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
)
from tests.unit.factories import make_create_command, make_event, make_update_command

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
    assert (await registry.schema(schema_id))["name"] == "OrderEvent"
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


async def test_the_topic_scan_reads_avro_and_json_topics(http, platform, order_id):
    await create_order(http, platform, order_id)
    json_topic = f"json-{order_id}"
    await create_topics(platform.bootstrap_servers, 1, 1, [TopicSpec(json_topic)])
    await produce(
        platform.bootstrap_servers, [(b"k", dumps(event(f"{order_id}-json", 1)))], json_topic
    )

    scans = {}
    for topic in ("order-events", json_topic):
        _, scans[topic], _ = await call(
            http, "GET", f"{platform.orders.base_url}/getAllOrderIdsFromTopic?topicName={topic}"
        )

    assert order_id in scans["order-events"]["orderIds"]
    assert scans[json_topic]["orderIds"] == [f"{order_id}-json"]
