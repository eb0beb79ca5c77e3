"""Rows of the two services' changelog-backed tables."""

from models.order import Order
from models.rules import Money, Version
from models.wire import WireRecord


class CartOrder(WireRecord):
    """The cart's row per order: the latest snapshot and its event version.

    ``lastCommandId`` lets the agent recognise a command it already applied
    (redelivered after a crash) and answer it again instead of rejecting it.
    """

    order: Order
    version: Version
    lastCommandId: str


class ShippedOrder(WireRecord):
    """The order service's row per order: the order, its version, its shipping."""

    order: Order
    version: Version
    shippingCost: Money
