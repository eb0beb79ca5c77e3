"""The cart's command handler: the single writer of every order.

One agent instance per partition, one command at a time (concurrency 1): two
updates of one order never interleave.  The decision is a pure function of
the command and the order's current row; the agent then publishes the event,
waits for Kafka's acknowledgement, stores the new row and replies.
"""

import asyncio
import logging
from collections.abc import Callable
from dataclasses import dataclass

import faust
from aiokafka.errors import KafkaError
from aiokafka.structs import RecordMetadata

from infra.metrics import ServiceMetrics
from infra.topics import OrderTopics
from models.commands import CommandReply, CommandType, OrderCommand, Outcome
from models.events import EventType, OrderEvent, event_id_for
from models.order import Order
from models.state import CartOrder
from models.status import IllegalTransition, check_transition

logger = logging.getLogger(__name__)

PUBLISH_RETRY_FIRST_DELAY = 0.5
PUBLISH_RETRY_MAX_DELAY = 5.0


@dataclass(frozen=True)
class Decision:
    reply: CommandReply
    #: Set together: the event to publish and the order's row after it.
    event: OrderEvent | None = None
    row: CartOrder | None = None


def decide(command: OrderCommand, current: CartOrder | None) -> Decision:
    """What a command does to an order: the event to publish (if any) and the reply."""

    def reply(outcome: Outcome, detail: str, row: CartOrder | None = current) -> CommandReply:
        return CommandReply(
            commandId=command.commandId,
            outcome=outcome,
            detail=detail,
            order=row.order if row else None,
            version=row.version if row else 0,
        )

    def publish(event_type: EventType, outcome: Outcome, version: int, order: Order) -> Decision:
        event = OrderEvent(
            eventId=event_id_for(command.commandId),
            eventType=event_type,
            orderId=command.orderId,
            version=version,
            # The command's time, not the clock: a redelivered command must
            # yield the very same event.
            occurredAt=command.issuedAt,
            order=order,
        )
        row = CartOrder(order=order, version=version, lastCommandId=command.commandId)
        return Decision(reply(outcome, f"order {command.orderId} {outcome.value}", row), event, row)

    if current is not None and current.lastCommandId == command.commandId:
        # Redelivered after a crash, already applied: answer as the first time.
        done = (
            Outcome.CREATED if command.commandType is CommandType.CREATE_ORDER else Outcome.UPDATED
        )
        return Decision(reply=reply(done, f"order {command.orderId} {done.value}"))

    if command.commandType is CommandType.CREATE_ORDER:
        if current is not None:
            return Decision(
                reply(Outcome.ALREADY_EXISTS, f"order {command.orderId} already exists")
            )
        assert command.order is not None  # guaranteed by OrderCommand.from_wire
        return publish(EventType.ORDER_CREATED, Outcome.CREATED, 1, command.order)

    if current is None:
        return Decision(reply(Outcome.NOT_FOUND, f"order {command.orderId} does not exist"))
    assert command.status is not None  # guaranteed by OrderCommand.from_wire
    try:
        check_transition(current.order.status, command.status)
    except IllegalTransition as exc:
        return Decision(reply(Outcome.ILLEGAL_TRANSITION, str(exc)))
    if command.status == current.order.status:
        return Decision(
            reply(Outcome.UNCHANGED, f"order {command.orderId} is already {command.status.value}")
        )
    return publish(
        EventType.ORDER_STATUS_CHANGED,
        Outcome.UPDATED,
        current.version + 1,
        current.order.with_status(command.status),
    )


def register_command_handler(
    app: faust.App,
    topics: OrderTopics,
    orders_by_id: faust.Table,
    metrics: ServiceMetrics,
    content_type: bytes,
    deliver_locally: Callable[[CommandReply], bool],
) -> faust.types.AgentT:
    async def publish(event: OrderEvent) -> RecordMetadata:
        """Publish ``event`` and return Kafka's acknowledgement, retrying until there is one.

        Moving on without it could leave an event that was written but is not
        in the table, and the next command of the order would then reuse its
        version with different content.  A retry may write the event twice;
        both copies have the same eventId and version, and consumers skip the
        second.  While Kafka is away this holds up the commands behind it in
        the partition, which could not be applied anyway.
        """
        delay = PUBLISH_RETRY_FIRST_DELAY
        while True:
            try:
                sent = await topics.events.send(
                    key=event.orderId,
                    value=event.to_wire(),
                    headers={
                        "eventType": event.eventType.value.encode(),
                        "content-type": content_type,
                    },
                )
                return await sent
            except KafkaError as exc:
                logger.warning(
                    "publish failed; retrying",
                    extra={
                        "eventType": event.eventType.value,
                        "orderId": event.orderId,
                        "eventId": event.eventId,
                        "version": event.version,
                        "error": repr(exc),
                        "retryIn": delay,
                    },
                )
                await asyncio.sleep(delay)
                delay = min(delay * 2, PUBLISH_RETRY_MAX_DELAY)

    @app.agent(topics.commands, name="handle_order_commands", concurrency=1)
    async def handle_order_commands(commands: faust.StreamT[OrderCommand]) -> None:
        async for command in commands:
            decision = decide(command, orders_by_id.get(command.orderId))
            metrics.commands.labels(command.commandType.value, decision.reply.outcome.value).inc()
            if decision.event is not None:
                event = decision.event
                # A 2xx must mean the event is durable: the ack comes first.
                metadata = await publish(event)
                orders_by_id[command.orderId] = decision.row
                logger.info(
                    "event published",
                    extra={
                        "eventType": event.eventType.value,
                        "orderId": event.orderId,
                        "eventId": event.eventId,
                        "version": event.version,
                        "orderStatus": event.order.status.value,
                        "partition": metadata.partition,
                        "offset": metadata.offset,
                        "outcome": decision.reply.outcome.value,
                    },
                )
            else:
                logger.info(
                    "command decided, nothing published",
                    extra={
                        "commandType": command.commandType.value,
                        "orderId": command.orderId,
                        "outcome": decision.reply.outcome.value,
                    },
                )
            if not deliver_locally(decision.reply):
                await topics.replies.send(key=command.commandId, value=decision.reply.to_wire())

    return handle_order_commands
