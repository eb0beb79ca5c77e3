"""The pure parts of the dead-letter command: positions, spans, what a replay carries and
where it goes, how a value is shown.  The command against a real broker is in
tests/integration/test_dead_letter_replay.py."""

import argparse
from datetime import datetime

import pytest
from aiokafka.structs import ConsumerRecord

from app.dead_letter_redrive import (
    NotReplayable,
    Span,
    describe_value,
    main,
    parse_position,
    replay_headers,
    replay_span,
    replay_target,
    summary,
)
from infra.dead_letters import dead_letter_headers
from infra.value_formats import HEADER
from models.wire import InvalidRecord

ORIGINAL = [("eventType", b"OrderCreated"), ("content-type", b"application/json")]


def record(topic: str, partition: int, offset: int, headers: list) -> ConsumerRecord:
    return ConsumerRecord(topic, partition, offset, 0, 0, b"ORD-1", b"{}", None, 5, 2, headers)


def dead_letter_of(source: ConsumerRecord, error: Exception) -> list[tuple[str, bytes]]:
    """The headers the services give a dead letter of ``source``."""
    return dead_letter_headers(source, error, "order-service")


@pytest.mark.parametrize(("text", "position"), [("0:12", (0, 12)), ("5:0", (5, 0))])
def test_should_read_a_partition_and_an_offset(text, position):
    assert parse_position(text) == position


@pytest.mark.parametrize("text", ["12", "0:", ":3", "a:1", "0:-1", "-1:3", "0:1:2", "0:²", ""])
def test_should_refuse_what_is_no_position(text):
    with pytest.raises(argparse.ArgumentTypeError, match="is no PARTITION:OFFSET"):
        parse_position(text)


def test_should_take_one_record_or_an_inclusive_span_of_one_partition():
    assert replay_span((2, 7), None, None) == Span(2, 7, 7)
    assert replay_span(None, (2, 7), (2, 9)) == Span(2, 7, 9)


@pytest.mark.parametrize(
    ("single", "first", "last", "problem"),
    [
        (None, None, None, "PARTITION:OFFSET, or --from and --to"),
        (None, (0, 1), None, "PARTITION:OFFSET, or --from and --to"),
        ((0, 1), (0, 1), (0, 2), "PARTITION:OFFSET, or --from and --to"),
        (None, (0, 1), (1, 2), "not one partition's offsets in order"),
        (None, (0, 5), (0, 4), "not one partition's offsets in order"),
    ],
)
def test_should_refuse_a_replay_asked_wrongly(single, first, last, problem):
    with pytest.raises(ValueError, match=problem):
        replay_span(single, first, last)


@pytest.mark.parametrize(
    "argv",
    [
        ["list", "--topic", "order-events"],
        ["list", "--topic", "order-service-shipped_orders_by_id-changelog"],
        ["replay", "--from", "0:3", "--to", "1:4"],
        ["show", "0"],
    ],
)
def test_should_exit_2_before_connecting_to_anything_for_a_usage_error(argv, capsys):
    with pytest.raises(SystemExit) as exit_:
        main(argv)
    assert exit_.value.code == 2
    assert "error:" in capsys.readouterr().err


def test_a_replay_carries_the_original_headers_and_where_it_came_from_and_no_error():
    letter = dead_letter_of(record("order-events", 4, 1234, ORIGINAL), InvalidRecord("bad"))

    headers = replay_headers(letter, "order-events.DLQ:0:12")

    assert headers[:2] == ORIGINAL
    assert [name for name, _ in headers[2:]] == ["dlq.replayedFrom", "dlq.replayedAt"]
    named = dict(headers)
    assert named["dlq.replayedFrom"] == b"order-events.DLQ:0:12"
    replayed_at = named["dlq.replayedAt"].decode()
    assert replayed_at.endswith("Z")
    assert datetime.fromisoformat(replayed_at).tzinfo is not None


def test_a_replay_of_a_replay_that_failed_again_names_only_the_latest_dead_letter():
    first = dead_letter_of(record("order-events", 4, 1234, ORIGINAL), InvalidRecord("bad"))
    replayed = replay_headers(first, "order-events.DLQ:0:12")
    second = dead_letter_of(record("order-events", 4, 1300, replayed), InvalidRecord("bad"))

    headers = replay_headers(second, "order-events.DLQ:0:20")

    assert [name for name, _ in headers] == [*dict(ORIGINAL), "dlq.replayedFrom", "dlq.replayedAt"]
    assert dict(headers)["dlq.replayedFrom"] == b"order-events.DLQ:0:20"


def test_a_dead_letter_goes_back_to_the_topic_and_partition_it_was_read_from():
    letter = dead_letter_of(record("order-events", 4, 1234, ORIGINAL), InvalidRecord("bad"))
    assert replay_target(letter, "order-events.DLQ") == ("order-events", 4)
    command = dead_letter_of(record("order-commands", 1, 9, []), InvalidRecord("bad"))
    assert replay_target(command, "order-commands.DLQ") == ("order-commands", 1)


@pytest.mark.parametrize(
    ("headers", "problem"),
    [
        (ORIGINAL, "no dlq.source.topic header"),
        ([("dlq.source.topic", b"order-events")], "dlq.source.partition - is no partition"),
        (
            [("dlq.source.topic", b"order-service-shipped_orders_by_id-changelog")],
            "source order-service-shipped_orders_by_id-changelog is not order-events",
        ),
        (
            [("dlq.source.topic", b"order-commands"), ("dlq.source.partition", b"1")],
            "source order-commands is not order-events",
        ),
    ],
)
def test_should_refuse_to_replay_a_dead_letter_that_names_no_or_another_source(headers, problem):
    with pytest.raises(NotReplayable, match=problem):
        replay_target(headers, "order-events.DLQ")


def test_a_summary_is_one_line_with_where_what_and_whether_it_is_a_replay():
    error = InvalidRecord("1 validation error\n  total does not match")
    replayed = replay_headers(ORIGINAL, "order-events.DLQ:0:12")
    headers = dead_letter_of(record("order-events", 4, 1234, replayed), error)

    line = summary(record("order-events.DLQ", 0, 20, headers))

    assert "\n" not in line
    assert line.startswith("0:20 key=ORD-1 error=InvalidRecord source=order-events:4:1234 ")
    assert " replayedFrom=order-events.DLQ:0:12 " in line
    assert line.endswith("reason=1 validation error total does not match")
    assert " replayedFrom=- " in summary(record("order-events.DLQ", 0, 12, ORIGINAL))


def test_a_value_is_shown_as_json_text_or_avro_framing_or_hex():
    assert describe_value(b'{"orderId": "ORD-1"}') == 'JSON, 20 bytes: {"orderId": "ORD-1"}'
    avro = HEADER.pack(0, 7) + bytes(40)
    assert describe_value(avro) == (
        f"Avro framed (magic byte 0, schema id 7), 45 bytes: {avro[:32].hex()}…"
    )
    assert describe_value(b"\xff\xfe") == "not UTF-8 JSON, 2 bytes: fffe"
    assert describe_value(None) == "none (a null value)"
