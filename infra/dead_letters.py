"""What a dead letter says of itself: the original headers, the error and where it came from.

Both services dead-letter the records they cannot read (the order service's
``order-events.DLQ``, the cart's ``order-commands.DLQ``), untouched, with the
same headers, so one operator tool reads both.
"""

from collections.abc import Iterable, Mapping
from typing import Protocol

from models.rules import format_timestamp
from models.wire import utc_now


class RecordAt(Protocol):
    """A consumed record, as aiokafka's and Faust's both describe it."""

    @property
    def key(self) -> bytes | None: ...
    @property
    def value(self) -> bytes | None: ...
    @property
    def topic(self) -> str: ...
    @property
    def partition(self) -> int: ...
    @property
    def offset(self) -> int: ...
    @property
    def headers(self) -> Iterable[tuple[str, bytes]] | Mapping[str, bytes] | None: ...


def position(record: RecordAt) -> dict[str, object]:
    """Where a record is, as every log line about it says."""
    return {"topic": record.topic, "partition": record.partition, "offset": record.offset}


def dead_letter_headers(
    record: RecordAt, error: Exception, service: str
) -> list[tuple[str, bytes]]:
    """The original headers plus what went wrong and where the record came from."""
    headers = record.headers or []
    return [
        *(headers.items() if isinstance(headers, Mapping) else headers),
        ("dlq.error", type(error).__name__.encode()),
        ("dlq.reason", str(error)[:1000].encode()),
        ("dlq.source.topic", record.topic.encode()),
        ("dlq.source.partition", str(record.partition).encode()),
        ("dlq.source.offset", str(record.offset).encode()),
        ("dlq.service", service.encode()),
        ("dlq.failedAt", format_timestamp(utc_now()).encode()),
    ]
