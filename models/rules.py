"""The rule of each field of an order, defined once.

The HTTP requests and responses (:mod:`models.api`), the Kafka records
(:mod:`models.order`, :mod:`models.events`, :mod:`models.commands`) and the
table rows (:mod:`models.state`) are pydantic models typed with these, so a
value the API refuses is refused on the wire too, and the other way round.

Numbers must arrive exact: JSON is parsed with Decimal numbers (see
:mod:`models.codec`) and Avro decimals are Decimal; a float, a string or a
boolean for a number is refused, never converted.
"""

from datetime import UTC, datetime
from decimal import Decimal
from typing import Annotated, Any

from pydantic import AfterValidator, BeforeValidator, Field, PlainSerializer, StringConstraints

from models.money import ISO_4217_CURRENCIES, has_cents_precision, to_money
from models.status import OrderStatus

#: orderId, customerId and itemId: a URL- and log-safe alphabet.
IDENTIFIER_PATTERN = r"^[A-Za-z0-9._:-]{1,64}$"
MAX_ITEMS = 100
MAX_QUANTITY = 10_000
MAX_PRICE = Decimal("1000000000")
#: What an Avro decimal(18, 2) holds.
MAX_AMOUNT = Decimal("9999999999999999.99")
#: What the ``version`` field's Avro ``int`` holds: a larger number read from
#: JSON could be validated but not written as Avro (nor as a 64-bit row).
MAX_VERSION = 2**31 - 1


def _exact_number(value: Any) -> Decimal:
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


def _aware_instant(value: Any) -> Any:
    if isinstance(value, str):
        try:
            value = datetime.fromisoformat(value)
        except ValueError:
            raise ValueError("must be an ISO-8601 timestamp") from None
    if isinstance(value, datetime):
        if value.tzinfo is None:
            raise ValueError("must have a timezone")
        try:
            return value.astimezone(UTC)
        except OverflowError:  # the first and last hours of the calendar
            raise ValueError("is out of range") from None
    return value


def format_timestamp(moment: datetime) -> str:
    """UTC, millisecond precision, ``Z`` suffix: ``2026-11-25T14:18:20.123Z``."""
    return moment.astimezone(UTC).isoformat(timespec="milliseconds").replace("+00:00", "Z")


Identifier = Annotated[str, StringConstraints(pattern=IDENTIFIER_PATTERN)]
Quantity = Annotated[int, Field(gt=0, le=MAX_QUANTITY)]
ItemCount = Annotated[int, Field(ge=1, le=MAX_ITEMS)]
#: An order's event count: 1 for its creation, one more per change.
Version = Annotated[int, Field(ge=1, le=MAX_VERSION)]
#: A client's Idempotency-Key: 1-255 visible ASCII characters (a UUID, typically).
IdempotencyKey = Annotated[str, StringConstraints(pattern=r"^[\x21-\x7e]{1,255}$")]
#: An amount of money: exact, at most two decimals, kept quantized to cents.
Money = Annotated[
    Decimal, BeforeValidator(_exact_number), Field(ge=0, le=MAX_AMOUNT), AfterValidator(_cents)
]
Price = Annotated[Money, Field(gt=0, le=MAX_PRICE)]
Currency = Annotated[str, AfterValidator(_currency)]
#: Enums are read from and written as their values (``"confirmed"``, ``"OrderCreated"``).
BY_VALUE = (Field(strict=False), PlainSerializer(lambda member: member.value, return_type=str))
Status = Annotated[OrderStatus, *BY_VALUE]
#: An instant with a timezone, kept in UTC; written as ISO-8601 with ``Z``.
Timestamp = Annotated[
    datetime, BeforeValidator(_aware_instant), PlainSerializer(format_timestamp, return_type=str)
]
