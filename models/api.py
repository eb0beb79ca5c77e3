"""The HTTP contract: request and response models (pydantic), apart from the wire.

Requests are strict: a number given as a string, a float for an integer or a
boolean for a number is a 400, never silently converted.  Bodies are parsed
with Decimal numbers (:mod:`models.codec`), so prices arrive exact.
"""

from datetime import datetime
from decimal import Decimal
from typing import Annotated, Any

from pydantic import AfterValidator, BaseModel, BeforeValidator, ConfigDict, Field, model_validator

from models.money import ISO_4217_CURRENCIES, has_cents_precision, to_money
from models.order import MAX_ITEMS, MAX_QUANTITY
from models.status import OrderStatus
from models.wire import IDENTIFIER

Identifier = Annotated[str, Field(pattern=f"^{IDENTIFIER.pattern}$", min_length=1, max_length=64)]


def _exact_number(value: Any) -> Any:
    if isinstance(value, bool) or not isinstance(value, Decimal | int):
        raise ValueError("must be a JSON number")
    return Decimal(value)


def _cents(value: Decimal) -> Decimal:
    if not has_cents_precision(value):
        raise ValueError("must have at most two decimal places")
    return to_money(value)


def _currency(value: str) -> str:
    if value not in ISO_4217_CURRENCIES:
        raise ValueError("must be an ISO-4217 currency code, e.g. USD, EUR, ILS")
    return value


Money = Annotated[
    Decimal,
    BeforeValidator(_exact_number),
    Field(gt=0, le=Decimal("1000000000")),
    AfterValidator(_cents),
]
Currency = Annotated[str, AfterValidator(_currency)]


class StrictModel(BaseModel):
    model_config = ConfigDict(strict=True, extra="forbid", frozen=True)


class OrderItemIn(StrictModel):
    itemId: Identifier
    quantity: Annotated[int, Field(gt=0, le=MAX_QUANTITY)]
    price: Money


class CreateOrderRequest(StrictModel):
    """Create an order: ``numItems`` random items, or the given ``items``."""

    # The cross-field rules JSON Schema can say; the sums it cannot.
    model_config = ConfigDict(
        json_schema_extra={
            "anyOf": [{"required": ["numItems"]}, {"required": ["items"]}],
            "dependentRequired": {"totalAmount": ["items"]},
        }
    )

    orderId: Identifier
    numItems: Annotated[int, Field(ge=1, le=MAX_ITEMS)] | None = None
    customerId: Identifier | None = None
    currency: Currency = "USD"
    items: Annotated[list[OrderItemIn], Field(min_length=1, max_length=MAX_ITEMS)] | None = None
    totalAmount: Money | None = None

    @model_validator(mode="after")
    def _items_or_count(self) -> "CreateOrderRequest":
        if self.items is None:
            if self.numItems is None:
                raise ValueError("give numItems (1..100) or an explicit items list")
            if self.totalAmount is not None:
                raise ValueError("totalAmount may only be given with explicit items")
            return self
        if self.numItems is not None and self.numItems != len(self.items):
            raise ValueError("numItems differs from the number of items given")
        total = sum((item.price * item.quantity for item in self.items), Decimal(0))
        if self.totalAmount is not None and self.totalAmount != total:
            raise ValueError(f"totalAmount {self.totalAmount} is not the sum of the items, {total}")
        return self


class UpdateOrderRequest(StrictModel):
    orderId: Identifier
    # Lax only here: the enum is matched from its string value.
    status: Annotated[OrderStatus, Field(strict=False)]


class OrderItemOut(BaseModel):
    itemId: str
    quantity: int
    price: Decimal


class OrderOut(BaseModel):
    orderId: str
    customerId: str
    orderDate: datetime
    items: list[OrderItemOut]
    totalAmount: Decimal
    currency: str
    status: OrderStatus


class OrderDetailsOut(OrderOut):
    shippingCost: Decimal


class TopicScanOut(BaseModel):
    topic: str
    orderIds: list[str]
    count: int
    recordsScanned: int


class Problem(BaseModel):
    """RFC 9457 problem details."""

    type: str
    title: str
    status: int
    detail: str
    errors: list[dict[str, Any]] | None = None
    errorId: str | None = None
