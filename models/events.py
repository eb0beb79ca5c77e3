"""``OrderEvent``: what happened to an order, with the full order after it."""

import uuid
from enum import StrEnum
from typing import Annotated, Self

from pydantic import model_validator

from models.order import Order
from models.rules import BY_VALUE, Identifier, Timestamp, Version
from models.wire import WireRecord

#: Namespace of the event ids derived from command ids (uuid5): handling a
#: command again after a crash yields the very same event.
EVENT_ID_NAMESPACE = uuid.UUID("6f1c3f0e-3c59-4d0e-9a54-0d9a3c1b7e21")


class EventType(StrEnum):
    ORDER_CREATED = "OrderCreated"
    ORDER_STATUS_CHANGED = "OrderStatusChanged"


def event_id_for(command_id: str) -> str:
    return str(uuid.uuid5(EVENT_ID_NAMESPACE, command_id))


class OrderEvent(WireRecord):
    """One change of one order.

    ``version`` counts the order's events from 1, so a consumer applies each
    change once and notices a gap; ``order`` is the snapshot after the change,
    so a consumer needs no history to act.
    """

    eventId: str
    eventType: Annotated[EventType, *BY_VALUE]
    orderId: Identifier
    version: Version
    occurredAt: Timestamp
    order: Order

    @model_validator(mode="after")
    def _snapshot_of_this_order(self) -> Self:
        if self.order.orderId != self.orderId:
            raise ValueError("order.orderId differs from the event's orderId")
        return self
