"""Commands to the cart agent and its replies.

A command is complete when it is sent (the random items of a create are
drawn by the web view), so handling it twice gives the same result.
"""

from datetime import datetime
from enum import StrEnum
from typing import Any

from models.order import Order
from models.status import OrderStatus
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


class CommandType(StrEnum):
    CREATE_ORDER = "CreateOrder"
    UPDATE_ORDER_STATUS = "UpdateOrderStatus"


class OrderCommand(WireRecord):
    """``CreateOrder`` carries the new ``order``; ``UpdateOrderStatus`` a ``status``."""

    commandId: str
    commandType: CommandType
    orderId: str
    issuedAt: datetime
    order: Order | None = None
    status: OrderStatus | None = None

    def to_wire(self) -> dict[str, Any]:
        return {
            "commandId": self.commandId,
            "commandType": self.commandType.value,
            "orderId": self.orderId,
            "issuedAt": format_timestamp(self.issuedAt),
            "order": self.order.to_wire() if self.order else None,
            "status": self.status.value if self.status else None,
        }

    @classmethod
    def from_wire(cls, data: WireData) -> "OrderCommand":
        command_type = require_enum(data, "commandType", CommandType)
        order = status = None
        if command_type is CommandType.CREATE_ORDER:
            order = Order.from_wire(require(data, "order", dict))
        else:
            status = require_enum(data, "status", OrderStatus)
        command = cls(
            commandId=require(data, "commandId", str),
            commandType=command_type,
            orderId=require_identifier(data, "orderId"),
            issuedAt=require_timestamp(data, "issuedAt"),
            order=order,
            status=status,
        )
        if order is not None and order.orderId != command.orderId:
            raise InvalidRecord("order.orderId: differs from the command's orderId")
        return command


class Outcome(StrEnum):
    """How the cart agent decided a command."""

    CREATED = "created"
    UPDATED = "updated"
    UNCHANGED = "unchanged"
    ALREADY_EXISTS = "already_exists"
    NOT_FOUND = "not_found"
    ILLEGAL_TRANSITION = "illegal_transition"


class CommandReply(WireRecord):
    """The agent's answer to one command, correlated by ``commandId``."""

    commandId: str
    outcome: Outcome
    detail: str
    order: Order | None = None
    version: int = 0

    def to_wire(self) -> dict[str, Any]:
        return {
            "commandId": self.commandId,
            "outcome": self.outcome.value,
            "detail": self.detail,
            "order": self.order.to_wire() if self.order else None,
            "version": self.version,
        }

    @classmethod
    def from_wire(cls, data: WireData) -> "CommandReply":
        raw_order = data.get("order")
        return cls(
            commandId=require(data, "commandId", str),
            outcome=require_enum(data, "outcome", Outcome),
            detail=require(data, "detail", str),
            order=Order.from_wire(raw_order) if isinstance(raw_order, dict) else None,
            version=require(data, "version", int),
        )
