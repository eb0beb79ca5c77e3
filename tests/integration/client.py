"""Small HTTP and Kafka helpers of the integration tests."""

import asyncio
import itertools
import re
import time
from collections.abc import Awaitable, Callable
from decimal import Decimal
from typing import TYPE_CHECKING, Any, TypeVar

import aiohttp
from aiokafka import AIOKafkaConsumer, AIOKafkaProducer, ConsumerRecord, TopicPartition

from infra.topics import events_format
from local_kafka.stack import PARTITIONS
from models.codec import dumps, loads
from models.events import OrderEvent

if TYPE_CHECKING:
    from local_kafka.stack import LocalStack

T = TypeVar("T")


async def call(
    http: aiohttp.ClientSession, method: str, url: str, **kwargs: Any
) -> tuple[int, Any, aiohttp.typedefs.LooseHeaders]:
    """Status, decoded JSON body (Decimal numbers) and headers.

    ``json=`` bodies are written with Decimal amounts as JSON numbers.
    """
    if "json" in kwargs:
        kwargs["data"] = dumps(kwargs.pop("json"))
        kwargs.setdefault("headers", {"Content-Type": "application/json"})
    async with http.request(method, url, **kwargs) as response:
        body = await response.read()
        return response.status, (loads(body) if body else None), response.headers


async def registry_reachable(http: aiohttp.ClientSession, service_url: str) -> str | None:
    """The service's ``dependency_reachable`` gauge of the registry: "1.0" or "0.0"."""
    async with http.get(f"{service_url}/metrics") as response:
        text = await response.text()
    found = re.search(r'dependency_reachable\{dependency="the schema registry"\} (\S+)', text)
    return found and found.group(1)


async def create_order(
    http: aiohttp.ClientSession, platform: "LocalStack", order_id: str, num_items: int = 1
) -> tuple[int, Any, aiohttp.typedefs.LooseHeaders]:
    """POST /create-order with ``num_items`` random items: status, body, headers."""
    body = {"orderId": order_id, "numItems": num_items}
    return await call(http, "POST", f"{platform.cart.base_url}/create-order", json=body)


async def eventually(
    probe: Callable[[], Awaitable[T]], accept: Callable[[T], bool], timeout: float = 20
) -> T:
    """Poll ``probe`` until ``accept`` holds; fail with the last value at the deadline."""
    deadline = time.monotonic() + timeout
    while True:
        value = await probe()
        if accept(value):
            return value
        if time.monotonic() > deadline:
            raise AssertionError(
                f"condition not met within {timeout} s; last value: {value!r:.500}"
            )
        await asyncio.sleep(0.1)


async def create_once_accepted(
    http: aiohttp.ClientSession, platform: "LocalStack", prefix: str, timeout: float
) -> dict:
    """Create orders ``<prefix>-1``, ``<prefix>-2`` … until one gets 201; its body.

    A fresh orderId each time: an attempt answered 504 may still have happened.
    """
    attempts = itertools.count(1)
    _, created, _ = await eventually(
        lambda: create_order(http, platform, f"{prefix}-{next(attempts)}"),
        lambda r: r[0] == 201,
        timeout=timeout,
    )
    return created


async def order_events(platform: "LocalStack", order_id: str) -> list[OrderEvent]:
    """Every event of one order on ``order-events``, in log order."""
    return (await events_by_order(platform, {order_id})).get(order_id, [])


async def records_of(bootstrap_servers: str, topic: str, keys: set[bytes]) -> list[ConsumerRecord]:
    """Every record of these keys in ``topic`` up to its end offsets now, in log order."""
    consumer = AIOKafkaConsumer(
        bootstrap_servers=bootstrap_servers,
        enable_auto_commit=False,
        isolation_level="read_committed",
    )
    await consumer.start()
    try:
        partitions = [TopicPartition(topic, p) for p in range(PARTITIONS)]
        consumer.assign(partitions)
        ends = await consumer.end_offsets(partitions)
        for tp in partitions:
            consumer.seek(tp, 0)
        found: list[ConsumerRecord] = []
        while [tp for tp in partitions if await consumer.position(tp) < ends[tp]]:
            for tp, records in (await consumer.getmany(timeout_ms=500)).items():
                found += [r for r in records if r.key in keys and r.offset < ends[tp]]
    finally:
        await consumer.stop()
    return sorted(found, key=lambda r: (r.partition, r.offset))


async def events_by_order(
    platform: "LocalStack", order_ids: set[str]
) -> dict[str, list[OrderEvent]]:
    """Every event of these orders on ``order-events``, in log order, by orderId."""
    keys = {order_id.encode() for order_id in order_ids}
    events = [r.value for r in await records_of(platform.bootstrap_servers, "order-events", keys)]
    found: dict[str, list[OrderEvent]] = {}
    async with events_format(platform.registry_url) as values:
        for value in events:
            event = OrderEvent.from_wire(await values.decode(value))
            found.setdefault(event.orderId, []).append(event)
    return found


async def produce(
    bootstrap_servers: str, records: list[tuple[bytes | None, bytes]], topic: str = "order-events"
) -> list[tuple[int, int]]:
    """Write raw records as any other producer would; (partition, offset) of each."""
    producer = AIOKafkaProducer(
        bootstrap_servers=bootstrap_servers, acks="all", enable_idempotence=True, linger_ms=5
    )
    await producer.start()
    try:
        sent = [await producer.send(topic, key=key, value=value) for key, value in records]
        return [((meta := await each).partition, meta.offset) for each in sent]
    finally:
        await producer.stop()


def event(order_id: str, version: int, *, quantity: int = 2, total: str = "20.00") -> dict:
    """Wire data of an OrderEvent as another producer might write it."""
    return {
        "eventId": f"{order_id}-{version}",
        "eventType": "OrderCreated" if version == 1 else "OrderStatusChanged",
        "orderId": order_id,
        "version": version,
        "occurredAt": "2026-11-25T10:00:00.000Z",
        "order": {
            "orderId": order_id,
            "customerId": "CUST-1",
            "orderDate": "2026-11-25T10:00:00.000Z",
            "items": [{"itemId": "SKU-1", "quantity": quantity, "price": Decimal("10.00")}],
            "totalAmount": loads(total),
            "currency": "USD",
            "status": "new" if version == 1 else "confirmed",
        },
    }


async def dead_letters(bootstrap_servers: str, topic: str = "order-events.DLQ") -> list:
    """Every record of a dead-letter topic."""
    consumer = AIOKafkaConsumer(
        topic,
        bootstrap_servers=bootstrap_servers,
        auto_offset_reset="earliest",
        enable_auto_commit=False,
    )
    await consumer.start()
    try:
        letters = []
        while batches := await consumer.getmany(timeout_ms=1000):
            letters += [record for records in batches.values() for record in records]
        return letters
    finally:
        await consumer.stop()


#: Schemas of other formats, as another team's producer would register them.
FOREIGN_SCHEMAS = {
    "JSON": '{"type": "object", "properties": {"orderId": {"type": "string"}}}',
    "PROTOBUF": 'syntax = "proto3";\nmessage Order { string orderId = 1; }\n',
}
UNKNOWN_SCHEMA_ID = 987_654


async def register_foreign_schema(registry_url: str, schema_type: str) -> int:
    async with (
        aiohttp.ClientSession() as session,
        session.post(
            f"{registry_url}/subjects/foreign-{schema_type.lower()}-value/versions",
            json={"schemaType": schema_type, "schema": FOREIGN_SCHEMAS[schema_type]},
            headers={"Content-Type": "application/vnd.schemaregistry.v1+json"},
        ) as response,
    ):
        assert response.status == 200, await response.text()
        return (await response.json())["id"]


async def the_letter_for(bootstrap_servers: str, key: bytes, topic: str = "order-events.DLQ"):
    letters = await eventually(
        lambda: dead_letters(bootstrap_servers, topic),
        lambda records: any(r.key == key for r in records),
    )
    (letter,) = [r for r in letters if r.key == key]
    return letter, {name: data.decode() for name, data in letter.headers}
