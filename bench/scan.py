"""Topic scan: ``GET /getAllOrderIdsFromTopic`` over a topic of the bench's own.

``sizes.scan_records`` order events of ``sizes.scan_ids`` distinct orders on
a 6-partition topic.  The order service's RSS is sampled every 50 ms during
the scan; growth is peak minus the RSS before it.  Meanwhile ``/health`` is
asked back to back: its slowest answer is how long the scan keeps the
service from doing anything else.  A 504 (the service's 60 s scan deadline)
is reported as such, not retried.  Baseline: a raw aiokafka consumer reads
the same topic and decodes every value.
"""

import asyncio
import time

import aiohttp

from bench.kafka_io import produce_all, read_all
from bench.loadgen import http_session
from bench.procstat import PeakRss
from bench.run import SCAN_TOPIC, BenchRun
from bench.sizes import Sizes
from bench.stats import Figure, Metrics, Target, column
from bench.wire import Templates, bench_order_id
from models.codec import loads

NAME = "scan"
TOPIC = SCAN_TOPIC


async def _preload(platform: BenchRun, sizes: Sizes) -> None:
    if platform.shared.get(TOPIC):
        return
    await platform.create_topic(TOPIC)
    templates = Templates(platform.events)
    records = (
        templates.event(bench_order_id("scan", n % sizes.scan_ids), 1 if n < sizes.scan_ids else 2)
        for n in range(sizes.scan_records)
    )
    await produce_all(platform.bootstrap_servers, TOPIC, records)
    platform.shared[TOPIC] = True


async def _slowest_answer(http: aiohttp.ClientSession, url: str, done: asyncio.Event) -> float:
    """Seconds of the slowest of back-to-back GETs of ``url`` until ``done``.

    The scan runs in the order service's event loop: this shows how long it
    keeps the service from answering anything else (and from applying events).
    """
    slowest = 0.0
    while not done.is_set():
        started = time.perf_counter()
        async with http.get(url) as response:
            await response.read()
        slowest = max(slowest, time.perf_counter() - started)
        await asyncio.sleep(0.05)
    return slowest


#: Records written between two scans of the topic: a repeated scan reads only those.
NEW_RECORDS = 1000


async def _scan(http: aiohttp.ClientSession, platform: BenchRun, expected_ids: int) -> Metrics:
    assert platform.orders.pid is not None
    base_url = platform.orders.base_url
    done = asyncio.Event()
    async with PeakRss(platform.orders.pid) as rss:
        probe = asyncio.create_task(_slowest_answer(http, f"{base_url}/health", done))
        started = time.perf_counter()
        url = f"{base_url}/getAllOrderIdsFromTopic?topicName={TOPIC}"
        async with http.get(url, timeout=aiohttp.ClientTimeout(total=180)) as response:
            body = await response.read()
        elapsed = time.perf_counter() - started
        done.set()
        slowest = await probe
    result = loads(body) if response.status == 200 else {}
    return {
        "status": response.status,
        "rate": result["recordsScanned"] / elapsed if result else float("nan"),
        "seconds": elapsed,
        "records": result.get("recordsScanned", 0),
        "wrong": 0 if result.get("count") == expected_ids else 1,
        "growth": rss.peak_mb - rss.start_mb,
        "peak": rss.peak_mb,
        "stall": slowest * 1000,
    }


async def run(platform: BenchRun, sizes: Sizes) -> list[Figure]:
    """The first scan reads the whole topic (against a raw consumer reading it); each
    scan after it, with ``NEW_RECORDS`` written since, reads only those (the index)."""
    await _preload(platform, sizes)
    templates = Templates(platform.events)
    scans: list[Metrics] = []
    async with http_session() as http:
        records, seconds = await read_all(
            platform.bootstrap_servers, TOPIC, platform.events.decode_cached
        )
        base = [{"rate": records / seconds}]
        scans.append(await _scan(http, platform, sizes.scan_ids))
        for rep in range(1, sizes.reps + 1):
            fresh = (
                templates.event(bench_order_id(f"scan-new-{rep}", n), 1) for n in range(NEW_RECORDS)
            )
            await produce_all(platform.bootstrap_servers, TOPIC, fresh)
            scans.append(await _scan(http, platform, sizes.scan_ids + rep * NEW_RECORDS))
    first, again = scans[:1], scans[1:]
    statuses = [int(each["status"]) for each in scans]
    label = f"{sizes.scan_records:,} records, {sizes.scan_ids:,} ids"
    return [
        Figure(
            NAME,
            f"{label}: first scan, rate",
            "records/s",
            column(first, "rate"),
            column(base, "rate"),
            Target(">=", 0.5, relative=True),
            note=f"HTTP statuses {statuses} (504: the service's 60 s deadline)",
        ),
        Figure(
            NAME,
            f"a scan after {NEW_RECORDS:,} more records: time",
            "ms",
            [round(each["seconds"] * 1000, 2) for each in again],
            note="reads only what was written since the scan before (the topic's index); "
            "the answer still names every orderId and counts every record",
        ),
        Figure(
            NAME,
            "order service RSS growth",
            "MB",
            column(scans, "growth"),
            target=Target("<=", 150, worst=True),
        ),
        Figure(NAME, "order service RSS peak", "MB", column(scans, "peak")),
        Figure(NAME, "slowest /health answer during a scan", "ms", column(scans, "stall")),
        Figure(
            NAME,
            "scans failed or wrong count",
            "count",
            column(scans, "wrong"),
            target=Target("<=", 0, worst=True),
        ),
    ]
