"""The cart agent and the projector running in ``agent.test_context()``.

The harness (in-memory app, swapped sink topics) is in this folder's conftest.
"""

import asyncio
import logging
from types import SimpleNamespace

import pytest
from aiokafka.errors import KafkaTimeoutError
from faust.types import TP

import agents.hand_over
import agents.projector
import agents.worker_exit
from models import codec
from models.commands import CommandReply, Outcome
from models.status import OrderStatus
from tests.unit.agents.conftest import PARTITION_0, received
from tests.unit.factories import make_create_command, make_event, make_order, make_update_command

EVENT_WIRE = make_event(make_order("ORD-7")).to_wire()


async def test_cart_should_publish_order_created_store_the_row_and_reply(cart):
    order = make_order("ORD-1")

    reply = await cart.handle(make_create_command(order, command_id="cmd-1"))

    assert reply.outcome is Outcome.CREATED
    published = await cart.next_event()
    assert published.key == "ORD-1"
    assert (published.value.version, published.value.order) == (1, order)
    assert published.headers["eventType"] == b"OrderCreated"
    row = cart.orders_by_id["ORD-1"]
    assert (row.version, row.lastCommandId, row.order) == (1, "cmd-1", order)
    # and on the real topic that is a raw UTF-8 key and the codec's JSON
    events_topic = cart.declared.events
    assert events_topic.prepare_key("ORD-1", None)[0] == b"ORD-1"
    assert events_topic.prepare_value(published.value.to_wire(), None)[0] == codec.dumps(
        published.value.to_wire()
    )


async def test_cart_should_publish_each_forward_move_as_the_next_version(cart):
    await cart.handle(make_create_command(make_order("ORD-2")))
    await cart.handle(make_update_command("ORD-2", OrderStatus.CONFIRMED, command_id="c-2"))
    reply = await cart.handle(make_update_command("ORD-2", OrderStatus.SHIPPED, command_id="c-3"))

    assert reply.outcome is Outcome.UPDATED
    events = [(await cart.next_event()).value for _ in range(3)]
    assert [(e.version, e.order.status) for e in events] == [
        (1, OrderStatus.NEW),
        (2, OrderStatus.CONFIRMED),
        (3, OrderStatus.SHIPPED),
    ]
    row = cart.orders_by_id["ORD-2"]
    assert (row.version, row.order.status, row.lastCommandId) == (3, OrderStatus.SHIPPED, "c-3")


@pytest.mark.parametrize(
    ("second", "outcome"),
    [
        (make_create_command(make_order("ORD-3"), command_id="cmd-other"), Outcome.ALREADY_EXISTS),
        (make_update_command("ORD-3", OrderStatus.NEW, command_id="u-1"), Outcome.UNCHANGED),
        (make_create_command(make_order("ORD-3"), command_id="cmd-1"), Outcome.CREATED),
    ],
    ids=["duplicate create", "same status", "redelivered create"],
)
async def test_cart_should_publish_nothing_more_and_keep_the_row(cart, second, outcome):
    await cart.handle(make_create_command(make_order("ORD-3"), command_id="cmd-1"))
    await cart.next_event()

    reply = await cart.handle(second)

    assert reply.outcome is outcome
    assert cart.events.empty()
    row = cart.orders_by_id["ORD-3"]
    assert (row.version, row.lastCommandId) == (1, "cmd-1")


async def test_cart_should_write_the_row_again_for_a_command_handled_again(cart, monkeypatch):
    # Handled again after a crash, the command finds the row it wrote in the store,
    # whose changelog record may have been lost with the process: written again.
    await cart.handle(make_create_command(make_order("ORD-12"), command_id="cmd-12"))
    await cart.next_event()
    written = []

    def send_changelog(partition: int, key: object, value: object, *_: object) -> object:
        written.append(value)
        return SimpleNamespace(message=SimpleNamespace(partition=partition))  # Faust reads it

    monkeypatch.setattr(cart.orders_by_id, "send_changelog", send_changelog)

    reply = await cart.handle(make_create_command(make_order("ORD-12"), command_id="cmd-12"))
    await cart.handle(make_create_command(make_order("ORD-12"), command_id="cmd-other"))

    assert reply.outcome is Outcome.CREATED
    assert [(row.version, row.lastCommandId) for row in written] == [(1, "cmd-12")]


async def test_cart_should_refuse_a_backward_move_without_publishing(cart):
    await cart.handle(make_create_command(make_order("ORD-4")))
    await cart.handle(make_update_command("ORD-4", OrderStatus.SHIPPED, command_id="u-1"))
    for _ in range(2):
        await cart.next_event()

    reply = await cart.handle(make_update_command("ORD-4", OrderStatus.PENDING, command_id="u-2"))

    assert reply.outcome is Outcome.ILLEGAL_TRANSITION
    assert cart.events.empty()
    assert cart.orders_by_id["ORD-4"].order.status is OrderStatus.SHIPPED


async def test_cart_should_answer_not_found_for_an_unknown_order(cart):
    reply = await cart.handle(make_update_command("ORD-404", OrderStatus.PENDING))

    assert reply.outcome is Outcome.NOT_FOUND
    assert cart.events.empty()
    assert "ORD-404" not in cart.orders_by_id


class FailingSends:
    """An events sink whose first ``failures`` sends Kafka does not acknowledge."""

    def __init__(self, failures: int) -> None:
        self.channel, self.failures, self.attempts = None, failures, 0

    def wrap(self, channel):
        self.channel = channel
        return self

    async def send(self, **kwargs):
        self.attempts += 1
        if self.attempts <= self.failures:
            raise KafkaTimeoutError("no acknowledgement")
        return await self.channel.send(**kwargs)


async def test_cart_should_retry_an_unacknowledged_publish_then_store_and_reply(
    cart_with, monkeypatch, caplog
):
    monkeypatch.setattr(agents.hand_over, "RETRY_FIRST_DELAY", 0.01)
    sink = FailingSends(failures=2)

    with caplog.at_level(logging.WARNING, logger="agents.hand_over"):
        async with cart_with(sink.wrap) as cart:
            reply = await cart.handle(make_create_command(make_order("ORD-5")))

            assert reply.outcome is Outcome.CREATED
            assert sink.attempts == 3
            assert (await cart.next_event()).value.version == 1
            assert cart.events.empty()
            assert cart.orders_by_id["ORD-5"].version == 1
    assert len([r for r in caplog.records if "retrying" in r.getMessage()]) == 2


async def test_cart_should_neither_store_nor_reply_while_kafka_does_not_acknowledge(
    cart_with, monkeypatch
):
    # A 2xx must mean the event is durable: no row, no reply before the ack.
    monkeypatch.setattr(agents.hand_over, "RETRY_FIRST_DELAY", 0.01)
    sink = FailingSends(failures=10**6)

    async with cart_with(sink.wrap) as cart:
        await cart.send(make_create_command(make_order("ORD-6")))
        await cart.wait_until(lambda: sink.attempts >= 3)

        assert "ORD-6" not in cart.orders_by_id
        assert cart.replies.empty()


class UndeliveredEvents:
    """An events sink that takes every send and then fails its acknowledgement."""

    def __init__(self) -> None:
        self.sent = 0

    async def send(self, **kwargs):
        self.sent += 1
        written = asyncio.get_running_loop().create_future()
        written.set_exception(KafkaTimeoutError("no acknowledgement"))
        return written


class WorkerExit(BaseException):
    """Stands in for the process exit, which would end the test run."""


async def test_cart_should_exit_without_storing_or_answering_when_an_event_is_not_delivered(
    cart_with, monkeypatch
):
    exits: list[int] = []

    def exit_now(status: int) -> None:
        exits.append(status)
        raise WorkerExit

    monkeypatch.setattr(agents.worker_exit.os, "_exit", exit_now)
    monkeypatch.setattr(
        agents.worker_exit.logging, "shutdown", lambda: None
    )  # pytest's handlers stay
    sink = UndeliveredEvents()

    async with cart_with(lambda channel: sink) as cart:
        await cart.send(make_create_command(make_order("ORD-8")))
        await cart.wait_until(lambda: exits == [agents.worker_exit.EXIT_UNFINISHED])

        assert sink.sent == 1
        assert "ORD-8" not in cart.orders_by_id
        assert cart.replies.empty()


async def test_projector_should_store_the_order_with_its_shipping_cost(orders):
    order = make_order("ORD-1")  # 28.99 → shipping 0.58

    await orders.apply(make_event(order, version=1))

    row = orders.orders_by_id["ORD-1"]
    assert (row.order, row.version, str(row.shippingCost)) == (order, 1, "0.58")


async def test_projector_should_apply_each_next_version(orders):
    confirmed = make_order("ORD-2", status=OrderStatus.CONFIRMED)

    await orders.apply(make_event(make_order("ORD-2"), 1), make_event(confirmed, 2))

    row = orders.orders_by_id["ORD-2"]
    assert (row.version, row.order.status) == (2, OrderStatus.CONFIRMED)


async def test_projector_should_skip_duplicates_and_log_them(orders, caplog):
    pending = make_order("ORD-3", status=OrderStatus.PENDING)
    events = [make_event(make_order("ORD-3"), 1), make_event(pending, 2)]

    with caplog.at_level(logging.INFO, logger="agents.projector"):
        await orders.apply(*events, *events)

    row = orders.orders_by_id["ORD-3"]
    assert (row.version, row.order.status) == (2, OrderStatus.PENDING)
    skipped = [r for r in caplog.records if r.getMessage() == "duplicate event skipped"]
    assert [(r.orderId, r.version, r.heldVersion) for r in skipped] == [
        ("ORD-3", 1, 2),
        ("ORD-3", 2, 2),
    ]
    assert orders.counted("order_events_duplicates_skipped_total") == 2


async def test_projector_should_write_the_held_row_again_when_its_own_event_comes_again(orders):
    # Handled again after a crash, the event finds its row in the store, whose
    # changelog record may have been lost with the process: written again.
    pending = make_order("ORD-13", status=OrderStatus.PENDING)
    events = [make_event(make_order("ORD-13"), 1), make_event(pending, 2)]

    await orders.apply(*events)
    await orders.apply(*events)

    v1, v2 = (codec.loads(value)["version"] for _, value in orders.changelog.records[:2])
    rewritten = [codec.loads(value) for _, value in orders.changelog.records[2:]]
    assert (v1, v2) == (1, 2)
    # Not the older version (the newer row is what the store holds): the newer row again.
    assert [row["version"] for row in rewritten] == [2]
    assert rewritten[0] == codec.loads(orders.changelog.records[1][1])


async def test_projector_should_apply_a_snapshot_after_a_gap_with_a_warning(orders, caplog):
    shipped = make_order("ORD-4", status=OrderStatus.SHIPPED)

    with caplog.at_level(logging.INFO, logger="agents.projector"):
        await orders.apply(make_event(make_order("ORD-4"), 1), make_event(shipped, 4))

    assert orders.orders_by_id["ORD-4"].version == 4
    gaps = [r for r in caplog.records if r.levelno == logging.WARNING]
    assert len(gaps) == 1
    assert gaps[0].getMessage().startswith("version gap")
    assert (gaps[0].orderId, gaps[0].heldVersion, gaps[0].version) == ("ORD-4", 1, 4)
    assert orders.counted("order_events_version_gaps_total") == 1


@pytest.mark.parametrize(
    ("key", "value"),
    [
        (b"ORD-7", b"{not json"),
        (b"ORD-7", b"[" * 100_000),
        (b"ORD-7", b'{"orderId": "ORD-7"}'),
        (b"ORD-7", None),
        (b"ORD-8", codec.dumps(EVENT_WIRE)),
        (b"ORD-7", codec.dumps({**EVENT_WIRE, "occurredAt": "0001-01-01T00:00:00+01:00"})),
        (b"ORD-7", codec.dumps(EVENT_WIRE).replace(b'"version":1', b'"version":%d' % 2**64)),
        (b"ORD-7", codec.dumps({**EVENT_WIRE, "version": 2**31})),
        (b"ORD-7", b'{"order": "x"}'),
        (b"ORD-7", b'{"order": [1, 2]}'),
        (b"ORD-7", b"null"),
        (b"ORD-7", b"[]"),
    ],
    ids=[
        "not JSON",
        "nested too deep",
        "not an event",
        "no value",
        "key mismatch",
        "bad date",
        "version beyond 64 bits",
        "version beyond Avro's int",
        "order a string",
        "order a list",
        "null",
        "empty list",
    ],
)
async def test_projector_should_dead_letter_an_unusable_record_and_go_on(orders, key, value):
    good = make_event(make_order("ORD-9"))

    await orders.consume((key, value), (b"ORD-9", codec.dumps(good.to_wire())))

    letter = await orders.next_dead_letter()
    assert (letter.key, letter.value) == (key, value)
    headers = dict(letter.headers)
    assert headers["eventType"] == b"OrderCreated"  # the original headers are kept
    assert headers["dlq.service"] == b"orders-test"
    assert headers["dlq.error"] == b"InvalidRecord"
    assert "ORD-7" not in orders.orders_by_id
    assert orders.orders_by_id["ORD-9"].version == 1
    assert orders.counted("order_events_dead_lettered_total") == 1


async def test_projector_should_commit_past_a_batch_once_its_writes_are_acknowledged(orders):
    await orders.apply(make_event(make_order("ORD-10")), make_event(make_order("ORD-11")))
    await orders.consume((b"ORD-12", b"{not json"))

    assert orders.commits.offsets == {PARTITION_0: 3}
    # The store keeps how far the changelog holds its rows (two rows: offsets 0, 1).
    changelog = TP(orders.orders_by_id.changelog_topic.get_topic_name(), 0)
    assert orders.orders_by_id.data.persisted_offset(changelog) == 1


async def test_projector_should_dead_letter_a_record_whose_row_cannot_be_made_and_go_on(
    orders, monkeypatch
):
    def broken(amount):
        raise ArithmeticError("no shipping for this one")

    with monkeypatch.context() as patched:
        patched.setattr(agents.projector, "shipping_cost", broken)
        await orders.apply(make_event(make_order("ORD-13")))
    await orders.apply(make_event(make_order("ORD-14")))

    letter = await orders.next_dead_letter()
    assert letter.key == b"ORD-13"
    assert dict(letter.headers)["dlq.error"] == b"ArithmeticError"
    assert "ORD-13" not in orders.orders_by_id
    assert orders.orders_by_id["ORD-14"].version == 1


async def test_cart_should_dead_letter_an_unreadable_command_in_its_place_and_answer_it(cart):
    await cart.agent.put(
        b"\x00\x00\x00\x00\x2a not a command",
        key=b"ORD-15",
        headers={"commandId": b"cmd-unreadable"},
    )
    answered = await received(cart.replies)
    after = await cart.handle(make_create_command(make_order("ORD-16"), command_id="cmd-16"))

    letter = await received(cart.dead_letters)
    assert (letter.key, letter.value) == (b"ORD-15", b"\x00\x00\x00\x00\x2a not a command")
    headers = dict(letter.headers)
    assert headers["dlq.error"] == b"InvalidRecord"
    assert headers["dlq.source.topic"] == b"order-commands"
    assert answered.key == "cmd-unreadable"
    assert CommandReply.from_wire(answered.value).outcome is Outcome.UNREADABLE
    assert after.outcome is Outcome.CREATED
    assert "ORD-15" not in cart.orders_by_id
