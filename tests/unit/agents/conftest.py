"""Both agents in Faust's ``agent.test_context()``: no broker, in-memory tables.

faust-streaming 0.15.3 has no ``memory://`` transport (its registry holds
aiokafka, confluent, kafka, plus our kafka-idempotent), and a Topic's
``send`` needs a started producer.  So the apps point at a closed port that
is never contacted, tables use ``memory://`` stores, and the agents' sink
topics (events, replies, dead letters) are swapped for in-memory Faust
channels: ``Channel.send`` returns a FutureMessage resolved with
RecordMetadata, so the agents' "await the acknowledgement" path runs as is.
"""

import asyncio
from collections.abc import AsyncIterator, Callable
from contextlib import asynccontextmanager
from dataclasses import dataclass, replace
from pathlib import Path
from typing import Any

import faust
import pytest
from aiokafka import ConsumerRecord, TopicPartition
from aiokafka.structs import RecordMetadata

from agents.projection import Projection
from agents.projector import Projector
from agents.table_sink import TableSink
from agents.version_waits import VersionWaits
from app.factory import shipped_orders_table, value_formats
from app.settings import OrdersSettings
from infra.kafka_connection import KafkaConnection
from infra.metrics import ServiceMetrics
from infra.topics import declare_topics
from infra.value_formats import JsonFormat
from models import codec
from models.events import OrderEvent
from models.state import ShippedOrder

DEADLINE = 2.0
PARTITION_0 = TopicPartition("order-events", 0)

#: Wraps the events sink channel, e.g. to make its sends fail.
SinkWrapper = Callable[[faust.ChannelT], Any]


def build_app(app_id: str, **conf: Any) -> faust.App:
    codec.register()
    # Port 1 is closed: were anything to reach for a broker, it would fail fast.
    return faust.App(
        app_id, broker="kafka://127.0.0.1:1", autodiscover=False, **{"store": "memory://", **conf}
    )


@asynccontextmanager
async def testing(agent: faust.types.AgentT) -> AsyncIterator[Any]:
    """``agent.test_context()``, then close what Faust built but never started."""
    try:
        async with agent.test_context() as tested:
            yield tested
    finally:
        # Iterating a stream makes Faust build ``app.consumer``, whose aiokafka
        # thread owns an event loop; it never runs here, so close it ourselves.
        consumer = agent.app._consumer
        if consumer is not None:
            consumer._thread.thread_loop.close()


async def received(subscription: Any) -> faust.EventT:
    return await asyncio.wait_for(anext(subscription), DEADLINE)


async def until(condition: Callable[[], bool]) -> None:
    """Poll ``condition`` until it holds, failing at the deadline.

    Tables and call counters have no event to wait on, hence the polling.
    """
    async with asyncio.timeout(DEADLINE):
        while not condition():  # noqa: ASYNC110 - nothing to wait on but the state itself
            await asyncio.sleep(0.005)


def as_record(event: OrderEvent) -> tuple[bytes, bytes]:
    """The key and value of the ``order-events`` record of ``event``."""
    return event.orderId.encode(), codec.dumps(event.to_wire())


class Commits:
    """Stands in for the projector's consumer where a batch ends: its commits."""

    def __init__(self) -> None:
        self.offsets: dict[TopicPartition, int] = {}

    async def commit(self, offsets: dict[TopicPartition, int]) -> None:
        self.offsets.update(offsets)


class AcknowledgingProducer:
    """Stands in for the sink's producer: Kafka acknowledges every record at once, at the
    next offset of its partition."""

    def __init__(self) -> None:
        self.offsets: dict[TopicPartition, int] = {}
        self.records: list[tuple[bytes, bytes]] = []

    async def start(self) -> None: ...

    async def stop(self) -> None: ...

    async def send(
        self, topic: str, value: bytes, *, key: bytes, partition: int
    ) -> asyncio.Future[RecordMetadata]:
        self.records.append((key, value))
        tp = TopicPartition(topic, partition)
        offset = self.offsets[tp] = self.offsets.get(tp, -1) + 1
        written = asyncio.get_running_loop().create_future()
        written.set_result(RecordMetadata(topic, partition, tp, offset, -1, 0, 0))
        return written


@dataclass
class OrdersHarness:
    projector: Projector
    shipped_orders_by_id: faust.Table
    metrics: ServiceMetrics
    dead_letters: Any
    commits: Commits
    changelog: AcknowledgingProducer
    offset: int = 0

    async def consume(self, *records: tuple[bytes | None, bytes | None]) -> None:
        """Hand ``(key, value)`` records of partition 0 to the projector as one batch."""
        batch = []
        for key, value in records:
            batch.append(
                ConsumerRecord(
                    "order-events",
                    0,
                    self.offset,
                    0,
                    0,
                    key,
                    value,
                    None,
                    0,
                    0,
                    [("eventType", b"OrderCreated")],
                )
            )
            self.offset += 1
        await self.projector.project({PARTITION_0: batch})
        await self.projector.commit_applied(self.commits)

    async def apply(self, *events: OrderEvent) -> None:
        await self.consume(*(as_record(event) for event in events))

    async def next_dead_letter(self) -> faust.EventT:
        return await received(self.dead_letters)

    def counted(self, metric: str) -> float:
        return self.metrics.registry.get_sample_value(metric) or 0.0


@pytest.fixture
async def orders(tmp_path: Path) -> OrdersHarness:
    settings = OrdersSettings(topic_partitions=6)
    # The service's store: the projector writes rows as the encoded bytes RocksDB keeps.
    app = build_app("orders-test", store="rocksdb://", datadir=tmp_path)
    shipped_orders_by_id = shipped_orders_table(app, ShippedOrder, settings)
    # No producer runs here: every changelog write is acknowledged at once.
    changelog = AcknowledgingProducer()
    metrics = ServiceMetrics()
    app.flow_control.resume()  # a channel's put waits while the (unstarted) app's flow is off
    dead_letters = app.channel()
    sinks = replace(
        declare_topics(app, settings.topic_partitions, 1, value_formats(settings, None)),
        dead_letters=dead_letters,
    )
    projection = Projection(
        TableSink(shipped_orders_by_id, lambda: changelog),
        JsonFormat(),
        dead_letters,
        VersionWaits(),
        metrics,
        service="orders-test",
    )
    projector = Projector(
        app,
        sinks,
        shipped_orders_by_id,
        metrics,
        KafkaConnection("127.0.0.1:1"),
        projection,
        max_records=settings.max_records_per_batch,
        delivery_timeout=DEADLINE,
    )
    await projector.sink.start()
    return OrdersHarness(
        projector, shipped_orders_by_id, metrics, aiter(dead_letters), Commits(), changelog
    )
