"""``OrderEvent``: what happened to an order, with the full order after it."""

import uuid
from datetime import datetime
from enum import StrEnum
from typing import Any

from models.order import Order
from models.wire import (
    InvalidRecord,
    WireData,
    WireRecord,
    format_timestamp,
    require,
    require_enum,
    require_identifier,
    require_timestamp,
)

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
    eventType: EventType
    orderId: str
    version: int
    occurredAt: datetime
    order: Order

    def to_wire(self) -> dict[str, Any]:
        return {
            "eventId": self.eventId,
            "eventType": self.eventType.value,
            "orderId": self.orderId,
            "version": self.version,
            "occurredAt": format_timestamp(self.occurredAt),
            "order": self.order.to_wire(),
        }

    @classmethod
    def from_wire(cls, data: WireData) -> "OrderEvent":
        version = require(data, "version", int)
        if version < 1:
            raise InvalidRecord(f"version: must be 1 or more, got {version}")
        order_id = require_identifier(data, "orderId")
        try:
            order = Order.from_wire(require(data, "order", dict))
        except InvalidRecord as exc:
            raise InvalidRecord(f"order.{exc}") from None
        if order.orderId != order_id:
            raise InvalidRecord("order.orderId: differs from the event's orderId")
        return cls(
            eventId=require(data, "eventId", str),
            eventType=require_enum(data, "eventType", EventType),
            orderId=order_id,
            version=version,
            occurredAt=require_timestamp(data, "occurredAt"),
            order=order,
        )
