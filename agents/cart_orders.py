"""The cart's table, ``cart_orders_by_id``: the latest event of each order, by partition.

``order-events`` is the table's changelog, as Kafka Streams reuses a source
topic: the cart writes one record per change (the event), keeps the event
itself as the order's row in a RocksDB store per partition, and a store that
is behind (a new worker, a lost disk, a partition taken over) reads the
partition of ``order-events`` from the offset it holds up to the end.  The
rows and that offset are written in one RocksDB write batch, so a crash
between them cannot leave a row without its offset or the other way round.

A record of ``order-events`` that is no valid event of its key's order
(another writer's bytes, a version not newer than the row's) is skipped on
restore: it never replaces a row.  Each row is the event's bytes as written,
after the event's version (8 bytes), so a restore compares versions without
decoding rows.

The store also keeps the answers given to idempotency keys
(:mod:`agents.idempotency`), restored from the events' headers and from
``order-idempotency-keys``, each topic from the offset the store holds.
"""

import asyncio
import struct
from collections.abc import Awaitable, Callable, Iterable, Mapping
from dataclasses import dataclass
from pathlib import Path

from aiokafka import AIOKafkaConsumer, ConsumerRecord, TopicPartition
from rocksdict import Options, Rdict, WriteBatch

from agents.idempotency import IDEMPOTENCY_HEADER, KeptAnswer, is_kept_answer_key, kept_in_event
from infra.kafka_connection import KafkaConnection, stop_consumer
from infra.value_formats import ValueFormat, read_order_record
from models.events import OrderEvent
from models.wire import InvalidRecord

#: The store's own keys for the offset of ``order-events``, and of
#: ``order-idempotency-keys``, it holds every record before (orderIds never start
#: with a zero byte).
NEXT_OFFSET_KEY = b"\x00next-offset"
NEXT_KEPT_OFFSET_KEY = b"\x00next-offset-kept-answers"
VERSION = struct.Struct(">q")
#: Records a restore reads and writes as one batch, before it lets the service's
#: other work run (a batch of 1,000 takes some 30 ms).
RESTORE_BATCH = 1000

Rows = dict[bytes, bytes]


def row_of(version: int, event_bytes: bytes) -> bytes:
    return VERSION.pack(version) + event_bytes


def version_of(row: bytes) -> int:
    return VERSION.unpack_from(row)[0]


class PartitionOrders:
    """The rows of one partition, in their own RocksDB."""

    def __init__(self, path: Path) -> None:
        path.mkdir(parents=True, exist_ok=True)
        self.db = Rdict(str(path), options=Options(raw_mode=True))

    def next_offset(self, offset_key: bytes = NEXT_OFFSET_KEY) -> int:
        """The offset of ``order-events`` (or the topic of ``offset_key``) that this store
        holds every record before."""
        held = self.db.get(offset_key)
        return 0 if held is None else int(held)

    def row(self, key: bytes) -> bytes | None:
        return self.db.get(key)

    def kept_answer(self, key: bytes) -> KeptAnswer | None:
        kept = self.db.get(key)
        return None if kept is None else KeptAnswer.decode(kept)

    def write(self, rows: Mapping[bytes, bytes], offsets: Mapping[bytes, int]) -> None:
        """``rows`` and the offsets they reach (by offset key), in one write batch."""
        batch = WriteBatch(raw_mode=True)
        for key, row in rows.items():
            batch.put(key, row)
        for offset_key, next_offset in offsets.items():
            batch.put(offset_key, str(next_offset).encode())
        self.db.write(batch)

    def close(self) -> None:
        self.db.close()


@dataclass
class Restored:
    """What a restore read: records, rows it wrote (the latest of each order per batch),
    and records that are no valid event of their key's order."""

    records: int = 0
    rows: int = 0
    invalid: int = 0


class CartOrders:
    """Every partition's store this worker has held, under ``folder``; restores from
    ``order-events`` and reads rows as events."""

    def __init__(
        self,
        folder: Path,
        events_topic: str,
        kept_answers_topic: str,
        events_format: ValueFormat,
        kafka: KafkaConnection,
    ) -> None:
        self.folder = folder
        self.events_topic = events_topic
        self.kept_answers_topic = kept_answers_topic
        self.events_format = events_format
        self.kafka = kafka
        self._partitions: dict[int, PartitionOrders] = {}

    def partition(self, partition: int) -> PartitionOrders:
        if partition not in self._partitions:
            self._partitions[partition] = PartitionOrders(self.folder / f"partition-{partition}")
        return self._partitions[partition]

    def close(self) -> None:
        for each in self._partitions.values():
            each.close()
        self._partitions.clear()

    async def event(self, partition: int, order_id: str) -> OrderEvent | None:
        """The order's latest event, or None if the cart has none."""
        row = self.partition(partition).row(order_id.encode())
        if row is None:
            return None
        return OrderEvent.from_wire(await self.events_format.decode(row[VERSION.size :]))

    async def restore(self, partitions: Iterable[int]) -> Restored:
        """Bring the stores of ``partitions`` up to the current end of ``order-events`` and
        of ``order-idempotency-keys``."""
        partitions = list(partitions)
        restored = Restored()
        await self._restore_from(
            self.events_topic, NEXT_OFFSET_KEY, partitions, restored, self._rows
        )
        await self._restore_from(
            self.kept_answers_topic, NEXT_KEPT_OFFSET_KEY, partitions, restored, self._kept_rows
        )
        return restored

    async def _restore_from(
        self,
        topic: str,
        offset_key: bytes,
        partitions: list[int],
        restored: Restored,
        rows_of: Callable[[PartitionOrders, list[ConsumerRecord], Restored], Awaitable[Rows]],
    ) -> None:
        stores = {TopicPartition(topic, p): self.partition(p) for p in partitions}
        if not stores:
            return
        consumer = AIOKafkaConsumer(
            **self.kafka.client_options(),
            enable_auto_commit=False,
            auto_offset_reset="earliest",
            isolation_level="read_committed",
            max_partition_fetch_bytes=4 * 1024 * 1024,
        )
        await consumer.start()
        try:
            consumer.assign(list(stores))
            ends = await consumer.end_offsets(list(stores))
            remaining = set()
            for tp, store in stores.items():
                start = store.next_offset(offset_key)
                if start < ends[tp]:
                    consumer.seek(tp, start)
                    remaining.add(tp)
            while remaining:
                batches = await consumer.getmany(
                    *remaining, timeout_ms=500, max_records=RESTORE_BATCH
                )
                for tp, records in batches.items():
                    store = stores[tp]
                    rows = await rows_of(
                        store, [r for r in records if r.offset < ends[tp]], restored
                    )
                    restored.records += len(records)
                    restored.rows += len(rows)
                    # Records written since the restore began are not ours to apply yet.
                    store.write(rows, {offset_key: min(records[-1].offset + 1, ends[tp])})
                    await asyncio.sleep(0)  # the service's other work goes on meanwhile
                for tp in list(remaining):
                    if await consumer.position(tp) >= ends[tp]:
                        if stores[tp].next_offset(offset_key) < ends[tp]:  # ended in markers
                            stores[tp].write({}, {offset_key: ends[tp]})
                        remaining.discard(tp)
                        consumer.pause(tp)
        finally:
            await stop_consumer(consumer)

    async def _rows(
        self, store: PartitionOrders, records: list[ConsumerRecord], restored: Restored
    ) -> Rows:
        """The rows ``records`` of ``order-events`` leave, newer versions only, and the
        answers their events kept."""
        rows: Rows = {}
        for record in records:
            event = await self._event_in(record)
            if event is None or record.value is None:
                restored.invalid += 1
                continue
            header = dict(record.headers or ()).get(IDEMPOTENCY_HEADER)
            if header is not None:
                try:
                    key, kept = kept_in_event(event, header, record.timestamp / 1000)
                    rows[key] = kept.encode()
                except InvalidRecord:  # the event stands; only its key is not kept
                    restored.invalid += 1
            key = record.key
            held = rows.get(key) or store.row(key)
            if held is not None and version_of(held) >= event.version:
                continue
            rows[key] = row_of(event.version, record.value)
        return rows

    async def _kept_rows(
        self, store: PartitionOrders, records: list[ConsumerRecord], restored: Restored
    ) -> Rows:
        """The answers ``records`` of ``order-idempotency-keys`` keep (the latest of a key);
        a record that is no kept answer is skipped: it must never replace an order's row."""
        rows: Rows = {}
        for record in records:
            if not is_kept_answer_key(record.key) or record.value is None:
                restored.invalid += 1
                continue
            try:
                KeptAnswer.decode(record.value)
            except InvalidRecord:
                restored.invalid += 1
                continue
            rows[record.key] = record.value
        return rows

    async def _event_in(self, record: ConsumerRecord) -> OrderEvent | None:
        """The event a record holds if it is a valid event of its key's order; else None."""
        try:
            return await read_order_record(OrderEvent, record, self.events_format)
        except InvalidRecord:
            return None
