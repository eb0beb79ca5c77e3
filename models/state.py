"""Rows of the two services' changelog-backed tables."""

from decimal import Decimal
from typing import Any

from models.money import to_money
from models.order import Order
from models.wire import WireData, WireRecord, require, require_money


class CartOrder(WireRecord):
    """The cart's row per order: the latest snapshot and its event version.

    ``lastCommandId`` lets the agent recognise a command it already applied
    (redelivered after a crash) and answer it again instead of rejecting it.
    """

    order: Order
    version: int
    lastCommandId: str

    def to_wire(self) -> dict[str, Any]:
        return {
            "order": self.order.to_wire(),
            "version": self.version,
            "lastCommandId": self.lastCommandId,
        }

    @classmethod
    def from_wire(cls, data: WireData) -> "CartOrder":
        return cls(
            order=Order.from_wire(require(data, "order", dict)),
            version=require(data, "version", int),
            lastCommandId=require(data, "lastCommandId", str),
        )


class ShippedOrder(WireRecord):
    """The order service's row per order: the order, its version, its shipping."""

    order: Order
    version: int
    shippingCost: Decimal

    def to_wire(self) -> dict[str, Any]:
        return {
            "order": self.order.to_wire(),
            "version": self.version,
            "shippingCost": to_money(self.shippingCost),
        }

    @classmethod
    def from_wire(cls, data: WireData) -> "ShippedOrder":
        return cls(
            order=Order.from_wire(require(data, "order", dict)),
            version=require(data, "version", int),
            shippingCost=require_money(data, "shippingCost"),
        )
