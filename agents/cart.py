"""The cart's commands: one writer per partition this worker owns, reached directly or
through ``order-commands``.

A command for an order whose partition this worker owns goes straight into
that partition's writer (:mod:`agents.partition_writer`): no record, no
fetch.  A command for a partition another worker owns is written to
``order-commands`` (keyed by orderId) by the gateway
(:mod:`agents.command_gateway`); the owner's agent
(:mod:`agents.remote_commands`) reads it and hands it to its writer, and the
reply goes back through the reply path.  With one worker every command takes
the fast path.

Ownership is Faust's assignment of ``order-commands``.  On a rebalance every
writer of this worker stops taking commands and finishes what it holds before
the partitions are handed on; then the stores of the partitions assigned are
restored from ``order-events`` (:mod:`agents.cart_orders`) and their writers
start.  The fast path of a partition opens only once its agent has read every
command written to ``order-commands`` before (by other workers, or by this one
while the partition was not open): so the commands this worker takes for one
order are decided in the order they arrived.

Longer than most modules: ownership, the revoke that drains the writers and
the take-up that restores their stores are one state machine, read together.
"""

import asyncio
import logging
from dataclasses import dataclass, field
from typing import Any

import faust
from aiokafka import AIOKafkaConsumer, TopicPartition
from aiokafka.partitioner import murmur2
from aiokafka.structs import RecordMetadata
from faust.types import TP
from mode import Service

from agents.cart_orders import CartOrders
from agents.cart_producer import CartProducer
from agents.command_gateway import CommandGateway
from agents.partition_writer import PartitionWriter
from agents.worker_exit import exit_to_reprocess
from infra.group_lease import GroupLease
from infra.kafka_connection import KafkaConnection, stop_consumer
from infra.kafka_metadata import wait_for_kafka
from infra.metrics import ServiceMetrics
from infra.reachability import Dependencies
from infra.topics import OrderTopics
from infra.transport import STARTUP_WAIT_SECONDS
from infra.value_formats import ValueFormats
from models.commands import CommandReply, OrderCommand

logger = logging.getLogger(__name__)


def partition_of(order_id: str, partitions: int) -> int:
    """The partition Kafka's default partitioner (and so Faust's producer) gives the key."""
    return (murmur2(order_id.encode()) & 0x7FFFFFFF) % partitions


@dataclass
class Ownership:
    """What this worker knows of one partition it owns."""

    writer: PartitionWriter | None = None
    #: ``order-commands``: read by the agent up to here, and to be read up to here
    #: before the fast path opens (the end at assignment, or past the last remote send).
    read_up_to: int = 0
    read_before_opening: int = 0
    remote_sends_in_flight: int = 0
    restored: asyncio.Event = field(default_factory=asyncio.Event)

    @property
    def fast_path_open(self) -> bool:
        return (
            self.writer is not None
            and self.writer.open
            and self.remote_sends_in_flight == 0
            and self.read_up_to >= self.read_before_opening
        )


class CartWriters(Service):
    """The writers of the partitions this worker owns, kept in step with Faust's assignment."""

    def __init__(
        self,
        app: faust.App,
        topics: OrderTopics,
        orders: CartOrders,
        formats: ValueFormats,
        metrics: ServiceMetrics,
        kafka: KafkaConnection,
        lease: GroupLease,
        *,
        partitions: int,
        max_in_flight: int,
        delivery_timeout: float,
        key_lifetime: float,
        producer_options: dict[str, Any],
        **kwargs: Any,
    ) -> None:
        self.app = app
        self.topics = topics
        self.orders = orders
        self.metrics = metrics
        self.kafka = kafka
        self.lease = lease
        self.partitions = partitions
        self.max_in_flight = max_in_flight
        self.delivery_timeout = delivery_timeout
        self.key_lifetime = key_lifetime
        #: The events' and kept answers' own producer (Faust's sends the rest).
        self.producer = CartProducer(
            kafka,
            formats.events,
            topics.events.get_topic_name(),
            orders.kept_answers_topic,
            producer_options,
        )
        self.commands_topic = topics.command_records.get_topic_name()
        self.owned: dict[int, Ownership] = {}
        #: From a revoke until Faust's rebalance is complete: the assignment is not known.
        self._rebalancing = False
        #: An assignment was taken up (before the first, this worker owns nothing yet).
        self._taken_up = False
        #: Set when a completed rebalance's assignment is to be taken up.
        self._assignment_changed = asyncio.Event()
        super().__init__(**kwargs)
        app.on_partitions_revoked.connect(self._on_partitions_revoked)
        app.on_rebalance_complete.connect(self._on_rebalance_complete)

    @property
    def restored(self) -> bool:
        """Every partition assigned has its store restored and its writer started."""
        return (
            self._taken_up
            and not self._rebalancing
            and not self._assignment_changed.is_set()
            and all(each.restored.is_set() for each in self.owned.values())
        )

    def writer_for(self, order_id: str) -> PartitionWriter | None:
        """The writer of the order's partition if the fast path to it is open here."""
        owned = self.owned.get(partition_of(order_id, self.partitions))
        return owned.writer if owned is not None and owned.fast_path_open else None

    async def writer_of(self, partition: int) -> PartitionWriter:
        """The partition's writer once started (for the agent reading ``order-commands``)."""
        owned = self.owned.setdefault(partition, Ownership())
        await owned.restored.wait()
        assert owned.writer is not None
        return owned.writer

    def remote_send_started(self, order_id: str) -> object:
        """Told before a command is written to ``order-commands``; what to hand back when
        the write has ended (the partition's ownership as it stands, if this worker's)."""
        owned = self.owned.get(partition_of(order_id, self.partitions))
        if owned is not None:
            owned.remote_sends_in_flight += 1
        return owned

    def remote_send_ended(self, started: object, sent: RecordMetadata | None) -> None:
        if isinstance(started, Ownership):  # counted there, whatever happened since
            started.remote_sends_in_flight -= 1
            if sent is not None:
                started.read_before_opening = max(started.read_before_opening, sent.offset + 1)

    def remote_read(self, partition: int, offset: int) -> None:
        if (owned := self.owned.get(partition)) is not None:
            owned.read_up_to = max(owned.read_up_to, offset + 1)

    async def _on_partitions_revoked(self, sender: object, revoked: set[TP], **_: Any) -> None:
        # Awaited by the rebalance: nothing is decided here after this returns.
        self._rebalancing = True
        owned, self.owned = self.owned, {}
        for each in owned.values():
            if each.writer is not None:
                each.writer.open = False
        try:
            async with asyncio.timeout(self.delivery_timeout):
                for each in owned.values():
                    if each.writer is not None:
                        await each.writer.drain()
        except TimeoutError:
            exit_to_reprocess(
                "commands in flight not finished before the partitions were handed over",
                {"partitions": sorted(owned)},
            )

    async def _on_rebalance_complete(self, sender: object, **_: Any) -> None:
        self._rebalancing = False
        self._assignment_changed.set()

    @Service.task
    async def _take_up_assignments(self) -> None:
        while not self.should_stop:
            await self._assignment_changed.wait()
            self._assignment_changed.clear()
            assigned = sorted(
                tp.partition
                for tp in self.app.consumer.assignment()
                if tp.topic == self.commands_topic
            )
            try:
                await self._take_up(assigned)
            except Exception as exc:  # Kafka away: try again, /ready says not ready meanwhile
                logger.warning("cannot take up the partitions yet", extra={"error": repr(exc)})
                self._assignment_changed.set()
                await self.sleep(1.0)

    async def _take_up(self, partitions: list[int]) -> None:
        for partition in partitions:
            self.owned.setdefault(partition, Ownership())
        restored = await self.orders.restore(partitions)
        committed, ends = await self._command_offsets(partitions)
        for partition in partitions:
            owned = self.owned.get(partition)
            if self._rebalancing or owned is None:
                return  # another rebalance began: the take-up after it starts the writers
            owned.read_up_to = max(owned.read_up_to, committed[partition])
            owned.read_before_opening = max(owned.read_before_opening, ends[partition])
            owned.writer = PartitionWriter(
                partition,
                self.orders,
                self.producer.encode,
                self.producer.publish,
                self.producer.keep_answer,
                lambda: self.lease.held,
                self.metrics,
                max_in_flight=self.max_in_flight,
                delivery_timeout=self.delivery_timeout,
                key_lifetime=self.key_lifetime,
            )
            owned.restored.set()
        self._taken_up = True
        logger.info(
            "writing partitions",
            extra={
                "partitions": partitions,
                "eventsRead": restored.records,
                "rowsWritten": restored.rows,
                "recordsInvalid": restored.invalid,
            },
        )

    async def _command_offsets(
        self, partitions: list[int]
    ) -> tuple[dict[int, int], dict[int, int]]:
        """Per partition of ``order-commands``: the group's committed offset and the end."""
        tps = [TopicPartition(self.commands_topic, p) for p in partitions]
        consumer = AIOKafkaConsumer(
            **self.kafka.client_options(), group_id=self.app.conf.id, enable_auto_commit=False
        )
        await consumer.start()
        try:
            ends = await consumer.end_offsets(tps)
            committed = {tp.partition: (await consumer.committed(tp)) or 0 for tp in tps}
        finally:
            await stop_consumer(consumer)
        return committed, {tp.partition: end for tp, end in ends.items()}

    async def on_start(self) -> None:
        await wait_for_kafka(self.kafka, STARTUP_WAIT_SECONDS)
        await self.producer.start()

    async def on_stop(self) -> None:
        await self.producer.stop()
        self.orders.close()


class CartCommands:
    """Where a command goes: the writer of its partition here, else the worker that owns it."""

    def __init__(self, writers: CartWriters, gateway: CommandGateway, dependencies: Dependencies):
        self.writers = writers
        self.gateway = gateway
        self.dependencies = dependencies

    async def submit(self, command: OrderCommand) -> CommandReply:
        """The reply to ``command``: :class:`DependencyUnavailable` (nothing was done) while
        Kafka does not take writes, :class:`NoReplyInTime` past the deadline."""
        self.dependencies.require()
        writer = self.writers.writer_for(command.orderId)
        if writer is None:
            return await self.gateway.submit(command)
        return await self.gateway.answer(writer.submit(command), command)
