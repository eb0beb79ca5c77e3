"""The preloaded orders the projection, memory, restart and coldstart scenarios share.

``sizes.orders`` orders with ``sizes.events_per_order`` events each (1: created;
2: then confirmed; all creations first, as a day would spread them) on
``order-events``: the order service's table then holds ``sizes.orders`` orders,
and so does the cart's once it is restarted (its table is restored from
``order-events`` itself, at start-up only: a running cart does not read what
others write there).  Produced once per run, by the first scenario that calls
:func:`ensure_events`.
"""

import asyncio
import logging
import time

from bench.kafka_io import LagProbe, produce_all
from bench.run import BenchRun
from bench.sizes import Sizes
from bench.wire import Templates, bench_order_id
from infra.topics import ORDER_EVENTS, projector_group

logger = logging.getLogger(__name__)


def order_ids(sizes: Sizes) -> list[str]:
    return [bench_order_id("bench", n) for n in range(sizes.orders)]


async def ensure_events(platform: BenchRun, sizes: Sizes) -> list[str]:
    """The preloaded orderIds; their events are produced on the first call."""
    ids = order_ids(sizes)
    if "events" not in platform.shared:
        templates = Templates(platform.events)
        versions = range(1, sizes.events_per_order + 1)
        started = time.monotonic()
        count = await produce_all(
            platform.bootstrap_servers,
            ORDER_EVENTS.name,
            (templates.event(each, version) for version in versions for each in ids),
        )
        logger.info("preloaded %d events in %.1f s", count, time.monotonic() - started)
        platform.shared["events"] = True
    return ids


async def wait_caught_up(platform: BenchRun, timeout: float = 300) -> float:
    """Wait until the order service's projector has committed every record of ``order-events``.

    Returns the monotonic time lag 0 was first seen (polled every 100 ms).
    The projector commits after each batch.
    """
    deadline = time.monotonic() + timeout
    async with LagProbe(
        platform.bootstrap_servers, projector_group(platform.orders_app_id), ORDER_EVENTS.name
    ) as lag:
        while time.monotonic() < deadline:
            if await lag.lag() == 0:
                return time.monotonic()
            await asyncio.sleep(0.1)
    raise TimeoutError(f"{platform.orders_app_id} still lags after {timeout:g} s")
