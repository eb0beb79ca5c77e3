"""SIGKILL in the middle of a burst: nothing acknowledged is lost, nothing applied twice.

Each case gets a platform of its own, kills some of its processes while
clients create and update orders, starts them again the way ``make run``
does (same ports, same data), and then checks every acknowledged change.
"""

import asyncio
import logging
import random
import time
from collections.abc import Callable, Iterator
from dataclasses import dataclass, field

import aiohttp
import pytest

from local_kafka.stack import LocalStack
from tests.integration.client import call, create_order, eventually

logger = logging.getLogger(__name__)

FORWARD = ["new", "pending", "confirmed", "shipped", "delivered"]
ORDERS = 300
CLIENTS = 32


@dataclass
class Acknowledged:
    """What the clients were told succeeded: orderId → the furthest status acknowledged."""

    status: dict[str, str] = field(default_factory=dict)
    refused: int = 0

    def record(self, order_id: str, status: str) -> None:
        held = self.status.get(order_id)
        if held is None or FORWARD.index(status) > FORWARD.index(held):
            self.status[order_id] = status


async def burst(
    http: aiohttp.ClientSession, platform: LocalStack, prefix: str, acked: Acknowledged
):
    """Create ORDERS orders and move each forward a few times, CLIENTS at a time."""
    rng = random.Random(prefix)
    queue: asyncio.Queue[str] = asyncio.Queue()
    for n in range(ORDERS):
        queue.put_nowait(f"{prefix}-{n:04d}")

    async def attempt(method: str, path: str, body: dict) -> int:
        try:
            status, _, _ = await call(http, method, f"{platform.cart.base_url}{path}", json=body)
            return status
        except (TimeoutError, aiohttp.ClientError):
            return 0

    async def client() -> None:
        while not queue.empty():
            order_id = queue.get_nowait()
            if await attempt("POST", "/create-order", {"orderId": order_id, "numItems": 2}) != 201:
                acked.refused += 1
                continue
            acked.record(order_id, "new")
            for status in sorted(rng.sample(FORWARD[1:], 2), key=FORWARD.index):
                body = {"orderId": order_id, "status": status}
                if await attempt("PUT", "/update-order", body) == 200:
                    acked.record(order_id, status)
                else:
                    acked.refused += 1

    await asyncio.gather(*(client() for _ in range(CLIENTS)))


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
