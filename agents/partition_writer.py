"""The single writer of one partition's orders.

Every command of an order whose partition this worker owns comes here: from
the worker's own web views (the fast path) or from ``order-commands``
(written by another worker).  The writer decides the commands one after the
other, in the order they were submitted, each against the table *and the
writer's own decisions still in flight*, and hands each event to the
producer without waiting.  Beside it, the completer takes what is in flight
in order, in batches: it waits for Kafka's acknowledgements (``acks=all``),
then writes the rows and the offset they reach in one batch and answers.  A
2xx therefore always means the event is durable, and the rows never run
ahead of ``order-events``.

An event is published only while the worker's lease on its group membership
holds (:mod:`infra.group_lease`): a worker that may have lost the partition
without knowing it yet answers 503 and publishes nothing.

A command whose idempotency key the partition has answered already (stored,
or still in flight) is answered the same again, after that first answer, and
decides nothing (:mod:`agents.idempotency`).
"""

import asyncio
import logging
import time
from collections import Counter
from collections.abc import Awaitable, Callable
from dataclasses import dataclass
from typing import NoReturn

from aiokafka.structs import RecordMetadata

from agents.cart_decide import Decision, decide, unconfirmed_ownership
from agents.cart_orders import NEXT_KEPT_OFFSET_KEY, NEXT_OFFSET_KEY, CartOrders, row_of
from agents.hand_over import acknowledged
from agents.idempotency import (
    KeptAnswer,
    answer_again,
    event_header,
    kept_answer_key,
    still_kept,
)
from agents.worker_exit import exit_to_reprocess
from infra.metrics import ServiceMetrics
from models.commands import UNDECIDED, CommandReply, OrderCommand
from models.events import OrderEvent

logger = logging.getLogger(__name__)

#: Hands an event's bytes (and its idempotency header) to the producer for a
#: partition; the future is Kafka's acknowledgement.
Publish = Callable[
    [int, OrderEvent, bytes, tuple[str, bytes]], Awaitable[asyncio.Future[RecordMetadata]]
]
#: Hands a kept answer (its key and bytes) to the producer for a partition.
KeepAnswer = Callable[[int, bytes, bytes], Awaitable[asyncio.Future[RecordMetadata]]]


class WriterClosed(Exception):
    """The partition is being handed over: the writer takes no more commands."""


@dataclass(frozen=True)
class InFlight:
    """A command decided, its event or kept answer (if any) handed to the producer."""

    command: OrderCommand
    decision: Decision
    answer: asyncio.Future[CommandReply]
    payload: bytes | None = None
    written: asyncio.Future[RecordMetadata] | None = None
    #: Where the answer is kept, and the answer, for a command that decided something.
    kept: tuple[bytes, KeptAnswer] | None = None


class PartitionWriter:
    def __init__(
        self,
        partition: int,
        orders: CartOrders,
        encode: Callable[[OrderEvent], bytes],
        publish: Publish,
        keep_answer: KeepAnswer,
        lease_held: Callable[[], bool],
        metrics: ServiceMetrics,
        *,
        max_in_flight: int,
        delivery_timeout: float,
        key_lifetime: float,
    ) -> None:
        self.partition = partition
        self.orders = orders
        self.encode = encode
        self.publish = publish
        self.keep_answer = keep_answer
        self.key_lifetime = key_lifetime
        self.lease_held = lease_held
        self.metrics = metrics
        self.delivery_timeout = delivery_timeout
        self.open = True
        self._mailbox: asyncio.Queue[tuple[OrderCommand, asyncio.Future[CommandReply]]]
        self._mailbox = asyncio.Queue()
        self._in_flight: asyncio.Queue[InFlight] = asyncio.Queue(max_in_flight)
        #: Each order's latest event decided and not yet stored.
        self._pending: dict[str, OrderEvent] = {}
        #: Answers decided and not yet stored, by where they are kept.
        self._pending_answers: dict[bytes, KeptAnswer] = {}
        self._tasks = [
            asyncio.create_task(self._decide_each(), name=f"decide-{partition}"),
            asyncio.create_task(self._complete_each(), name=f"complete-{partition}"),
        ]

    def submit(self, command: OrderCommand) -> asyncio.Future[CommandReply]:
        """The reply to ``command``, once it is decided and its event (if any) is durable."""
        if not self.open:
            raise WriterClosed(f"partition {self.partition} is being handed over")
        answer: asyncio.Future[CommandReply] = asyncio.get_running_loop().create_future()
        self._mailbox.put_nowait((command, answer))
        return answer

    async def drain(self) -> None:
        """Finish every command submitted (the partition is revoked), then stop."""
        self.open = False
        await self._mailbox.join()
        await self._in_flight.join()
        for task in self._tasks:
            task.cancel()

    async def _current(self, order_id: str) -> OrderEvent | None:
        pending = self._pending.get(order_id)
        if pending is not None:
            return pending
        return await self.orders.event(self.partition, order_id)

    def _kept(self, key: bytes) -> KeptAnswer | None:
        kept = self._pending_answers.get(key)
        if kept is None:
            kept = self.orders.partition(self.partition).kept_answer(key)
        return still_kept(kept, self.key_lifetime)

    async def _decide_each(self) -> None:
        while True:
            command, answer = await self._mailbox.get()
            try:
                await self._in_flight.put(await self._decide(command, answer))
            except Exception as error:  # a defect: nothing after it can be decided safely
                self._stop_the_worker([], error)
            finally:
                self._mailbox.task_done()

    async def _decide(
        self, command: OrderCommand, answer: asyncio.Future[CommandReply]
    ) -> InFlight:
        key = kept_answer_key(command.orderId, command.key)
        kept = self._kept(key)
        if kept is not None:  # answered after the first answer, which may be in flight
            return InFlight(command, Decision(answer_again(command, kept)), answer)
        decision = decide(command, await self._current(command.orderId))
        if decision.event is not None and not self.lease_held():
            decision = unconfirmed_ownership(command, self.partition)
        event, reply = decision.event, decision.reply
        kept = KeptAnswer(command.requestHash, reply, time.time())
        if event is not None:
            payload = self.encode(event)
            written = await self.publish(self.partition, event, payload, event_header(command))
            self._pending[event.orderId] = event
            self._pending_answers[key] = kept
            return InFlight(command, decision, answer, payload, written, (key, kept))
        if reply.outcome in UNDECIDED or command.idempotencyKey is None:
            # Nothing to keep: sent again, the command is decided again, as nothing changed.
            return InFlight(command, decision, answer)
        written = await self.keep_answer(self.partition, key, kept.encode())
        self._pending_answers[key] = kept
        return InFlight(command, decision, answer, None, written, (key, kept))

    async def _complete_each(self) -> None:
        while True:
            batch = [await self._in_flight.get()]
            while not self._in_flight.empty():
                batch.append(self._in_flight.get_nowait())
            try:
                writes = [entry.written for entry in batch if entry.written is not None]
                self._finish(batch, await acknowledged(writes, self.delivery_timeout))
            except Exception as error:  # not delivered, or a defect: what follows cannot stand
                self._stop_the_worker(batch, error)
            for _ in batch:
                self._in_flight.task_done()

    def _finish(self, batch: list[InFlight], written: list[RecordMetadata]) -> None:
        """Store, log and answer ``batch``, whose events and kept answers Kafka has, in one
        go."""
        acks = iter(written)
        rows: dict[bytes, bytes] = {}
        offsets: dict[bytes, int] = {}
        lines = []
        outcomes: Counter[tuple[str, str]] = Counter()
        for entry in batch:
            command, reply, event = entry.command, entry.decision.reply, entry.decision.event
            line: dict[str, object] = {"orderId": command.orderId, "outcome": reply.outcome.value}
            if entry.written is not None:
                metadata = next(acks)
                if event is not None and entry.payload is not None:
                    rows[event.orderId.encode()] = row_of(event.version, entry.payload)
                    offsets[NEXT_OFFSET_KEY] = metadata.offset + 1
                    line |= {"version": event.version, "offset": metadata.offset}
                    if self._pending.get(event.orderId) is event:
                        del self._pending[event.orderId]
                else:
                    offsets[NEXT_KEPT_OFFSET_KEY] = metadata.offset + 1
            if entry.kept is not None:
                key, kept = entry.kept
                rows[key] = kept.encode()
                if self._pending_answers.get(key) is kept:
                    del self._pending_answers[key]
            if reply.replayed:
                line["replayed"] = True
            lines.append(line)
            outcomes[command.commandType.value, reply.outcome.value] += 1
            if not entry.answer.done():
                entry.answer.set_result(reply)
        if rows:
            self.orders.partition(self.partition).write(rows, offsets)
        for (command_type, outcome), count in outcomes.items():
            self.metrics.commands.labels(command_type, outcome).inc(count)
        logger.info("commands decided", extra={"partition": self.partition, "commands": lines})

    def _stop_the_worker(self, batch: list[InFlight], error: Exception) -> NoReturn:
        exit_to_reprocess(
            "commands in flight cannot be finished",
            {
                "partition": self.partition,
                "commands": [entry.command.commandId for entry in batch],
                "error": repr(error),
            },
        )
