"""The base of every Kafka record and table row: a validated pydantic model.

A record maps itself to and from plain wire data (``to_wire`` /
``from_wire``): the dict the value format (JSON or Avro) writes and reads.
Data that breaks a rule raises :class:`InvalidRecord`; the projector sends
such input to the dead-letter topic.  Faust decodes topic and table values
through ``from_data``.
"""

from collections.abc import Mapping
from datetime import UTC, datetime
from types import SimpleNamespace
from typing import Any, ClassVar, Self

from pydantic import BaseModel, ConfigDict, ValidationError

from models.codec import CODEC_NAME

WireData = Mapping[str, Any]


class InvalidRecord(ValueError):
    """Wire data that does not describe a valid record."""


def describe(error: ValidationError) -> str:
    """``items[0].quantity: Input should be greater than 0; …``"""

    def where(loc: tuple[int | str, ...]) -> str:
        text = "".join(f"[{part}]" if isinstance(part, int) else f".{part}" for part in loc)
        return text.lstrip(".") or "(record)"

    problems = error.errors(include_url=False, include_context=False, include_input=False)
    return "; ".join(f"{where(item['loc'])}: {item['msg']}" for item in problems)[:1000]


class WireRecord(BaseModel):
    """Strict (no conversion of types), immutable, tolerant of fields it does not know:
    a newer writer may add fields (BACKWARD evolution)."""

    model_config = ConfigDict(strict=True, frozen=True, extra="ignore")
    #: What Faust reads of a value type: the codec of the tables that hold it.
    _options: ClassVar[SimpleNamespace] = SimpleNamespace(serializer=CODEC_NAME)

    def to_wire(self) -> dict[str, Any]:
        return self.model_dump()

    def for_json(self) -> dict[str, Any]:
        """What the codec writes for this record (see models.codec)."""
        return self.to_wire()

    @classmethod
    def from_wire(cls, data: Any) -> Self:
        if not isinstance(data, Mapping):
            raise InvalidRecord(f"{cls.__name__} must be an object")
        try:
            return cls.model_validate(data)
        except ValidationError as exc:
            raise InvalidRecord(describe(exc)) from None

    @classmethod
    def from_data(cls, data: Any, *, preferred_type: Any = None) -> Self:
        """Faust's hook for topic and table values."""
        return data if isinstance(data, cls) else cls.from_wire(data)


def utc_now() -> datetime:
    """Now, in UTC, to the millisecond: exactly what the wire can carry."""
    now = datetime.now(UTC)
    return now.replace(microsecond=now.microsecond // 1000 * 1000)
