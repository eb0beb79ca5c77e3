"""Handing a record to the producer, retried in place until the producer takes it."""

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
