"""Integration tests: a real Kafka broker from local_kafka, driven with aiokafka.

They need Java 17+ and Maven (the first run downloads the Kafka jars, ~45 MB).
"""

from __future__ import annotations

import asyncio
import socket
from collections.abc import Iterator
from pathlib import Path

import pytest
from aiokafka import AIOKafkaConsumer, AIOKafkaProducer, TopicPartition
from aiokafka.admin import AIOKafkaAdminClient, NewTopic

from local_kafka import BrokerError, KafkaBroker
from local_kafka.probe import fetch_cluster_info

pytestmark = pytest.mark.integration

TOPIC = "order-events"
PARTITIONS = 6


@pytest.fixture
def broker(tmp_path: Path) -> Iterator[KafkaBroker]:
    with KafkaBroker(tmp_path / "kafka") as kafka:
        yield kafka


async def create_topic(bootstrap_servers: str) -> None:
    admin = AIOKafkaAdminClient(bootstrap_servers=bootstrap_servers)
    await admin.start()
    try:
        await admin.create_topics(
            [NewTopic(TOPIC, num_partitions=PARTITIONS, replication_factor=1)]
        )
    finally:
        await admin.close()


async def produce(bootstrap_servers: str, records: dict[str, str]) -> None:
    producer = AIOKafkaProducer(
        bootstrap_servers=bootstrap_servers, acks="all", enable_idempotence=True
    )
    await producer.start()
    try:
        for key, value in records.items():
            await producer.send_and_wait(TOPIC, key=key.encode(), value=value.encode())
    finally:
        await producer.stop()


async def consume_as_group(
    bootstrap_servers: str, group_id: str, count: int
) -> tuple[dict[str, str], dict[int, int]]:
    """Read ``count`` records as a consumer group member and commit them.

    Returns the records by key and the committed offset of every partition.
    """
    consumer = AIOKafkaConsumer(
        TOPIC,
        bootstrap_servers=bootstrap_servers,
        group_id=group_id,
        auto_offset_reset="earliest",
        enable_auto_commit=False,
    )
    await consumer.start()
    try:
        records: dict[str, str] = {}
        while len(records) < count:
            batches = await consumer.getmany(timeout_ms=10_000)
            assert batches, f"no records within 10s; got {len(records)} of {count}"
            for messages in batches.values():
                for message in messages:
                    assert message.key is not None
                    assert message.value is not None
                    records[message.key.decode()] = message.value.decode()
        await consumer.commit()
        partitions = [TopicPartition(TOPIC, p) for p in range(PARTITIONS)]
        committed = {tp.partition: await consumer.committed(tp) or 0 for tp in partitions}
        end_offsets = await consumer.end_offsets(partitions)
        assert committed == {tp.partition: end_offsets[tp] for tp in partitions}
        return records, committed
    finally:
        await consumer.stop()


def expected_records(prefix: str) -> dict[str, str]:
    return {f"order-{i}": f"{prefix}-{i}" for i in range(60)}


@pytest.mark.asyncio
async def test_produce_and_consume_with_a_consumer_group(broker: KafkaBroker) -> None:
    await create_topic(broker.bootstrap_servers)
    sent = expected_records("created")
    await produce(broker.bootstrap_servers, sent)

    received, committed = await consume_as_group(broker.bootstrap_servers, "g1", len(sent))

    assert received == sent
    assert sum(committed.values()) == len(sent)
    # 60 keys over 6 partitions: the default partitioner must have used several.
    assert sum(1 for offset in committed.values() if offset) > 1


@pytest.mark.asyncio
async def test_data_survives_a_restart_on_the_same_address(
    broker: KafkaBroker,
) -> None:
    await create_topic(broker.bootstrap_servers)
    before = expected_records("before")
    await produce(broker.bootstrap_servers, before)
    address = broker.bootstrap_servers

    await asyncio.to_thread(broker.restart)

    assert broker.bootstrap_servers == address
    after = {f"late-{i}": f"after-{i}" for i in range(10)}
    await produce(broker.bootstrap_servers, after)
    received, _ = await consume_as_group(
        broker.bootstrap_servers, "g-restart", len(before) + len(after)
    )
    assert received == before | after


@pytest.mark.asyncio
async def test_recovers_after_a_kill(broker: KafkaBroker) -> None:
    await create_topic(broker.bootstrap_servers)
    sent = expected_records("acked")
    await produce(broker.bootstrap_servers, sent)

    broker.kill()
    assert not broker.is_running
    await asyncio.to_thread(broker.start)

    received, _ = await consume_as_group(broker.bootstrap_servers, "g-kill", len(sent))
    assert received == sent


def test_paused_broker_does_not_answer_until_resumed(broker: KafkaBroker) -> None:
    broker.pause()
    try:
        with pytest.raises(TimeoutError):
            fetch_cluster_info("127.0.0.1", broker.port, timeout=1.0)
    finally:
        broker.resume()
    assert fetch_cluster_info("127.0.0.1", broker.port).broker_ids == (1,)


def test_stop_is_idempotent_and_frees_the_port(broker: KafkaBroker) -> None:
    broker.stop()
    broker.stop()

    assert not broker.is_running
    with socket.create_server(("127.0.0.1", broker.port)):
        pass


def test_start_refuses_a_taken_port(tmp_path: Path) -> None:
    with socket.create_server(("127.0.0.1", 0)) as taken:
        broker = KafkaBroker(tmp_path / "kafka", port=taken.getsockname()[1])
        with pytest.raises(BrokerError, match="is taken"):
            broker.start()
    assert not broker.is_running


def test_start_failure_quotes_the_broker_log(broker: KafkaBroker) -> None:
    broker.stop()
    meta = broker.data_dir / "logs" / "meta.properties"
    meta.write_text(meta.read_text().replace("node.id=1", "node.id=7"))

    with pytest.raises(BrokerError, match=r"exited with code [1-9](.|\n)*broker\.log"):
        broker.start()
    assert not broker.is_running
