"""The commands other cart workers wrote to ``order-commands``, for this worker's writers.

A Faust agent reads the partitions this worker owns, in order; each record
is decoded and handed to the writer of its partition (a record that cannot
be read goes, untouched, to ``order-commands.DLQ`` in its place, and its
request is answered 503).  The answers go back through the reply path in the
order the commands arrived, and each record is acknowledged to Faust only
after its answer: a command is never skipped, and handled again after a
crash it is answered the same (the writer's rule and kept answers).
"""

import asyncio
import logging
from collections.abc import Callable
from typing import Any

import faust
from aiokafka.structs import RecordMetadata

from agents.cart import CartWriters
from agents.hand_over import hand_over
from infra.dead_letters import dead_letter_headers, position
from infra.metrics import ServiceMetrics
from infra.topics import COMMAND_ID_HEADER, OrderTopics
from infra.transport import SEND_FAILURES
from infra.value_formats import ValueFormats, read_order_record
from models.commands import CommandReply, OrderCommand, Outcome

logger = logging.getLogger(__name__)

#: A command record handed on: its answer to come, and whether it was dead-lettered.
Handled = tuple[faust.EventT, asyncio.Future[Any], bool]


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


class RemoteCommands:
    def __init__(
        self,
        app: faust.App,
        topics: OrderTopics,
        writers: CartWriters,
        formats: ValueFormats,
        metrics: ServiceMetrics,
        deliver_locally: Callable[[CommandReply], bool],
        max_in_flight: int,
    ) -> None:
        self.app = app
        self.topics = topics
        self.writers = writers
        self.formats = formats
        self.metrics = metrics
        self.deliver_locally = deliver_locally
        self.max_in_flight = max_in_flight
        self._replies_on_the_way: set[asyncio.Task[None]] = set()

    def register(self) -> faust.types.AgentT:
        """The Faust agent over ``order-commands``, one stream per partition."""
        return self.app.agent(
            self.topics.command_records, name="handle_remote_commands", isolated_partitions=True
        )(self.handle)

    async def handle(self, stream: faust.StreamT[bytes]) -> None:
        """Every command of the partition to its writer; answers and acks in order."""
        commands = stream.noack()
        handled: asyncio.Queue[Handled] = asyncio.Queue(self.max_in_flight)
        acknowledger = asyncio.create_task(self._acknowledge_in_order(commands, handled))
        try:
            async for record in commands.events():
                partition = record.message.partition
                writer = await self.writers.writer_of(partition)
                try:
                    command = await read_order_record(
                        OrderCommand, record.message, self.formats.commands
                    )
                except Exception as exc:  # whatever the record holds: it stops nothing
                    await handled.put((record, await self._dead_letter(record, exc), True))
                else:
                    await handled.put((record, writer.submit(command), False))
                self.writers.remote_read(partition, record.message.offset)
        finally:
            # Revoked or stopping: Faust waits for what is in flight to be
            # acknowledged first; anything left is its next owner's again.
            acknowledger.cancel()

    async def _acknowledge_in_order(
        self, commands: faust.StreamT[bytes], handled: asyncio.Queue[Handled]
    ) -> None:
        while True:
            record, done, dead_lettered = await handled.get()
            result = await done
            self._answer(unreadable_reply(record) if dead_lettered else result)
            await commands.ack(record)

    def _answer(self, reply: CommandReply | None) -> None:
        """Send ``reply`` to the worker whose request waits for it, without waiting.

        Best effort: the request may be gone already (it answered 504), and a
        reply that cannot be sent must not hold up the partition.
        """
        if reply is None or self.deliver_locally(reply):
            return
        task = asyncio.create_task(self._send_reply(reply))
        self._replies_on_the_way.add(task)
        task.add_done_callback(self._replies_on_the_way.discard)

    async def _send_reply(self, reply: CommandReply) -> None:
        try:
            await self.topics.replies.send(key=reply.commandId, value=reply.to_wire())
        except SEND_FAILURES as exc:
            logger.warning(
                "reply not sent; the request waiting for it ends in 504",
                extra={"commandId": reply.commandId, "error": repr(exc)},
            )

    async def _dead_letter(
        self, record: faust.EventT, error: Exception
    ) -> asyncio.Future[RecordMetadata]:
        message = record.message
        self.metrics.commands.labels("unreadable", "dead_lettered").inc()
        logger.error(
            "command dead-lettered",
            extra={**position(message), "key": repr(message.key), "reason": str(error)},
        )
        return await hand_over(
            lambda: self.topics.command_dead_letters.send(
                key=message.key,
                value=record.value,
                headers=dead_letter_headers(message, error, self.app.conf.id),
            ),
            {"writing": "dead letter", **position(message)},
        )
