"""The order service's projector: every order event into ``shipped_orders_by_id``.

The rule is :mod:`agents.shipping`; a fetched batch is applied by
:class:`agents.projection.Projection`.  This module runs them: which
partitions to read, the fetch loop, and the committer that commits offsets
only past what Kafka has acknowledged.
"""

import asyncio
import logging
from collections.abc import Mapping
from typing import Any

import faust
from aiokafka import AIOKafkaConsumer, ConsumerRecord, TopicPartition
from aiokafka.errors import KafkaError
from aiokafka.structs import RecordMetadata
from faust.types import TP
from mode import Service

from agents.hand_over import WritesNotAcknowledged, acknowledged
from agents.projection import AppliedBatch, Projection
from agents.table_sink import ChangelogWrite
from agents.worker_exit import exit_to_reprocess
from infra.kafka_connection import KafkaConnection, stop_consumer
from infra.kafka_metadata import wait_for_kafka
from infra.metrics import ServiceMetrics
from infra.topics import OrderTopics, projector_group
from infra.transport import FETCH_MAX_WAIT_MS, STARTUP_WAIT_SECONDS

logger = logging.getLogger(__name__)

#: How long one fetch waits for records (and so how soon a revoke is noticed).
POLL_MS = 200
#: Batches applied but not yet committed; the fetch loop waits beyond that.
COMMIT_QUEUE = 8


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
        shipped_orders_by_id: faust.Table,
        metrics: ServiceMetrics,
        kafka: KafkaConnection,
        projection: Projection,
        *,
        max_records: int,
        delivery_timeout: float,
        **kwargs: Any,
    ) -> None:
        self.app = app
        self.topics = topics
        self.shipped_orders_by_id = shipped_orders_by_id
        self.metrics = metrics
        self.kafka = kafka
        self.max_records = max_records
        self.delivery_timeout = delivery_timeout
        self.projection = projection
        self.sink = projection.sink
        self.events_topic = topics.event_records.get_topic_name()
        self.changelog_topic = shipped_orders_by_id.changelog_topic.get_topic_name()
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
                await self.project(batches)
            finally:
                self._idle.set()

    async def on_stop(self) -> None:
        if self._consumer is not None:
            await stop_consumer(self._consumer)
        await self.sink.stop()

    async def project(self, batches: Mapping[TopicPartition, list[ConsumerRecord]]) -> None:
        """Apply a fetched batch; its writes and offsets go to the committer, in order."""
        await self._to_commit.put(await self.projection.apply(batches))

    async def commit_applied(self, consumer: AIOKafkaConsumer) -> None:
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
            await self.commit_applied(self._consumer)

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
