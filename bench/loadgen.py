"""The load generator: asyncio + aiohttp, in the bench process, apart from the services.

Closed loop (N clients, each sends its next request when the last one is
answered) for throughput; open loop (requests started on a fixed schedule,
whatever the answers) for latency at a given rate.  Requests and time are
bounded; every target is on 127.0.0.1.
"""

import asyncio
import time
from collections import Counter
from collections.abc import Callable, Coroutine, Sequence
from dataclasses import dataclass, field

import aiohttp

from bench.stats import percentile

JSON = {"Content-Type": "application/json"}


def http_session(connections: int = 100) -> aiohttp.ClientSession:
    """Keep-alive connections, at most ``connections`` at once, generous timeout."""
    return aiohttp.ClientSession(
        connector=aiohttp.TCPConnector(limit=connections),
        timeout=aiohttp.ClientTimeout(total=30),
    )


def create_body(order_id: str, num_items: int = 3) -> bytes:
    return b'{"orderId":"%s","numItems":%d}' % (order_id.encode(), num_items)


@dataclass
class LoadResult:
    elapsed: float = 0.0
    latencies_ms: list[float] = field(default_factory=list)
    #: Failures by reason: an unexpected status (e.g. ``"504"``) or an exception's name.
    errors: Counter[str] = field(default_factory=Counter)

    @property
    def ok(self) -> int:
        return len(self.latencies_ms)

    @property
    def rate(self) -> float:
        return self.ok / self.elapsed if self.elapsed else 0.0

    def p(self, q: float) -> float:
        return percentile(self.latencies_ms, q)


async def timed_post(
    http: aiohttp.ClientSession, url: str, body: bytes, expect: int, result: LoadResult
) -> bool:
    """POST ``body``; record its latency if the status is ``expect``, else the error."""
    started = time.perf_counter()
    try:
        async with http.post(url, data=body, headers=JSON) as response:
            await response.read()
            status = response.status
    except (aiohttp.ClientError, TimeoutError) as exc:
        result.errors[type(exc).__name__] += 1
        return False
    if status != expect:
        result.errors[str(status)] += 1
        return False
    result.latencies_ms.append((time.perf_counter() - started) * 1000)
    return True


async def closed_loop(
    http: aiohttp.ClientSession,
    url: str | Sequence[str],
    *,
    clients: int,
    seconds: float,
    body: Callable[[int], bytes],
    expect: int = 201,
) -> LoadResult:
    """``clients`` concurrent clients POST ``body(n)`` (n unique) for ``seconds``;
    with several URLs (workers of one service), client *i* uses URL *i* mod their number."""
    urls = [url] if isinstance(url, str) else list(url)
    result = LoadResult()
    counter = iter(range(10**9))
    end = time.monotonic() + seconds

    async def client(target: str) -> None:
        while time.monotonic() < end:
            await timed_post(http, target, body(next(counter)), expect, result)

    started = time.monotonic()
    await asyncio.gather(*(client(urls[i % len(urls)]) for i in range(clients)))
    result.elapsed = time.monotonic() - started
    return result


async def open_loop(
    rate: float,
    seconds: float,
    job: Callable[[int], Coroutine[object, None, None]],
    max_in_flight: int = 2000,
) -> tuple[float, int]:
    """Start ``job(n)`` every 1/rate s for ``seconds``; (elapsed, jobs not started).

    A job is skipped, not queued, when ``max_in_flight`` are still running: a
    service slower than the rate must not make the generator pile up without bound.
    """
    tasks: set[asyncio.Task[None]] = set()
    skipped = 0
    started = time.monotonic()
    for n in range(int(rate * seconds)):
        delay = started + n / rate - time.monotonic()
        if delay > 0:
            await asyncio.sleep(delay)
        if len(tasks) >= max_in_flight:
            skipped += 1
            continue
        task = asyncio.create_task(job(n))
        tasks.add(task)
        task.add_done_callback(tasks.discard)
    if tasks:
        await asyncio.wait(tasks, timeout=60)
    return time.monotonic() - started, skipped


async def count_found(
    http: aiohttp.ClientSession, base_url: str, order_ids: list[str], concurrency: int = 32
) -> int:
    """How many of ``order_ids`` ``/order-details`` answers with 200."""
    gate = asyncio.Semaphore(concurrency)

    async def found(order_id: str) -> bool:
        async with gate, http.get(f"{base_url}/order-details?orderId={order_id}") as response:
            await response.read()
            return response.status == 200

    return sum(await asyncio.gather(*(found(each) for each in order_ids)))


async def duplicate_create_statuses(
    http: aiohttp.ClientSession, base_url: str, order_ids: list[str], concurrency: int = 32
) -> Counter[int]:
    """How ``/create-order`` answers a duplicate create of each of ``order_ids``, by status.

    409 means the cart holds the order; 201 that it did not (it is created
    again); anything else that it did not say.  A 409 writes nothing, so the
    check leaves ``order-events`` as it was.
    """
    gate = asyncio.Semaphore(concurrency)

    async def status(order_id: str) -> int:
        async with (
            gate,
            http.post(
                f"{base_url}/create-order", data=create_body(order_id), headers=JSON
            ) as response,
        ):
            await response.read()
            return response.status

    return Counter(await asyncio.gather(*(status(each) for each in order_ids)))


def other_statuses(statuses: Counter[int], expected: int) -> str:
    """The answers other than ``expected``, e.g. ``"201 × 2, 504 × 30"``; "none" if none."""
    others = sorted((status, count) for status, count in statuses.items() if status != expected)
    return ", ".join(f"{status} × {count}" for status, count in others) or "none"
