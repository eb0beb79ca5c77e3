"""The complete order the cart view builds from a create request."""

import random
import re
from decimal import Decimal

import pytest

from models import codec
from models.api import CreateOrderRequest
from models.order import Order
from models.status import OrderStatus
from web.cart import order_from_request

TWO_DECIMALS = re.compile(rb'"(?:price|totalAmount)":(-?\d+(?:\.\d+)?)')


def request(body: bytes) -> CreateOrderRequest:
    return CreateOrderRequest.model_validate(codec.loads(body))


@pytest.mark.parametrize("count", [1, 7, 100])
def test_should_draw_the_requested_number_of_valid_items(count: int):
    order = order_from_request(
        request(b'{"orderId": "ORD-1", "numItems": %d}' % count), random.Random(count)
    )

    assert len(order.items) == count
    assert order.status is OrderStatus.NEW
    assert order.totalAmount == sum(item.price * item.quantity for item in order.items)
    assert order.orderDate.utcoffset().total_seconds() == 0
    # what the cart publishes passes the consumers' validation unchanged
    wire = order.to_wire()
    assert Order.from_wire(codec.loads(codec.dumps(wire))).to_wire() == wire


def test_should_keep_the_items_customer_and_currency_given():
    body = (
        b'{"orderId": "ORD-2", "customerId": "C-9", "currency": "ILS",'
        b' "items": [{"itemId": "A", "quantity": 3, "price": 1.5}]}'
    )

    order = order_from_request(request(body), random.Random(0))

    assert [(i.itemId, i.quantity, i.price) for i in order.items] == [("A", 3, Decimal("1.50"))]
    assert (order.customerId, order.currency, order.totalAmount) == ("C-9", "ILS", Decimal("4.50"))


def test_drawn_orders_carry_every_amount_with_two_decimals_on_the_wire():
    # Given orders drawn at random, as the cart does for {"numItems": n}
    amounts: list[bytes] = []
    for seed in range(20):
        order = order_from_request(
            request(b'{"orderId": "O", "numItems": 10}'), random.Random(seed)
        )
        # When they are written to Kafka
        amounts += TWO_DECIMALS.findall(codec.dumps(order.to_wire()))

    # Then every price and total is a JSON number with exactly two decimals
    assert len(amounts) == 20 * 11
    assert [a for a in amounts if not re.fullmatch(rb"\d+\.\d\d", a)] == []
