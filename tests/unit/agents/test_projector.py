"""The order service's rule (agents.shipping): which events to apply, and the row each makes."""

from decimal import Decimal

import pytest
from faust.types import Message

from agents.shipping import Outcome, apply
from infra.dead_letters import dead_letter_headers
from infra.value_formats import JsonFormat, decode_order_record
from models import codec
from models.events import OrderEvent
from models.order import Order
from models.status import OrderStatus
from models.wire import InvalidRecord
from tests.unit.factories import make_event, make_item, make_order


def test_should_apply_the_first_event_of_an_unknown_order():
    shipped = apply(make_event(version=1), 0)

    assert shipped.outcome is Outcome.APPLIED
    assert shipped.row is not None
    assert shipped.row.version == 1


def test_should_apply_the_next_version():
    assert apply(make_event(version=4), 3).outcome is Outcome.APPLIED


@pytest.mark.parametrize(("held", "incoming"), [(3, 3), (3, 2), (3, 1), (1, 1)])
def test_should_skip_an_equal_or_older_version_as_a_duplicate(held: int, incoming: int):
    shipped = apply(make_event(version=incoming), held)

    assert shipped.outcome is Outcome.SKIPPED_AS_DUPLICATE
    assert shipped.row is None


@pytest.mark.parametrize(("held", "incoming"), [(3, 5), (1, 3), (0, 2), (0, 9)])
def test_should_notice_a_gap_when_versions_are_missing(held: int, incoming: int):
    assert apply(make_event(version=incoming), held).outcome is Outcome.APPLIED_AFTER_GAP


@pytest.mark.parametrize(
    ("items", "total", "shipping"),
    [
        ([make_item(quantity=1, price="0.25")], "0.25", "0.01"),
        ([make_item(quantity=1, price="0.24")], "0.24", "0.00"),
        ([make_item(quantity=3, price="528.90"), make_item("B", 1, "0.01")], "1586.71", "31.73"),
    ],
)
def test_should_project_the_snapshot_with_its_shipping_cost(items, total: str, shipping: str):
    # Given an event carrying the order after the change
    order = make_order("ORD-9", status=OrderStatus.SHIPPED, items=items)
    assert order.totalAmount == Decimal(total)

    # When it is applied to the order's row at version 2
    row = apply(make_event(order, version=3), 2).row

    # Then the row holds that very order, its version and 2% shipping
    assert row is not None
    assert row.order == order
    assert row.version == 3
    assert row.shippingCost == Decimal(shipping)
    assert str(row.shippingCost) == shipping


def test_should_replace_the_whole_order_by_the_snapshot():
    before = make_order(status=OrderStatus.NEW)
    after = Order.from_wire({**before.to_wire(), "status": "confirmed"})

    row = apply(make_event(after, version=2), 1).row

    assert row is not None
    assert row.order.status is OrderStatus.CONFIRMED
    assert row.order != before


async def test_should_decode_an_event_record_keyed_by_its_order_id():
    event = make_event(make_order("ORD-5"), version=2)

    decoded = await decode_order_record(
        OrderEvent, b"ORD-5", codec.dumps(event.to_wire()), JsonFormat()
    )

    assert decoded == event


@pytest.mark.parametrize(
    ("key", "value", "reason"),
    [
        (b"ORD-6", codec.dumps(make_event(make_order("ORD-5")).to_wire()), "key"),
        (None, codec.dumps(make_event(make_order("ORD-5")).to_wire()), "key"),
        (b"ORD-5", None, "no value"),
        (b"ORD-5", b"\xff\xfe", "not JSON"),
        (b"ORD-5", b"[" * 100_000, "not JSON"),
        (b"ORD-5", b"[]", "object"),
    ],
)
async def test_should_refuse_to_decode_an_unusable_record(key, value, reason: str):
    with pytest.raises(InvalidRecord, match=reason):
        await decode_order_record(OrderEvent, key, value, JsonFormat())


def test_dead_letter_headers_keep_the_original_ones_and_say_what_went_wrong():
    message = Message(
        topic="order-events",
        partition=4,
        offset=1234,
        timestamp=0.0,
        timestamp_type=0,
        headers=[("eventType", b"OrderCreated")],
        key=b"ORD-5",
        value=b"{",
        checksum=None,
    )

    headers = dead_letter_headers(message, InvalidRecord("x" * 5000), "order-service")

    assert headers[0] == ("eventType", b"OrderCreated")
    named = dict(headers)
    assert named["dlq.error"] == b"InvalidRecord"
    assert named["dlq.reason"] == b"x" * 1000
    assert (named["dlq.source.topic"], named["dlq.source.partition"]) == (b"order-events", b"4")
    assert named["dlq.source.offset"] == b"1234"
    assert named["dlq.service"] == b"order-service"
    assert named["dlq.failedAt"].endswith(b"Z")
