"""Kept answers as they are stored and restored: whatever bytes a record holds."""

import pytest

from agents.idempotency import KeptAnswer, is_kept_answer_key, kept_answer_key, kept_in_event
from models.codec import dumps
from models.commands import CommandReply, Outcome
from models.wire import InvalidRecord
from tests.unit.factories import make_event, make_order

REPLY = b'{"commandId": "c", "outcome": "created", "detail": ""}'


def test_a_kept_answer_survives_its_bytes():
    reply = CommandReply(
        commandId="c-1", outcome=Outcome.CREATED, detail="d", order=make_order(), version=1
    )
    kept = KeptAnswer("hash-1", reply, 1_800_000_000.5)

    assert KeptAnswer.decode(kept.encode()) == kept


@pytest.mark.parametrize(
    "data",
    [
        b"not json",
        b"[]",
        b"{}",
        b'{"requestHash": null, "at": 0, "reply": {}}',
        b'{"requestHash": 7, "at": 0, "reply": %s}' % REPLY,
        b'{"requestHash": null, "at": "x", "reply": %s}' % REPLY,
    ],
)
def test_bytes_that_are_no_kept_answer_are_an_invalid_record(data: bytes):
    with pytest.raises(InvalidRecord):
        KeptAnswer.decode(data)


@pytest.mark.parametrize("header", [b"{not json", b"{}", b'{"key": 1, "requestHash": null}', b"[]"])
def test_an_idempotency_header_that_names_no_key_is_an_invalid_record(header: bytes):
    with pytest.raises(InvalidRecord):
        kept_in_event(make_event(), header, 0.0)


def test_an_events_header_keeps_what_its_command_was_answered():
    event = make_event(version=1)
    header = dumps({"key": "k-1", "requestHash": "h"})

    key, kept = kept_in_event(event, header, 12.0)

    assert key == kept_answer_key(event.orderId, "k-1")
    assert (kept.request_hash, kept.decided_at) == ("h", 12.0)
    assert (kept.reply.outcome, kept.reply.order, kept.reply.version) == (
        Outcome.CREATED,
        event.order,
        1,
    )


@pytest.mark.parametrize(
    ("key", "kept"),
    [(b"\x01ORD-1\x00k", True), (b"ORD-1", False), (b"\x01ORD-1", False), (None, False)],
)
def test_only_a_kept_answers_key_is_one(key: bytes | None, kept: bool):
    assert is_kept_answer_key(key) is kept
