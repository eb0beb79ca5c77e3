"""The order service's projector: every order event into ``orders_by_id``.

Each event carries the full order after the change, so applying it is
replacing the row — if the event is newer than the row.  An older or equal
version is a duplicate (a producer retry or a command redelivered after a
crash) and is skipped; a version further ahead than the next one means
events were lost upstream: the snapshot is still complete, so it is applied,
and the gap is logged as a warning for an operator.
"""

import logging
from enum import StrEnum

import faust

from app.topics import OrderTopics
from models.events import OrderEvent
from models.money import shipping_cost
from models.state import ShippedOrder

logger = logging.getLogger(__name__)


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


def register_projector(
    app: faust.App, topics: OrderTopics, orders_by_id: faust.Table
) -> faust.types.AgentT:
    @app.agent(topics.events, name="project_order_events", concurrency=1)
    async def project_order_events(events: faust.StreamT[OrderEvent]) -> None:
        async for event in events:
            message = events.current_event.message
            current = orders_by_id.get(event.orderId)
            applied = classify(event, current)
            if applied is Applied.DUPLICATE:
                logger.info(
                    "skipped duplicate order=%s version=%d (held %d) "
                    "event=%s partition=%d offset=%d",
                    event.orderId,
                    event.version,
                    current.version,
                    event.eventId,
                    message.partition,
                    message.offset,
                )
                continue
            if applied is Applied.AFTER_GAP:
                logger.warning(
                    "version gap order=%s: held %d, got %d; applying the snapshot",
                    event.orderId,
                    current.version if current else 0,
                    event.version,
                )
            row = project(event)
            orders_by_id[event.orderId] = row
            logger.info(
                "applied %s order=%s version=%d status=%s total=%s %s shipping=%s "
                "event=%s partition=%d offset=%d",
                event.eventType.value,
                event.orderId,
                event.version,
                row.order.status.value,
                row.order.totalAmount,
                row.order.currency,
                row.shippingCost,
                event.eventId,
                message.partition,
                message.offset,
            )

    return project_order_events
