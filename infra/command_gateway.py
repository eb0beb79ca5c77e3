"""Sends a command to the cart agent and waits for its reply.

The agent that owns an order's partition may run in another worker, so the
reply comes back through Kafka (``order-command-replies``).  Every cart
worker reads all of that topic with a consumer outside any group, from the
end at start-up, and hands each reply to the request waiting for it.  When
the agent runs in the worker that holds the request, it hands the reply
over directly (``deliver_locally``).
"""

import asyncio
import logging

import faust
from aiokafka import AIOKafkaConsumer
from mode import Service

from infra.dead_letters import position
from infra.kafka_connection import KafkaConnection
from infra.kafka_metadata import topic_partitions
from infra.reachability import Dependencies, DependencyLost, DependencyUnavailable
from infra.topics import COMMAND_ID_HEADER
from infra.transport import FETCH_MAX_WAIT_MS, SEND_FAILURES
from models.codec import loads
from models.commands import CommandReply, OrderCommand

logger = logging.getLogger(__name__)


class NotAcknowledged(Exception):
    """The command was handed to Kafka but no reply came within the deadline.

    The change may or may not have happened.
    """


class CommandGateway(Service):
    def __init__(
        self,
        commands_topic: faust.TopicT,
        replies_topic: str,
        kafka: KafkaConnection,
        dependencies: Dependencies,
        deadline: float,
        **kwargs,
    ) -> None:
        self.commands_topic = commands_topic
        self.replies_topic = replies_topic
        self.kafka = kafka
        self.dependencies = dependencies
        self.deadline = deadline
        self._pending: dict[str, asyncio.Future[CommandReply]] = {}
        self._consumer: AIOKafkaConsumer | None = None
        self.listening = asyncio.Event()
        super().__init__(**kwargs)

    async def submit(self, command: OrderCommand) -> CommandReply:
        """Send ``command`` and return the agent's reply.

        Raises :class:`DependencyUnavailable` if Kafka or the registry is known
        to be away (nothing is sent), :class:`NotAcknowledged` if no reply
        comes within the deadline or a dependency goes away while we wait
        (the command may still be applied).
        """
        self.dependencies.require()
        if not self.listening.is_set():
            raise DependencyUnavailable("not yet listening for replies; nothing was sent")
        reply = self._pending[command.commandId] = asyncio.get_running_loop().create_future()
        try:
            return await self.dependencies.within(self._exchange(command, reply), self.deadline)
        except DependencyLost:
            reason = "a dependency became unreachable"
        except TimeoutError:
            reason = "no answer"
        except SEND_FAILURES as exc:  # it may still have been written
            reason = f"Kafka failed the send ({exc!r:.100})"
        finally:
            self._pending.pop(command.commandId, None)
        raise NotAcknowledged(
            f"{reason} while order {command.orderId} was being processed "
            f"(deadline {self.deadline:g} s); it may or may not have been applied"
        )

    async def _exchange(
        self, command: OrderCommand, reply: asyncio.Future[CommandReply]
    ) -> CommandReply:
        sent = await self.commands_topic.send(
            key=command.orderId,
            value=command.to_wire(),
            headers={COMMAND_ID_HEADER: command.commandId.encode()},
        )
        await sent
        return await reply

    def deliver_locally(self, reply: CommandReply) -> bool:
        """Hand ``reply`` to its request if that waits in this process.

        Saves a produce and a fetch per command when the agent that owns the
        order's partition runs in the worker that took the request (always,
        with one worker); replies to other workers still go through Kafka.
        """
        waiter = self._pending.get(reply.commandId)
        if waiter is None:
            return False
        if not waiter.done():
            waiter.set_result(reply)
        return True

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
            waiter = self._pending.get(reply.commandId)
            if waiter is not None and not waiter.done():
                waiter.set_result(reply)

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
            await consumer.stop()
            raise
        self._consumer = consumer

    async def on_stop(self) -> None:
        if self._consumer is not None:
            await self._consumer.stop()
