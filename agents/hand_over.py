"""Records for the producer: handed over (retried in place until the producer
takes them), then their acknowledgements awaited together, with a deadline."""

import asyncio
import logging
from collections.abc import Awaitable, Callable, Mapping
from typing import Any

from aiokafka.structs import RecordMetadata

from infra.transport import SEND_FAILURES

logger = logging.getLogger(__name__)

RETRY_FIRST_DELAY = 0.5
RETRY_MAX_DELAY = 5.0


async def hand_over(
    send: Callable[[], Awaitable[Any]], about: Mapping[str, object]
) -> asyncio.Future[RecordMetadata]:
    """The future of the broker's acknowledgement of the record ``send()`` hands over.

    Handing over fails while the producer cannot reach the partition's
    leader (aiokafka waits for metadata up to its request timeout); it is
    retried until it succeeds, in place, so the partition's later records
    stay behind this one.  While Kafka is away this holds up the partition,
    whose records could not be written anyway.  ``about`` names the record
    in the log.
    """
    delay = RETRY_FIRST_DELAY
    while True:
        try:
            # aiokafka's future, though Faust types it as a bare awaitable.
            return await send()
        except SEND_FAILURES as exc:
            logger.warning(
                "the producer did not take the record; retrying",
                extra={**about, "error": repr(exc), "retryIn": delay},
            )
            await asyncio.sleep(delay)
            delay = min(delay * 2, RETRY_MAX_DELAY)


class WritesNotAcknowledged(Exception):
    """Writes that failed, or were not all acknowledged within the deadline."""


async def acknowledged(
    writes: list[asyncio.Future[RecordMetadata]], timeout: float
) -> list[RecordMetadata]:
    """Kafka's acknowledgements of ``writes``, in order.

    Raises :class:`WritesNotAcknowledged` when one failed or they are not all there
    within ``timeout`` (the idempotent producer itself retries for ever).
    Later records of the partition may then be written, or fail out of
    sequence, behind a missing one.
    """
    if not writes:
        return []
    # asyncio.wait, not gather: a cancelled wait (a partition revoked) must
    # not cancel the producer's own futures.
    _, late = await asyncio.wait(writes, timeout=timeout)
    if late:
        raise WritesNotAcknowledged(
            f"{len(late)} of {len(writes)} writes not acknowledged within {timeout:g} s"
        )
    failed = [w for w in writes if w.cancelled() or w.exception() is not None]
    if failed:
        first = "cancelled" if failed[0].cancelled() else repr(failed[0].exception())
        raise WritesNotAcknowledged(f"{len(failed)} of {len(writes)} writes failed: {first:.200}")
    return [w.result() for w in writes]
