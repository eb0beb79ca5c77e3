"""The order service's projector: every order event into ``orders_by_id``.

Each event carries the full order after the change, so applying it is
replacing the row — if the event is newer than the row.  An older or equal
version is a duplicate (a producer retry, or a command handled again after a
crash) and is skipped.  A version further ahead than the next one means
events were lost upstream: the snapshot is still complete, so it is applied,
and the gap is logged as a warning for an operator.

A record that cannot be decoded or validated goes, untouched, to the
dead-letter topic with the reason in its headers, and the stream goes on:
one bad record must not stop every order behind it in its partition.
"""

import asyncio
import logging
from collections.abc import Mapping
from dataclasses import dataclass, field
from enum import StrEnum
from typing import Any

import faust
import orjson
from aiokafka import AIOKafkaConsumer, ConsumerRecord, TopicPartition
from aiokafka.errors import KafkaError
from aiokafka.structs import RecordMetadata
from faust.types import TP
from mode import Service

from agents.hand_over import WritesNotAcknowledged, acknowledged, hand_over
from agents.table_sink import ChangelogWrite, TableSink
from agents.version_waits import VersionWaits
from agents.worker_exit import exit_to_reprocess
from infra.dead_letters import dead_letter_headers, position
from infra.kafka_connection import KafkaConnection
from infra.kafka_metadata import wait_for_kafka
from infra.metrics import ServiceMetrics
from infra.topics import OrderTopics, projector_group
from infra.transport import FETCH_MAX_WAIT_MS, STARTUP_WAIT_SECONDS
from infra.value_formats import ValueFormat, read_order_record
from models.codec import dumps
from models.events import OrderEvent
from models.money import shipping_cost
from models.state import ShippedOrder

logger = logging.getLogger(__name__)

#: How long one fetch waits for records (and so how soon a revoke is noticed).
POLL_MS = 200
#: Batches applied but not yet committed; the fetch loop waits beyond that.
COMMIT_QUEUE = 8


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


class Applied(StrEnum):
    NEXT = "next"
    AFTER_GAP = "after_gap"
    DUPLICATE = "duplicate"


def classify(event: OrderEvent, held: int) -> Applied:
    """How ``event`` relates to the version of its order held (0: none)."""
    if event.version <= held:
        return Applied.DUPLICATE
    return Applied.NEXT if event.version == held + 1 else Applied.AFTER_GAP


def project(event: OrderEvent) -> ShippedOrder:
    order = event.order
    return ShippedOrder(
        order=order, version=event.version, shippingCost=shipping_cost(order.totalAmount)
    )


def outcome_fields(
    record: ConsumerRecord, event: OrderEvent, held: int, applied: Applied
) -> dict[str, object]:
    """What the line about a duplicate or a gap says (built only for those lines)."""
    return {
        "orderId": event.orderId,
        "eventId": event.eventId,
        "version": event.version,
        "heldVersion": held,
        "outcome": applied.value,
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


class Projector(Service):
    """Every record of ``order-events`` of the partitions this worker owns, into the table.

    Faust assigns the table's partitions (and so ownership, routing of
    ``/order-details``, recovery and standbys); the projector reads the same
    partitions of ``order-events`` with a plain aiokafka consumer outside any
    group, in batches: decode, apply, dead-letter what cannot be used, one
    log line per partition batch.  Beside the fetch loop, a committer takes
    what was applied, in order, waits for its changelog and DLQ writes and
    only then commits the offsets (in :func:`~infra.topics.projector_group`),
    so the loop never waits for Kafka's acknowledgements.  Faust's own stream
    is not used: its per-record machinery was the ceiling, and in a rebalance
    it lost records of taken-over partitions.

    On a revoke the batch in hand is applied and everything applied is
    committed before Faust hands the partitions on; once recovery has
    completed, the projector takes up the partitions Faust assigned, from
    their committed offsets.
    """

    def __init__(
        self,
        app: faust.App,
        topics: OrderTopics,
        orders_by_id: faust.Table,
        metrics: ServiceMetrics,
        events_format: ValueFormat,
        kafka: KafkaConnection,
        sink: TableSink,
        version_waits: VersionWaits,
        *,
        max_records: int,
        delivery_timeout: float,
        **kwargs: Any,
    ) -> None:
        self.app = app
        self.topics = topics
        self.orders_by_id = orders_by_id
        self.metrics = metrics
        self.events_format = events_format
        self.kafka = kafka
        self.max_records = max_records
        self.delivery_timeout = delivery_timeout
        self.sink = sink
        self.version_waits = version_waits
        self.events_topic = topics.event_records.get_topic_name()
        self.changelog_topic = orders_by_id.changelog_topic.get_topic_name()
        #: Set when Faust's recovery completed and the assignment is to be taken up.
        self._assignment_changed = asyncio.Event()
        #: Clear while a batch is being handled.
        self._idle = asyncio.Event()
        self._idle.set()
        self._revoked = False
        self._consumer: AIOKafkaConsumer | None = None
        #: The offset committed last, per partition projected now.
        self._committed: dict[TopicPartition, int] = {}
        #: Applied records whose writes and offsets the committer has yet to see through.
        self._to_commit: asyncio.Queue[AppliedBatch] = asyncio.Queue(COMMIT_QUEUE)
        super().__init__(**kwargs)
        metrics.report_lag(self.lag)
        app.on_partitions_revoked.connect(self._on_partitions_revoked)
        app.on_rebalance_complete.connect(self._on_rebalance_complete)

    def lag(self) -> dict[tuple[str, int], int]:
        """Records of each projected partition not yet committed (as far as fetched)."""
        consumer = self._consumer
        if consumer is None:
            return {}
        return {
            (tp.topic, tp.partition): max(end - self._committed.get(tp, 0), 0)
            for tp in consumer.assignment()
            if (end := consumer.highwater(tp)) is not None
        }

    async def _on_partitions_revoked(self, sender: object, revoked: set[TP], **_: Any) -> None:
        # Awaited by the rebalance: nothing is written after this returns.
        self._revoked = True
        try:
            async with asyncio.timeout(self.delivery_timeout):
                await self._idle.wait()
                await self._to_commit.join()
        except TimeoutError:
            logger.warning("revoked while applied records still wait for Kafka")

    async def _on_rebalance_complete(self, sender: object, **_: Any) -> None:
        self._assignment_changed.set()

    def _owned_partitions(self) -> list[TopicPartition]:
        return sorted(
            TopicPartition(self.events_topic, tp.partition)
            for tp in self.app.assignor.assigned_actives()
            if tp.topic == self.changelog_topic
        )

    async def _take_up_assignment(self, consumer: AIOKafkaConsumer) -> None:
        self._assignment_changed.clear()
        self._revoked = False
        owned = self._owned_partitions()
        consumer.assign(owned)
        self._committed = {}
        for tp in owned:
            committed = await consumer.committed(tp)
            if committed is None:
                await consumer.seek_to_beginning(tp)
            else:
                consumer.seek(tp, committed)
                self._committed[tp] = committed
        logger.info(
            "projecting partitions",
            extra={"topic": self.events_topic, "partitions": [tp.partition for tp in owned]},
        )

    @Service.task
    async def _project(self) -> None:
        consumer = AIOKafkaConsumer(
            **self.kafka.client_options(),
            group_id=projector_group(self.app.conf.id),
            enable_auto_commit=False,
            auto_offset_reset="earliest",
            max_poll_records=self.max_records,
            fetch_max_wait_ms=FETCH_MAX_WAIT_MS,
        )
        await wait_for_kafka(self.kafka, STARTUP_WAIT_SECONDS)
        await self.sink.start()
        await consumer.start()
        self._consumer = consumer
        while not self.should_stop:
            if self._assignment_changed.is_set():
                try:
                    await self._take_up_assignment(consumer)
                except KafkaError as exc:  # the committed offsets could not be read
                    logger.warning("cannot take up the partitions yet", extra={"error": repr(exc)})
                    self._assignment_changed.set()
                    await self.sleep(1.0)
                    continue
            if self._revoked or not consumer.assignment():
                if self._revoked:
                    await self._to_commit.join()  # commits need the partitions assigned
                    consumer.assign([])
                await self.wait_first(self._assignment_changed.wait())
                continue
            batches = await consumer.getmany(timeout_ms=POLL_MS)
            if not batches or self._revoked:
                continue  # records of a revoked partition are its next owner's
            self._idle.clear()
            try:
                await self._handle(consumer, batches)
            finally:
                self._idle.set()

    async def on_stop(self) -> None:
        if self._consumer is not None:
            await self._consumer.stop()
        await self.sink.stop()

    async def _handle(
        self, consumer: AIOKafkaConsumer, batches: Mapping[TopicPartition, list[ConsumerRecord]]
    ) -> None:
        """Apply every partition's records; their writes and offsets go to the committer."""
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
        await self._to_commit.put(batch)

    async def _commit_applied(self, consumer: AIOKafkaConsumer) -> None:
        """Commit what was applied, in order, once Kafka has its writes.

        Takes everything queued: the fetch loop goes on meanwhile, so records
        that arrive during the wait are applied without waiting for it.
        """
        done = [await self._to_commit.get()]
        while not self._to_commit.empty():
            done.append(self._to_commit.get_nowait())
        offsets: dict[TopicPartition, int] = {}
        changelog: list[ChangelogWrite] = []
        writes: list[asyncio.Future[RecordMetadata]] = []
        for each in done:
            offsets.update(each.offsets)  # in order: the last is the furthest
            changelog += each.changelog
            writes += [write.written for write in each.changelog] + each.dead_letters
        await self._written(offsets, writes)
        self.sink.persist(changelog)
        try:
            await consumer.commit(offsets)
            self._committed.update(offsets)
        except KafkaError as exc:  # handled again after a restart: duplicates are skipped
            logger.warning(
                "offsets not committed",
                extra={"offsets": {str(tp): o for tp, o in offsets.items()}, "error": repr(exc)},
            )
        for _ in done:
            self._to_commit.task_done()

    @Service.task
    async def _commit(self) -> None:
        while self._consumer is None:
            await self.sleep(0.1)
        while not self.should_stop:
            await self._commit_applied(self._consumer)

    def _apply(
        self, record: ConsumerRecord, event: OrderEvent, left: PartitionRows
    ) -> dict[str, object] | None:
        """What ``event`` leaves for its order's row, in ``left``; the log line of the event
        if it was applied.  Nothing is written here: a record that breaks anything on the
        way is dead-lettered with nothing of it stored."""
        key = event.orderId.encode()
        held = self._held_version(record.partition, key, left)
        applied = classify(event, held)
        if applied is Applied.DUPLICATE:
            self.metrics.duplicates_skipped.inc()
            logger.info(
                "duplicate event skipped", extra=outcome_fields(record, event, held, applied)
            )
            if event.version == held and key not in left.changelog:
                # Maybe handled again after a crash: the store kept the row, but
                # its changelog record may have been lost with the process.
                row = self.sink.row(record.partition, key)
                if row is not None:
                    left.changelog[key] = row
            return None
        if applied is Applied.AFTER_GAP:
            self.metrics.version_gaps.inc()
            logger.warning(
                "version gap: the snapshot is applied",
                extra=outcome_fields(record, event, held, applied),
            )
        row = project(event)
        # Encoded once, for the store and the changelog record alike.
        left.rows[key] = left.changelog[key] = dumps(row)
        left.versions[key] = event.version
        return applied_line(event, row, record.offset)

    def _held_version(self, partition: int, key: bytes, left: PartitionRows) -> int:
        """The version of the order as the records before this one leave it (0: none)."""
        if key in left.versions:
            return left.versions[key]
        row = self.sink.row(partition, key)
        return 0 if row is None else int(orjson.loads(row)["version"])

    async def _dead_letter(self, record: ConsumerRecord, error: Exception) -> asyncio.Future:
        sent = await hand_over(
            lambda: self.topics.dead_letters.send(
                key=record.key,
                value=record.value,
                headers=dead_letter_headers(record, error, self.app.conf.id),
            ),
            {"writing": "dead letter", **position(record)},
        )
        self.metrics.dead_lettered.inc()
        logger.error(
            "dead-lettered",
            extra={**position(record), "key": repr(record.key), "reason": str(error)},
        )
        return sent

    async def _written(
        self, offsets: Mapping[TopicPartition, int], writes: list[asyncio.Future[RecordMetadata]]
    ) -> list[RecordMetadata]:
        """Kafka's acknowledgements of every write, once it has them all; else stop the worker."""
        try:
            return await acknowledged(writes, self.delivery_timeout)
        except WritesNotAcknowledged as exc:
            exit_to_reprocess(
                "changelog or dead-letter writes of applied records not acknowledged",
                {
                    "topic": self.events_topic,
                    "uncommittedUpTo": {tp.partition: o for tp, o in offsets.items()},
                    "error": str(exc),
                },
            )
