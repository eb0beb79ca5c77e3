"""SIGKILL in the middle of a burst: nothing acknowledged is lost, nothing applied twice.

Each case gets a platform of its own, kills some of its processes while
clients create and update orders, starts them again the way ``make run``
does (same ports, same data), and then checks every acknowledged change.
"""

import asyncio
import logging
import time
from collections.abc import Callable, Iterator

import pytest

from local_kafka.stack import LocalStack
from tests.integration.client import call, create_order, eventually
from tests.integration.load import FORWARD, ORDERS, Acknowledged, burst

logger = logging.getLogger(__name__)


def crash_cases() -> list[tuple[str, Callable[[LocalStack], list]]]:
    return [
        ("everything", lambda p: [p.broker, p.cart, p.orders]),
        ("order service", lambda p: [p.orders]),
        ("cart service", lambda p: [p.cart]),
    ]


@pytest.fixture
def crashable(tmp_path_factory: pytest.TempPathFactory) -> Iterator[LocalStack]:
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

    async def lost() -> dict[str, tuple[str, object]]:
        found = await asyncio.gather(
            *(call(http, "GET", f"{orders}/order-details?orderId={each}") for each in acked.status)
        )
        return {
            each: (want, got[1].get("status") if got[0] == 200 else got[0])
            for (each, want), got in zip(acked.status.items(), found, strict=True)
            if got[0] != 200 or FORWARD.index(got[1]["status"]) < FORWARD.index(want)
        }

    missing = await eventually(lost, lambda m: not m, timeout=60)
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
