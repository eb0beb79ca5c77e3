"""GET /getAllOrderIdsFromTopic against hostile topics and many clients: never a 5xx.

Odd records are counted as unreadable and skipped; scans at once are bounded
(429 beyond); a scan stops when its client leaves; a repeated scan reads
only what is new; the service's memory and its other answers stay bounded
while 30 clients scan a topic of 200,000 records.
"""

import asyncio
import json
import logging
import statistics
import time
from collections import Counter
from pathlib import Path

import aiohttp
import pytest

from infra.kafka_connection import KafkaConnection
from infra.topics import TopicSpec, create_topics
from infra.value_formats import HEADER
from models.codec import dumps
from tests.integration.client import (
    UNKNOWN_SCHEMA_ID,
    call,
    create_order,
    eventually,
    produce,
    register_foreign_schema,
)

logger = logging.getLogger(__name__)

LOAD_RECORDS = 200_000
LOAD_ORDERS = 50_000
SCANS_AT_ONCE = 30


def scan_url(platform, topic: str) -> str:
    return f"{platform.orders.base_url}/getAllOrderIdsFromTopic?topicName={topic}"


def odd_records(prefix: str) -> tuple[list[tuple[bytes | None, bytes]], int]:
    """Records no order service wrote, and how many of them name no orderId at all."""
    named = [
        (f"{prefix}-k1".encode(), b'{"order": "x"}'),
        (f"{prefix}-k2".encode(), b'{"order": [1, 2]}'),
        (f"{prefix}-k3".encode(), b"\x00\xff no Avro, no JSON"),
        (f"{prefix}-k4".encode(), b"null"),
        (f"{prefix}-k5".encode(), b"[]"),
        (None, dumps({"orderId": f"{prefix}-v1"})),
        (b"\xff\xfe", dumps({"order": {"orderId": f"{prefix}-v2"}})),
    ]
    nameless = [
        (None, b'{"order": "x"}'),
        (None, b'{"orderId": 12}'),
        (b"\xff\xfe", b"[]"),
        (b"has spaces", b"null"),
        (None, b"\x00\x00\x00\x00"),
        (None, b'{"orderId": "' + b"x" * 100 + b'"}'),
    ]
    return named + nameless, len(nameless)


async def scan(http, platform, topic: str) -> tuple[int, dict, dict]:
    return await call(http, "GET", scan_url(platform, topic))


async def test_odd_records_on_order_events_are_counted_and_skipped(http, platform, order_id):
    """On the Avro platform: what the projector dead-letters, the scan reads around."""
    foreign = await register_foreign_schema(platform.registry_url, "PROTOBUF")
    records, nameless = odd_records(order_id)
    records += [
        (f"{order_id}-k6".encode(), HEADER.pack(0, foreign) + b"\x02"),
        (None, HEADER.pack(0, UNKNOWN_SCHEMA_ID) + b"\x02"),
    ]
    nameless += 1
    assert (await create_order(http, platform, f"{order_id}-real"))[0] == 201
    _, before, _ = await scan(http, platform, "order-events")

    await produce(platform.bootstrap_servers, records)
    status, after, _ = await scan(http, platform, "order-events")
    dead_letters = await eventually(
        lambda: scan(http, platform, "order-events.DLQ"),
        lambda r: r[0] == 200 and f"{order_id}-k6" in r[1]["orderIds"],
    )

    assert status == 200
    assert after["recordsScanned"] - before["recordsScanned"] == len(records)
    assert after["recordsUnreadable"] - before["recordsUnreadable"] == nameless
    ours = {each for each in after["orderIds"] if each.startswith(order_id)}
    assert ours == {f"{order_id}-{n}" for n in ("real", "k1", "k2", "k3", "k4", "k5", "k6")} | {
        f"{order_id}-v1",
        f"{order_id}-v2",
    }
    # Every odd record went to the dead-letter topic, which scans as well.
    assert dead_letters[1]["recordsUnreadable"] >= nameless


async def test_a_topic_of_nothing_but_odd_records_scans(http, json_platform, order_id):
    topic = "scan-odd"
    await create_topics(KafkaConnection(json_platform.bootstrap_servers), 3, 1, [TopicSpec(topic)])
    records, nameless = odd_records(order_id)
    await produce(json_platform.bootstrap_servers, records, topic=topic)

    status, found, _ = await scan(http, json_platform, topic)

    assert status == 200
    assert found["recordsScanned"] >= len(records)
    assert found["recordsUnreadable"] >= nameless
    assert {f"{order_id}-k1", f"{order_id}-v1", f"{order_id}-v2"} <= set(found["orderIds"])


def rss_mib(pid: int) -> float:
    for line in Path(f"/proc/{pid}/status").read_text().splitlines():
        if line.startswith("VmRSS:"):
            return int(line.split()[1]) / 1024
    raise AssertionError(f"no VmRSS for {pid}")


def scan_lines(log_path: Path, topic: str) -> list[dict]:
    lines = []
    for line in log_path.read_text(errors="replace").splitlines():
        if '"message": "topic scanned"' in line or '"message": "client went away"' in line:
            entry = json.loads(line)
            if entry.get("topic") == topic:
                lines.append(entry)
    return lines


async def test_thirty_clients_scan_200000_records_within_bounds(http, json_platform):
    """One worker, 30 clients at once: a few scans run, the rest are told to come back
    (429), memory and /order-details latency stay bounded; a client that leaves stops its
    scan; a later scan reads only the records written since."""
    topic, platform = "scan-load", json_platform
    await create_topics(KafkaConnection(platform.bootstrap_servers), 6, 1, [TopicSpec(topic)])
    records = [
        (f"load-{n % LOAD_ORDERS:05d}".encode(), dumps({"orderId": f"load-{n % LOAD_ORDERS:05d}"}))
        for n in range(LOAD_RECORDS)
    ]
    await produce(platform.bootstrap_servers, records, topic=topic)
    assert (await create_order(http, platform, "scan-load-probe"))[0] == 201
    probe_url = f"{platform.orders.base_url}/order-details?orderId=scan-load-probe"
    await eventually(lambda: call(http, "GET", probe_url), lambda r: r[0] == 200)
    pid = platform.orders.pid
    assert pid is not None

    # A client that gives up at once: its scan stops, and what it read is kept.
    with pytest.raises(TimeoutError):
        async with aiohttp.ClientSession(timeout=aiohttp.ClientTimeout(total=0.3)) as impatient:
            await call(impatient, "GET", scan_url(platform, topic))
    stopped = await eventually(
        lambda: asyncio.sleep(0, scan_lines(platform.orders.log_path, topic)),
        lambda lines: any(line["message"] == "client went away" for line in lines),
    )

    memory = [rss_mib(pid)]
    latencies: list[float] = []
    scanning = True

    async def watch() -> None:
        while scanning:
            started = time.monotonic()
            status, _, _ = await call(http, "GET", probe_url)
            assert status == 200
            latencies.append(time.monotonic() - started)
            memory.append(rss_mib(pid))
            await asyncio.sleep(0.05)

    watcher = asyncio.ensure_future(watch())
    started = time.monotonic()
    answers = await asyncio.gather(*(scan(http, platform, topic) for _ in range(SCANS_AT_ONCE)))
    took = time.monotonic() - started
    scanning = False
    await watcher

    statuses = Counter(status for status, _, _ in answers)
    full = [body for status, body, _ in answers if status == 200]
    logger.info(
        "%d scans of %d records at once: %s in %.1f s; order service RSS %.0f -> max %.0f MiB; "
        "/order-details meanwhile: median %.1f ms, max %.1f ms over %d reads",
        SCANS_AT_ONCE,
        LOAD_RECORDS,
        dict(statuses),
        took,
        memory[0],
        max(memory),
        statistics.median(latencies) * 1000,
        max(latencies) * 1000,
        len(latencies),
    )
    assert set(statuses) <= {200, 429}
    assert statuses[200] >= 1
    assert all(headers["Retry-After"] for status, _, headers in answers if status == 429)
    assert all(body["count"] == LOAD_ORDERS for body in full)
    assert all(body["recordsScanned"] == LOAD_RECORDS for body in full)
    assert max(memory) - memory[0] < 300
    assert max(latencies) < 1.0

    # Written since: a scan reads those alone.
    await produce(platform.bootstrap_servers, records[:10], topic=topic)
    status, again, _ = await scan(http, platform, topic)
    assert (status, again["recordsScanned"]) == (200, LOAD_RECORDS + 10)
    last = scan_lines(platform.orders.log_path, topic)[-1]
    assert last["recordsRead"] == 10
    assert stopped  # the impatient client's scan had stopped before the others began
