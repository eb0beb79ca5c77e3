"""A burst of creates and updates of many orders, and what the clients were told."""

import asyncio
import itertools
import random
import time
from dataclasses import dataclass, field

import aiohttp

from local_kafka.stack import LocalStack
from tests.integration.client import call

FORWARD = ["new", "pending", "confirmed", "shipped", "delivered"]
ORDERS = 300
CLIENTS = 32


@dataclass
class Acknowledged:
    """What the clients were told succeeded: orderId → the furthest status acknowledged."""

    status: dict[str, str] = field(default_factory=dict)
    refused: int = 0
    #: When each acknowledgement arrived (monotonic clock).
    times: list[float] = field(default_factory=list)

    def record(self, order_id: str, status: str) -> None:
        self.times.append(time.monotonic())
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


def longest_pause(times: list[float], after: float) -> float:
    """The longest wait between acknowledgements from ``after`` on."""
    moments = [after, *sorted(t for t in times if t > after)]
    return max(later - earlier for earlier, later in itertools.pairwise(moments))
