"""JSON values stay available: the same pipeline with VALUE_FORMAT=json, no registry."""

from aiokafka import AIOKafkaConsumer

from models.codec import dumps, loads
from tests.integration.client import (
    call,
    create_order,
    event,
    eventually,
    order_events,
    produce,
    the_letter_for,
)


async def test_the_pipeline_runs_on_json_values(http, json_platform, order_id):
    cart, orders = json_platform.cart.base_url, json_platform.orders.base_url

    created = await create_order(http, json_platform, order_id, num_items=2)
    updated = await call(
        http, "PUT", f"{cart}/update-order", json={"orderId": order_id, "status": "shipped"}
    )
    _, found, _ = await eventually(
        lambda: call(http, "GET", f"{orders}/order-details?orderId={order_id}"),
        lambda r: r[0] == 200 and r[1]["status"] == "shipped",
    )
    _, scan, _ = await call(http, "GET", f"{orders}/getAllOrderIdsFromTopic?topicName=order-events")

    assert (created[0], updated[0]) == (201, 200)
    assert found["shippingCost"] == (found["totalAmount"] * 2 / 100).quantize(found["shippingCost"])
    assert order_id in scan["orderIds"]
    assert [e.version for e in await order_events(json_platform, order_id)] == [1, 2]


async def test_json_values_are_plain_json_on_the_wire(http, json_platform, order_id):
    await create_order(http, json_platform, order_id)
    consumer = AIOKafkaConsumer(
        "order-events",
        bootstrap_servers=json_platform.bootstrap_servers,
        auto_offset_reset="earliest",
    )
    await consumer.start()
    try:
        batches = await consumer.getmany(timeout_ms=2000)
    finally:
        await consumer.stop()

    (record,) = [r for rs in batches.values() for r in rs if r.key == order_id.encode()]
    assert loads(record.value)["orderId"] == order_id
    assert dict(record.headers)["content-type"] == b"application/json"


async def test_a_version_beyond_64_bits_is_dead_lettered_and_the_order_goes_on(
    http, json_platform, order_id
):
    """JSON numbers have no size: a version no Avro int (nor a 64-bit row) holds is refused
    as the record's fault, and the order's next real event is applied."""
    beyond = dumps(event(order_id, 1)).replace(b'"version":1', b'"version":%d' % 2**64)
    await produce(
        json_platform.bootstrap_servers,
        [(order_id.encode(), beyond), (order_id.encode(), dumps(event(order_id, 1)))],
    )

    _, headers = await the_letter_for(json_platform.bootstrap_servers, order_id.encode())
    _, found, _ = await eventually(
        lambda: call(
            http, "GET", f"{json_platform.orders.base_url}/order-details?orderId={order_id}"
        ),
        lambda r: r[0] == 200,
    )

    assert headers["dlq.error"] == "InvalidRecord"
    assert "version" in headers["dlq.reason"]
    assert found["orderId"] == order_id
