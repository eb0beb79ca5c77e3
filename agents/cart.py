"""The cart's command handler: the single writer of every order.

One agent instance per partition, one command at a time (concurrency 1): two
updates of one order never interleave.  The decision is a pure function of
the command and the order's current row; the agent then publishes the event,
waits for Kafka's acknowledgement, stores the new row and replies.
"""

import logging
from dataclasses import dataclass

import faust

from app.topics import OrderTopics
from models.commands import CommandReply, CommandType, OrderCommand, Outcome
from models.events import EventType, OrderEvent, event_id_for
from models.order import Order
from models.state import CartOrder
from models.status import IllegalTransition, check_transition

logger = logging.getLogger(__name__)


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
    app: faust.App, topics: OrderTopics, orders_by_id: faust.Table
) -> faust.types.AgentT:
    @app.agent(topics.commands, name="handle_order_commands", concurrency=1)
    async def handle_order_commands(commands: faust.StreamT[OrderCommand]) -> None:
        async for command in commands:
            decision = decide(command, orders_by_id.get(command.orderId))
            if decision.event is not None:
                event = decision.event
                sent = await topics.events.send(
                    key=command.orderId,
                    value=event,
                    headers={
                        "eventType": event.eventType.value.encode(),
                        "content-type": b"application/json",
                    },
                )
                # A 2xx must mean the event is durable: wait for the ack.
                metadata = await sent
                orders_by_id[command.orderId] = decision.row
                logger.info(
                    "published %s order=%s version=%d status=%s partition=%d offset=%d",
                    event.eventType.value,
                    event.orderId,
                    event.version,
                    event.order.status.value,
                    metadata.partition,
                    metadata.offset,
                )
            else:
                logger.info(
                    "command %s order=%s: %s",
                    command.commandType.value,
                    command.orderId,
                    decision.reply.outcome.value,
                )
            await topics.replies.send(key=command.commandId, value=decision.reply)

    return handle_order_commands
