"""The HTTP contract: request and response models, apart from the wire records.

Typed with the same field rules as the records (:mod:`models.rules`), and
stricter about the rest: an unknown field is a 400.  Responses are built
from the records by the explicit mappings here.
"""

from typing import Annotated, Any, Self

from pydantic import BaseModel, ConfigDict, Field, StringConstraints, model_validator

from models.order import Order, OrderItem, items_total
from models.rules import (
    MAX_ITEMS,
    Currency,
    Identifier,
    ItemCount,
    Money,
    Price,
    Quantity,
    Status,
    Timestamp,
)
from models.state import ShippedOrder

#: Kafka's own rule for topic names ("." and ".." are refused separately).
TopicName = Annotated[str, StringConstraints(pattern=r"^[A-Za-z0-9._-]{1,249}$")]


class RequestModel(BaseModel):
    model_config = ConfigDict(strict=True, extra="forbid", frozen=True)


class OrderItemIn(OrderItem):
    model_config = ConfigDict(extra="forbid")


class CreateOrderRequest(RequestModel):
    """Create an order: ``numItems`` random items, or the given ``items``."""

    # The cross-field rules JSON Schema can say; the sums it cannot.
    model_config = ConfigDict(
        json_schema_extra={
            "anyOf": [{"required": ["numItems"]}, {"required": ["items"]}],
            "dependentRequired": {"totalAmount": ["items"]},
            # What /docs puts in "Try it out": a body that is accepted as it stands.
            "examples": [{"orderId": "order-1001", "numItems": 3}],
        }
    )

    orderId: Identifier
    numItems: ItemCount | None = None
    customerId: Identifier | None = None
    currency: Currency = "USD"
    items: Annotated[list[OrderItemIn], Field(min_length=1, max_length=MAX_ITEMS)] | None = None
    totalAmount: Money | None = None

    @model_validator(mode="after")
    def _items_or_count(self) -> Self:
        if self.items is None:
            if self.numItems is None:
                raise ValueError(f"give numItems (1..{MAX_ITEMS}) or an explicit items list")
            if self.totalAmount is not None:
                raise ValueError("totalAmount may only be given with explicit items")
            return self
        if self.numItems is not None and self.numItems != len(self.items):
            raise ValueError("numItems differs from the number of items given")
        total = items_total(self.items)
        if self.totalAmount is not None and self.totalAmount != total:
            raise ValueError(f"totalAmount {self.totalAmount} is not the sum of the items, {total}")
        return self


class UpdateOrderRequest(RequestModel):
    orderId: Identifier
    status: Status


class QueryModel(RequestModel):
    # Other query parameters (cache busters, tracing) are not ours to refuse.
    model_config = ConfigDict(extra="ignore")


class OrderDetailsQuery(QueryModel):
    orderId: Identifier


class TopicScanQuery(QueryModel):
    topicName: TopicName

    @model_validator(mode="after")
    def _a_topic_name(self) -> Self:
        if self.topicName in {".", ".."}:
            raise ValueError("is not a valid Kafka topic name")
        return self


class OrderItemOut(BaseModel):
    itemId: Identifier
    quantity: Quantity
    price: Price


class OrderOut(BaseModel):
    orderId: Identifier
    customerId: Identifier
    orderDate: Timestamp
    items: list[OrderItemOut]
    totalAmount: Money
    currency: Currency
    status: Status

    @staticmethod
    def body_of(order: Order) -> dict[str, Any]:
        """The response body of an order: its wire form, which is exactly this model
        (a unit test holds the two together), without building the model again."""
        return order.to_wire()


class OrderDetailsOut(OrderOut):
    shippingCost: Money

    @classmethod
    def of_row(cls, row: ShippedOrder) -> Self:
        fields = {name: getattr(row.order, name) for name in OrderOut.model_fields}
        return cls.model_validate(
            {**fields, "shippingCost": row.shippingCost}, from_attributes=True
        )


class TopicScanOut(BaseModel):
    topic: str
    orderIds: list[str]
    count: int
    recordsScanned: int
    #: Records of no known format or without an orderId: counted and skipped.
    recordsUnreadable: int


class Problem(BaseModel):
    """RFC 9457 problem details."""

    type: str
    title: str
    status: int
    detail: str
    errors: list[dict[str, Any]] | None = None
    errorId: str | None = None
