"""Waits for the answers to commands, with a deadline: from a writer of this worker, or
through Kafka from the worker that owns the order.

A command for a partition another worker owns is written to ``order-commands``;
the reply comes back through ``order-command-replies``, which every cart worker
reads whole with a consumer outside any group, from the end at start-up, and
hands to the request waiting for it.  A reply from a writer of this worker
(the command took the fast path, or came back through ``order-commands`` to
this worker) is handed over directly.

Every request waits at most ``deadline`` seconds, and all of them end at once
(504) when Kafka goes away meanwhile: the change may or may not happen.
"""

import asyncio
import logging
from typing import Any, Protocol

import faust
from aiokafka import AIOKafkaConsumer
from aiokafka.structs import RecordMetadata
from mode import Service

from infra.dead_letters import position
from infra.kafka_connection import KafkaConnection, stop_consumer
from infra.kafka_metadata import topic_partitions
from infra.reachability import Dependencies, DependencyLost, DependencyUnavailable
from infra.topics import COMMAND_ID_HEADER
from infra.transport import FETCH_MAX_WAIT_MS, SEND_FAILURES
from models.codec import loads
from models.commands import CommandReply, OrderCommand

logger = logging.getLogger(__name__)


class NoReplyInTime(Exception):
    """The command was handed over but no reply came within the deadline.

    The change may or may not have happened.
    """


class RemoteSends(Protocol):
    """Told of each command this worker writes to ``order-commands``."""

    def remote_send_started(self, order_id: str) -> object: ...
    def remote_send_ended(self, started: object, sent: RecordMetadata | None) -> None: ...


class CommandGateway(Service):
    def __init__(
        self,
        commands_topic: faust.TopicT,
        replies_topic: str,
        kafka: KafkaConnection,
        dependencies: Dependencies,
        remote_sends: RemoteSends,
        deadline: float,
        **kwargs: Any,
    ) -> None:
        self.commands_topic = commands_topic
        self.replies_topic = replies_topic
        self.kafka = kafka
        self.dependencies = dependencies
        self.remote_sends = remote_sends
        self.deadline = deadline
        #: The request waiting for each command's reply, by commandId.
        self._waiting: dict[str, asyncio.Future[CommandReply]] = {}
        self._consumer: AIOKafkaConsumer | None = None
        self.listening = asyncio.Event()
        super().__init__(**kwargs)

    async def submit(self, command: OrderCommand) -> CommandReply:
        """Write ``command`` to ``order-commands`` and return the owner's reply.

        Raises :class:`DependencyUnavailable` if Kafka is known to be away or
        replies cannot be received yet (nothing is sent), :class:`NoReplyInTime`
        if no reply comes within the deadline or Kafka goes away while we wait
        (the command may still be applied).
        """
        if not self.listening.is_set():
            raise DependencyUnavailable("not yet listening for replies; nothing was sent")
        return await self._reply(command, self._send(command))

    async def answer(
        self, answered: asyncio.Future[CommandReply], command: OrderCommand
    ) -> CommandReply:
        """The reply a writer of this worker gives ``command``, as :meth:`submit` waits."""
        answered.add_done_callback(lambda done: self._deliver(done.result()))
        return await self._reply(command, None)

    def deliver_locally(self, reply: CommandReply) -> bool:
        """Hand ``reply`` to its request if that waits in this process."""
        return self._deliver(reply)

    def _deliver(self, reply: CommandReply) -> bool:
        waiter = self._waiting.get(reply.commandId)
        if waiter is None:
            return False
        if not waiter.done():
            waiter.set_result(reply)
        return True

    async def _send(self, command: OrderCommand) -> None:
        started = self.remote_sends.remote_send_started(command.orderId)
        sent = None
        try:
            written = await self.commands_topic.send(
                key=command.orderId,
                value=command.to_wire(),
                headers={COMMAND_ID_HEADER: command.commandId.encode()},
            )
            sent = await written
        finally:
            self.remote_sends.remote_send_ended(started, sent)

    async def _reply(self, command: OrderCommand, sending: Any) -> CommandReply:
        reply = self._waiting[command.commandId] = asyncio.get_running_loop().create_future()
        try:
            async with asyncio.timeout(self.deadline):
                if sending is not None:
                    await sending
                return await reply
        except DependencyLost:
            reason = "Kafka became unreachable"
        except TimeoutError:
            reason = "no answer"
        except SEND_FAILURES as exc:  # it may still have been written
            reason = f"Kafka failed the send ({exc!r:.100})"
        finally:
            self._waiting.pop(command.commandId, None)
            if reply.done() and not reply.cancelled():
                reply.exception()  # an outage may have ended it after the deadline did
        raise NoReplyInTime(
            f"{reason} while order {command.orderId} was being processed "
            f"(deadline {self.deadline:g} s); it may or may not have been applied: send the "
            f'same request with the header Idempotency-Key: "{command.key}" to learn which'
        )

    @Service.task
    async def _end_requests_when_kafka_goes(self) -> None:
        """Every waiting request ends (504) as soon as a dependency stops answering."""
        while not self.should_stop:
            await self.dependencies.any_down()
            for waiter in self._waiting.values():
                if not waiter.done():
                    waiter.set_exception(DependencyLost("a dependency went away"))
            await self.dependencies.all_up()

    @Service.task
    async def _listen(self) -> None:
        # Replies written before we listen belong to requests of an earlier
        # run; start at the end, but only once Kafka answers.
        while not self.should_stop:
            try:
                await self._start_consumer()
                break
            except Exception as exc:
                logger.warning("cannot listen for command replies yet", extra={"error": repr(exc)})
                await self.sleep(1.0)
        consumer = self._consumer
        assert consumer is not None
        self.listening.set()
        async for record in consumer:
            try:
                reply = CommandReply.from_wire(loads(record.value))
            except Exception as exc:  # whatever a reply holds, listening goes on
                logger.error("unreadable reply", extra={**position(record), "error": repr(exc)})
                continue
            self._deliver(reply)

    async def _start_consumer(self) -> None:
        consumer = AIOKafkaConsumer(
            **self.kafka.client_options(),
            enable_auto_commit=False,
            auto_offset_reset="latest",
            fetch_max_wait_ms=FETCH_MAX_WAIT_MS,
        )
        assigned = await topic_partitions(self.kafka, self.replies_topic, 5.0)
        await consumer.start()
        try:
            consumer.assign(assigned)
            # Explicit offsets, resolved now rather than at the first fetch.
            for tp, end in (await consumer.end_offsets(assigned)).items():
                consumer.seek(tp, end)
        except BaseException:
            await stop_consumer(consumer)
            raise
        self._consumer = consumer

    async def on_stop(self) -> None:
        if self._consumer is not None:
            await stop_consumer(self._consumer)
