"""How an agent stops its worker when what it has in flight cannot be finished."""

import logging
import os
from collections.abc import Mapping
from typing import NoReturn

logger = logging.getLogger(__name__)

#: The worker's exit status then (EX_SOFTWARE).
EXIT_UNFINISHED = 70


def exit_to_reprocess(reason: str, fields: Mapping[str, object]) -> NoReturn:
    """Exit at once, as Kafka Streams stops a task whose send failed.

    Nothing in flight is stored, answered or committed, so whatever runs the
    worker (``make run``, the compose restart policy) brings it back to handle
    its partitions again from their last commit; what was written before is
    written again identically and consumers skip the copy.  A clean stop is no
    option: it waits for Kafka, which may be what is away.
    """
    logger.critical(
        f"{reason}; the worker exits to handle its partitions again from their last commit",
        extra=dict(fields),
    )
    logging.shutdown()
    os._exit(EXIT_UNFINISHED)
