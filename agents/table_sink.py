"""A Faust table's rows written as Faust keeps them, a partition batch at a time.

The projector writes rows it has encoded once: the store of the row's
partition (one RocksDB write batch for the partition's records) and the
row's changelog record, then, once Kafka has acknowledged them, how far the
changelog holds the rows, which is where a recovery of the store begins.
Faust's own table writes do the same per key, with sensors, a producer
buffer and a key index that grows with every key; here that per-key
machinery was most of the projector's time.

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
    """A changelog record handed to the producer: acknowledged with its offset."""

    written: asyncio.Future[RecordMetadata]


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
        """Store ``rows`` in one write batch, then hand ``changelog`` over, record by record.

        Records, not a prebuilt record batch: aiokafka holds a batch handed
        over until the one before it for the partition has gone out, which
        would hold the projector's loop (and so each order's visibility) for
        the producer's linger and a round trip.
        """
        if rows:
            batch = WriteBatch(raw_mode=True)
            for key, row in rows.items():
                batch.put(key, row)
            self.table.data._db_for_partition(partition).write(batch)
        producer = self._producer
        assert producer is not None  # started with the projector
        writes = []
        for key, row in changelog.items():
            written = await hand_over(
                lambda key=key, row=row: producer.send(
                    self.changelog_topic, row, key=key, partition=partition
                ),
                {"writing": "changelog record", "key": key.decode(), "partition": partition},
            )
            writes.append(ChangelogWrite(written))
        return writes

    def persist(self, written: list[ChangelogWrite]) -> None:
        """Keep in the store how far the changelog holds its rows, as Faust's table writes do:
        recovering the store later reads the changelog only past that offset."""
        furthest: dict[TopicPartition, int] = {}
        for each in written:  # in order of their offsets within a partition
            metadata = each.written.result()
            furthest[metadata.topic_partition] = metadata.offset
        for tp, offset in furthest.items():
            self.table.data.set_persisted_offset(tp, offset)
