"""How long this worker may still act as the owner of its partitions.

The group coordinator gives a member's partitions to others once it has
heard nothing from it for the session timeout.  A worker that was paused
(SIGSTOP, a stalled VM) or cut off from the coordinator may not know yet
that its partitions moved, and must not publish decisions meanwhile: the
new owner decides from ``order-events`` as it found it.

The lease is the time since the coordinator last confirmed the membership
(a heartbeat it answered, counted from when it was sent, or a completed
rebalance): three heartbeat intervals.  ``order-events`` refuses records
stamped more than a max age ago (``message.timestamp.before.max.ms``), and
the group waits ``session timeout ≥ lease + max age + 1 s`` before it gives
a silent member's partitions to another: an event handed to the producer
under the lease but held up past it (the worker paused with the event in
the producer's buffer) is refused by the broker before the group could have
moved the partition.  So no event decided by a former owner is appended
after the next owner has read the partition (ADR in docs/design.md).
"""

import asyncio
import logging
import math
import time
from collections.abc import Awaitable, Callable
from typing import Any

from aiokafka import AIOKafkaConsumer
from aiokafka.errors import RequestTimedOutError

logger = logging.getLogger(__name__)

#: How often a member tells the coordinator it is alive.
HEARTBEAT_SECONDS = 1.0
#: How long a confirmation holds: three heartbeats, two of which may be late.
LEASE_SECONDS = 3 * HEARTBEAT_SECONDS
#: The margin for the send → receipt delay of a heartbeat and for clocks.
MARGIN_SECONDS = 1.0
#: How long a heartbeat or a coordinator lookup may go unanswered before the
#: coordinator is looked up again (on another node).  The consumer's own
#: request timeout is far longer: a hung coordinator (SIGSTOP, a stalled VM:
#: connections accepted, nothing answered) held the lease lapsed for it, and
#: the writers closed, long after the cluster had moved the group elsewhere.
COORDINATOR_DEADLINE_SECONDS = LEASE_SECONDS


class GroupLease:
    def __init__(self, seconds: float) -> None:
        self.seconds = seconds
        self._confirmed_at = -math.inf
        self._lapsed = False

    def confirm(self, at: float | None = None) -> None:
        self._confirmed_at = max(self._confirmed_at, time.monotonic() if at is None else at)
        if self._lapsed:
            self._lapsed = False
            logger.info("group membership confirmed again: the writers publish")

    @property
    def held(self) -> bool:
        unconfirmed = time.monotonic() - self._confirmed_at
        if unconfirmed < self.seconds:
            return True
        if not self._lapsed:
            self._lapsed = True
            logger.warning(
                "group membership not confirmed: the writers publish nothing until it is",
                extra={"secondsUnconfirmed": round(unconfirmed, 1)},
            )
        return False


def shortest_safe_session(event_max_age: float) -> float:
    """The shortest session timeout with which a lease cannot outlive the membership."""
    return LEASE_SECONDS + event_max_age + MARGIN_SECONDS


def confirm_on_heartbeats(consumer: AIOKafkaConsumer, lease: GroupLease) -> None:
    """Confirm ``lease`` on each heartbeat the coordinator answers, and give the
    heartbeat and the coordinator lookup a deadline (once per consumer).

    aiokafka 0.14 has no hook for a successful heartbeat and one request
    timeout for all its requests: its coordinator's private ``_do_heartbeat``
    and its client's ``coordinator_lookup``, ``_metadata_update`` and
    ``_get_conn`` are wrapped (shims, listed in docs/design.md).  A heartbeat
    past the deadline marks the coordinator dead, as aiokafka does on a failed
    request; a lookup past it is a retriable timeout (aiokafka refreshes the
    metadata and asks a random node again); a metadata refresh past it is a
    failed one, and a new connection past it one that could not be made.
    """
    coordinator = consumer._coordinator
    if coordinator is None or getattr(coordinator, "_confirms_lease", False):
        return
    heartbeat: Callable[[], Awaitable[bool]] = coordinator._do_heartbeat
    client = coordinator._client
    lookup: Callable[..., Awaitable[int]] = client.coordinator_lookup
    metadata_update: Callable[..., Awaitable[bool]] = client._metadata_update
    connection_to: Callable[..., Awaitable[Any]] = client._get_conn

    async def confirming() -> bool:
        sent_at = time.monotonic()
        node = coordinator.coordinator_id
        try:
            async with asyncio.timeout(COORDINATOR_DEADLINE_SECONDS):
                answered = await heartbeat()
        except TimeoutError:
            logger.warning(
                "the group coordinator did not answer a heartbeat in time: looking it up again",
                extra={"node": node, "deadlineSeconds": COORDINATOR_DEADLINE_SECONDS},
            )
            coordinator.coordinator_dead()
            return False
        if answered:
            lease.confirm(sent_at)
        return answered

    async def bounded_lookup(*args: object) -> int:
        try:
            async with asyncio.timeout(COORDINATOR_DEADLINE_SECONDS):
                return await lookup(*args)
        except TimeoutError:
            raise RequestTimedOutError("no answer to the coordinator lookup in time") from None

    async def bounded_metadata_update(*args: object) -> bool:
        # The client's metadata refresh asks one node after another on its
        # connections: a hung node held it for the request timeout, and with it every
        # coordinator lookup (which waits for a refresh after a failed one) and every
        # leader the cluster had moved.  Past the deadline it is a failed refresh, as
        # aiokafka answers one, and the next one asks the nodes in another order.
        try:
            async with asyncio.timeout(COORDINATOR_DEADLINE_SECONDS):
                return await metadata_update(*args)
        except TimeoutError:
            logger.warning(
                "no broker answered a metadata request in time",
                extra={"deadlineSeconds": COORDINATOR_DEADLINE_SECONDS},
            )
            return False

    async def bounded_connection_to(node_id: object, **kwargs: object) -> Any:
        # A new connection asks the node for its API versions, under a lock of the
        # client's: to a hung node, that held every new connection of the consumer,
        # the coordinator's included, for the client's request timeout.
        try:
            async with asyncio.timeout(COORDINATOR_DEADLINE_SECONDS):
                return await connection_to(node_id, **kwargs)
        except TimeoutError:
            logger.warning(
                "a broker did not answer a new connection in time",
                extra={"node": node_id, "deadlineSeconds": COORDINATOR_DEADLINE_SECONDS},
            )
            client.force_metadata_update()
            return None  # what aiokafka answers for a node it cannot connect to

    coordinator._do_heartbeat = confirming
    client.coordinator_lookup = bounded_lookup
    client._metadata_update = bounded_metadata_update
    client._get_conn = bounded_connection_to
    coordinator._confirms_lease = True
