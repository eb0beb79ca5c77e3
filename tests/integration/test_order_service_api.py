"""The order service's HTTP API, and what both services answer besides."""

import re

import pytest

from local_kafka.stack import LocalStack
from tests.integration.client import call, create_order, eventually


async def create(http, platform: LocalStack, order_id: str, num_items: int = 2) -> dict:
    status, order, _ = await create_order(http, platform, order_id, num_items)
    assert status == 201
    return order


async def details(http, platform: LocalStack, order_id: str):
    return await call(http, "GET", f"{platform.orders.base_url}/order-details?orderId={order_id}")


async def test_order_details_has_the_order_and_two_percent_shipping(http, platform, order_id):
    order = await create(http, platform, order_id, num_items=4)

    status, found, _ = await eventually(
        lambda: details(http, platform, order_id), lambda r: r[0] == 200
    )

    assert status == 200
    assert {k: v for k, v in found.items() if k != "shippingCost"} == order
    assert found["shippingCost"] == (order["totalAmount"] * 2 / 100).quantize(found["shippingCost"])


async def test_order_details_follows_status_updates(http, platform, order_id):
    await create(http, platform, order_id)
    await call(
        http,
        "PUT",
        f"{platform.cart.base_url}/update-order",
        json={"orderId": order_id, "status": "confirmed"},
    )

    _, found, _ = await eventually(
        lambda: details(http, platform, order_id),
        lambda r: r[0] == 200 and r[1]["status"] == "confirmed",
    )
    assert found["status"] == "confirmed"


async def test_unknown_order_is_not_found_and_bad_ids_are_bad_requests(http, platform):
    assert (await details(http, platform, "never-created"))[0] == 404
    assert (await details(http, platform, "bad%20id"))[0] == 400
    missing = await call(http, "GET", f"{platform.orders.base_url}/order-details")
    assert missing[0] == 400
    assert missing[1]["errors"][0]["field"] == "orderId"


async def test_topic_scan_lists_every_order_id_once(http, platform, order_id):
    ids = [f"{order_id}-{n}" for n in range(3)]
    for each in ids:
        await create(http, platform, each)
    await call(
        http,
        "PUT",
        f"{platform.cart.base_url}/update-order",
        json={"orderId": ids[0], "status": "pending"},
    )

    status, scan, _ = await call(
        http, "GET", f"{platform.orders.base_url}/getAllOrderIdsFromTopic?topicName=order-events"
    )

    assert status == 200
    assert scan["topic"] == "order-events"
    assert set(ids) <= set(scan["orderIds"])
    assert len(scan["orderIds"]) == len(set(scan["orderIds"])) == scan["count"]
    assert scan["recordsScanned"] >= 4


@pytest.mark.parametrize(
    ("topic", "expected"),
    [
        ("no-such-topic", 404),
        ("bad/name", 400),
        ("", 400),
        # The platform's own topics exist, but are no one's to read through the API.
        ("__consumer_offsets", 404),
        ("order-command-replies", 404),
        ("order-platform.write-probes", 404),
        ("cart-service-shipped_orders_by_id-changelog", 404),
        ("order-service-shipped_orders_by_id-changelog", 404),
        ("kafkasql-journal", 404),
    ],
)
async def test_topic_scan_refuses_unknown_invalid_and_internal_topics(
    http, platform, topic, expected
):
    status, problem, headers = await call(
        http, "GET", f"{platform.orders.base_url}/getAllOrderIdsFromTopic?topicName={topic}"
    )

    assert status == expected
    assert problem["status"] == expected
    assert headers["Content-Type"] == "application/problem+json"
    if expected == 404:
        assert "order-events" in problem["detail"]  # it names what may be scanned


@pytest.mark.parametrize("service", ["cart", "orders"])
async def test_health_ready_and_openapi(http, platform, service):
    base = getattr(platform, service).base_url

    assert (await call(http, "GET", f"{base}/health"))[0] == 200
    assert (await call(http, "GET", f"{base}/ready"))[0] == 200
    status, document, _ = await call(http, "GET", f"{base}/openapi.json")
    assert status == 200
    assert document["openapi"].startswith("3.1")


@pytest.mark.parametrize("service", ["cart", "orders"])
async def test_a_request_line_over_8_kib_is_the_documented_plain_400(http, platform, service):
    base = getattr(platform, service).base_url
    async with http.get(f"{base}/order-details?orderId={'x' * 9000}") as response:
        status, content_type = response.status, response.content_type
    _, document, _ = await call(http, "GET", f"{base}/openapi.json")

    assert (status, content_type) == (400, "text/plain")
    for path in document["paths"].values():
        for operation in path.values():
            assert "text/plain" in operation["responses"]["400"]["content"]


# "/" stays: Faust's production index, a bare {"status": "OK"} (see the README).
@pytest.mark.parametrize(
    "path", ["/tables", "/table", "/graph", "/router", "/stats", "/performance"]
)
async def test_faust_builtin_pages_are_off(http, platform, path):
    for service in (platform.cart, platform.orders):
        status, problem, _ = await call(http, "GET", f"{service.base_url}{path}")
        assert status == 404
        assert problem["status"] == 404


async def test_metrics_count_requests_events_and_lag(http, platform, order_id):
    await create(http, platform, order_id)
    await eventually(lambda: details(http, platform, order_id), lambda r: r[0] == 200)

    async with http.get(f"{platform.orders.base_url}/metrics") as response:
        orders_text = await response.text()
    async with http.get(f"{platform.cart.base_url}/metrics") as response:
        cart_text = await response.text()

    assert 'http_requests_total{method="GET",route="/order-details",status="200"}' in orders_text
    assert "order_events_applied_total " in orders_text
    # One line per partition the service has read from.
    assert re.search(r'kafka_consumer_lag\{partition="\d",topic="order-events"\} \d', orders_text)
    assert 'dependency_reachable{dependency="Kafka"} 1.0' in orders_text
    assert 'order_commands_total{command="CreateOrder",outcome="created"}' in cart_text
