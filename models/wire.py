"""The base of every Kafka record type: explicit, validated (de)serialization.

Faust's own Record decoding does not rebuild records nested in lists
(faust issue #386) and checks no invariant, so each record maps itself to and
from plain wire data (``to_wire`` / ``from_wire``) and Faust's hooks call
those.  A record that fails validation raises :class:`InvalidRecord`; the
projector sends such input to the dead-letter topic.
"""

import re
from collections.abc import Mapping
from datetime import UTC, datetime
from decimal import Decimal
from typing import Any, Self, TypeVar

import faust

from models.codec import CODEC_NAME
from models.money import has_cents_precision, to_money

#: orderId, customerId and itemId: 1..64 chars of a URL- and log-safe alphabet.
IDENTIFIER = re.compile(r"[A-Za-z0-9._:-]{1,64}")

WireData = Mapping[str, Any]
E = TypeVar("E")


class InvalidRecord(ValueError):
    """Wire data that does not describe a valid record."""


class WireRecord(faust.Record, abstract=True, include_metadata=False, serializer=CODEC_NAME):
    """A Faust Record that owns its wire mapping; topics and tables use its codec."""

    def to_wire(self) -> dict[str, Any]:
        raise NotImplementedError

    @classmethod
    def from_wire(cls, data: WireData) -> Self:
        raise NotImplementedError

    def to_representation(self) -> dict[str, Any]:
        return self.to_wire()

    @classmethod
    def from_data(cls, data: Any, *, preferred_type: Any = None) -> Self:
        # Faust also calls this on nested fields that already hold records.
        if isinstance(data, cls):
            return data
        if not isinstance(data, Mapping):
            raise InvalidRecord(f"{cls.__name__} must be an object")
        return cls.from_wire(data)


def require(data: WireData, name: str, kind: type[E]) -> E:
    """Return ``data[name]`` if it has exactly the type ``kind``."""
    value = data.get(name)
    # bool is an int subclass: a JSON true must not pass for a quantity.
    if not isinstance(value, kind) or (kind is int and isinstance(value, bool)):
        raise InvalidRecord(f"{name}: expected {kind.__name__}, got {value!r:.40}")
    return value


def require_identifier(data: WireData, name: str) -> str:
    value = require(data, name, str)
    if not IDENTIFIER.fullmatch(value):
        raise InvalidRecord(f"{name}: not a valid identifier: {value!r:.80}")
    return value


def require_money(data: WireData, name: str) -> Decimal:
    value = data.get(name)
    if isinstance(value, bool) or not isinstance(value, Decimal | int):
        raise InvalidRecord(f"{name}: expected a decimal amount, got {value!r:.40}")
    amount = Decimal(value)
    if not has_cents_precision(amount):
        raise InvalidRecord(f"{name}: more than two decimal places: {value}")
    return to_money(amount)


def require_enum(data: WireData, name: str, enum: type[E]) -> E:
    value = require(data, name, str)
    try:
        return enum(value)  # type: ignore[call-arg]
    except ValueError:
        raise InvalidRecord(f"{name}: unknown value {value!r:.40}") from None


def require_timestamp(data: WireData, name: str) -> datetime:
    value = require(data, name, str)
    try:
        moment = datetime.fromisoformat(value)
        if moment.tzinfo is None:
            raise InvalidRecord(f"{name}: timestamp without a timezone: {value!r:.40}")
        # Overflows for the first and last hours of the calendar (year 1, 9999).
        return moment.astimezone(UTC)
    except (ValueError, OverflowError) as exc:
        if isinstance(exc, InvalidRecord):
            raise
        raise InvalidRecord(f"{name}: not a usable ISO-8601 timestamp: {value!r:.40}") from None


def format_timestamp(moment: datetime) -> str:
    """UTC, millisecond precision, ``Z`` suffix: ``2026-11-25T14:18:20.123Z``."""
    return moment.astimezone(UTC).isoformat(timespec="milliseconds").replace("+00:00", "Z")


def utc_now() -> datetime:
    """Now, in UTC, to the millisecond: exactly what the wire can carry."""
    now = datetime.now(UTC)
    return now.replace(microsecond=now.microsecond // 1000 * 1000)
