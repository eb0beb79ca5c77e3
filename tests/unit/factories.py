"""Small builders of valid test data; each test overrides only what it is about."""

from collections.abc import Sequence
from datetime import UTC, datetime
from decimal import Decimal
from typing import Any

from models.commands import CommandType, OrderCommand
from models.events import EventType, OrderEvent, event_id_for
from models.money import shipping_cost
from models.order import Order, OrderItem
from models.state import ShippedOrder
from models.status import OrderStatus

#: Millisecond precision, like everything that has been on the wire.
ISSUED_AT = datetime(2026, 11, 25, 14, 18, 20, 123000, tzinfo=UTC)
ORDER_DATE = datetime(2026, 11, 25, 14, 18, 19, 500000, tzinfo=UTC)


def make_item(item_id: str = "SKU-0001", quantity: int = 2, price: str = "12.50") -> OrderItem:
    return OrderItem(itemId=item_id, quantity=quantity, price=Decimal(price))


def make_order(
    order_id: str = "ORD-1",
    *,
    status: OrderStatus = OrderStatus.NEW,
    items: Sequence[OrderItem] | None = None,
    currency: str = "USD",
    customer_id: str = "CUST-00001",
) -> Order:
    """A valid order; ``totalAmount`` is always the sum of the items."""
    lines = list(items) if items is not None else [make_item(), make_item("SKU-0002", 1, "3.99")]
    return Order(
        orderId=order_id,
        customerId=customer_id,
        orderDate=ORDER_DATE,
        items=lines,
        totalAmount=sum((item.line_total for item in lines), Decimal("0.00")),
        currency=currency,
        status=status,
    )


def make_create_command(order: Order | None = None, command_id: str = "cmd-create") -> OrderCommand:
    order = order or make_order()
    return OrderCommand(
        commandId=command_id,
        commandType=CommandType.CREATE_ORDER,
        orderId=order.orderId,
        issuedAt=ISSUED_AT,
        order=order,
    )


def make_update_command(
    order_id: str = "ORD-1", status: OrderStatus = OrderStatus.PENDING, command_id: str = "cmd-up"
) -> OrderCommand:
    return OrderCommand(
        commandId=command_id,
        commandType=CommandType.UPDATE_ORDER_STATUS,
        orderId=order_id,
        issuedAt=ISSUED_AT,
        status=status,
    )


def make_cart_row(
    order: Order | None = None, version: int = 1, last_command_id: str = "cmd-earlier"
) -> OrderEvent:
    """The cart's row of an order: its latest event, published for ``last_command_id``."""
    order = order or make_order()
    return OrderEvent(
        eventId=event_id_for(last_command_id),
        eventType=EventType.ORDER_CREATED if version == 1 else EventType.ORDER_STATUS_CHANGED,
        orderId=order.orderId,
        version=version,
        occurredAt=ISSUED_AT,
        order=order,
    )


def make_event(order: Order | None = None, version: int = 1) -> OrderEvent:
    order = order or make_order()
    return OrderEvent(
        eventId=event_id_for(f"cmd-{order.orderId}-{version}"),
        eventType=EventType.ORDER_CREATED if version == 1 else EventType.ORDER_STATUS_CHANGED,
        orderId=order.orderId,
        version=version,
        occurredAt=ISSUED_AT,
        order=order,
    )


def make_shipped_row(order: Order | None = None, version: int = 1) -> ShippedOrder:
    order = order or make_order()
    return ShippedOrder(order=order, version=version, shippingCost=shipping_cost(order.totalAmount))


def order_wire(**overrides: Any) -> dict[str, Any]:
    """The wire form of :func:`make_order`, with top-level fields replaced."""
    return {**make_order().to_wire(), **overrides}


def item_wire(**overrides: Any) -> dict[str, Any]:
    """An order's wire form whose only item has the given fields replaced."""
    item = {**make_item().to_wire(), **overrides}
    return order_wire(items=[item], totalAmount=Decimal("25.00"))
