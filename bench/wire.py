"""Records for preloading, in exactly the wire format the services write and read.

Built once from real ``OrderEvent`` records and the run's value format (Avro
through the registry, as ``make run`` writes, or JSON), then copied per
orderId by substituting the id's bytes: a million records could not be
encoded one by one in the time budget.  Every orderId has the placeholder's
length, so the substitution keeps Avro's length prefixes right.  Each event
template is decoded and checked with ``OrderEvent.from_wire`` first, as the
order service and the cart's restore check every event they read.
"""

from datetime import UTC, datetime
from decimal import Decimal

from infra.value_formats import ValueFormat
from models.events import EventType, OrderEvent
from models.order import Order, OrderItem, items_total
from models.status import OrderStatus

#: Key, value, headers: a record as the services write it.
Record = tuple[bytes, bytes, list[tuple[str, bytes]]]

#: Stands for the orderId in the templates; every orderId here is this long.
PLACEHOLDER = "BENCH-ORDER-ID-XXXX"
_MOMENT = datetime(2026, 11, 25, 10, 0, tzinfo=UTC)
_STATUS = {1: OrderStatus.NEW, 2: OrderStatus.CONFIRMED}


def bench_order_id(prefix: str, n: int) -> str:
    """``prefix`` and ``n`` as an orderId of the placeholder's length."""
    order_id = f"{prefix}-{n:0{len(PLACEHOLDER) - len(prefix) - 1}d}"
    if len(order_id) != len(PLACEHOLDER):
        raise ValueError(f"{order_id!r} is not {len(PLACEHOLDER)} characters long")
    return order_id


def _order(status: OrderStatus) -> Order:
    items = [
        OrderItem(itemId=f"SKU-{n:04d}", quantity=n, price=Decimal("19.99")) for n in (1, 2, 3)
    ]
    return Order(
        orderId=PLACEHOLDER,
        customerId="CUST-00042",
        orderDate=_MOMENT,
        items=items,
        totalAmount=items_total(items),
        currency="USD",
        status=status,
    )


class Templates:
    """Event version 1 (created) and 2 (confirmed)."""

    def __init__(self, events: ValueFormat) -> None:
        self.content_type = events.content_type
        self.events = {
            version: events.encode(
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
        sample = bench_order_id("check", 1)
        for version, template in self.events.items():
            event = OrderEvent.from_wire(events.decode_cached(fill(template, sample)))
            assert (event.orderId, event.version) == (sample, version), "not a valid OrderEvent"

    def event(self, order_id: str, version: int) -> Record:
        """Key, value and headers of the order's event ``version``, as the cart writes it."""
        event_type = EventType.ORDER_CREATED if version == 1 else EventType.ORDER_STATUS_CHANGED
        headers = [("eventType", event_type.value.encode()), ("content-type", self.content_type)]
        return order_id.encode(), fill(self.events[version], order_id), headers


def fill(template: bytes, order_id: str) -> bytes:
    if len(order_id) != len(PLACEHOLDER):
        raise ValueError(f"{order_id!r} is not {len(PLACEHOLDER)} characters long")
    return template.replace(PLACEHOLDER.encode(), order_id.encode())
