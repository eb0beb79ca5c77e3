"""Reads a whole topic and collects the orderIds in it.

A consumer outside every group (nothing committed, no rebalance, no effect
on the services' own consumers) reads every partition from the beginning
up to the end offsets taken when the scan starts: records written during
the scan are not waited for, so a busy topic cannot keep a request open.
"""

import asyncio
import logging
from dataclasses import dataclass

from aiokafka import AIOKafkaConsumer, ConsumerRecord

from infra.kafka_metadata import topic_partitions
from infra.reachability import Dependencies, DependencyLost, DependencyUnavailable
from infra.schema_registry import SchemaRegistryClient
from infra.value_formats import UndecodableValue, decode_any

logger = logging.getLogger(__name__)


@dataclass(frozen=True)
class TopicScan:
    topic: str
    order_ids: list[str]
    records_scanned: int


async def order_id_of(record: ConsumerRecord, registry: SchemaRegistryClient | None) -> str | None:
    """The orderId of a record: from its value (JSON or Avro; top level or in
    ``order``), else its key."""
    try:
        value = await decode_any(record.value, registry) if record.value else None
    except UndecodableValue:
        value = None
    if isinstance(value, dict):
        for candidate in (value.get("orderId"), (value.get("order") or {}).get("orderId")):
            if isinstance(candidate, str) and candidate:
                return candidate
    if record.key:
        try:
            return record.key.decode()
        except UnicodeDecodeError:
            return None
    return None


async def scan_order_ids(
    bootstrap_servers: str, topic: str, timeout: float, registry: SchemaRegistryClient | None
) -> TopicScan:
    assigned = await topic_partitions(bootstrap_servers, topic, timeout)
    consumer = AIOKafkaConsumer(
        bootstrap_servers=bootstrap_servers,
        enable_auto_commit=False,
        # Also what assign() resets to; a "latest" reset still in flight would
        # otherwise race the seeks below.
        auto_offset_reset="earliest",
        request_timeout_ms=int(timeout * 1000),
        max_partition_fetch_bytes=4 * 1024 * 1024,
    )
    await consumer.start()
    try:
        consumer.assign(assigned)
        end_offsets = await consumer.end_offsets(assigned)
        start_offsets = await consumer.beginning_offsets(assigned)
        remaining = {tp for tp in assigned if end_offsets[tp] > start_offsets[tp]}
        for tp in remaining:
            consumer.seek(tp, start_offsets[tp])
        order_ids: dict[str, None] = {}  # insertion-ordered set
        scanned = 0
        while remaining:
            # Bounded batches, and a yield after each: a long scan must not
            # starve the service's other requests and its agents.
            batches = await consumer.getmany(*remaining, timeout_ms=500, max_records=2000)
            for tp, records in batches.items():
                for record in records:
                    if record.offset >= end_offsets[tp]:
                        break
                    scanned += 1
                    order_id = await order_id_of(record, registry)
                    if order_id is not None:
                        order_ids.setdefault(order_id)
            await asyncio.sleep(0)
            for tp in list(remaining):
                if await consumer.position(tp) >= end_offsets[tp]:
                    remaining.discard(tp)
                    consumer.pause(tp)
    finally:
        await consumer.stop()
    return TopicScan(topic=topic, order_ids=list(order_ids), records_scanned=scanned)


class ScanTimeout(TimeoutError):
    """The scan did not finish within its deadline."""


#: Order ids per log line: a line per id stalled the service for seconds on
#: a large topic.
LOG_CHUNK = 200


@dataclass(frozen=True)
class TopicScanner:
    """Scans on behalf of the web view, within a deadline, while Kafka answers.

    A scan is refused at once while Kafka is known to be away, and one that
    Kafka leaves hanging ends as soon as the probe notices (503 within 2 s),
    not at the deadline.  Every orderId found is logged.
    """

    bootstrap_servers: str
    registry: SchemaRegistryClient | None
    #: Kafka's reachability.
    kafka: Dependencies
    timeout: float

    async def scan(self, topic: str) -> TopicScan:
        self.kafka.require()
        scanning = scan_order_ids(self.bootstrap_servers, topic, self.timeout, self.registry)
        try:
            result = await self.kafka.within(scanning, self.timeout)
        except DependencyLost:
            raise DependencyUnavailable(
                f"Kafka became unreachable during the scan of {topic}"
            ) from None
        except TimeoutError:
            raise ScanTimeout(f"the scan of {topic} did not finish in {self.timeout:g} s") from None
        await log_order_ids(result)
        return result


async def log_order_ids(scan: TopicScan) -> None:
    for start in range(0, len(scan.order_ids), LOG_CHUNK):
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
        },
    )
