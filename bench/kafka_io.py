"""Raw aiokafka clients: fast preloading, and the baselines the services are compared to."""

import asyncio
import contextlib
import time
from collections.abc import Callable, Iterable
from typing import Any

from aiokafka import AIOKafkaConsumer, AIOKafkaProducer, TopicPartition
from aiokafka.admin import AIOKafkaAdminClient

from bench.loadgen import open_loop
from bench.wire import Record
from infra.kafka_connection import KafkaConnection
from infra.kafka_metadata import topic_partitions


async def produce_all(bootstrap_servers: str, topic: str, records: Iterable[Record]) -> int:
    """Write records as fast as aiokafka allows, with the services' guarantees.

    acks=all and idempotence like the services' producer; a 20 ms linger and
    1 MiB batches so that each request carries many records.
    """
    producer = AIOKafkaProducer(
        bootstrap_servers=bootstrap_servers,
        acks="all",
        enable_idempotence=True,
        linger_ms=20,
        max_batch_size=1024 * 1024,
    )
    await producer.start()
    count = 0
    pending: list[asyncio.Future[Any]] = []
    try:
        for key, value, headers in records:
            pending.append(await producer.send(topic, value=value, key=key, headers=headers))
            count += 1
            if len(pending) >= 50_000:  # bounded memory: a million futures would not be
                await asyncio.gather(*pending)
                pending.clear()
        await asyncio.gather(*pending)
    finally:
        await producer.stop()
    return count


async def read_all(
    bootstrap_servers: str, topic: str, decode: Callable[[bytes], object]
) -> tuple[int, float]:
    """The baseline reader: every record of ``topic`` from the start, each value decoded.

    Outside any group, up to the end offsets at the start; (records, seconds),
    the time counted from before the consumer connects, as the service's is.
    """
    started = time.perf_counter()
    partitions = await topic_partitions(KafkaConnection(bootstrap_servers), topic, 10.0)
    consumer = AIOKafkaConsumer(
        bootstrap_servers=bootstrap_servers,
        enable_auto_commit=False,
        auto_offset_reset="earliest",
        # The service's topic scan fetches this much per partition: the same chunks.
        max_partition_fetch_bytes=4 * 1024 * 1024,
    )
    await consumer.start()
    count = 0
    try:
        consumer.assign(partitions)
        ends = await consumer.end_offsets(partitions)
        await consumer.seek_to_beginning(*partitions)
        remaining = {tp for tp in partitions if ends[tp] > 0}
        while remaining:
            for tp, records in (await consumer.getmany(*remaining, timeout_ms=500)).items():
                for record in records:
                    if record.offset < ends[tp]:
                        decode(record.value)
                        count += 1
            for tp in list(remaining):
                if await consumer.position(tp) >= ends[tp]:
                    remaining.discard(tp)
                    consumer.pause(tp)
    finally:
        await consumer.stop()
    return count, time.perf_counter() - started


class LagProbe:
    """Committed lag of a consumer group on a topic, asked of the broker.

    Committed offsets, not the service's ``/metrics``: a gauge with no
    partitions yet would read as lag 0 before the service has read anything.
    """

    def __init__(self, bootstrap_servers: str, group: str, topic: str) -> None:
        self.bootstrap_servers, self.group, self.topic = bootstrap_servers, group, topic
        self.admin = AIOKafkaAdminClient(bootstrap_servers=bootstrap_servers)
        self.consumer = AIOKafkaConsumer(bootstrap_servers=bootstrap_servers)
        self.partitions: list[TopicPartition] = []

    async def __aenter__(self) -> "LagProbe":
        await self.admin.start()
        await self.consumer.start()
        self.partitions = await topic_partitions(
            KafkaConnection(self.bootstrap_servers), self.topic, 10.0
        )
        return self

    async def __aexit__(self, *_: object) -> None:
        await self.consumer.stop()
        await self.admin.close()

    async def lag(self) -> int:
        ends = await self.consumer.end_offsets(self.partitions)
        committed = await self.admin.list_consumer_group_offsets(
            self.group, partitions=self.partitions
        )
        return sum(
            end - (committed[tp].offset if tp in committed and committed[tp].offset >= 0 else 0)
            for tp, end in ends.items()
        )


async def round_trips(
    bootstrap_servers: str, topic: str, rate: float, seconds: float, value: bytes
) -> list[float]:
    """Milliseconds from ``send`` to arrival at a consumer, for records sent at ``rate``/s."""
    partitions = await topic_partitions(KafkaConnection(bootstrap_servers), topic, 10.0)
    producer = AIOKafkaProducer(
        bootstrap_servers=bootstrap_servers, acks="all", enable_idempotence=True
    )
    consumer = AIOKafkaConsumer(bootstrap_servers=bootstrap_servers, enable_auto_commit=False)
    await producer.start()
    await consumer.start()
    sent: dict[bytes, float] = {}
    latencies: list[float] = []
    total = int(rate * seconds)

    async def receive() -> None:
        while len(latencies) < total:
            batches = await consumer.getmany(timeout_ms=100)
            arrived = time.perf_counter()
            for records in batches.values():
                for record in records:
                    started = sent.pop(record.key, None) if record.key else None
                    if started is not None:
                        latencies.append((arrived - started) * 1000)

    async def send(n: int) -> None:
        key = b"round-trip-%d" % n
        sent[key] = time.perf_counter()
        await (await producer.send(topic, key=key, value=value))

    try:
        consumer.assign(partitions)
        for tp, end in (await consumer.end_offsets(partitions)).items():
            consumer.seek(tp, end)
        receiver = asyncio.create_task(receive())
        await open_loop(rate, seconds, send)
        with contextlib.suppress(TimeoutError):
            await asyncio.wait_for(receiver, 30)
    finally:
        await consumer.stop()
        await producer.stop()
    return latencies
