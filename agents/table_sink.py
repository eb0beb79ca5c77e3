"""A Faust table's rows written as Faust keeps them, a partition batch at a time.

The projector writes rows it has encoded once: the store of the row's
partition (one RocksDB write batch for the partition's records) and the
row's changelog record (one record batch per partition), then, once Kafka has
acknowledged them, how far the changelog holds the rows, which is where a
recovery of the store begins.  Faust's own table writes do the same per key,
with sensors, a producer buffer and a key index that grows with every key;
here that per-key machinery was most of the projector's time.

Faust's table still owns the store (assignment, recovery, standbys, reads):
only the write path is this module's, and it reads the rows' bytes as the
store keeps them.  The store's partition databases are reached through
Faust's private ``_db_for_partition`` (listed in docs/design.md).
"""

import asyncio
from collections.abc import Callable, Mapping
from dataclasses import dataclass
from typing import Any

import faust
from aiokafka import AIOKafkaProducer
from aiokafka.structs import RecordMetadata, TopicPartition
from rocksdict import WriteBatch

from agents.hand_over import hand_over
from infra.kafka_connection import KafkaConnection


@dataclass(frozen=True)
class ChangelogWrite:
    """One record batch of changelog records: acknowledged with its first offset."""

    written: asyncio.Future[RecordMetadata]
    records: int

    def last_offset(self) -> int:
        return self.written.result().offset + self.records - 1


def changelog_producer(
    kafka: KafkaConnection, options: Mapping[str, Any]
) -> Callable[[], AIOKafkaProducer]:
    """What makes the sink's producer: idempotent, ``acks=all``, the service's batching."""
    return lambda: AIOKafkaProducer(
        **kafka.client_options(), acks="all", enable_idempotence=True, **options
    )


class TableSink:
    def __init__(self, table: faust.Table, new_producer: Callable[[], AIOKafkaProducer]) -> None:
        self.table = table
        self.new_producer = new_producer
        self.changelog_topic = table.changelog_topic.get_topic_name()
        self._producer: AIOKafkaProducer | None = None

    async def start(self) -> None:
        self._producer = self.new_producer()
        await self._producer.start()

    async def stop(self) -> None:
        if self._producer is not None:
            await self._producer.stop()  # flushes what was handed over

    def row(self, partition: int, key: bytes) -> bytes | None:
        """The row's bytes as the store of ``partition`` holds them."""
        return self.table.data._db_for_partition(partition).get(key)

    async def write(
        self, partition: int, rows: Mapping[bytes, bytes], changelog: Mapping[bytes, bytes]
    ) -> list[ChangelogWrite]:
        """Store ``rows`` in one write batch; hand ``changelog`` over as record batches."""
        if rows:
            batch = WriteBatch(raw_mode=True)
            for key, row in rows.items():
                batch.put(key, row)
            self.table.data._db_for_partition(partition).write(batch)
        producer = self._producer
        assert producer is not None  # started with the projector
        writes: list[ChangelogWrite] = []
        builder, records = producer.create_batch(), 0
        for key, row in changelog.items():
            if builder.append(key=key, value=row, timestamp=None) is None:  # full
                writes.append(await self._send(builder, partition, records))
                builder, records = producer.create_batch(), 0
                builder.append(key=key, value=row, timestamp=None)
            records += 1
        if records:
            writes.append(await self._send(builder, partition, records))
        return writes

    async def _send(self, builder: Any, partition: int, records: int) -> ChangelogWrite:
        producer = self._producer
        assert producer is not None
        written = await hand_over(
            lambda: producer.send_batch(builder, self.changelog_topic, partition=partition),
            {"writing": "changelog records", "partition": partition, "records": records},
        )
        return ChangelogWrite(written, records)

    def persist(self, written: list[ChangelogWrite]) -> None:
        """Keep in the store how far the changelog holds its rows, as Faust's table writes do:
        recovering the store later reads the changelog only past that offset."""
        furthest: dict[TopicPartition, int] = {}
        for each in written:  # in order of their offsets within a partition
            metadata = each.written.result()
            furthest[metadata.topic_partition] = each.last_offset()
        for tp, offset in furthest.items():
            self.table.data.set_persisted_offset(tp, offset)
