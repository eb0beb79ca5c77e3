"""The HTTP request models: strict, exact, and with field paths in their errors.

Bodies go through ``models.codec.loads`` first, as in the views, so numbers
arrive as Decimal or int exactly as a client wrote them.
"""

from decimal import Decimal

import pytest
from pydantic import BaseModel, ValidationError

from models.api import CreateOrderRequest, OrderOut, UpdateOrderRequest
from models.codec import loads
from models.status import OrderStatus
from tests.unit.factories import make_item, make_order
from web.http import field_errors


def parse(model: type[BaseModel], body: bytes) -> BaseModel:
    return model.model_validate(loads(body))


def error_fields(model: type[BaseModel], body: bytes) -> list[str]:
    with pytest.raises(ValidationError) as caught:
        parse(model, body)
    return [error["field"] for error in field_errors(caught.value)]


def test_should_accept_a_random_create_with_defaults():
    request = parse(CreateOrderRequest, b'{"orderId": "ORD-1", "numItems": 3}')

    assert request.orderId == "ORD-1"
    assert request.numItems == 3
    assert request.items is None
    assert request.currency == "USD"
    assert request.customerId is None


@pytest.mark.parametrize("count", [1, 100])
def test_should_accept_the_bounds_of_num_items(count: int):
    request = parse(CreateOrderRequest, b'{"orderId": "ORD-1", "numItems": %d}' % count)

    assert request.numItems == count


@pytest.mark.parametrize("total", [b"", b', "totalAmount": 28.99', b', "totalAmount": 28.990'])
def test_should_accept_explicit_items_with_or_without_a_matching_total(total: bytes):
    body = (
        b'{"orderId": "ORD-1", "currency": "EUR", "customerId": "C-7", "items": ['
        b'{"itemId": "A", "quantity": 2, "price": 12.5},'
        b'{"itemId": "B", "quantity": 1, "price": 3.99}]' + total + b"}"
    )

    request = parse(CreateOrderRequest, body)

    assert [item.price for item in request.items] == [Decimal("12.50"), Decimal("3.99")]
    assert str(request.items[0].price) == "12.50"
    assert request.currency == "EUR"
    assert request.totalAmount in (None, Decimal("28.99"))


def test_should_accept_num_items_equal_to_the_items_given():
    body = b'{"orderId": "O", "numItems": 1, "items": [{"itemId": "A", "quantity": 1, "price": 1}]}'

    assert parse(CreateOrderRequest, body).numItems == 1


@pytest.mark.parametrize(
    ("body", "field"),
    [
        # totalAmount that is not the sum of the items
        (
            b'{"orderId": "O", "items": [{"itemId": "A", "quantity": 2, "price": 12.50}],'
            b' "totalAmount": 25.01}',
            "(body)",
        ),
        # numItems that differs from the items given
        (
            b'{"orderId": "O", "numItems": 2,'
            b' "items": [{"itemId": "A", "quantity": 1, "price": 1}]}',
            "(body)",
        ),
        (b'{"orderId": "O"}', "(body)"),  # neither numItems nor items
        (b'{"orderId": "O", "numItems": 1, "totalAmount": 1.00}', "(body)"),  # total, no items
        (b'{"orderId": "O", "numItems": 1, "totalAmount": null}', "(body)"),  # null total, no items
        (b'{"orderId": "O", "numItems": 0}', "numItems"),
        (b'{"orderId": "O", "numItems": 101}', "numItems"),
        (b'{"orderId": "O", "numItems": -1}', "numItems"),
        (b'{"orderId": "O", "numItems": "3"}', "numItems"),
        (b'{"orderId": "O", "numItems": 3.0}', "numItems"),
        (b'{"orderId": "O", "numItems": 2.5}', "numItems"),
        (b'{"orderId": "O", "numItems": true}', "numItems"),
        (b'{"orderId": "O", "numItems": 1, "coupon": "FREE"}', "coupon"),
        (b'{"orderId": "ORD 1", "numItems": 1}', "orderId"),
        (b'{"orderId": "ORD-1\\n", "numItems": 1}', "orderId"),
        (b'{"orderId": "%s", "numItems": 1}' % (b"O" * 65), "orderId"),
        (b'{"orderId": "", "numItems": 1}', "orderId"),
        (b'{"orderId": 17, "numItems": 1}', "orderId"),
        (b'{"numItems": 1}', "orderId"),
        (b'{"orderId": "O", "numItems": 1, "currency": "usd"}', "currency"),
        (b'{"orderId": "O", "numItems": 1, "currency": "XYZ"}', "currency"),
        (b'{"orderId": "O", "numItems": 1, "customerId": "a b"}', "customerId"),
        (b'{"orderId": "O", "items": []}', "items"),
    ],
)
def test_should_reject_an_invalid_create_naming_the_field(body: bytes, field: str):
    assert error_fields(CreateOrderRequest, body) == [field]


def test_should_reject_101_explicit_items():
    items = b",".join(b'{"itemId": "A%d", "quantity": 1, "price": 1}' % i for i in range(101))

    assert error_fields(CreateOrderRequest, b'{"orderId": "O", "items": [%s]}' % items) == ["items"]


@pytest.mark.parametrize(
    ("item", "field"),
    [
        (b'{"itemId": "A", "quantity": 1, "price": 12.505}', "items.1.price"),
        (b'{"itemId": "A", "quantity": 1, "price": "12.50"}', "items.1.price"),
        (b'{"itemId": "A", "quantity": 1, "price": 0}', "items.1.price"),
        (b'{"itemId": "A", "quantity": 1, "price": -1.00}', "items.1.price"),
        (b'{"itemId": "A", "quantity": 1, "price": true}', "items.1.price"),
        (b'{"itemId": "A", "quantity": 1, "price": 1E+30}', "items.1.price"),
        (b'{"itemId": "A", "quantity": 0, "price": 1}', "items.1.quantity"),
        (b'{"itemId": "A", "quantity": 1.5, "price": 1}', "items.1.quantity"),
        (b'{"itemId": "A", "quantity": false, "price": 1}', "items.1.quantity"),
        (b'{"itemId": "A b", "quantity": 1, "price": 1}', "items.1.itemId"),
        (b'{"quantity": 1, "price": 1}', "items.1.itemId"),
    ],
)
def test_should_give_the_path_of_an_invalid_item_field(item: bytes, field: str):
    # the second item is the bad one: the index in the path is real
    body = b'{"orderId": "O", "items": [{"itemId": "OK", "quantity": 1, "price": 1}, %s]}' % item

    assert error_fields(CreateOrderRequest, body) == [field]


def test_should_report_every_invalid_field_at_once():
    body = b'{"orderId": "bad id", "numItems": 0, "currency": "usd"}'

    assert sorted(error_fields(CreateOrderRequest, body)) == ["currency", "numItems", "orderId"]


@pytest.mark.parametrize("status", list(OrderStatus))
def test_should_accept_an_update_to_any_known_status(status: OrderStatus):
    body = b'{"orderId": "ORD-1", "status": "%s"}' % status.value.encode()

    assert parse(UpdateOrderRequest, body).status is status


@pytest.mark.parametrize(
    ("body", "field"),
    [
        (b'{"orderId": "ORD-1", "status": "lost"}', "status"),
        (b'{"orderId": "ORD-1", "status": "NEW"}', "status"),
        (b'{"orderId": "ORD-1", "status": 1}', "status"),
        (b'{"orderId": "ORD-1"}', "status"),
        (b'{"orderId": "ORD 1", "status": "pending"}', "orderId"),
        (b'{"orderId": "ORD-1", "status": "pending", "note": "x"}', "note"),
    ],
)
def test_should_reject_an_invalid_update_naming_the_field(body: bytes, field: str):
    assert error_fields(UpdateOrderRequest, body) == [field]


def test_an_orders_response_body_is_its_wire_form_and_version_and_exactly_the_documented_model():
    order = make_order("ORD-5", items=[make_item(), make_item("SKU-0009", 3, "0.10")])

    body = OrderOut.body_of(order, 3)

    assert OrderOut.model_validate(body).model_dump() == body
    assert set(body) == set(OrderOut.model_fields)
