"""Every Kafka record through its wire form and back, and what the wire rejects."""

from datetime import UTC, datetime, timedelta, timezone
from decimal import Decimal
from typing import Any

import faust
import pytest
import simplejson

from models import codec
from models.commands import CommandReply, OrderCommand, Outcome
from models.events import OrderEvent
from models.order import Order, OrderItem
from models.rules import format_timestamp
from models.state import ShippedOrder
from models.status import OrderStatus
from models.wire import InvalidRecord, WireRecord
from tests.unit.factories import (
    item_wire,
    make_create_command,
    make_event,
    make_item,
    make_order,
    make_shipped_row,
    make_update_command,
    order_wire,
)

RECORDS: list[WireRecord] = [
    make_item(),
    make_order(),
    make_order(status=OrderStatus.CANCELLED, currency="ILS"),
    make_event(),
    make_event(make_order(status=OrderStatus.SHIPPED), version=4),
    make_create_command(),
    make_update_command(status=OrderStatus.DELIVERED),
    CommandReply(
        commandId="c-1", outcome=Outcome.CREATED, detail="ok", order=make_order(), version=1
    ),
    CommandReply(commandId="c-2", outcome=Outcome.NOT_FOUND, detail="no such order"),
    make_shipped_row(),
]


@pytest.fixture(scope="module", autouse=True)
def _codec_registered() -> None:
    codec.register()


@pytest.mark.parametrize("record", RECORDS, ids=lambda record: type(record).__name__)
def test_should_come_back_equal_from_its_wire_bytes(record: WireRecord):
    payload = codec.dumps(record.to_wire())

    restored = type(record).from_wire(codec.loads(payload))

    assert restored == record
    assert restored.to_wire() == record.to_wire()


@pytest.mark.parametrize("record", RECORDS, ids=lambda record: type(record).__name__)
def test_should_write_the_bytes_simplejson_wrote_before(record: WireRecord):
    # The codec moved from simplejson to orjson for speed: the stored rows and
    # JSON values read by older workers must not change.
    before = simplejson.dumps(record.to_wire(), use_decimal=True, separators=(",", ":"))

    assert codec.dumps(record.to_wire()) == codec.dumps(record) == before.encode()


@pytest.mark.parametrize("amount", ["NaN", "Infinity", "-Infinity"])
def test_should_refuse_an_amount_json_cannot_carry(amount: str):
    with pytest.raises(TypeError):
        codec.dumps({"totalAmount": Decimal(amount)})


def test_records_that_differ_are_not_equal():
    # The round trip above means something only if equality looks at the fields.
    assert make_order() != make_order(status=OrderStatus.PENDING)
    assert make_order(items=[make_item(price="12.50")]) != make_order(
        items=[make_item(price="12.51")]
    )


def test_should_carry_amounts_as_json_numbers_with_two_decimals():
    order = make_order(items=[make_item(quantity=2, price="12.5"), make_item("B", 1, "3")])

    payload = codec.dumps(order.to_wire())

    assert b'"price":12.50' in payload
    assert b'"price":3.00' in payload
    assert b'"totalAmount":28.00' in payload
    assert b'"12.50"' not in payload


def test_should_write_timestamps_in_utc_with_milliseconds_and_z():
    moment = datetime(2026, 11, 25, 16, 18, 20, 123456, tzinfo=timezone(timedelta(hours=2)))

    assert format_timestamp(moment) == "2026-11-25T14:18:20.123Z"


def test_should_read_an_offset_timestamp_as_the_same_instant_in_utc():
    data = order_wire(orderDate="2026-11-25T16:18:20.123+02:00")

    order = Order.from_wire(data)

    assert order.orderDate == datetime(2026, 11, 25, 14, 18, 20, 123000, tzinfo=UTC)
    assert order.orderDate.utcoffset() == timedelta(0)


def test_faust_value_decoding_of_an_event_rebuilds_every_nested_record():
    app = faust.App("wire-records-test", broker="kafka://127.0.0.1:1", autodiscover=False)
    event = make_event()

    restored = app.serializers.loads_value(
        OrderEvent, codec.dumps(event.to_wire()), serializer=codec.CODEC_NAME
    )

    assert restored == event
    assert isinstance(restored.order, Order)
    assert all(isinstance(item, OrderItem) for item in restored.order.items)


def _items(count: int) -> list[dict[str, Any]]:
    return [{"itemId": f"SKU-{i}", "quantity": 1, "price": Decimal("1.00")} for i in range(count)]


INVALID_ORDERS: dict[str, dict[str, Any]] = {
    "zero quantity": item_wire(quantity=0),
    "negative quantity": item_wire(quantity=-2),
    "bool quantity": item_wire(quantity=True, price=Decimal("25.00")),
    "decimal quantity": item_wire(quantity=Decimal("2.0")),
    "price with 3 decimals": item_wire(price=Decimal("12.505")),
    "price as string": item_wire(price="12.50"),
    "price zero": item_wire(price=Decimal("0.00")),
    "price beyond the decimal precision": item_wire(quantity=1, price=Decimal("1E+30")),
    "total mismatch": order_wire(totalAmount=Decimal("28.98")),
    "total as float": order_wire(totalAmount=28.99),
    "unknown status": order_wire(status="lost"),
    "unknown currency": order_wire(currency="XYZ"),
    "lowercase currency": order_wire(currency="usd"),
    "naive timestamp": order_wire(orderDate="2026-11-25T14:18:20.123"),
    "not a timestamp": order_wire(orderDate="yesterday"),
    # valid ISO-8601, but before year 1 once moved to UTC
    "timestamp out of range in UTC": order_wire(orderDate="0001-01-01T00:00:00+01:00"),
    "orderId with a space": order_wire(orderId="ORD 1"),
    "orderId with a newline": order_wire(orderId="ORD-1\n"),
    "orderId of 65 chars": order_wire(orderId="O" * 65),
    "empty orderId": order_wire(orderId=""),
    "missing customerId": {k: v for k, v in order_wire().items() if k != "customerId"},
    "empty items": order_wire(items=[], totalAmount=Decimal("0.00")),
    "101 items": order_wire(items=_items(101), totalAmount=Decimal("101.00")),
    "item not an object": order_wire(items=["SKU-1"]),
}


@pytest.mark.parametrize("data", INVALID_ORDERS.values(), ids=INVALID_ORDERS.keys())
def test_should_reject_invalid_order_wire_data(data: dict[str, Any]):
    with pytest.raises(InvalidRecord):
        Order.from_wire(data)


def test_should_accept_100_items_the_maximum():
    order = Order.from_wire(order_wire(items=_items(100), totalAmount=Decimal("100.00")))

    assert len(order.items) == 100


def test_should_name_the_failing_field_of_a_nested_item():
    with pytest.raises(InvalidRecord, match=r"items\[0\]\.quantity"):
        Order.from_wire(item_wire(quantity=0))


def _event_wire(**overrides: Any) -> dict[str, Any]:
    return {**make_event().to_wire(), **overrides}


INVALID_EVENTS: dict[str, dict[str, Any]] = {
    "version 0": _event_wire(version=0),
    "version as string": _event_wire(version="1"),
    "version as bool": _event_wire(version=True),
    "orderId differs from order.orderId": _event_wire(orderId="ORD-2"),
    "bad orderId": _event_wire(orderId="ORD/1"),
    "unknown eventType": _event_wire(eventType="OrderDeleted"),
    "naive occurredAt": _event_wire(occurredAt="2026-11-25T14:18:20"),
    "occurredAt out of range in UTC": _event_wire(occurredAt="9999-12-31T23:00:00-05:00"),
    "order not an object": _event_wire(order="ORD-1"),
    "invalid nested order": _event_wire(order=order_wire(currency="XYZ")),
}


@pytest.mark.parametrize("data", INVALID_EVENTS.values(), ids=INVALID_EVENTS.keys())
def test_should_reject_invalid_event_wire_data(data: dict[str, Any]):
    with pytest.raises(InvalidRecord):
        OrderEvent.from_wire(data)


def test_should_reject_a_create_command_whose_order_is_for_another_order_id():
    data = {**make_create_command().to_wire(), "orderId": "ORD-2"}

    with pytest.raises(InvalidRecord, match="orderId"):
        OrderCommand.from_wire(data)


def test_should_reject_an_update_command_without_a_known_status():
    data = {**make_update_command().to_wire(), "status": "lost"}

    with pytest.raises(InvalidRecord, match="status"):
        OrderCommand.from_wire(data)


@pytest.mark.parametrize("payload", [b"[]", b'"ORD-1"', b"42"])
def test_should_reject_wire_data_that_is_not_an_object(payload: bytes):
    with pytest.raises(InvalidRecord):
        Order.from_data(codec.loads(payload))


def test_should_reject_table_rows_with_invalid_money():
    row = {**make_shipped_row().to_wire(), "shippingCost": Decimal("0.585")}

    with pytest.raises(InvalidRecord, match="shippingCost"):
        ShippedOrder.from_wire(row)
    with pytest.raises(InvalidRecord, match="version"):
        ShippedOrder.from_wire({**make_shipped_row().to_wire(), "version": "1"})
