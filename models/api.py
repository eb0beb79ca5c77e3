"""The HTTP contract: request and response models, apart from the wire records.

Typed with the same field rules as the records (:mod:`models.rules`), and
stricter about the rest: an unknown field is a 400.  Responses are built
from the records by the explicit mappings here.
"""

from typing import Annotated, Any, Self

from pydantic import (
    BaseModel,
    BeforeValidator,
    ConfigDict,
    Field,
    StringConstraints,
    model_validator,
)

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
    Version,
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
            # Given at all (null too): the JSON Schema's dependentRequired says the same.
            if "totalAmount" in self.model_fields_set:
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


#: The longest a read may wait for a version (Confluent's OrdersService long-poll: 30 s).
MAX_WAIT_MS = 30_000


def _digits(value: Any) -> Any:
    """A query parameter's whole number: its text, decimal digits only ("2.0", " 2" are not)."""
    if isinstance(value, str):
        if not (value.isascii() and value.isdigit() and len(value) <= 10):
            raise ValueError("must be a whole number, in digits")
        return int(value)
    return value


class OrderDetailsQuery(QueryModel):
    orderId: Identifier
    minVersion: Annotated[
        Version | None,
        BeforeValidator(_digits),
        Field(description="answer once the order service holds this version or a later one"),
    ] = None
    waitMs: Annotated[
        int,
        Field(
            ge=0,
            le=MAX_WAIT_MS,
            description="how long to wait for minVersion, in ms; past it a 504 (0: no wait)",
        ),
        BeforeValidator(_digits),
    ] = 0

    @model_validator(mode="after")
    def _wait_for_a_version(self) -> Self:
        if self.waitMs and self.minVersion is None:
            raise ValueError("waitMs waits for a minVersion: give one")
        return self


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
    #: How many changes the order has had (1: created); also its ETag, quoted.
    version: Version

    @staticmethod
    def body_of(order: Order, version: int) -> dict[str, Any]:
        """The response body of an order: its wire form and version, which is exactly this
        model (a unit test holds the two together), without building the model again."""
        return {**order.to_wire(), "version": version}


class OrderDetailsOut(OrderOut):
    shippingCost: Money

    @classmethod
    def of_row(cls, row: ShippedOrder) -> Self:
        fields = {name: getattr(row.order, name) for name in Order.model_fields}
        return cls.model_validate(
            {**fields, "version": row.version, "shippingCost": row.shippingCost},
            from_attributes=True,
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
