"""A burst of creates and updates of many orders, and what the clients were told."""

import asyncio
import itertools
import random
import time
import zlib
from collections import Counter
from collections.abc import Sequence
from dataclasses import dataclass, field
from typing import Any

import aiohttp

from local_kafka.services import ServiceProcess
from local_kafka.stack import LocalStack
from models.events import EventType
from tests.integration.client import call, events_by_order

FORWARD = ["new", "pending", "confirmed", "shipped", "delivered"]
ORDERS = 300
CLIENTS = 32


#: How long, and how often, a burst with ``retry_refused`` sends a refused request again.
RETRY_SECONDS = 30.0
RETRY_PAUSE = 0.2


@dataclass
class Acknowledged:
    """What the clients were told succeeded: orderId → the furthest status acknowledged."""

    status: dict[str, str] = field(default_factory=dict)
    #: The other answers, by HTTP status (0: cut off, no answer).
    refusals: Counter[int] = field(default_factory=Counter)
    #: Each acknowledgement: its order and when it arrived (monotonic clock).
    ids: list[str] = field(default_factory=list)
    times: list[float] = field(default_factory=list)

    @property
    def refused(self) -> int:
        return sum(self.refusals.values())

    def record(self, order_id: str, status: str) -> None:
        self.ids.append(order_id)
        self.times.append(time.monotonic())
        held = self.status.get(order_id)
        if held is None or FORWARD.index(status) > FORWARD.index(held):
            self.status[order_id] = status


async def burst(
    http: aiohttp.ClientSession,
    platform: LocalStack,
    prefix: str,
    acked: Acknowledged,
    *,
    retry_refused: bool = False,
    carts: Sequence[ServiceProcess] | None = None,
):
    """Create ORDERS orders and move each forward a few times, CLIENTS at a time.

    Each order's requests go to one cart worker: the first, or with ``carts``,
    each of those in turn, order by order.

    With ``retry_refused``, a request refused with 503 (nothing was sent) is
    sent again, as a client honouring Retry-After would, for up to
    ``RETRY_SECONDS``; other answers are final (a 504's outcome is unknown).
    """
    rng = random.Random(prefix)
    queue: asyncio.Queue[str] = asyncio.Queue()
    for n in range(ORDERS):
        queue.put_nowait(f"{prefix}-{n:04d}")

    workers = [cart.base_url for cart in (carts or [platform.cart])]

    async def attempt(method: str, path: str, body: dict) -> int:
        deadline = time.monotonic() + RETRY_SECONDS
        cart = workers[zlib.crc32(body["orderId"].encode()) % len(workers)]
        while True:
            try:
                status, _, _ = await call(http, method, f"{cart}{path}", json=body)
            except (TimeoutError, aiohttp.ClientError):
                return 0
            if status != 503 or not retry_refused or time.monotonic() > deadline:
                return status
            await asyncio.sleep(RETRY_PAUSE)

    async def client() -> None:
        while not queue.empty():
            order_id = queue.get_nowait()
            created = await attempt("POST", "/create-order", {"orderId": order_id, "numItems": 2})
            if created != 201:
                acked.refusals[created] += 1
                continue
            acked.record(order_id, "new")
            for status in sorted(rng.sample(FORWARD[1:], 2), key=FORWARD.index):
                body = {"orderId": order_id, "status": status}
                updated = await attempt("PUT", "/update-order", body)
                if updated == 200:
                    acked.record(order_id, status)
                else:
                    acked.refusals[updated] += 1

    await asyncio.gather(*(client() for _ in range(CLIENTS)))


async def bursts_until(
    stop: asyncio.Event,
    http: aiohttp.ClientSession,
    platform: LocalStack,
    prefix: str,
    acked: Acknowledged,
    **options: Any,
) -> None:
    """One :func:`burst` after the other (``<prefix>-<wave>``) until ``stop`` is set."""
    for wave in itertools.count():
        if stop.is_set():
            return
        await burst(http, platform, f"{prefix}-{wave}", acked, **options)


def longest_pause(times: list[float], after: float, until: float) -> float:
    """The longest wait for an acknowledgement from ``after`` to ``until`` (the end of
    the burst): between two of them, before the first, or after the last."""
    moments = [after, *sorted(t for t in times if after < t < until), until]
    return max(later - earlier for earlier, later in itertools.pairwise(moments))


async def not_found(
    http: aiohttp.ClientSession, orders_url: str, acked: Acknowledged
) -> dict[str, tuple[str, object]]:
    """The acknowledged orders the order service does not show at (at least) their
    acknowledged status, with what it shows instead.

    Further along is fine: an update answered 504 may still have been applied.
    """
    found = await asyncio.gather(
        *(call(http, "GET", f"{orders_url}/order-details?orderId={each}") for each in acked.status)
    )
    return {
        each: (want, body.get("status") if status == 200 else status)
        for (each, want), (status, body, _) in zip(acked.status.items(), found, strict=True)
        if status != 200 or FORWARD.index(body["status"]) < FORWARD.index(want)
    }


async def one_event_per_change(platform: LocalStack, acked: Acknowledged) -> None:
    """Every acknowledged order's events on ``order-events``: copies share their eventId,
    versions run 1, 2, 3 … with none decided twice, and the first is its creation."""
    events = await events_by_order(platform, set(acked.status))
    for each in acked.status:
        distinct = {event.eventId: event for event in events[each]}.values()
        versions = sorted(event.version for event in distinct)
        assert versions == list(range(1, len(versions) + 1)), (each, versions)
        assert [e.eventType for e in distinct if e.version == 1] == [EventType.ORDER_CREATED]
