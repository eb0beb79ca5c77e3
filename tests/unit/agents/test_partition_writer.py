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
from agents.cart_orders import NEXT_KEPT_OFFSET_KEY, CartOrders
from agents.partition_writer import PartitionWriter, WriterClosed
from infra.kafka_connection import KafkaConnection
from infra.metrics import ServiceMetrics
from infra.value_formats import JSON_FORMAT
from models.codec import loads
from models.commands import CommandReply, OrderCommand, Outcome
from models.events import OrderEvent
from models.status import OrderStatus
from tests.unit.factories import (
    make_create_command,
    make_item,
    make_order,
    make_update_command,
)

PARTITION = 3
DEADLINE = 2.0
KEY_LIFETIME = 24 * 3600.0


class AcknowledgingProducer:
    """Takes every event and kept answer; acknowledges them in order while
    ``acknowledging`` is set."""

    def __init__(self) -> None:
        self.sent: list[tuple[OrderEvent, bytes]] = []
        self.headers: list[tuple[str, bytes]] = []
        self.kept: list[tuple[bytes, bytes]] = []
        self.acknowledging = asyncio.Event()
        self.acknowledging.set()
        self.failing = False
        self._unacknowledged: list[tuple[asyncio.Future[RecordMetadata], str, int]] = []

    async def publish(
        self, partition: int, event: OrderEvent, payload: bytes, header: tuple[str, bytes]
    ) -> asyncio.Future[RecordMetadata]:
        assert partition == PARTITION
        self.sent.append((event, payload))
        self.headers.append(header)
        return self._written("order-events", len(self.sent) - 1)

    async def keep_answer(
        self, partition: int, key: bytes, kept: bytes
    ) -> asyncio.Future[RecordMetadata]:
        assert partition == PARTITION
        self.kept.append((key, kept))
        return self._written("order-idempotency-keys", len(self.kept) - 1)

    def _written(self, topic: str, offset: int) -> asyncio.Future[RecordMetadata]:
        written: asyncio.Future[RecordMetadata] = asyncio.get_running_loop().create_future()
        if self.failing:
            written.set_exception(KafkaTimeoutError("no acknowledgement"))
        elif self.acknowledging.is_set():
            written.set_result(self._metadata(topic, offset))
        else:
            self._unacknowledged.append((written, topic, offset))
        return written

    def acknowledge_all(self) -> None:
        for written, topic, offset in self._unacknowledged:
            written.set_result(self._metadata(topic, offset))
        self._unacknowledged.clear()
        self.acknowledging.set()

    @staticmethod
    def _metadata(topic: str, offset: int) -> RecordMetadata:
        return RecordMetadata(topic, PARTITION, TopicPartition(topic, PARTITION), offset, -1, 0, 0)


@pytest.fixture
def orders(tmp_path: Path):
    table = CartOrders(
        tmp_path,
        "order-events",
        "order-idempotency-keys",
        JSON_FORMAT,
        KafkaConnection("127.0.0.1:1"),
    )
    yield table
    table.close()


@pytest.fixture
def producer() -> AcknowledgingProducer:
    return AcknowledgingProducer()


def make_writer(
    orders: CartOrders,
    producer: AcknowledgingProducer,
    lease_held: bool = True,
    key_lifetime: float = KEY_LIFETIME,
) -> PartitionWriter:
    return PartitionWriter(
        PARTITION,
        orders,
        lambda event: JSON_FORMAT.encode(event.to_wire()),
        producer.publish,
        producer.keep_answer,
        lambda: lease_held,
        ServiceMetrics(),
        max_in_flight=100,
        delivery_timeout=DEADLINE,
        key_lifetime=key_lifetime,
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


def keyed(command: OrderCommand, key: str | None, request_hash: str = "request-1") -> OrderCommand:
    return command.model_copy(update={"idempotencyKey": key, "requestHash": request_hash})


async def test_a_create_sent_again_with_its_key_is_answered_again_and_publishes_nothing(
    writer, producer
):
    order = make_order("ORD-1")
    first = await answered(writer.submit(keyed(make_create_command(order, "cmd-1"), "key-1")))
    # The second attempt draws other random items: the request, not the order, is the same.
    again = keyed(make_create_command(make_order("ORD-1", items=[make_item()]), "cmd-2"), "key-1")

    replayed = await answered(writer.submit(again))

    assert (first.outcome, first.replayed) == (Outcome.CREATED, False)
    assert (replayed.outcome, replayed.replayed) == (Outcome.CREATED, True)
    assert (replayed.order, replayed.version, replayed.commandId) == (order, 1, "cmd-2")
    assert len(producer.sent) == 1
    assert loads(producer.headers[0][1]) == {"key": "key-1", "requestHash": "request-1"}


async def test_a_key_sent_with_another_request_is_refused_and_decides_nothing(writer, producer):
    await answered(writer.submit(keyed(make_create_command(make_order("ORD-1")), "key-1")))
    update = keyed(make_update_command("ORD-1", OrderStatus.PENDING), "key-1", "request-2")

    refused = await answered(writer.submit(update))

    assert refused.outcome is Outcome.KEY_REUSED
    assert "key-1" in refused.detail
    assert len(producer.sent) == 1


async def test_a_key_sent_again_while_its_first_answer_is_in_flight_waits_for_it(writer, producer):
    producer.acknowledging.clear()
    command = keyed(make_create_command(make_order("ORD-1"), "cmd-1"), "key-1")
    first = writer.submit(command)
    second = writer.submit(command.model_copy(update={"commandId": "cmd-2"}))
    await asyncio.sleep(0.05)

    assert not first.done()
    assert not second.done()  # not answered before the first answer is durable
    producer.acknowledge_all()
    assert (await answered(first)).replayed is False
    assert (await answered(second)).replayed is True
    assert len(producer.sent) == 1


async def test_an_answer_that_changed_nothing_is_kept_under_a_clients_key_only(
    writer, orders, producer
):
    await answered(writer.submit(make_create_command(make_order("ORD-1"), "cmd-1")))
    duplicate = make_create_command(make_order("ORD-1"), "cmd-2")

    keyless = await answered(writer.submit(duplicate))
    with_key = await answered(writer.submit(keyed(duplicate, "key-9")))
    again = await answered(writer.submit(keyed(duplicate, "key-9")))

    assert [r.outcome for r in (keyless, with_key, again)] == [Outcome.ALREADY_EXISTS] * 3
    assert again.replayed is True
    ((key, _),) = producer.kept  # only the answer to the client's key went to Kafka
    assert key == b"\x01ORD-1\x00key-9"
    assert orders.partition(PARTITION).next_offset(NEXT_KEPT_OFFSET_KEY) == 1


async def test_a_create_answered_without_a_key_replays_under_its_command_id(writer, producer):
    created = await answered(writer.submit(keyed(make_create_command(), None)))
    resent = keyed(make_create_command(command_id="cmd-after-504"), created.commandId)

    replayed = await answered(writer.submit(resent))

    assert (replayed.outcome, replayed.replayed) == (Outcome.CREATED, True)
    assert len(producer.sent) == 1


async def test_an_answer_older_than_the_keys_lifetime_is_not_replayed(orders, producer):
    writer = make_writer(orders, producer, key_lifetime=0.0)
    try:
        command = keyed(make_create_command(make_order("ORD-1")), "key-1")
        await answered(writer.submit(command))
        await asyncio.sleep(0.01)

        later = await answered(writer.submit(command.model_copy(update={"commandId": "cmd-2"})))
    finally:
        await asyncio.wait_for(writer.drain(), DEADLINE)

    assert (later.outcome, later.replayed) == (Outcome.ALREADY_EXISTS, False)
