"""Rows of the order service's changelog-backed table (the cart's rows are its events)."""

from models.order import Order
from models.rules import Money, Version
from models.wire import WireRecord


class ShippedOrder(WireRecord):
    """The order service's row per order: the order, its version, its shipping."""

    order: Order
    version: Version
    shippingCost: Money
