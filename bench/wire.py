"""Records for preloading, in exactly the wire format the services write and read.

Built once from real ``OrderEvent`` / ``CartOrder`` records and the services'
codec, then copied per orderId by substituting the id's bytes: a million
records could not be built record by record in the time budget.  Each
event template is checked with ``OrderEvent.from_wire`` first, as the
order service checks every event it reads.
"""

from datetime import UTC, datetime
from decimal import Decimal

from models.codec import dumps, loads
from models.events import EventType, OrderEvent
from models.order import Order, OrderItem
from models.state import CartOrder
from models.status import OrderStatus

#: Key, value, headers: a record as the services write it.
Record = tuple[bytes, bytes, list[tuple[str, bytes]]]

#: Stands for the orderId in the templates; orderIds here are plain ASCII.
PLACEHOLDER = "BENCH-ORDER-ID-PLACEHOLDER"
_MOMENT = datetime(2026, 11, 25, 10, 0, tzinfo=UTC)
_STATUS = {1: OrderStatus.NEW, 2: OrderStatus.CONFIRMED}


def _order(status: OrderStatus) -> Order:
    items = [
        OrderItem(itemId=f"SKU-{n:04d}", quantity=n, price=Decimal("19.99")) for n in (1, 2, 3)
    ]
    return Order(
        orderId=PLACEHOLDER,
        customerId="CUST-00042",
        orderDate=_MOMENT,
        items=items,
        totalAmount=sum((item.line_total for item in items), Decimal("0.00")),
        currency="USD",
        status=status,
    )


class Templates:
    """Event version 1 (created) and 2 (confirmed), and the cart's row after each."""

    def __init__(self) -> None:
        self.events = {
            version: dumps(
                OrderEvent(
                    eventId=f"{PLACEHOLDER}-{version}",
                    eventType=EventType.ORDER_CREATED
                    if version == 1
                    else EventType.ORDER_STATUS_CHANGED,
                    orderId=PLACEHOLDER,
                    version=version,
                    occurredAt=_MOMENT,
                    order=_order(status),
                ).to_wire()
            )
            for version, status in _STATUS.items()
        }
        self.cart_rows = {
            version: dumps(
                CartOrder(
                    order=_order(status), version=version, lastCommandId=f"{PLACEHOLDER}-{version}"
                ).to_wire()
            )
            for version, status in _STATUS.items()
        }
        for version, template in self.events.items():
            event = OrderEvent.from_wire(loads(fill(template, "id-1")))
            assert (event.orderId, event.version) == ("id-1", version), "not a valid OrderEvent"

    def event(self, order_id: str, version: int) -> Record:
        """Key, value and headers of the order's event ``version``, as the cart writes it."""
        event_type = EventType.ORDER_CREATED if version == 1 else EventType.ORDER_STATUS_CHANGED
        headers = [("eventType", event_type.value.encode()), ("content-type", b"application/json")]
        return order_id.encode(), fill(self.events[version], order_id), headers


def fill(template: bytes, order_id: str) -> bytes:
    return template.replace(PLACEHOLDER.encode(), order_id.encode())
