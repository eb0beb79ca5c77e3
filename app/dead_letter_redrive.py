"""Dead letters for operators: ``python -m app.dead_letter_redrive {list,show,replay}``.

Reads a dead-letter topic up to its end offsets as they were at the start, so
it ends on a topic still being written; ``replay`` sends records back to their
source topic.  Connected as the cart (``CART_KAFKA_*``, as ``app.topic_init``
and ``make kafka-topics``): its principal writes both source topics.
Longer than most modules: one command line tool, its three subcommands and
their output, read together.
"""

import argparse
import asyncio
import contextlib
import json
import logging
import sys
from collections.abc import Sequence
from typing import NamedTuple

from aiokafka import AIOKafkaConsumer, AIOKafkaProducer, ConsumerRecord
from aiokafka.errors import KafkaError
from aiokafka.structs import RecordMetadata

from app.settings import CartSettings
from infra import dead_letters as dlq
from infra.kafka_connection import KafkaConnection, stop_consumer
from infra.kafka_metadata import UnknownTopic, topic_partitions
from infra.topics import ORDER_COMMANDS, ORDER_COMMANDS_DLQ, ORDER_EVENTS, ORDER_EVENTS_DLQ
from infra.value_formats import HEADER, MAGIC
from models.rules import format_timestamp
from models.wire import utc_now

#: Each dead-letter topic and the one topic its records may be replayed to.
SOURCE_OF = {ORDER_EVENTS_DLQ.name: ORDER_EVENTS.name, ORDER_COMMANDS_DLQ.name: ORDER_COMMANDS.name}
#: How many bytes of a value that is not JSON are shown, as hex.
HEX_SHOWN = 32


class Span(NamedTuple):
    """Offsets ``first`` to ``last`` (inclusive) of one partition."""

    partition: int
    first: int
    last: int


class NotReplayable(ValueError):
    """A dead letter that does not say where it came from, or names another topic."""


def parse_position(text: str) -> tuple[int, int]:
    """``"0:12"`` → ``(0, 12)``: a record's partition and offset."""
    partition, colon, offset = text.partition(":")
    if colon and partition.isdecimal() and offset.isdecimal():
        return int(partition), int(offset)
    raise argparse.ArgumentTypeError(f"{text!r} is no PARTITION:OFFSET such as 0:12")


def replay_span(
    single: tuple[int, int] | None, first: tuple[int, int] | None, last: tuple[int, int] | None
) -> Span:
    """The dead letters ``replay P:O`` or ``replay --from P:O --to P:O`` is about."""
    if (single is None) == (first is None or last is None):
        raise ValueError("replay takes PARTITION:OFFSET, or --from and --to")
    (partition, start), (last_partition, end) = (single, single) if single else (first, last)
    if partition != last_partition or start > end:
        raise ValueError(
            f"--from {partition}:{start} --to {last_partition}:{end}: not one partition's "
            "offsets in order"
        )
    return Span(partition, start, end)


def text(data: bytes | None) -> str:
    """Bytes as UTF-8 text where they are, else as hex; ``-`` for none."""
    try:
        return "-" if data is None else data.decode()
    except UnicodeDecodeError:
        return f"0x{data.hex()}"


def describe_value(value: bytes | None) -> str:
    if value is None:
        return "none (a null value)"
    if value[:1] == MAGIC and len(value) >= HEADER.size:
        kind = f"Avro framed (magic byte 0, schema id {HEADER.unpack_from(value)[1]})"
    else:
        try:
            json.loads(as_text := value.decode())
            return f"JSON, {len(value)} bytes: {as_text}"
        except ValueError:  # UnicodeDecodeError and JSONDecodeError alike
            kind = "not UTF-8 JSON"
    more = "…" if len(value) > HEX_SHOWN else ""
    return f"{kind}, {len(value)} bytes: {value[:HEX_SHOWN].hex()}{more}"


def replay_target(headers: Sequence[tuple[str, bytes]], dead_letter_topic: str) -> tuple[str, int]:
    """The topic and partition a dead letter was read from: where a replay sends it.

    Only the topic its dead-letter topic collects for: a header naming another
    (a changelog, say) is refused rather than written to.
    """
    named = dict(headers)
    source = named.get(dlq.SOURCE_TOPIC_HEADER)
    if source is None:
        raise NotReplayable(f"no {dlq.SOURCE_TOPIC_HEADER} header")
    if text(source) != SOURCE_OF[dead_letter_topic]:
        raise NotReplayable(f"source {text(source)} is not {SOURCE_OF[dead_letter_topic]}")
    partition = text(named.get(dlq.SOURCE_PARTITION_HEADER))
    if not partition.isdecimal():
        raise NotReplayable(f"{dlq.SOURCE_PARTITION_HEADER} {partition} is no partition")
    return text(source), int(partition)


def replay_headers(headers: Sequence[tuple[str, bytes]], origin: str) -> list[tuple[str, bytes]]:
    """The record's own headers, then which dead letter it is a replay of, and when."""
    return [
        *dlq.original_headers(headers),
        (dlq.REPLAYED_FROM_HEADER, origin.encode()),
        (dlq.REPLAYED_AT_HEADER, format_timestamp(utc_now()).encode()),
    ]


def summary(letter: ConsumerRecord) -> str:
    """One line; the reason last and on one line (free text, pydantic's has newlines)."""
    named = dict(letter.headers)
    at = [dlq.SOURCE_TOPIC_HEADER, dlq.SOURCE_PARTITION_HEADER, dlq.SOURCE_OFFSET_HEADER]
    reason = " ".join(text(named.get(dlq.REASON_HEADER)).split())
    return (
        f"{letter.partition}:{letter.offset} key={text(letter.key)} "
        f"error={text(named.get(dlq.ERROR_HEADER))} "
        f"source={':'.join(text(named.get(name)) for name in at)} "
        f"failedAt={text(named.get(dlq.FAILED_AT_HEADER))} "
        f"replayedFrom={text(named.get(dlq.REPLAYED_FROM_HEADER))} reason={reason[:160]}"
    )


async def read_dead_letters(
    kafka: KafkaConnection, topic: str, timeout: float, span: Span | None
) -> list[ConsumerRecord]:
    """The records of ``topic`` (of ``span`` only, if given) up to its end offsets as they
    are now, in one deadline: records written meanwhile are not waited for."""
    async with asyncio.timeout(timeout):
        partitions = await topic_partitions(kafka, topic, timeout)
        if span is not None:
            partitions = [tp for tp in partitions if tp.partition == span.partition]
        options = {"enable_auto_commit": False, "isolation_level": "read_committed"}
        consumer = AIOKafkaConsumer(**kafka.client_options(), **options)
        await consumer.start()
        try:
            consumer.assign(partitions)
            starts = await consumer.beginning_offsets(partitions)
            ends = await consumer.end_offsets(partitions)
            if span is not None:
                starts = {tp: max(span.first, start) for tp, start in starts.items()}
                ends = {tp: min(span.last + 1, end) for tp, end in ends.items()}
            unread = {tp for tp in partitions if starts[tp] < ends[tp]}
            for tp in unread:
                consumer.seek(tp, starts[tp])
            letters: list[ConsumerRecord] = []
            while unread:
                for tp, records in (await consumer.getmany(*unread, timeout_ms=500)).items():
                    letters += [record for record in records if record.offset < ends[tp]]
                unread = {tp for tp in unread if await consumer.position(tp) < ends[tp]}
        finally:
            await stop_consumer(consumer)
    return sorted(letters, key=lambda letter: (letter.partition, letter.offset))


def acknowledged(outcome: "asyncio.Future[RecordMetadata] | NotReplayable") -> bool:
    sent = isinstance(outcome, asyncio.Future) and outcome.done() and not outcome.cancelled()
    return sent and outcome.exception() is None


async def replay(kafka: KafkaConnection, letters: list[ConsumerRecord], timeout: float) -> int:
    """Each letter back to its source; one line each, in the DLQ's order; 1 unless every
    one was acknowledged."""
    outcomes: dict[str, asyncio.Future[RecordMetadata] | NotReplayable] = {}
    producer = AIOKafkaProducer(**kafka.client_options(), acks="all", enable_idempotence=True)
    async with asyncio.timeout(timeout):
        await producer.start()
    try:
        with contextlib.suppress(TimeoutError):  # the letters left are reported unsent
            async with asyncio.timeout(timeout):  # send() waits for the topic's metadata
                for letter in letters:
                    at = f"{letter.partition}:{letter.offset}"
                    try:
                        topic, partition = replay_target(letter.headers, letter.topic)
                    except NotReplayable as exc:
                        outcomes[at] = exc
                        continue
                    # The partition it was read from: the services key by orderId, so it
                    # is its order's partition, and a null key (or one that is no orderId)
                    # goes back there too, not where a partitioner would put it.  No
                    # timestamp: a new write (order-events refuses one over 20 s old).
                    headers = replay_headers(letter.headers, f"{letter.topic}:{at}")
                    outcomes[at] = await producer.send(
                        topic, letter.value, key=letter.key, partition=partition, headers=headers
                    )
        writes = [sent for sent in outcomes.values() if isinstance(sent, asyncio.Future)]
        if writes:
            await asyncio.wait(writes, timeout=timeout)
    finally:
        with contextlib.suppress(TimeoutError):  # stop() waits for every write: bounded too
            async with asyncio.timeout(timeout):
                await producer.stop()
    for at, outcome in outcomes.items():
        if isinstance(outcome, NotReplayable):
            print(f"refused {at}: {outcome}")
        elif acknowledged(outcome):
            written = outcome.result()
            print(f"replayed {at} -> {written.topic}:{written.partition}:{written.offset}")
        else:
            errored = outcome.done() and not outcome.cancelled()
            why = repr(outcome.exception()) if errored else f"no answer in {timeout:g} s"
            print(f"NOT acknowledged {at} ({why}): it may or may not be written")
    for letter in letters[len(outcomes) :]:
        print(f"NOT sent {letter.partition}:{letter.offset} (no answer in {timeout:g} s)")
    every_one = len(outcomes) == len(letters) and all(map(acknowledged, outcomes.values()))
    return 0 if every_one else 1


async def run(args: argparse.Namespace, span: Span | None, kafka: KafkaConnection) -> int:
    letters = await read_dead_letters(kafka, args.topic, args.timeout, span)
    if args.command == "list":
        count = f"{len(letters)} dead letter{'' if len(letters) == 1 else 's'}"
        print(*map(summary, letters), f"{count} in {args.topic}", sep="\n")
        return 0
    if not letters:
        at = f"{span.partition}:{span.first}" + (
            f" to {span.last}" if span.last > span.first else ""
        )
        print(f"no dead letter in {args.topic} at {at}", file=sys.stderr)
        return 1
    if args.command == "replay":
        return await replay(kafka, letters, args.timeout)
    (letter,) = letters
    print(f"{args.topic} {letter.partition}:{letter.offset}", f"key: {text(letter.key)}", sep="\n")
    print(*(f"header {name}: {text(value)}" for name, value in letter.headers), sep="\n")
    print(f"value: {describe_value(letter.value)}")
    return 0


def parser() -> argparse.ArgumentParser:
    common = argparse.ArgumentParser(add_help=False)
    common.add_argument("--topic", choices=list(SOURCE_OF), default=ORDER_EVENTS_DLQ.name)
    common.add_argument("--timeout", type=float, default=30.0, help="seconds per wait on Kafka")
    parser = argparse.ArgumentParser(prog="python -m app.dead_letter_redrive", description=__doc__)
    commands = parser.add_subparsers(dest="command", required=True)
    commands.add_parser("list", parents=[common], help="every dead letter, one line each")
    show = commands.add_parser("show", parents=[common], help="one dead letter in full")
    show.add_argument("position", type=parse_position, metavar="PARTITION:OFFSET")
    replay = commands.add_parser("replay", parents=[common], help="send back to the source")
    replay.add_argument("position", type=parse_position, nargs="?", metavar="PARTITION:OFFSET")
    replay.add_argument("--from", dest="first", type=parse_position, metavar="PARTITION:OFFSET")
    replay.add_argument("--to", dest="last", type=parse_position, metavar="PARTITION:OFFSET")
    return parser


def main(argv: Sequence[str] | None = None) -> int:
    arguments = parser()
    args = arguments.parse_args(argv)
    span = None
    if args.command == "show":
        span = Span(*args.position, args.position[1])
    elif args.command == "replay":
        try:
            span = replay_span(args.position, args.first, args.last)
        except ValueError as exc:
            arguments.error(str(exc))  # exits 2, as for any other usage error
    logging.basicConfig(level=logging.WARNING, format="%(levelname)s %(name)s: %(message)s")
    kafka = CartSettings().kafka_connection()
    try:
        return asyncio.run(run(args, span, kafka))
    except TimeoutError:
        problem = f"no answer in {args.timeout:g} s"
    except (KafkaError, UnknownTopic) as exc:
        problem = str(exc)
    print(f"Kafka at {kafka.bootstrap_servers}: {problem}", file=sys.stderr)
    return 1


if __name__ == "__main__":
    sys.exit(main())
