"""Every orderId ever written to a topic: read once, then only what is new.

A consumer outside every group (nothing committed, no rebalance, no effect
on the services' own consumers) reads the partitions of a topic up to the
end offsets taken when the request arrived: records written during the scan
are not waited for, so a busy topic cannot keep a request open.

What was read is kept per topic (:class:`TopicIndex`): the distinct orderIds
and, per partition, the offset read up to.  A scan reads from there, so a
repeated scan of a topic of millions of records reads only the records
written since, and scans of one topic at the same moment take turns on one
index instead of each reading the topic.  The index is a cache, rebuilt
from the topic after a restart: the topic is the truth.  Memory is the
distinct orderIds of the scannable topics (a setting) plus one bounded fetch
per running scan, and at most ``max_concurrent`` scans run at once.

The scans' consumers are kept, one per scan running at once, and stopped
with the service: a consumer stopped while a fetch is in flight waits for
the TLS goodbye of its connections, which brokers leave unanswered (30 s
under uvloop, the SSL shutdown timeout), so a scan over ``SSL`` or
``SASL_SSL`` that stopped its consumer took 30 s.

A record's orderId is read from its value (JSON or Avro, at the top level or
in ``order``), else from its key; one that yields none (bytes of no known
format, no orderId, a key that is no orderId) is counted as unreadable and
skipped.  Only a Kafka or registry outage fails a scan (503), and the index
keeps what was read before it.

Longer than most modules: the index, the reading and the limits of a scan
are one feature, read together.
"""

import asyncio
import logging
import re
from collections.abc import Callable, Collection, Mapping
from dataclasses import dataclass, field
from typing import Any

from aiokafka import AIOKafkaConsumer, ConsumerRecord, TopicPartition
from mode import Service

from infra.kafka_connection import KafkaConnection, stop_consumer
from infra.kafka_metadata import topic_partitions
from infra.reachability import Dependencies, DependencyLost, DependencyUnavailable
from infra.schema_registry import RegistryError, SchemaRegistryClient
from infra.value_formats import UndecodableValue, decode_any
from models.rules import IDENTIFIER_PATTERN

logger = logging.getLogger(__name__)

#: Order ids per log line: a line per id stalled the service for seconds on
#: a large topic.
LOG_CHUNK = 200
#: Records per fetch, and the bytes a fetch may bring: what one scan holds at most.
FETCH_RECORDS = 2000
FETCH_MAX_BYTES = 8 * 1024 * 1024
PARTITION_FETCH_MAX_BYTES = 2 * 1024 * 1024

is_order_id = re.compile(IDENTIFIER_PATTERN).fullmatch


class NotScannable(LookupError):
    """No scannable topic has that name (the platform's internal topics never are): to the
    client it is not there, whether it exists or not."""


class TooManyScans(Exception):
    """As many scans as allowed run already; the client should retry after a moment."""


class ScanTimeout(TimeoutError):
    """The scan did not finish within its deadline."""


class ClientGone(Exception):
    """The client of a scan or a waiting read went away; the work for it stopped."""


@dataclass(frozen=True)
class TopicScan:
    topic: str
    order_ids: list[str]
    records_scanned: int
    records_unreadable: int
    #: Records read for this answer (the rest were read by earlier scans).
    records_read: int


@dataclass
class TopicIndex:
    """What the scans of one topic have read so far."""

    #: Per partition, the offset of the next record to read.
    read_up_to: dict[int, int] = field(default_factory=dict)
    order_ids: dict[str, None] = field(default_factory=dict)  # an insertion-ordered set
    records_scanned: int = 0
    records_unreadable: int = 0
    #: One scan at a time reads into the index; the others wait, then read what is left.
    reading: asyncio.Lock = field(default_factory=asyncio.Lock)

    def forget(self) -> None:
        """Start over: the topic no longer holds what was read (deleted and made anew)."""
        self.read_up_to.clear()
        self.order_ids.clear()
        self.records_scanned = self.records_unreadable = 0

    def answer(self, topic: str, records_read: int) -> TopicScan:
        return TopicScan(
            topic=topic,
            order_ids=list(self.order_ids),
            records_scanned=self.records_scanned,
            records_unreadable=self.records_unreadable,
            records_read=records_read,
        )


def order_id_in(value: Any) -> str | None:
    """The orderId a decoded value carries: ``orderId`` at the top level or in ``order``."""
    if not isinstance(value, Mapping):
        return None
    order = value.get("order")
    nested = order.get("orderId") if isinstance(order, Mapping) else None
    for candidate in (value.get("orderId"), nested):
        if isinstance(candidate, str) and is_order_id(candidate):
            return candidate
    return None


def order_id_of_key(key: bytes | None) -> str | None:
    if not key:
        return None
    try:
        text = key.decode()
    except UnicodeDecodeError:
        return None
    return text if is_order_id(text) else None


async def order_id_of(record: ConsumerRecord, registry: SchemaRegistryClient | None) -> str | None:
    """The orderId of a record, from its value, else its key; None if it names none.

    Raises :class:`~infra.schema_registry.RegistryError` when the registry does not
    answer for the value's schema: that says nothing about the record.
    """
    if record.value:
        try:
            found = order_id_in(await decode_any(record.value, registry))
        except UndecodableValue:
            found = None
        if found is not None:
            return found
    return order_id_of_key(record.key)


class TopicScanner(Service):
    """Scans on behalf of the web view: only scannable topics, a few at once, within a
    deadline, while Kafka answers.

    A scan is refused at once while Kafka is known to be away, and one that
    Kafka leaves hanging ends as soon as the probe notices (503 within 2 s),
    not at the deadline.  Every orderId found is logged.
    """

    def __init__(
        self,
        kafka: KafkaConnection,
        registry: SchemaRegistryClient | None,
        reachability: Dependencies,
        *,
        scannable: Collection[str],
        max_concurrent: int,
        timeout: float,
        **kwargs: Any,
    ) -> None:
        self.kafka = kafka
        self.registry = registry
        self.reachability = reachability
        self.scannable = frozenset(scannable)
        self.max_concurrent = max_concurrent
        self.timeout = timeout
        self.running = 0
        self.indexes = {topic: TopicIndex() for topic in self.scannable}
        #: Started consumers no scan holds; at most ``max_concurrent`` exist.
        self.idle_consumers: list[AIOKafkaConsumer] = []
        super().__init__(**kwargs)

    async def on_stop(self) -> None:
        while self.idle_consumers:
            await stop_consumer(self.idle_consumers.pop())

    async def scan(self, topic: str, client_gone: Callable[[], bool]) -> TopicScan:
        """Every orderId in ``topic``; reading stops (:class:`ClientGone`) once
        ``client_gone()`` says the client left."""
        index = self.indexes.get(topic)
        if index is None:
            raise NotScannable(
                f"there is no scannable topic {topic}; "
                f"the scannable topics are {', '.join(sorted(self.scannable))}"
            )
        if self.running >= self.max_concurrent:
            raise TooManyScans(f"{self.running} scans are running; try again in a moment")
        self.reachability.require()
        self.running += 1
        try:
            reading = self._read(topic, index, client_gone)
            try:
                result = await self.reachability.within(reading, self.timeout)
            except DependencyLost:
                raise DependencyUnavailable(
                    f"Kafka became unreachable during the scan of {topic}"
                ) from None
            except TimeoutError:
                raise ScanTimeout(
                    f"the scan of {topic} did not finish in {self.timeout:g} s"
                ) from None
            await log_order_ids(result, client_gone)
            return result
        finally:
            self.running -= 1

    async def _read(
        self, topic: str, index: TopicIndex, client_gone: Callable[[], bool]
    ) -> TopicScan:
        partitions = await topic_partitions(self.kafka, topic, self.timeout)
        consumer = await self._take_consumer()
        try:
            consumer.assign(partitions)
            ends = await consumer.end_offsets(partitions)
            async with index.reading:
                starts = await consumer.beginning_offsets(partitions)
                if any(ends[tp] < index.read_up_to.get(tp.partition, 0) for tp in partitions):
                    logger.warning(
                        "topic is shorter than scanned before; scanning anew",
                        extra={"topic": topic},
                    )
                    index.forget()
                read = await self._read_into(consumer, index, partitions, starts, ends, client_gone)
                return index.answer(topic, read)
        finally:
            # No fetch is sent for it while it is idle.
            consumer.unsubscribe()
            self.idle_consumers.append(consumer)

    async def _take_consumer(self) -> AIOKafkaConsumer:
        if self.idle_consumers:
            return self.idle_consumers.pop()
        consumer = AIOKafkaConsumer(
            **self.kafka.client_options(),
            enable_auto_commit=False,
            # Also what assign() resets to; a "latest" reset still in flight would
            # otherwise race the seeks below.
            auto_offset_reset="earliest",
            request_timeout_ms=int(self.timeout * 1000),
            fetch_max_bytes=FETCH_MAX_BYTES,
            max_partition_fetch_bytes=PARTITION_FETCH_MAX_BYTES,
        )
        try:
            await consumer.start()
        except BaseException:  # Kafka away, or the scan cancelled: nobody would stop it
            await stop_consumer(consumer)
            raise
        return consumer

    async def _read_into(
        self,
        consumer: AIOKafkaConsumer,
        index: TopicIndex,
        partitions: list[TopicPartition],
        starts: Mapping[TopicPartition, int],
        ends: Mapping[TopicPartition, int],
        client_gone: Callable[[], bool],
    ) -> int:
        """Read each partition from where the index stands to ``ends``; the records read."""
        remaining = set()
        for tp in partitions:
            start = max(index.read_up_to.get(tp.partition, 0), starts[tp])
            index.read_up_to[tp.partition] = start
            if start < ends[tp]:
                consumer.seek(tp, start)
                remaining.add(tp)
        read = 0
        while remaining:
            if client_gone():
                raise ClientGone("the client went away; the scan stopped")
            batches = await consumer.getmany(*remaining, timeout_ms=500, max_records=FETCH_RECORDS)
            for tp, records in batches.items():
                for record in records:
                    if record.offset >= ends[tp]:
                        break
                    try:
                        order_id = await order_id_of(record, self.registry)
                    except RegistryError as exc:
                        raise DependencyUnavailable(
                            f"the schema registry did not answer for a record of {tp.topic}: {exc}"
                        ) from None
                    if order_id is None:
                        index.records_unreadable += 1
                    else:
                        index.order_ids.setdefault(order_id)
                    index.records_scanned += 1
                    index.read_up_to[tp.partition] = record.offset + 1
                    read += 1
            # Bounded batches, and a yield after each: a long scan must not
            # starve the service's other requests and its agents.
            await asyncio.sleep(0)
            for tp in list(remaining):
                if await consumer.position(tp) >= ends[tp]:
                    index.read_up_to[tp.partition] = max(index.read_up_to[tp.partition], ends[tp])
                    remaining.discard(tp)
                    consumer.pause(tp)
        return read


async def log_order_ids(scan: TopicScan, client_gone: Callable[[], bool]) -> None:
    for start in range(0, len(scan.order_ids), LOG_CHUNK):
        if client_gone():
            raise ClientGone("the client went away; the scan's log stopped")
        logger.info(
            "topic holds orderIds",
            extra={"topic": scan.topic, "orderIds": scan.order_ids[start : start + LOG_CHUNK]},
        )
        await asyncio.sleep(0)
    logger.info(
        "topic scanned",
        extra={
            "topic": scan.topic,
            "count": len(scan.order_ids),
            "recordsScanned": scan.records_scanned,
            "recordsUnreadable": scan.records_unreadable,
            "recordsRead": scan.records_read,
        },
    )
