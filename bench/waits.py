"""The waiting read (``GET /order-details?minVersion=N&waitMs=T``): its memory and latency.

``sizes.waits`` orders are created, then as many reads wait for each one's
version 2, one connection each; the order service's RSS with those reads
waiting, less its RSS with the same connections open and idle (each has
answered a plain read), over their number, is the memory of a waiting read.
The baseline is what an open idle connection itself costs, measured on the
way.  Then every order is updated, and each read is timed from its update's
200 to its own 200.  Baseline: a client without the waiting read, polling
``/order-details`` every 5 ms from the update's 200 until it shows version 2
(a sample of the orders, updated once more).
"""

import asyncio
import time
import uuid

import aiohttp

from bench.loadgen import JSON, create_body
from bench.procstat import rss_mb
from bench.run import BenchRun
from bench.sizes import Sizes
from bench.stats import Figure, percentile

NAME = "waits"
POLL_SECONDS = 0.005
#: Orders the polling baseline follows (a sample: its polls load the service).
POLLED = 200
CONCURRENT_WRITES = 32
SETTLE_SECONDS = 1.0


async def _each(count: int, job, concurrency: int = CONCURRENT_WRITES) -> None:
    numbers = iter(range(count))

    async def worker() -> None:
        for n in numbers:
            await job(n)

    await asyncio.gather(*(worker() for _ in range(concurrency)))


async def _status(http: aiohttp.ClientSession, method: str, url: str, body: bytes = b"") -> int:
    async with http.request(method, url, data=body or None, headers=JSON) as response:
        await response.read()
        return response.status


async def _settled_rss(pid: int) -> float:
    await asyncio.sleep(SETTLE_SECONDS)
    return rss_mb(pid)


async def run(platform: BenchRun, sizes: Sizes) -> list[Figure]:
    count = sizes.waits
    prefix = f"waits-{uuid.uuid4().hex[:8]}"
    ids = [f"{prefix}-{n}" for n in range(count)]
    cart, orders = platform.cart.base_url, platform.orders.base_url
    details = f"{orders}/order-details?orderId={{}}"
    assert platform.orders.pid is not None
    pid = platform.orders.pid
    connector = aiohttp.TCPConnector(limit=count + CONCURRENT_WRITES)
    async with aiohttp.ClientSession(
        connector=connector, timeout=aiohttp.ClientTimeout(total=120)
    ) as http:

        async def create(n: int) -> None:
            assert await _status(http, "POST", f"{cart}/create-order", create_body(ids[n])) == 201

        await _each(count, create)
        before = await _settled_rss(pid)
        # Every read on a connection of its own, open and idle afterwards.
        visible = await asyncio.gather(
            *(_status(http, "GET", details.format(i) + "&minVersion=1&waitMs=10000") for i in ids)
        )
        assert visible == [200] * count, "not every order became visible"
        connected = await _settled_rss(pid)

        answered: dict[str, float] = {}

        async def wait(order_id: str) -> None:
            url = details.format(order_id) + "&minVersion=2&waitMs=30000"
            async with http.get(url) as response:
                body = await response.read()
            answered[order_id] = time.perf_counter()
            assert response.status == 200, (response.status, body)

        reads = [asyncio.ensure_future(wait(order_id)) for order_id in ids]
        waiting = await _settled_rss(pid)

        updated: dict[str, float] = {}

        async def update(n: int) -> None:
            body = b'{"orderId":"%s","status":"pending"}' % ids[n].encode()
            assert await _status(http, "PUT", f"{cart}/update-order", body) == 200
            updated[ids[n]] = time.perf_counter()

        await _each(count, update)
        await asyncio.gather(*reads)
        woken = [(answered[i] - updated[i]) * 1000 for i in ids]

        polled: list[float] = []

        async def update_and_poll(n: int) -> None:
            body = b'{"orderId":"%s","status":"confirmed"}' % ids[n].encode()
            assert await _status(http, "PUT", f"{cart}/update-order", body) == 200
            started = time.perf_counter()
            while True:
                async with http.get(details.format(ids[n])) as response:
                    read = await response.json()
                if read["version"] >= 3:
                    polled.append((time.perf_counter() - started) * 1000)
                    return
                await asyncio.sleep(POLL_SECONDS)

        await _each(min(POLLED, count), update_and_poll)

    per_read_kb = (waiting - connected) * 1024 / count
    per_connection_kb = (connected - before) * 1024 / count
    reads = f"{count:,} reads"
    return [
        Figure(
            NAME,
            f"order service memory per waiting read ({reads})",
            "KB",
            [round(per_read_kb, 2)],
            [round(per_connection_kb, 2)],
            note="baseline: per open idle connection",
        ),
        Figure(
            NAME,
            "answered after the update's 200, p50",
            "ms",
            [round(percentile(woken, 50), 2)],
            [round(percentile(polled, 50), 2)],
            note="baseline: polling every 5 ms",
        ),
        Figure(
            NAME,
            "answered after the update's 200, p99",
            "ms",
            [round(percentile(woken, 99), 2)],
            [round(percentile(polled, 99), 2)],
        ),
    ]
