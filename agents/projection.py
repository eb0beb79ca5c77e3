"""A fetched batch of ``order-events`` records, applied to the order service's table.

Per record: decode it, apply the rule (:func:`agents.shipping.apply`) against
the version the row holds (as the records before it in the batch leave it),
and keep the row it makes.  Per partition: the rows go to the store in one
write batch and to the changelog (:class:`agents.table_sink.TableSink`), the
reads waiting for these versions are woken, and one log line says what was
applied.  A record that cannot be decoded or validated goes, untouched, to
the dead-letter topic with the reason in its headers, and the batch goes on:
one bad record must not stop every order behind it in its partition.

Nothing here waits for Kafka: what the batch wrote, and the offsets after
it, go to the projector's committer (:class:`AppliedBatch`).
"""

import asyncio
import logging
from collections.abc import Mapping
from dataclasses import dataclass, field

import faust
import orjson
from aiokafka import ConsumerRecord, TopicPartition
from aiokafka.structs import RecordMetadata

from agents.hand_over import hand_over
from agents.shipping import Outcome, apply
from agents.table_sink import ChangelogWrite, TableSink
from agents.version_waits import VersionWaits
from infra.dead_letters import dead_letter_headers, position
from infra.metrics import ServiceMetrics
from infra.value_formats import ValueFormat, read_order_record
from models.codec import dumps
from models.events import OrderEvent
from models.state import ShippedOrder

logger = logging.getLogger(__name__)


@dataclass
class AppliedBatch:
    """Records applied: their changelog and DLQ writes, and the offsets after them."""

    changelog: list[ChangelogWrite] = field(default_factory=list)
    dead_letters: list[asyncio.Future[RecordMetadata]] = field(default_factory=list)
    offsets: dict[TopicPartition, int] = field(default_factory=dict)


@dataclass
class PartitionRows:
    """What a partition's records leave: the rows to store, the changelog records to
    write (a row handled again is written to the changelog alone), and each order's
    version as it stands, for the records after it."""

    rows: dict[bytes, bytes] = field(default_factory=dict)
    changelog: dict[bytes, bytes] = field(default_factory=dict)
    versions: dict[bytes, int] = field(default_factory=dict)


def outcome_fields(
    record: ConsumerRecord, event: OrderEvent, held: int, outcome: Outcome
) -> dict[str, object]:
    """What the line about a duplicate or a gap says (built only for those lines)."""
    return {
        "orderId": event.orderId,
        "eventId": event.eventId,
        "version": event.version,
        "heldVersion": held,
        "outcome": outcome.value,
        **position(record),
    }


def applied_line(event: OrderEvent, row: ShippedOrder, offset: int) -> dict[str, object]:
    """What the batch's log line says of one applied event."""
    return {
        "orderId": event.orderId,
        "version": event.version,
        "eventType": event.eventType.value,
        "orderStatus": row.order.status.value,
        "totalAmount": str(row.order.totalAmount),
        "currency": row.order.currency,
        "shippingCost": str(row.shippingCost),
        "offset": offset,
    }


class Projection:
    def __init__(
        self,
        sink: TableSink,
        events_format: ValueFormat,
        dead_letters: faust.TopicT,
        version_waits: VersionWaits,
        metrics: ServiceMetrics,
        service: str,
    ) -> None:
        self.sink = sink
        self.events_format = events_format
        self.dead_letters = dead_letters
        self.version_waits = version_waits
        self.metrics = metrics
        self.service = service

    async def apply(self, batches: Mapping[TopicPartition, list[ConsumerRecord]]) -> AppliedBatch:
        """Apply every partition's records; what they wrote, for the committer."""
        batch = AppliedBatch()
        for tp, records in batches.items():
            applied, left = [], PartitionRows()
            for record in records:
                try:
                    event = await read_order_record(OrderEvent, record, self.events_format)
                    line = self._apply(record, event, left)
                except Exception as exc:  # whatever the record holds: it stops nothing
                    batch.dead_letters.append(await self._dead_letter(record, exc))
                    continue
                if line is not None:
                    applied.append(line)
            batch.changelog += await self.sink.write(tp.partition, left.rows, left.changelog)
            self.version_waits.written(left.versions)
            self.metrics.events_applied.inc(len(applied))
            if applied:
                logger.info(
                    "order events applied",
                    extra={"topic": tp.topic, "partition": tp.partition, "orders": applied},
                )
            batch.offsets[tp] = records[-1].offset + 1
        return batch

    def _apply(
        self, record: ConsumerRecord, event: OrderEvent, left: PartitionRows
    ) -> dict[str, object] | None:
        """What ``event`` leaves for its order's row, in ``left``; the log line of the event
        if it was applied.  Nothing is written here: a record that breaks anything on the
        way is dead-lettered with nothing of it stored."""
        key = event.orderId.encode()
        held = self._held_version(record.partition, key, left)
        shipped = apply(event, held)
        if shipped.row is None:
            self.metrics.duplicates_skipped.inc()
            logger.info(
                "duplicate event skipped",
                extra=outcome_fields(record, event, held, shipped.outcome),
            )
            if event.version == held and key not in left.changelog:
                # Maybe handled again after a crash: the store kept the row, but
                # its changelog record may have been lost with the process.
                row = self.sink.row(record.partition, key)
                if row is not None:
                    left.changelog[key] = row
            return None
        if shipped.outcome is Outcome.APPLIED_AFTER_GAP:
            self.metrics.version_gaps.inc()
            logger.warning(
                "version gap: the snapshot is applied",
                extra=outcome_fields(record, event, held, shipped.outcome),
            )
        # Encoded once, for the store and the changelog record alike.
        left.rows[key] = left.changelog[key] = dumps(shipped.row)
        left.versions[key] = event.version
        return applied_line(event, shipped.row, record.offset)

    def _held_version(self, partition: int, key: bytes, left: PartitionRows) -> int:
        """The version of the order as the records before this one leave it (0: none)."""
        if key in left.versions:
            return left.versions[key]
        row = self.sink.row(partition, key)
        return 0 if row is None else int(orjson.loads(row)["version"])

    async def _dead_letter(self, record: ConsumerRecord, error: Exception) -> asyncio.Future:
        sent = await hand_over(
            lambda: self.dead_letters.send(
                key=record.key,
                value=record.value,
                headers=dead_letter_headers(record, error, self.service),
            ),
            {"writing": "dead letter", **position(record)},
        )
        self.metrics.dead_lettered.inc()
        logger.error(
            "dead-lettered",
            extra={**position(record), "key": repr(record.key), "reason": str(error)},
        )
        return sent
