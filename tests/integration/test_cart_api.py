"""The cart's HTTP API against the real pipeline."""

from decimal import Decimal

import aiohttp
import pytest

from local_kafka.stack import LocalStack
from tests.integration.client import call, order_events

JSON = {"Content-Type": "application/json"}


async def create(http: aiohttp.ClientSession, platform: LocalStack, body: dict):
    return await call(http, "POST", f"{platform.cart.base_url}/create-order", json=body)


async def update(http: aiohttp.ClientSession, platform: LocalStack, order_id: str, status: str):
    body = {"orderId": order_id, "status": status}
    return await call(http, "PUT", f"{platform.cart.base_url}/update-order", json=body)


async def test_create_with_a_number_of_items_generates_the_rest(http, platform, order_id):
    status, order, headers = await create(http, platform, {"orderId": order_id, "numItems": 3})

    assert status == 201
    assert headers["Location"] == f"/order-details?orderId={order_id}"
    assert order["orderId"] == order_id
    assert order["status"] == "new"
    assert order["currency"] == "USD"
    assert len(order["items"]) == 3
    assert order["totalAmount"] == sum(i["price"] * i["quantity"] for i in order["items"])
    assert order["orderDate"].endswith("Z")


async def test_create_is_durable_as_one_event_before_the_answer(http, platform, order_id):
    status, order, _ = await create(http, platform, {"orderId": order_id, "numItems": 1})
    assert status == 201

    # No waiting: a 2xx means Kafka acknowledged the event.
    (event,) = await order_events(platform, order_id)
    assert event.eventType.value == "OrderCreated"
    assert event.version == 1
    assert event.order.to_wire()["totalAmount"] == order["totalAmount"]


async def test_create_with_explicit_items_keeps_them(http, platform, order_id):
    items = [
        {"itemId": "SKU-1", "quantity": 2, "price": Decimal("19.99")},
        {"itemId": "SKU-2", "quantity": 1, "price": Decimal("0.02")},
    ]
    body = {
        "orderId": order_id,
        "customerId": "CUST-7",
        "currency": "ILS",
        "items": items,
        "totalAmount": Decimal("40.00"),
    }
    status, order, _ = await create(http, platform, body)

    assert status == 201
    assert order["items"] == items
    assert order["totalAmount"] == Decimal("40.00")
    assert (order["customerId"], order["currency"]) == ("CUST-7", "ILS")


async def test_total_that_is_not_the_sum_is_rejected_and_nothing_is_written(
    http, platform, order_id
):
    body = {
        "orderId": order_id,
        "items": [{"itemId": "SKU-1", "quantity": 2, "price": 5}],
        "totalAmount": 11,
    }
    status, problem, headers = await create(http, platform, body)

    assert status == 400
    assert headers["Content-Type"].startswith("application/problem+json")
    assert "totalAmount" in problem["errors"][0]["message"]
    assert await order_events(platform, order_id) == []


async def test_invalid_fields_are_listed_one_by_one(http, platform):
    status, problem, _ = await create(
        http, platform, {"orderId": "has space", "numItems": "3", "bogus": 1}
    )

    assert status == 400
    assert {e["field"] for e in problem["errors"]} == {"orderId", "numItems", "bogus"}
    assert problem["status"] == 400
    assert problem["title"] == "Bad Request"


async def test_duplicate_order_id_is_a_conflict(http, platform, order_id):
    assert (await create(http, platform, {"orderId": order_id, "numItems": 1}))[0] == 201

    status, problem, _ = await create(http, platform, {"orderId": order_id, "numItems": 2})

    assert status == 409
    assert "already exists" in problem["detail"]
    assert len(await order_events(platform, order_id)) == 1


async def test_status_moves_forward_and_each_move_is_one_event(http, platform, order_id):
    await create(http, platform, {"orderId": order_id, "numItems": 1})

    assert (await update(http, platform, order_id, "confirmed"))[0] == 200
    status, order, _ = await update(http, platform, order_id, "shipped")

    assert status == 200
    assert order["status"] == "shipped"
    events = await order_events(platform, order_id)
    assert [(e.version, e.order.status.value) for e in events] == [
        (1, "new"),
        (2, "confirmed"),
        (3, "shipped"),
    ]


async def test_setting_the_same_status_changes_and_publishes_nothing(http, platform, order_id):
    await create(http, platform, {"orderId": order_id, "numItems": 1})
    await update(http, platform, order_id, "pending")

    status, order, _ = await update(http, platform, order_id, "pending")

    assert status == 200
    assert order["status"] == "pending"
    assert len(await order_events(platform, order_id)) == 2


async def test_backward_move_and_move_out_of_a_final_status_are_conflicts(http, platform, order_id):
    await create(http, platform, {"orderId": order_id, "numItems": 1})
    await update(http, platform, order_id, "shipped")

    assert (await update(http, platform, order_id, "pending"))[0] == 409
    assert (await update(http, platform, order_id, "cancelled"))[0] == 409
    assert (await update(http, platform, order_id, "delivered"))[0] == 200
    assert (await update(http, platform, order_id, "shipped"))[0] == 409
    assert len(await order_events(platform, order_id)) == 3


async def test_update_of_an_unknown_order_is_not_found(http, platform, order_id):
    status, problem, _ = await update(http, platform, order_id, "pending")

    assert status == 404
    assert order_id in problem["detail"]


async def test_unknown_status_is_a_bad_request(http, platform, order_id):
    await create(http, platform, {"orderId": order_id, "numItems": 1})

    status, problem, _ = await update(http, platform, order_id, "lost")

    assert status == 400
    assert problem["errors"][0]["field"] == "status"


async def test_malformed_bodies_are_refused_before_anything_is_sent(http, platform):
    url = f"{platform.cart.base_url}/create-order"

    malformed = await call(http, "POST", url, data=b"{bad", headers=JSON)
    not_json = await call(
        http, "POST", url, data=b"orderId=1", headers={"Content-Type": "text/plain"}
    )
    too_large = await call(http, "POST", url, data=b" " * (1024 * 1024 + 1), headers=JSON)
    not_object = await call(http, "POST", url, data=b"[1]", headers=JSON)

    assert [malformed[0], not_json[0], too_large[0], not_object[0]] == [400, 415, 413, 400]
    assert all(
        r[2]["Content-Type"].startswith("application/problem+json")
        for r in (malformed, not_json, too_large, not_object)
    )


async def test_wrong_verb_is_405_with_allow(http, platform):
    status, problem, headers = await call(http, "GET", f"{platform.cart.base_url}/create-order")
    put_status, _, put_headers = await call(
        http, "POST", f"{platform.cart.base_url}/update-order", json={}
    )

    assert (status, put_status) == (405, 405)
    assert "POST" in headers["Allow"]
    assert "PUT" in put_headers["Allow"]
    assert problem["status"] == 405


NESTED = b"[" * 50_000 + b"]" * 50_000
#: case → (the orderId it tries to create, the body)
HOSTILE_BODIES = {
    "deeply nested": ("hostile-1", b'{"orderId": "hostile-1", "numItems": ' + NESTED + b"}"),
    "huge array": ("hostile-2", b'{"orderId": "hostile-2", "items": [' + b"1," * 200_000 + b"1]}"),
    "number as string": ("hostile-3", b'{"orderId": "hostile-3", "numItems": "3"}'),
    "float for integer": ("hostile-4", b'{"orderId": "hostile-4", "numItems": 3.0}'),
    "boolean for number": ("hostile-5", b'{"orderId": "hostile-5", "numItems": true}'),
    "lone surrogate": ("hostile-6", b'{"orderId": "hostile-6\\ud800", "numItems": 1}'),
    "right-to-left mark": ("hostile-7", '{"orderId": "hostile-7\u202e", "numItems": 1}'.encode()),
    "NaN price": (
        "hostile-8",
        b'{"orderId": "hostile-8", "items": [{"itemId": "a", "quantity": 1, "price": NaN}]}',
    ),
    "not UTF-8": ("hostile-9", b'{"orderId": "hostile-9\xff", "numItems": 1}'),
    # I-JSON: one parser would take the first, another the last.
    "key given twice": (
        "hostile-10",
        b'{"orderId": "hostile-10", "orderId": "hostile-11", "numItems": 1}',
    ),
    "item key given twice": (
        "hostile-12",
        b'{"orderId": "hostile-12", "items": [{"itemId": "a", "quantity": 1, "quantity": 2, '
        b'"price": 1.00}]}',
    ),
}


@pytest.mark.parametrize("case", list(HOSTILE_BODIES))
async def test_hostile_bodies_are_bad_requests_and_change_nothing(http, platform, case):
    order_id, body = HOSTILE_BODIES[case]

    status, problem, _ = await call(
        http, "POST", f"{platform.cart.base_url}/create-order", data=body, headers=JSON
    )

    assert status == 400
    assert problem["status"] == 400
    assert await order_events(platform, order_id) == []
