"""What is on ``order-events``, read from the published broker port like any client."""

from __future__ import annotations

import asyncio
import io
import json

import fastavro
from aiokafka import AIOKafkaConsumer, TopicPartition
from stackcheck.http_client import REGISTRY, expect, request
from stackcheck.report import CheckFailed

TOPIC = "order-events"


async def _records(bootstrap: str) -> list[tuple[bytes, bytes]]:
    """Every (key, value) of the topic up to its current end, outside any group."""
    # No group: the consumer is assigned every partition of the topic, from offset 0.
    consumer = AIOKafkaConsumer(
        TOPIC, bootstrap_servers=bootstrap, enable_auto_commit=False, auto_offset_reset="earliest"
    )
    await consumer.start()
    try:
        records: list[tuple[bytes, bytes]] = []
        ends: dict[TopicPartition, int] | None = None
        deadline = asyncio.get_running_loop().time() + 60
        while ends is None or any([await consumer.position(tp) < end for tp, end in ends.items()]):
            if asyncio.get_running_loop().time() > deadline:
                raise CheckFailed(f"{TOPIC} not read to its end within 60 s")
            batches = await consumer.getmany(timeout_ms=500)
            if ends is None and consumer.assignment():
                ends = await consumer.end_offsets(list(consumer.assignment()))
            for tp, batch in batches.items():
                records.extend(
                    (r.key, r.value) for r in batch if ends is None or r.offset < ends[tp]
                )
        return records
    finally:
        await consumer.stop()


def check_confluent_avro(bootstrap: str, order_ids: set[str]) -> set[int]:
    """Every value is Avro in the Confluent wire format (magic byte 0, then a 4-byte
    schema id) whose schema the stack's registry serves, and decodes to the order of
    its key; ``order_ids`` are all there. Returns the schema ids seen."""
    records = asyncio.run(_records(bootstrap))
    schemas: dict[int, dict] = {}
    seen: set[str] = set()
    for key, value in records:
        if len(value) < 6 or value[0] != 0:
            raise CheckFailed(
                f"value of {key!r} is not in the Confluent wire format: {value[:8]!r}"
            )
        schema_id = int.from_bytes(value[1:5], "big")
        if schema_id not in schemas:
            answer = expect(
                request("GET", f"{REGISTRY}/schemas/ids/{schema_id}"),
                200,
                f"schema id {schema_id} in the registry",
            )
            schemas[schema_id] = fastavro.parse_schema(json.loads(answer.json()["schema"]))
        event = fastavro.schemaless_reader(io.BytesIO(value[5:]), schemas[schema_id])
        if event["orderId"] != key.decode():
            raise CheckFailed(f"key {key!r} carries an event of {event['orderId']}")
        seen.add(event["orderId"])
    if missing := order_ids - seen:
        raise CheckFailed(f"{len(missing)} orders have no event, e.g. {sorted(missing)[:3]}")
    return set(schemas)


def check_schema_ids_known(schema_ids: set[int]) -> None:
    for schema_id in sorted(schema_ids):
        expect(request("GET", f"{REGISTRY}/schemas/ids/{schema_id}"), 200, f"schema id {schema_id}")
