"""What a dead letter says of itself: the original headers, the error and where it came from.

Both services dead-letter the records they cannot read (the order service's
``order-events.DLQ``, the cart's ``order-commands.DLQ``), untouched, with the
same headers, so one operator tool reads both.
"""

from collections.abc import Iterable, Mapping
from typing import Protocol

from models.rules import format_timestamp
from models.wire import utc_now

#: The headers a dead letter carries after the record's own, all named ``dlq.*``.
DLQ_HEADER_PREFIX = "dlq."
ERROR_HEADER = "dlq.error"
REASON_HEADER = "dlq.reason"
SOURCE_TOPIC_HEADER = "dlq.source.topic"
SOURCE_PARTITION_HEADER = "dlq.source.partition"
SOURCE_OFFSET_HEADER = "dlq.source.offset"
SERVICE_HEADER = "dlq.service"
FAILED_AT_HEADER = "dlq.failedAt"
#: Set by a replay (``python -m app.dead_letter_redrive``) on the record it sends back:
#: the dead letter it came from (``<dlq topic>:<partition>:<offset>``) and when.
REPLAYED_FROM_HEADER = "dlq.replayedFrom"
REPLAYED_AT_HEADER = "dlq.replayedAt"


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
        (ERROR_HEADER, type(error).__name__.encode()),
        (REASON_HEADER, str(error)[:1000].encode()),
        (SOURCE_TOPIC_HEADER, record.topic.encode()),
        (SOURCE_PARTITION_HEADER, str(record.partition).encode()),
        (SOURCE_OFFSET_HEADER, str(record.offset).encode()),
        (SERVICE_HEADER, service.encode()),
        (FAILED_AT_HEADER, format_timestamp(utc_now()).encode()),
    ]


def original_headers(headers: Iterable[tuple[str, bytes]]) -> list[tuple[str, bytes]]:
    """A dead letter's headers as the record had them: without any ``dlq.*`` one (also
    those of an earlier replay, when a replayed record was dead-lettered again)."""
    return [(name, value) for name, value in headers if not name.startswith(DLQ_HEADER_PREFIX)]
