"""The order service's projector: every order event into ``orders_by_id``.

Each event carries the full order after the change, so applying it is
replacing the row — if the event is newer than the row.  An older or equal
version is a duplicate (a producer retry, or a command handled again after a
crash) and is skipped.  A version further ahead than the next one means
events were lost upstream: the snapshot is still complete, so it is applied,
and the gap is logged as a warning for an operator.

A record that cannot be decoded or validated goes, untouched, to the
dead-letter topic with the reason in its headers, and the stream goes on:
one bad record must not stop every order behind it in its partition.
"""

import asyncio
import logging
from enum import StrEnum

import faust
from faust.types import Message

from infra.metrics import ServiceMetrics
from infra.schema_registry import RegistryError
from infra.topics import OrderTopics
from infra.value_formats import UndecodableValue, ValueFormat
from models.events import OrderEvent
from models.money import shipping_cost
from models.rules import format_timestamp
from models.state import ShippedOrder
from models.wire import InvalidRecord, utc_now

logger = logging.getLogger(__name__)

REGISTRY_RETRY_SECONDS = 1.0


class Applied(StrEnum):
    NEXT = "next"
    AFTER_GAP = "after_gap"
    DUPLICATE = "duplicate"


def classify(event: OrderEvent, current: ShippedOrder | None) -> Applied:
    held = current.version if current else 0
    if event.version <= held:
        return Applied.DUPLICATE
    return Applied.NEXT if event.version == held + 1 else Applied.AFTER_GAP


def project(event: OrderEvent) -> ShippedOrder:
    order = event.order
    return ShippedOrder(
        order=order, version=event.version, shippingCost=shipping_cost(order.totalAmount)
    )


async def decode_event(
    key: bytes | None, value: bytes | None, events_format: ValueFormat
) -> OrderEvent:
    """The event in a record of ``order-events``; :class:`InvalidRecord` if there is none.

    Lets :class:`RegistryError` through: an unreachable registry says
    nothing about the record.
    """
    if value is None:
        raise InvalidRecord("record has no value")
    try:
        data = await events_format.decode(value)
    except UndecodableValue as exc:
        raise InvalidRecord(str(exc)) from None
    if not isinstance(data, dict):
        raise InvalidRecord("an OrderEvent must be a JSON object")
    event = OrderEvent.from_wire(data)
    if key != event.orderId.encode():
        raise InvalidRecord(f"record key {key!r:.80} is not the event's orderId")
    return event


def dead_letter_headers(
    message: Message, error: Exception, service: str
) -> list[tuple[str, bytes]]:
    """The original headers plus what went wrong and where the record came from."""
    return [
        *((name, value) for name, value in (message.headers or [])),
        ("dlq.error", type(error).__name__.encode()),
        ("dlq.reason", str(error)[:1000].encode()),
        ("dlq.source.topic", message.topic.encode()),
        ("dlq.source.partition", str(message.partition).encode()),
        ("dlq.source.offset", str(message.offset).encode()),
        ("dlq.service", service.encode()),
        ("dlq.failedAt", format_timestamp(utc_now()).encode()),
    ]


def register_projector(
    app: faust.App,
    topics: OrderTopics,
    orders_by_id: faust.Table,
    metrics: ServiceMetrics,
    events_format: ValueFormat,
) -> faust.types.AgentT:
    async def decode(message: Message, value: bytes | None) -> OrderEvent:
        """Decode, waiting out a registry outage: the record must not be skipped."""
        while True:
            try:
                return await decode_event(message.key, value, events_format)
            except RegistryError as exc:
                logger.warning(
                    "cannot decode until the registry answers",
                    extra={**position(message), "error": repr(exc)},
                )
                await asyncio.sleep(REGISTRY_RETRY_SECONDS)

    @app.agent(topics.event_records, name="project_order_events", concurrency=1)
    async def project_order_events(records: faust.StreamT[bytes]) -> None:
        async for value in records:
            message = records.current_event.message
            try:
                event = await decode(message, value)
            except InvalidRecord as exc:
                # Awaited: the offset is committed only after the DLQ has the record.
                sent = await topics.dead_letters.send(
                    key=message.key,
                    value=message.value,
                    headers=dead_letter_headers(message, exc, app.conf.id),
                )
                await sent
                metrics.dead_lettered.inc()
                logger.error(
                    "dead-lettered",
                    extra={**position(message), "key": repr(message.key), "reason": str(exc)},
                )
                continue
            apply(event, message)

    def apply(event: OrderEvent, message: Message) -> None:
        current = orders_by_id.get(event.orderId)
        applied = classify(event, current)
        fields = {
            "orderId": event.orderId,
            "eventId": event.eventId,
            "version": event.version,
            "heldVersion": current.version if current else 0,
            "outcome": applied.value,
            **position(message),
        }
        if applied is Applied.DUPLICATE:
            metrics.duplicates_skipped.inc()
            logger.info("duplicate event skipped", extra=fields)
            return
        if applied is Applied.AFTER_GAP:
            metrics.version_gaps.inc()
            logger.warning("version gap: the snapshot is applied", extra=fields)
        row = project(event)
        orders_by_id[event.orderId] = row
        metrics.events_applied.inc()
        logger.info(
            "order event applied",
            extra={
                **fields,
                "eventType": event.eventType.value,
                "orderStatus": row.order.status.value,
                "totalAmount": str(row.order.totalAmount),
                "currency": row.order.currency,
                "shippingCost": str(row.shippingCost),
            },
        )

    return project_order_events


def position(message: Message) -> dict[str, object]:
    """Where a record is, as every log line about it says."""
    return {"topic": message.topic, "partition": message.partition, "offset": message.offset}
