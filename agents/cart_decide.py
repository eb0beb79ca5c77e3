"""The cart's rule: what a command does to an order, given the order's latest event."""

from dataclasses import dataclass

from models.commands import CommandReply, CommandType, OrderCommand, Outcome
from models.events import EventType, OrderEvent, event_id_for
from models.order import Order
from models.status import IllegalTransition, check_transition


@dataclass(frozen=True)
class Decision:
    reply: CommandReply
    #: The event to publish, if the command changes the order.
    event: OrderEvent | None = None


def decide(command: OrderCommand, current: OrderEvent | None) -> Decision:
    """The event ``command`` publishes (if any) and the reply, from the order's latest event.

    A pure function: a command handled again (redelivered from
    ``order-commands`` after a crash) whose event is the order's latest is
    answered as the first time, and publishes nothing.
    """

    def reply(outcome: Outcome, detail: str, latest: OrderEvent | None = current) -> CommandReply:
        return CommandReply.model_construct(
            commandId=command.commandId,
            outcome=outcome,
            detail=detail,
            order=latest.order if latest else None,
            version=latest.version if latest else 0,
        )

    def publish(event_type: EventType, outcome: Outcome, version: int, order: Order) -> Decision:
        event = OrderEvent.model_construct(
            eventId=event_id_for(command.commandId),
            eventType=event_type,
            orderId=command.orderId,
            version=version,
            # The command's time, not the clock: a redelivered command must
            # yield the very same event.
            occurredAt=command.issuedAt,
            order=order,
        )
        return Decision(reply(outcome, f"order {command.orderId} {outcome.value}", event), event)

    if current is not None and current.eventId == event_id_for(command.commandId):
        done = (
            Outcome.CREATED if command.commandType is CommandType.CREATE_ORDER else Outcome.UPDATED
        )
        return Decision(reply(done, f"order {command.orderId} {done.value}"))

    if command.commandType is CommandType.CREATE_ORDER:
        if current is not None:
            return Decision(
                reply(Outcome.ALREADY_EXISTS, f"order {command.orderId} already exists")
            )
        assert command.order is not None  # guaranteed by OrderCommand's validation
        return publish(EventType.ORDER_CREATED, Outcome.CREATED, 1, command.order)

    if current is None:
        return Decision(reply(Outcome.NOT_FOUND, f"order {command.orderId} does not exist"))
    if command.ifMatch is not None and current.version not in command.ifMatch:
        wanted = ", ".join(str(v) for v in command.ifMatch)
        return Decision(
            reply(
                Outcome.VERSION_MISMATCH,
                f"order {command.orderId} is at version {current.version}, not {wanted}; "
                "nothing was changed",
            )
        )
    assert command.status is not None  # guaranteed by OrderCommand's validation
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


def unconfirmed_ownership(command: OrderCommand, partition: int) -> Decision:
    """The answer instead of an event while the worker's hold on ``partition`` is unsure."""
    return Decision(
        CommandReply.model_construct(
            commandId=command.commandId,
            outcome=Outcome.OWNERSHIP_UNCONFIRMED,
            detail=f"this worker cannot confirm that it still owns partition {partition} of "
            f"order {command.orderId} (paused, or cut off from the group); nothing was done",
            order=None,
            version=0,
        )
    )
