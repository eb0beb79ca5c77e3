"""The cart's rule: a pure function of a command and the order's latest event."""

import uuid

import pytest

from agents.cart_decide import decide
from models.commands import Outcome
from models.events import EventType, event_id_for
from models.status import OrderStatus
from tests.unit.factories import (
    ISSUED_AT,
    make_cart_row,
    make_create_command,
    make_order,
    make_update_command,
)


def test_should_create_a_new_order_as_event_version_1():
    # Given no row for the order
    order = make_order("ORD-7")
    command = make_create_command(order, command_id="cmd-42")

    # When the create command is decided
    decision = decide(command, None)

    # Then an OrderCreated v1 with the command's id and time is published
    event = decision.event
    assert event is not None
    assert event.eventType is EventType.ORDER_CREATED
    assert event.version == 1
    assert event.orderId == "ORD-7"
    assert event.eventId == event_id_for("cmd-42")
    assert event.occurredAt == ISSUED_AT
    assert event.order == order
    # and the reply says created, with the order
    assert decision.reply.outcome is Outcome.CREATED
    assert decision.reply.commandId == "cmd-42"
    assert decision.reply.order == order
    assert decision.reply.version == 1


def test_event_ids_differ_between_commands_and_are_uuids():
    first, second = event_id_for("cmd-1"), event_id_for("cmd-2")

    assert first != second
    assert str(uuid.UUID(first)) == first


def test_should_refuse_a_duplicate_create_and_publish_nothing():
    existing = make_cart_row(make_order("ORD-1", status=OrderStatus.PENDING), version=2)

    decision = decide(make_create_command(make_order("ORD-1"), command_id="cmd-new"), existing)

    assert decision.reply.outcome is Outcome.ALREADY_EXISTS
    assert decision.event is None
    # the reply shows the order as it is, not the one the command brought
    assert decision.reply.order == existing.order
    assert decision.reply.version == 2


def test_should_answer_not_found_to_an_update_of_an_unknown_order():
    decision = decide(make_update_command("ORD-404", OrderStatus.PENDING), None)

    assert decision.reply.outcome is Outcome.NOT_FOUND
    assert decision.event is None
    assert decision.reply.order is None


@pytest.mark.parametrize(
    ("current", "target"),
    [
        (OrderStatus.NEW, OrderStatus.PENDING),
        (OrderStatus.NEW, OrderStatus.DELIVERED),
        (OrderStatus.CONFIRMED, OrderStatus.CANCELLED),
        (OrderStatus.SHIPPED, OrderStatus.DELIVERED),
    ],
)
def test_should_move_an_order_forward_as_the_next_version(current, target):
    # Given an order at version 3
    row = make_cart_row(make_order("ORD-1", status=current), version=3)

    # When an update to a later status is decided
    decision = decide(make_update_command("ORD-1", target, command_id="cmd-up-1"), row)

    # Then version 4 with the new status is published and stored
    event = decision.event
    assert event is not None
    assert event.eventType is EventType.ORDER_STATUS_CHANGED
    assert event.version == 4
    assert event.eventId == event_id_for("cmd-up-1")
    assert event.occurredAt == ISSUED_AT
    assert event.order.status is target
    assert event.order.items == row.order.items
    assert event.order.totalAmount == row.order.totalAmount
    assert event.eventId == event_id_for("cmd-up-1")
    assert decision.reply.outcome is Outcome.UPDATED
    assert decision.reply.order.status is target
    # and the row it was decided against is left as it was
    assert row.order.status is current


def test_should_publish_nothing_when_the_status_is_already_set():
    row = make_cart_row(make_order(status=OrderStatus.CONFIRMED), version=3)

    decision = decide(make_update_command(status=OrderStatus.CONFIRMED), row)

    assert decision.reply.outcome is Outcome.UNCHANGED
    assert decision.event is None
    assert decision.reply.version == 3


@pytest.mark.parametrize(
    ("current", "target"),
    [
        (OrderStatus.SHIPPED, OrderStatus.PENDING),
        (OrderStatus.SHIPPED, OrderStatus.CANCELLED),
        (OrderStatus.DELIVERED, OrderStatus.CANCELLED),
        (OrderStatus.CANCELLED, OrderStatus.CONFIRMED),
    ],
)
def test_should_refuse_an_illegal_move_and_publish_nothing(current, target):
    row = make_cart_row(make_order(status=current), version=5)

    decision = decide(make_update_command(status=target), row)

    assert decision.reply.outcome is Outcome.ILLEGAL_TRANSITION
    assert decision.event is None
    assert decision.reply.order.status is current
    assert decision.reply.version == 5


@pytest.mark.parametrize("kind", ["create", "update"])
def test_should_answer_a_redelivered_command_as_the_first_time_without_an_event(kind: str):
    # Given the row already written by this very command (crash before the commit)
    order = make_order(status=OrderStatus.NEW if kind == "create" else OrderStatus.PENDING)
    if kind == "create":
        command = make_create_command(order, command_id="cmd-again")
    else:
        command = make_update_command(status=OrderStatus.PENDING, command_id="cmd-again")
    row = make_cart_row(order, version=1 if kind == "create" else 2, last_command_id="cmd-again")

    # When the command is decided again
    decision = decide(command, row)

    # Then it succeeds as before, and nothing is published twice
    expected = Outcome.CREATED if kind == "create" else Outcome.UPDATED
    assert decision.reply.outcome is expected
    assert decision.event is None
    assert decision.reply.order == order
    assert decision.reply.version == row.version


@pytest.mark.parametrize(
    ("command", "row"),
    [
        (make_create_command(), None),
        (make_update_command(status=OrderStatus.SHIPPED), make_cart_row(version=2)),
    ],
    ids=["create", "update"],
)
def test_deciding_the_same_command_twice_gives_the_same_event(command, row):
    # A command handled again after a crash must yield the very same event,
    # so consumers can skip it by version.
    first, second = decide(command, row), decide(command, row)

    assert first.event is not None
    assert first.event == second.event
    assert first.event.to_wire() == second.event.to_wire()


@pytest.mark.parametrize("if_match", [[2], [1, 2], [2, 9]])
def test_an_update_conditional_on_the_orders_version_applies(if_match: list[int]):
    row = make_cart_row(make_order("ORD-1"), version=2)
    command = make_update_command("ORD-1", OrderStatus.PENDING).model_copy(
        update={"ifMatch": if_match}
    )

    decision = decide(command, row)

    assert decision.reply.outcome is Outcome.UPDATED
    assert decision.event is not None
    assert decision.event.version == 3


def test_an_update_conditional_on_another_version_changes_nothing():
    row = make_cart_row(make_order("ORD-1"), version=3)
    command = make_update_command("ORD-1", OrderStatus.PENDING).model_copy(update={"ifMatch": [2]})

    decision = decide(command, row)

    assert decision.event is None
    assert decision.reply.outcome is Outcome.VERSION_MISMATCH
    assert decision.reply.version == 3
    assert "version 3, not 2" in decision.reply.detail


def test_a_conditional_update_of_an_unknown_order_is_not_found():
    command = make_update_command("ORD-1").model_copy(update={"ifMatch": [1]})

    assert decide(command, None).reply.outcome is Outcome.NOT_FOUND
