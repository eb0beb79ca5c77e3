"""The order as it travels on Kafka: ``Order`` and its ``OrderItem`` lines."""

from collections.abc import Sequence
from decimal import Decimal
from typing import Annotated, Self

from pydantic import Field, model_validator

from models.rules import MAX_ITEMS, Currency, Identifier, Money, Price, Quantity, Status, Timestamp
from models.status import OrderStatus
from models.wire import WireRecord


class OrderItem(WireRecord):
    itemId: Identifier
    quantity: Quantity
    price: Price

    @property
    def line_total(self) -> Decimal:
        return self.price * self.quantity


def items_total(items: Sequence[OrderItem]) -> Decimal:
    """What an order of these items costs: Σ price × quantity."""
    return sum((item.line_total for item in items), Decimal("0.00"))


class Order(WireRecord):
    orderId: Identifier
    customerId: Identifier
    orderDate: Timestamp
    items: Annotated[list[OrderItem], Field(min_length=1, max_length=MAX_ITEMS)]
    totalAmount: Money
    currency: Currency
    status: Status

    @model_validator(mode="after")
    def _total_is_the_sum_of_the_items(self) -> Self:
        expected = items_total(self.items)
        if self.totalAmount != expected:
            raise ValueError(
                f"totalAmount {self.totalAmount} is not the sum of the items, {expected}"
            )
        return self

    def with_status(self, status: OrderStatus) -> "Order":
        return self.model_copy(update={"status": status})
