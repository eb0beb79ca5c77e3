"""SIGKILL in the middle of a burst: nothing acknowledged is lost, nothing applied twice.

The cases share a platform of their own: each kills some of its processes
while clients create and update orders, starts them again the way ``make
run`` does (same ports, same data), and then checks every acknowledged
change, with orderIds of its own.
"""

import asyncio
import logging
import random
import time
from collections.abc import Callable, Iterator

import pytest

from local_kafka.stack import LocalStack
from tests.integration.client import call, create_order, eventually
from tests.integration.load import (
    ORDERS,
    Acknowledged,
    burst,
    bursts_until,
    not_found,
    one_event_per_change,
)

logger = logging.getLogger(__name__)

#: SIGKILLs of the repeated-kill test, each of the cart or the order service.
KILLS = 6
#: Answers a client may get while workers die: cut off, refused, outcome unknown.
ANSWERS_OF_AN_OUTAGE = {0, 503, 504}


def crash_cases() -> list[tuple[str, Callable[[LocalStack], list]]]:
    return [
        ("everything", lambda p: [p.broker, p.cart, p.orders]),
        ("order service", lambda p: [p.orders]),
        ("cart service", lambda p: [p.cart]),
    ]


@pytest.fixture(scope="module")
def crashable(tmp_path_factory: pytest.TempPathFactory) -> Iterator[LocalStack]:
    """One platform for the module: each test brings back what it kills, as ``make run``
    would, and checks that it is whole again before the next one kills anything."""
    with LocalStack(tmp_path_factory.mktemp("crash")) as platform:
        yield platform


@pytest.mark.parametrize(("case", "victims_of"), crash_cases())
async def test_sigkill_in_a_burst_loses_no_acknowledged_change(
    http, crashable, order_id, case, victims_of
):
    acked = Acknowledged()
    clients = asyncio.ensure_future(burst(http, crashable, order_id, acked))
    await eventually(lambda: asyncio.sleep(0, len(acked.status)), lambda n: n >= ORDERS // 3)

    victims = victims_of(crashable)
    for victim in victims:
        victim.kill()
    killed_at = time.monotonic()
    await clients
    # Started again with the same commands, ports and data as before.
    for victim in victims:
        await asyncio.to_thread(victim.start)
    for service in (crashable.cart, crashable.orders):
        await asyncio.to_thread(service.wait_ready)
    ready_after = time.monotonic() - killed_at

    orders = crashable.orders.base_url

    missing = await eventually(lambda: not_found(http, orders, acked), lambda m: not m, timeout=60)
    logger.info(
        "kill %s: %d orders acknowledged, %d requests refused or cut off, %d missing; "
        "ready %.1f s after the kill, everything found %.1f s after it",
        case,
        len(acked.status),
        acked.refused,
        len(missing),
        ready_after,
        time.monotonic() - killed_at,
    )
    assert missing == {}
    _, scan, _ = await call(http, "GET", f"{orders}/getAllOrderIdsFromTopic?topicName=order-events")
    assert set(acked.status) <= set(scan["orderIds"])
    assert len(scan["orderIds"]) == len(set(scan["orderIds"]))
    duplicate = next(iter(acked.status))
    status, _, _ = await create_order(http, crashable, duplicate)
    assert status == 409


async def test_sigkill_again_and_again_at_random_moments_loses_and_repeats_nothing(
    http, crashable, order_id
):
    """Each kill lands wherever the pipelines are: mid-batch, between a send and its
    acknowledgement, between the rows and the offsets."""
    rng = random.Random(order_id)
    acked = Acknowledged()
    killing = asyncio.Event()
    clients = asyncio.ensure_future(
        bursts_until(killing, http, crashable, order_id, acked, retry_refused=True)
    )
    victims = []
    for _ in range(KILLS):
        await asyncio.sleep(rng.uniform(0.3, 2.0))
        victim = rng.choice([crashable.cart, crashable.orders])
        victim.kill()
        victims.append(victim.name)
        await asyncio.to_thread(victim.start)
        await asyncio.to_thread(victim.wait_ready)
    killing.set()
    await clients
    logger.info(
        "killed %s: %d orders acknowledged, refusals %s",
        ", ".join(victims),
        len(acked.status),
        dict(acked.refusals),
    )

    # No request was answered wrongly, and every acknowledged change is visible …
    assert set(acked.refusals) <= ANSWERS_OF_AN_OUTAGE
    orders = crashable.orders.base_url
    missing = await eventually(lambda: not_found(http, orders, acked), lambda m: not m, timeout=60)
    assert missing == {}
    # … as exactly one event per change.
    await one_event_per_change(crashable, acked)
