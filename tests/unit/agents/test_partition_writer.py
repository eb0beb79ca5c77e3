"""The single writer of a partition: decides in order, answers only what Kafka has.

The writer runs as in the service, on a real RocksDB store; what stands in
for the producer acknowledges each event when the test says so.
"""

import asyncio
import logging
from pathlib import Path

import pytest
from aiokafka.errors import KafkaTimeoutError
from aiokafka.structs import RecordMetadata, TopicPartition

import agents.worker_exit
from agents.cart_orders import CartOrders
from agents.partition_writer import PartitionWriter, WriterClosed
from infra.kafka_connection import KafkaConnection
from infra.metrics import ServiceMetrics
from infra.value_formats import JSON_FORMAT
from models.commands import CommandReply, Outcome
from models.events import OrderEvent
from models.status import OrderStatus
from tests.unit.factories import make_create_command, make_order, make_update_command

PARTITION = 3
DEADLINE = 2.0


class AcknowledgingProducer:
    """Takes every event; acknowledges them in order while ``acknowledging`` is set."""

    def __init__(self) -> None:
        self.sent: list[tuple[OrderEvent, bytes]] = []
        self.acknowledging = asyncio.Event()
        self.acknowledging.set()
        self.failing = False
        self._unacknowledged: list[tuple[asyncio.Future[RecordMetadata], int]] = []

    async def publish(
        self, partition: int, event: OrderEvent, payload: bytes
    ) -> asyncio.Future[RecordMetadata]:
        assert partition == PARTITION
        written: asyncio.Future[RecordMetadata] = asyncio.get_running_loop().create_future()
        offset = len(self.sent)
        self.sent.append((event, payload))
        if self.failing:
            written.set_exception(KafkaTimeoutError("no acknowledgement"))
        elif self.acknowledging.is_set():
            written.set_result(self._metadata(offset))
        else:
            self._unacknowledged.append((written, offset))
        return written

    def acknowledge_all(self) -> None:
        for written, offset in self._unacknowledged:
            written.set_result(self._metadata(offset))
        self._unacknowledged.clear()
        self.acknowledging.set()

    @staticmethod
    def _metadata(offset: int) -> RecordMetadata:
        tp = TopicPartition("order-events", PARTITION)
        return RecordMetadata("order-events", PARTITION, tp, offset, -1, 0, 0)


@pytest.fixture
def orders(tmp_path: Path):
    table = CartOrders(tmp_path, "order-events", JSON_FORMAT, KafkaConnection("127.0.0.1:1"))
    yield table
    table.close()


@pytest.fixture
def producer() -> AcknowledgingProducer:
    return AcknowledgingProducer()


def make_writer(
    orders: CartOrders, producer: AcknowledgingProducer, lease_held: bool = True
) -> PartitionWriter:
    return PartitionWriter(
        PARTITION,
        orders,
        lambda event: JSON_FORMAT.encode(event.to_wire()),
        producer.publish,
        lambda: lease_held,
        ServiceMetrics(),
        max_in_flight=100,
        delivery_timeout=DEADLINE,
    )


@pytest.fixture
async def writer(orders, producer):
    writer = make_writer(orders, producer)
    yield writer
    await asyncio.wait_for(writer.drain(), DEADLINE)


async def answered(future: asyncio.Future[CommandReply]) -> CommandReply:
    return await asyncio.wait_for(future, DEADLINE)


async def test_a_create_is_published_stored_with_its_offset_and_answered(writer, orders, producer):
    order = make_order("ORD-1")

    reply = await answered(writer.submit(make_create_command(order, command_id="cmd-1")))

    assert (reply.outcome, reply.version, reply.order) == (Outcome.CREATED, 1, order)
    ((event, payload),) = producer.sent
    assert (event.orderId, event.version, event.order) == ("ORD-1", 1, order)
    assert await orders.event(PARTITION, "ORD-1") == event
    assert orders.partition(PARTITION).next_offset() == 1
    assert OrderEvent.from_wire(JSON_FORMAT.decode_cached(payload)) == event


async def test_commands_are_decided_in_order_against_the_decisions_in_flight(writer, producer):
    # Nothing is acknowledged (so nothing stored) while they are decided.
    producer.acknowledging.clear()
    commands = [
        make_create_command(make_order("ORD-1"), command_id="c-1"),
        make_update_command("ORD-1", OrderStatus.PENDING, command_id="u-1"),
        make_create_command(make_order("ORD-1"), command_id="c-2"),
        make_update_command("ORD-1", OrderStatus.SHIPPED, command_id="u-2"),
        make_update_command("ORD-1", OrderStatus.SHIPPED, command_id="u-2"),  # again
        make_update_command("ORD-2", OrderStatus.PENDING, command_id="u-3"),
    ]
    answers = [writer.submit(command) for command in commands]
    await asyncio.sleep(0.05)
    assert not any(answer.done() for answer in answers)  # a 2xx only once durable

    producer.acknowledge_all()
    replies = [await answered(answer) for answer in answers]

    assert [r.outcome for r in replies] == [
        Outcome.CREATED,
        Outcome.UPDATED,
        Outcome.ALREADY_EXISTS,
        Outcome.UPDATED,
        Outcome.UPDATED,  # its own event is the order's latest: answered again
        Outcome.NOT_FOUND,
    ]
    assert [event.version for event, _ in producer.sent] == [1, 2, 3]


async def test_a_stored_order_is_what_the_next_command_sees(writer):
    await answered(writer.submit(make_create_command(make_order("ORD-1"), command_id="c-1")))
    moved = await answered(
        writer.submit(make_update_command("ORD-1", OrderStatus.CONFIRMED, command_id="u-1"))
    )
    back = await answered(
        writer.submit(make_update_command("ORD-1", OrderStatus.PENDING, command_id="u-2"))
    )

    assert (moved.outcome, moved.version) == (Outcome.UPDATED, 2)
    assert back.outcome is Outcome.ILLEGAL_TRANSITION


class WorkerExit(BaseException):
    """Stands in for the process exit, which would end the test run."""


async def test_an_event_kafka_does_not_acknowledge_stops_the_worker_unanswered(
    orders, producer, monkeypatch
):
    exits: list[int] = []
    exited = asyncio.Event()

    def exit_now(status: int) -> None:
        exits.append(status)
        exited.set()
        raise WorkerExit

    monkeypatch.setattr(agents.worker_exit.os, "_exit", exit_now)
    monkeypatch.setattr(agents.worker_exit.logging, "shutdown", lambda: None)
    producer.failing = True
    writer = make_writer(orders, producer)

    answer = writer.submit(make_create_command(make_order("ORD-8")))
    await asyncio.wait_for(exited.wait(), DEADLINE)

    assert exits == [agents.worker_exit.EXIT_UNFINISHED]
    assert not answer.done()
    assert await orders.event(PARTITION, "ORD-8") is None
    assert orders.partition(PARTITION).next_offset() == 0


async def test_a_drained_writer_has_finished_everything_and_takes_nothing_more(
    orders, producer, caplog
):
    writer = make_writer(orders, producer)
    answers = [
        writer.submit(make_create_command(make_order(f"ORD-{n}"), command_id=f"c-{n}"))
        for n in range(20)
    ]

    with caplog.at_level(logging.INFO, logger="agents.partition_writer"):
        await asyncio.wait_for(writer.drain(), DEADLINE)

    assert all(answer.done() for answer in answers)
    assert orders.partition(PARTITION).next_offset() == 20
    with pytest.raises(WriterClosed):
        writer.submit(make_create_command(make_order("ORD-99")))
    # One line per completed batch names every order and its outcome.
    named = [
        c["orderId"] for r in caplog.records if r.msg == "commands decided" for c in r.commands
    ]
    assert sorted(named) == sorted(f"ORD-{n}" for n in range(20))


async def test_without_the_group_lease_nothing_is_published_and_the_answer_is_503(orders, producer):
    # A worker that cannot confirm it still owns the partition (paused past its
    # session, cut off from the coordinator) must not publish what it decides.
    writer = make_writer(orders, producer, lease_held=False)

    created = await answered(writer.submit(make_create_command(make_order("ORD-1"))))
    missing = await answered(writer.submit(make_update_command("ORD-2", OrderStatus.PENDING)))
    await asyncio.wait_for(writer.drain(), DEADLINE)

    assert created.outcome is Outcome.OWNERSHIP_UNCONFIRMED
    assert missing.outcome is Outcome.NOT_FOUND  # what publishes nothing is still answered
    assert producer.sent == []
    assert await orders.event(PARTITION, "ORD-1") is None
