"""The Avro schemas agree with the Records: every record survives Avro and back."""

import io
from decimal import Decimal

import pytest
from fastavro import parse_schema, schemaless_reader, schemaless_writer
from fastavro.validation import validate

from models.avro import ORDER_COMMAND, ORDER_EVENT
from models.commands import OrderCommand
from models.events import OrderEvent
from models.status import OrderStatus
from tests.unit.factories import (
    make_create_command,
    make_event,
    make_item,
    make_order,
    make_update_command,
)


def through_avro(schema: dict, data: dict) -> dict:
    parsed = parse_schema(schema)
    out = io.BytesIO()
    schemaless_writer(out, parsed, data)
    return schemaless_reader(io.BytesIO(out.getvalue()), parsed, parsed)


@pytest.mark.parametrize(
    "event",
    [
        make_event(),
        make_event(order=make_order(status=OrderStatus.CANCELLED), version=7),
        make_event(order=make_order(items=[make_item(quantity=10_000, price="999999999.99")])),
    ],
)
def test_every_event_survives_avro_unchanged(event: OrderEvent):
    assert OrderEvent.from_wire(through_avro(ORDER_EVENT, event.to_wire())) == event


@pytest.mark.parametrize(
    "command",
    [
        make_create_command(),
        make_update_command(),
        make_update_command().model_copy(
            update={"ifMatch": [3, 4], "idempotencyKey": "k-1", "requestHash": "ab12"}
        ),
    ],
)
def test_every_command_survives_avro_unchanged(command: OrderCommand):
    assert OrderCommand.from_wire(through_avro(ORDER_COMMAND, command.to_wire())) == command


def test_money_is_an_avro_decimal_with_two_places():
    decoded = through_avro(ORDER_EVENT, make_event().to_wire())

    assert decoded["order"]["totalAmount"] == Decimal("28.99")
    assert decoded["order"]["totalAmount"].as_tuple().exponent == -2


def test_a_record_missing_a_field_is_not_valid_avro():
    data = make_event().to_wire()
    del data["order"]["currency"]

    assert not validate(data, parse_schema(ORDER_EVENT), raise_errors=False)
