"""The order as it travels on Kafka: ``Order`` and its ``OrderItem`` lines."""

from datetime import datetime
from decimal import Decimal
from typing import Any

from models.money import ISO_4217_CURRENCIES, to_money
from models.status import OrderStatus
from models.wire import (
    InvalidRecord,
    WireData,
    WireRecord,
    format_timestamp,
    require,
    require_enum,
    require_identifier,
    require_money,
    require_timestamp,
)

MAX_ITEMS = 100
MAX_QUANTITY = 10_000


class OrderItem(WireRecord):
    itemId: str
    quantity: int
    price: Decimal

    @property
    def line_total(self) -> Decimal:
        return self.price * self.quantity

    def to_wire(self) -> dict[str, Any]:
        return {"itemId": self.itemId, "quantity": self.quantity, "price": to_money(self.price)}

    @classmethod
    def from_wire(cls, data: WireData) -> "OrderItem":
        quantity = require(data, "quantity", int)
        if not 0 < quantity <= MAX_QUANTITY:
            raise InvalidRecord(f"quantity: must be 1..{MAX_QUANTITY}, got {quantity}")
        price = require_money(data, "price")
        if price <= 0:
            raise InvalidRecord(f"price: must be greater than 0, got {price}")
        return cls(itemId=require_identifier(data, "itemId"), quantity=quantity, price=price)


def items_total(items: list[OrderItem]) -> Decimal:
    """What an order of these items costs: Σ price × quantity."""
    return sum((item.line_total for item in items), Decimal("0.00"))


class Order(WireRecord):
    orderId: str
    customerId: str
    orderDate: datetime
    items: list[OrderItem]
    totalAmount: Decimal
    currency: str
    status: OrderStatus

    def with_status(self, status: OrderStatus) -> "Order":
        return self.derive(status=status)

    def to_wire(self) -> dict[str, Any]:
        return {
            "orderId": self.orderId,
            "customerId": self.customerId,
            "orderDate": format_timestamp(self.orderDate),
            "items": [item.to_wire() for item in self.items],
            "totalAmount": to_money(self.totalAmount),
            "currency": self.currency,
            "status": self.status.value,
        }

    @classmethod
    def from_wire(cls, data: WireData) -> "Order":
        raw_items = require(data, "items", list)
        if not 1 <= len(raw_items) <= MAX_ITEMS:
            raise InvalidRecord(f"items: must hold 1..{MAX_ITEMS} items")
        items = []
        for index, raw_item in enumerate(raw_items):
            if not isinstance(raw_item, dict):
                raise InvalidRecord(f"items[{index}]: must be an object")
            try:
                items.append(OrderItem.from_wire(raw_item))
            except InvalidRecord as exc:
                raise InvalidRecord(f"items[{index}].{exc}") from None
        total = require_money(data, "totalAmount")
        expected = items_total(items)
        if total != expected:
            raise InvalidRecord(f"totalAmount: {total} is not the sum of the items, {expected}")
        currency = require(data, "currency", str)
        if currency not in ISO_4217_CURRENCIES:
            raise InvalidRecord(f"currency: not an ISO-4217 code: {currency!r:.10}")
        return cls(
            orderId=require_identifier(data, "orderId"),
            customerId=require_identifier(data, "customerId"),
            orderDate=require_timestamp(data, "orderDate"),
            items=items,
            totalAmount=total,
            currency=currency,
            status=require_enum(data, "status", OrderStatus),
        )
