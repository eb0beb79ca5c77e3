"""The projector, applying batches as its fetch loop hands them over.

The harness (in-memory app, swapped sink topics) is in this folder's conftest.
"""

import logging

import pytest
from faust.types import TP

import agents.hand_over
import agents.shipping
import agents.worker_exit
from models import codec
from models.status import OrderStatus
from tests.unit.agents.conftest import PARTITION_0
from tests.unit.factories import make_event, make_order

EVENT_WIRE = make_event(make_order("ORD-7")).to_wire()


async def test_projector_should_store_the_order_with_its_shipping_cost(orders):
    order = make_order("ORD-1")  # 28.99 → shipping 0.58

    await orders.apply(make_event(order, version=1))

    row = orders.shipped_orders_by_id["ORD-1"]
    assert (row.order, row.version, str(row.shippingCost)) == (order, 1, "0.58")


async def test_projector_should_apply_each_next_version(orders):
    confirmed = make_order("ORD-2", status=OrderStatus.CONFIRMED)

    await orders.apply(make_event(make_order("ORD-2"), 1), make_event(confirmed, 2))

    row = orders.shipped_orders_by_id["ORD-2"]
    assert (row.version, row.order.status) == (2, OrderStatus.CONFIRMED)


async def test_projector_should_skip_duplicates_and_log_them(orders, caplog):
    pending = make_order("ORD-3", status=OrderStatus.PENDING)
    events = [make_event(make_order("ORD-3"), 1), make_event(pending, 2)]

    with caplog.at_level(logging.INFO, logger="agents.projection"):
        await orders.apply(*events, *events)

    row = orders.shipped_orders_by_id["ORD-3"]
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

    # A batch writes the row it leaves for each order: one changelog record (compacted).
    (first, again) = [codec.loads(value) for _, value in orders.changelog.records]
    assert first["version"] == 2
    # Not the older version (the newer row is what the store holds): the newer row again.
    assert again == first


async def test_projector_should_apply_a_snapshot_after_a_gap_with_a_warning(orders, caplog):
    shipped = make_order("ORD-4", status=OrderStatus.SHIPPED)

    with caplog.at_level(logging.INFO, logger="agents.projection"):
        await orders.apply(make_event(make_order("ORD-4"), 1), make_event(shipped, 4))

    assert orders.shipped_orders_by_id["ORD-4"].version == 4
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
    assert "ORD-7" not in orders.shipped_orders_by_id
    assert orders.shipped_orders_by_id["ORD-9"].version == 1
    assert orders.counted("order_events_dead_lettered_total") == 1


async def test_projector_should_commit_past_a_batch_once_its_writes_are_acknowledged(orders):
    await orders.apply(make_event(make_order("ORD-10")), make_event(make_order("ORD-11")))
    await orders.consume((b"ORD-12", b"{not json"))

    assert orders.commits.offsets == {PARTITION_0: 3}
    # The store keeps how far the changelog holds its rows (two rows: offsets 0, 1).
    changelog = TP(orders.shipped_orders_by_id.changelog_topic.get_topic_name(), 0)
    assert orders.shipped_orders_by_id.data.persisted_offset(changelog) == 1


async def test_projector_should_dead_letter_a_record_whose_row_cannot_be_made_and_go_on(
    orders, monkeypatch
):
    def broken(amount):
        raise ArithmeticError("no shipping for this one")

    with monkeypatch.context() as patched:
        patched.setattr(agents.shipping, "shipping_cost", broken)
        await orders.apply(make_event(make_order("ORD-13")))
    await orders.apply(make_event(make_order("ORD-14")))

    letter = await orders.next_dead_letter()
    assert letter.key == b"ORD-13"
    assert dict(letter.headers)["dlq.error"] == b"ArithmeticError"
    assert "ORD-13" not in orders.shipped_orders_by_id
    assert orders.shipped_orders_by_id["ORD-14"].version == 1
