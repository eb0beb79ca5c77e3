"""``python -m app.dead_letter_redrive`` (``make dlq``) against the real platform.

The command runs as its own process, connected as ``make dlq`` connects
(``CART_KAFKA_BOOTSTRAP_SERVERS``), against the session's broker, registry
and services: a record the projector dead-lettered is listed and shown; a
dead letter whose cause was fixed is replayed and applied once, however often
it is replayed; one still invalid comes back to the DLQ once and stays there.
"""

import asyncio
import json
import os
import sys
import time
from collections.abc import AsyncIterator, Awaitable, Callable
from dataclasses import dataclass
from decimal import Decimal
from pathlib import Path

import pytest
from aiokafka import AIOKafkaProducer, ConsumerRecord
from aiokafka.partitioner import DefaultPartitioner

from infra.dead_letters import dead_letter_headers
from infra.topics import events_format
from infra.value_formats import HEADER
from local_kafka.process import ends_with_parent
from local_kafka.stack import PARTITIONS, LocalStack
from models.wire import InvalidRecord
from tests.integration.client import call, create_order, event, eventually, records_of

ROOT = Path(__file__).resolve().parents[2]
#: The deadline the command is given per wait on Kafka.
COMMAND_TIMEOUT = "20"
ALL_PARTITIONS = list(range(PARTITIONS))


@dataclass(frozen=True)
class Finished:
    code: int
    out: str
    err: str


Command = Callable[..., Awaitable[Finished]]


@pytest.fixture
async def command() -> AsyncIterator[Command]:
    """Runs the command against a broker; ends whatever it started that still runs."""
    started: list[asyncio.subprocess.Process] = []

    async def run(bootstrap_servers: str, *args: str) -> Finished:
        process = await asyncio.create_subprocess_exec(
            *(sys.executable, "-m", "app.dead_letter_redrive", *args),
            env={**os.environ, "CART_KAFKA_BOOTSTRAP_SERVERS": bootstrap_servers},
            cwd=ROOT,
            stdout=asyncio.subprocess.PIPE,
            stderr=asyncio.subprocess.PIPE,
            preexec_fn=ends_with_parent(),
        )
        started.append(process)
        out, err = await asyncio.wait_for(process.communicate(), timeout=60)
        assert process.returncode is not None
        return Finished(process.returncode, out.decode(), err.decode())

    yield run
    for process in started:
        if process.returncode is None:
            process.kill()
            await process.wait()


@pytest.fixture
def redrive(command: Command, platform: LocalStack) -> Command:
    """The command against the platform, with a deadline for every wait."""
    return lambda *args: command(platform.bootstrap_servers, *args, "--timeout", COMMAND_TIMEOUT)


async def write(
    bootstrap_servers: str,
    topic: str,
    key: bytes,
    value: bytes,
    headers: list,
    partition: int | None = None,
) -> tuple[int, int]:
    """One record, as any producer would write it; its partition and offset."""
    producer = AIOKafkaProducer(
        bootstrap_servers=bootstrap_servers, acks="all", enable_idempotence=True
    )
    await producer.start()
    try:
        written = await producer.send_and_wait(
            topic, value, key=key, headers=headers, partition=partition
        )
        return written.partition, written.offset
    finally:
        await producer.stop()


async def projector_lines(platform: LocalStack, message: str) -> list[dict]:
    """The order service's log lines (JSON) with ``message``."""
    assert platform.orders.log_path is not None
    found = []
    for line in platform.orders.log_path.read_text(errors="replace").splitlines():
        try:
            logged = json.loads(line)
        except ValueError:  # Faust's banner, or a line still being written
            continue
        if isinstance(logged, dict) and logged.get("message") == message:
            found.append(logged)
    return found


def names(record: ConsumerRecord) -> list[str]:
    return [name for name, _ in record.headers]


async def test_should_list_and_show_a_record_the_projector_dead_lettered(
    platform, order_id, redrive
):
    key = order_id.encode()
    async with events_format(platform.registry_url) as values:
        value = values.encode(event(order_id, 1, total="999.00"))  # ≠ Σ items
        own_headers = [("eventType", b"OrderCreated"), ("content-type", values.content_type)]
    source = await write(platform.bootstrap_servers, "order-events", key, value, own_headers)
    (letter,) = await eventually(
        lambda: records_of(platform.bootstrap_servers, "order-events.DLQ", {key}), lambda r: r
    )
    at = f"{letter.partition}:{letter.offset}"
    headers = {name: data.decode() for name, data in letter.headers}

    listed = await redrive("list")
    shown = await redrive("show", at)

    assert listed.code == 0, listed.err
    (line,) = [line for line in listed.out.splitlines() if line.startswith(f"{at} ")]
    assert line == (
        f"{at} key={order_id} error=InvalidRecord source=order-events:{source[0]}:{source[1]} "
        f"failedAt={headers['dlq.failedAt']} replayedFrom=- "
        f"reason={' '.join(headers['dlq.reason'].split())[:160]}"
    )
    assert shown.code == 0, shown.err
    schema_id = HEADER.unpack_from(value)[1]
    assert shown.out.splitlines() == [
        f"order-events.DLQ {at}",
        f"key: {order_id}",
        "header eventType: OrderCreated",
        f"header content-type: {values.content_type.decode()}",
        *(f"header {name}: {headers[name]}" for name in names(letter)[2:]),
        f"value: Avro framed (magic byte 0, schema id {schema_id}), {len(value)} bytes: "
        f"{value[:32].hex()}…",
    ]
    assert names(letter)[2:] == [
        "dlq.error",
        "dlq.reason",
        "dlq.source.topic",
        "dlq.source.partition",
        "dlq.source.offset",
        "dlq.service",
        "dlq.failedAt",
    ]
    missing = await redrive("show", f"{letter.partition}:{letter.offset + 1_000_000}")
    assert missing.code == 1
    assert "no dead letter in order-events.DLQ" in missing.err


async def test_a_dead_letter_whose_cause_was_fixed_is_applied_once_however_often_replayed(
    http, platform, order_id, redrive
):
    """Version 2 of an order, as the cart writes it, that the order service could not read
    when it came (a schema it did not know yet, say) and can read now."""
    key = order_id.encode()
    details = f"{platform.orders.base_url}/order-details?orderId={order_id}"
    status, _, _ = await create_order(http, platform, order_id)
    assert status == 201
    await eventually(lambda: call(http, "GET", details), lambda r: r[0] == 200)
    async with events_format(platform.registry_url) as values:
        value = values.encode(event(order_id, 2))
        own_headers = [("eventType", b"OrderStatusChanged"), ("content-type", values.content_type)]
    # Where the cart wrote it: the partition of its key, beside version 1.
    partition = DefaultPartitioner()(key, ALL_PARTITIONS, ALL_PARTITIONS)
    read = ConsumerRecord("order-events", partition, 0, 0, 0, key, value, None, 0, 0, own_headers)
    error = InvalidRecord("schema id 99 is not known")
    letter_headers = dead_letter_headers(read, error, "order-service")
    dlq_at = await write(platform.bootstrap_servers, "order-events.DLQ", key, value, letter_headers)
    at = f"{dlq_at[0]}:{dlq_at[1]}"

    first = await redrive("replay", at)

    assert first.code == 0, first.err
    (line,) = first.out.splitlines()
    assert line.startswith(f"replayed {at} -> order-events:{partition}:")
    _, found, _ = await eventually(
        lambda: call(http, "GET", details), lambda r: r[0] == 200 and r[1]["version"] == 2
    )
    assert (found["status"], found["totalAmount"]) == ("confirmed", Decimal("20.00"))
    (_, replayed) = await records_of(platform.bootstrap_servers, "order-events", {key})
    assert (replayed.partition, replayed.value) == (partition, value)
    assert names(replayed) == ["eventType", "content-type", "dlq.replayedFrom", "dlq.replayedAt"]
    assert dict(replayed.headers)["dlq.replayedFrom"] == f"order-events.DLQ:{at}".encode()

    again = await redrive("replay", "--from", at, "--to", at)

    assert again.code == 0, again.err
    assert again.out.startswith(f"replayed {at} -> order-events:{partition}:")
    skipped = await eventually(
        lambda: projector_lines(platform, "duplicate event skipped"),
        lambda lines: any(line["orderId"] == order_id for line in lines),
    )
    held = [
        (line["version"], line["heldVersion"]) for line in skipped if line["orderId"] == order_id
    ]
    assert held == [(2, 2)]
    applied = [
        each["version"]
        for line in await projector_lines(platform, "order events applied")
        for each in line["orders"]
        if each["orderId"] == order_id
    ]
    assert applied == [1, 2]
    _, found_again, _ = await call(http, "GET", details)
    assert found_again == found


async def test_a_record_still_invalid_comes_back_to_the_dlq_once_and_never_loops(
    platform, order_id, redrive
):
    key = order_id.encode()
    async with events_format(platform.registry_url) as values:
        value = values.encode(event(order_id, 1, quantity=-2, total="-20.00"))
    await write(platform.bootstrap_servers, "order-events", key, value, [])
    (letter,) = await eventually(
        lambda: records_of(platform.bootstrap_servers, "order-events.DLQ", {key}), lambda r: r
    )
    at = f"{letter.partition}:{letter.offset}"

    replayed = await redrive("replay", at)

    assert replayed.code == 0, replayed.err
    assert replayed.out.startswith(f"replayed {at} -> order-events:")
    _, back = await eventually(
        lambda: records_of(platform.bootstrap_servers, "order-events.DLQ", {key}),
        lambda letters: len(letters) == 2,
    )
    assert back.value == value
    assert names(back)[:2] == ["dlq.replayedFrom", "dlq.replayedAt"]
    assert dict(back.headers)["dlq.replayedFrom"] == f"order-events.DLQ:{at}".encode()
    assert dict(back.headers)["dlq.error"] == b"InvalidRecord"
    # Nothing replays on its own: a few seconds later there is still no third copy.
    # A fixed wait, as an absence is no condition to wait for.
    await asyncio.sleep(5)
    assert len(await records_of(platform.bootstrap_servers, "order-events.DLQ", {key})) == 2
    assert len(await records_of(platform.bootstrap_servers, "order-events", {key})) == 2
    listed = await redrive("list")
    back_at = f"{back.partition}:{back.offset} "
    (line,) = [line for line in listed.out.splitlines() if line.startswith(back_at)]
    assert f" replayedFrom=order-events.DLQ:{at} " in line


async def test_a_dead_letter_that_names_no_source_is_refused_and_the_others_replayed(
    platform, order_id, redrive
):
    key = order_id.encode()
    stray = f"{order_id}-stray".encode()
    async with events_format(platform.registry_url) as values:
        value = values.encode(event(order_id, 1, total="999.00"))
    partition = DefaultPartitioner()(key, ALL_PARTITIONS, ALL_PARTITIONS)
    read = ConsumerRecord("order-events", partition, 0, 0, 0, key, value, None, 0, 0, [])
    headers = dead_letter_headers(read, InvalidRecord("total"), "order-service")
    dlq = (platform.bootstrap_servers, "order-events.DLQ")
    _, first = await write(*dlq, stray, b"no headers", [], partition=partition)
    _, second = await write(*dlq, key, value, headers, partition=partition)

    replayed = await redrive(
        "replay", "--from", f"{partition}:{first}", "--to", f"{partition}:{second}"
    )

    assert replayed.code == 1
    refused, sent = replayed.out.splitlines()
    assert refused == f"refused {partition}:{first}: no dlq.source.topic header"
    assert sent.startswith(f"replayed {partition}:{second} -> order-events:{partition}:")
    assert await records_of(platform.bootstrap_servers, "order-events", {stray}) == []
    assert len(await records_of(platform.bootstrap_servers, "order-events", {key})) == 1


@pytest.fixture
async def silent_broker() -> AsyncIterator[str]:
    """An address that takes connections and never answers, like a hung broker."""
    held: list[asyncio.StreamWriter] = []

    async def hold(_: asyncio.StreamReader, writer: asyncio.StreamWriter) -> None:
        held.append(writer)

    server = await asyncio.start_server(hold, "127.0.0.1", 0)
    host, port = server.sockets[0].getsockname()[:2]
    yield f"{host}:{port}"
    for writer in held:
        writer.close()
    server.close()
    await server.wait_closed()


async def test_should_give_up_at_its_deadline_when_kafka_does_not_answer(command, silent_broker):
    started = time.monotonic()

    finished = await command(silent_broker, "replay", "0:0", "--timeout", "3")

    assert finished.code == 1
    # Timed out by the command's deadline or by its client's request timeout (the same 3 s).
    assert f"Kafka at {silent_broker}: " in finished.err
    assert time.monotonic() - started < 10
