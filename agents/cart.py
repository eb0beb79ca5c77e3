"""The cart's command handler: the single writer of every order.

One actor per partition (``isolated_partitions``): the commands of one order
are decided one after the other, in the order they were written, while the
partitions' actors run side by side.  An actor decides each command as it
comes, against the table *and its own earlier decisions still in flight* (a
pure function of the command and the order's row), and hands the event to
the producer without awaiting its acknowledgement.  Beside it, the actor's
completer takes what is in flight in order, in batches: it awaits their
acknowledgements together, and only then stores the rows, answers the
requests and acknowledges the commands, so a 2xx means the event is durable
and the offset moves only past handled commands.

A command record the actor cannot read (an unknown schema, as in a rolling
deploy, or bytes some other writer put there) goes to
``order-commands.DLQ`` with the reason in its headers, in its place in the
pipeline: nothing in flight is dropped, and the request waiting for it (named
by the record's ``commandId`` header) is answered 503 at once.
"""

import asyncio
import logging
from collections.abc import Callable, Iterator
from dataclasses import dataclass
from typing import NoReturn

import faust
from aiokafka.structs import RecordMetadata

from agents.hand_over import acknowledged, hand_over
from agents.table_writes import writing_to_partition
from agents.worker_exit import exit_to_reprocess
from infra.dead_letters import dead_letter_headers, position
from infra.metrics import ServiceMetrics
from infra.schema_registry import RegistryError
from infra.topics import COMMAND_ID_HEADER, OrderTopics
from infra.transport import SEND_FAILURES
from infra.value_formats import UndecodableValue, ValueFormat, ValueFormats
from models.commands import CommandReply, CommandType, OrderCommand, Outcome
from models.events import EventType, OrderEvent, event_id_for
from models.order import Order
from models.state import CartOrder
from models.status import IllegalTransition, check_transition
from models.wire import InvalidRecord

logger = logging.getLogger(__name__)

#: Between two attempts to read a command while the registry does not answer.
REGISTRY_RETRY_SECONDS = 1.0


@dataclass(frozen=True)
class Decision:
    reply: CommandReply
    #: Set together: the event to publish and the order's row after it.
    event: OrderEvent | None = None
    row: CartOrder | None = None
    #: The command was applied before (handled again after a crash).
    redelivered: bool = False


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
        return Decision(
            reply=reply(done, f"order {command.orderId} {done.value}"), redelivered=True
        )

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


class PendingRows:
    """Rows decided but not yet stored: what the next command of an order must see."""

    def __init__(self, stored: Callable[[str], CartOrder | None]) -> None:
        self._stored = stored
        self._rows: dict[str, CartOrder] = {}

    def decide(self, command: OrderCommand) -> Decision:
        current = self._rows.get(command.orderId)
        decision = decide(command, self._stored(command.orderId) if current is None else current)
        if decision.row is not None:
            self._rows[command.orderId] = decision.row
        return decision

    def stored(self, order_id: str, row: CartOrder) -> None:
        """``row`` is in the table now; a later decision of the order stays."""
        if self._rows.get(order_id) is row:
            del self._rows[order_id]


async def decode_command(
    key: bytes | None, value: bytes | None, commands_format: ValueFormat
) -> OrderCommand:
    """The command in a record of ``order-commands``; :class:`InvalidRecord` if there is none.

    Lets :class:`RegistryError` through: an unreachable registry says
    nothing about the record.
    """
    if value is None:
        raise InvalidRecord("record has no value")
    try:
        command = OrderCommand.from_wire(await commands_format.decode(value))
    except UndecodableValue as exc:
        raise InvalidRecord(str(exc)) from None
    if key != command.orderId.encode():
        raise InvalidRecord(f"record key {key!r:.80} is not the command's orderId")
    return command


@dataclass(frozen=True)
class InFlight:
    """A command decided, its event (if any) handed to the producer; or a record that is
    no command (``command`` None), its dead letter handed over in its place."""

    record: faust.EventT
    command: OrderCommand | None
    decision: Decision | None
    written: asyncio.Future[RecordMetadata] | None


def register_command_handler(
    app: faust.App,
    topics: OrderTopics,
    orders_by_id: faust.Table,
    metrics: ServiceMetrics,
    formats: ValueFormats,
    deliver_locally: Callable[[CommandReply], bool],
    max_in_flight: int,
    delivery_timeout: float,
) -> faust.types.AgentT:
    async def send(event: OrderEvent) -> asyncio.Future[RecordMetadata]:
        """Hand ``event`` to the producer; the acknowledgement is awaited later."""
        return await hand_over(
            lambda: topics.events.send(
                key=event.orderId,
                value=event.to_wire(),
                headers={
                    "eventType": event.eventType.value.encode(),
                    "content-type": formats.events.content_type,
                },
            ),
            {
                "eventType": event.eventType.value,
                "orderId": event.orderId,
                "eventId": event.eventId,
                "version": event.version,
            },
        )

    async def read(record: faust.EventT) -> OrderCommand:
        """The record's command, waiting out a registry outage: it must not be skipped."""
        message = record.message
        while True:
            try:
                return await decode_command(message.key, record.value, formats.commands)
            except RegistryError as exc:
                logger.warning(
                    "cannot read the command until the registry answers",
                    extra={**position(message), "error": repr(exc)},
                )
                await asyncio.sleep(REGISTRY_RETRY_SECONDS)

    async def dead_letter(record: faust.EventT, error: Exception) -> asyncio.Future[RecordMetadata]:
        message = record.message
        metrics.commands.labels("unreadable", "dead_lettered").inc()
        logger.error(
            "command dead-lettered",
            extra={**position(message), "key": repr(message.key), "reason": str(error)},
        )
        return await hand_over(
            lambda: topics.command_dead_letters.send(
                key=message.key,
                value=record.value,
                headers=dead_letter_headers(message, error, app.conf.id),
            ),
            {"writing": "dead letter", **position(message)},
        )

    def stop_the_worker(batch: list[InFlight], error: Exception) -> NoReturn:
        first = batch[0].record.message
        exit_to_reprocess(
            "commands in flight cannot be finished",
            {
                "topic": first.topic,
                "partition": first.partition,
                "fromOffset": first.offset,
                "commands": len(batch),
                "error": repr(error),
            },
        )

    def log_completed(
        command: OrderCommand, decision: Decision, metadata: RecordMetadata | None
    ) -> None:
        event = decision.event
        outcome = decision.reply.outcome.value
        metrics.commands.labels(command.commandType.value, outcome).inc()
        if event is None or metadata is None:
            logger.info(
                "command decided, nothing published",
                extra={
                    "commandType": command.commandType.value,
                    "orderId": command.orderId,
                    "outcome": outcome,
                },
            )
            return
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
                "outcome": outcome,
            },
        )

    replies_on_the_way: set[asyncio.Task[None]] = set()

    def reply_elsewhere(reply: CommandReply) -> None:
        """Send ``reply`` to the worker whose request waits for it, without waiting.

        Best effort: the request may be gone already (it answered 504), and a
        reply that cannot be sent must not hold up the partition.
        """

        async def send_reply() -> None:
            try:
                await topics.replies.send(key=reply.commandId, value=reply.to_wire())
            except SEND_FAILURES as exc:
                logger.warning(
                    "reply not sent; the request waiting for it ends in 504",
                    extra={"commandId": reply.commandId, "error": repr(exc)},
                )

        task = asyncio.create_task(send_reply())
        replies_on_the_way.add(task)
        task.add_done_callback(replies_on_the_way.discard)

    async def complete(
        commands: faust.StreamT[OrderCommand],
        in_flight: asyncio.Queue[InFlight],
        pending: PendingRows,
    ) -> None:
        """Take what is in flight in order and finish it once Kafka has the events."""
        while True:
            batch = [await in_flight.get()]
            while not in_flight.empty():
                batch.append(in_flight.get_nowait())
            try:
                # A 2xx must mean the event is durable: the acks come first.
                events = [entry.written for entry in batch if entry.written is not None]
                written = iter(await acknowledged(events, delivery_timeout))
                await finish(commands, batch, written, pending)
            except Exception as error:  # not delivered, or a defect: what follows cannot stand
                stop_the_worker(batch, error)

    async def finish(
        commands: faust.StreamT[OrderCommand],
        batch: list[InFlight],
        written: Iterator[RecordMetadata],
        pending: PendingRows,
    ) -> None:
        """Store, log, answer and acknowledge ``batch``, whose events Kafka has."""
        for entry in batch:
            if entry.command is None or entry.decision is None:  # dead-lettered
                next(written)
                answer(unreadable_reply(entry.record))
                await commands.ack(entry.record)
                continue
            row, order_id = entry.decision.row, entry.command.orderId
            message = entry.record.message
            metadata = None
            if entry.written is not None and row is not None:
                metadata = next(written)
                with writing_to_partition(app, message.topic, message.partition):
                    orders_by_id[order_id] = row
                pending.stored(order_id, row)
            elif entry.decision.redelivered:
                # The store kept the row this command wrote, but its changelog
                # record may have been lost with the crashed process: again.
                with writing_to_partition(app, message.topic, message.partition):
                    if (stored := orders_by_id.get(order_id)) is not None:
                        orders_by_id[order_id] = stored
            log_completed(entry.command, entry.decision, metadata)
            answer(entry.decision.reply)
            await commands.ack(entry.record)

    def answer(reply: CommandReply | None) -> None:
        if reply is not None and not deliver_locally(reply):
            reply_elsewhere(reply)

    @app.agent(topics.command_records, name="handle_order_commands", isolated_partitions=True)
    async def handle_order_commands(stream: faust.StreamT[bytes]) -> None:
        commands = stream.noack()
        pending = PendingRows(orders_by_id.get)
        in_flight: asyncio.Queue[InFlight] = asyncio.Queue(max_in_flight)
        completer = asyncio.create_task(complete(commands, in_flight, pending))
        try:
            async for record in commands.events():
                try:
                    command = await read(record)
                except Exception as exc:  # whatever the record holds: it stops nothing
                    written = await dead_letter(record, exc)
                    await in_flight.put(InFlight(record, None, None, written))
                    continue
                decision = pending.decide(command)
                event = decision.event
                written = await send(event) if event is not None else None
                await in_flight.put(InFlight(record, command, decision, written))
        finally:
            # Revoked or stopping: what is in flight stays unacknowledged, and
            # the partition's next owner handles it again.
            completer.cancel()

    return handle_order_commands


def unreadable_reply(record: faust.EventT) -> CommandReply | None:
    """The answer to a command that could not be read, if its record names the request."""
    header = dict(record.message.headers or ()).get(COMMAND_ID_HEADER)
    if not header:
        return None
    try:
        command_id = header.decode()
    except UnicodeDecodeError:
        return None
    return CommandReply(
        commandId=command_id,
        outcome=Outcome.UNREADABLE,
        detail="the worker that owns the order cannot read the command "
        "(another version of the service?); nothing was done",
    )
