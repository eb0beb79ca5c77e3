"""Two workers of each service on one broker: any worker answers any request.

The cart worker that takes a request is often not the owner of the order's
partition: the command goes to the owner's agent and the reply comes back
through ``order-command-replies``.  An order-service worker that does not
hold an order's partition forwards ``/order-details`` to the one that does.
"""

import asyncio
import contextlib
import itertools
import logging
import time
from collections import Counter
from collections.abc import Iterator

import pytest
from aiokafka.partitioner import murmur2

from app.settings import CartSettings
from local_kafka.stack import LocalStack
from models.money import shipping_cost
from tests.integration.client import call, create_order, eventually
from tests.integration.load import (
    ORDERS,
    Acknowledged,
    burst,
    bursts_until,
    not_found,
    one_event_per_change,
)

logger = logging.getLogger(__name__)

PAIR_ORDERS = 24
RACES = 20
PARTITIONS = 6
SESSION_TIMEOUT = CartSettings.model_fields["consumer_session_timeout"].default


@pytest.fixture(scope="module")
def pair(tmp_path_factory: pytest.TempPathFactory) -> Iterator[LocalStack]:
    with LocalStack(tmp_path_factory.mktemp("workers"), workers=2) as stack:
        yield stack


async def test_every_worker_takes_creates_and_updates_for_any_partition(http, pair, order_id):
    carts = [worker.base_url for worker in pair.cart_workers]
    ids = [f"{order_id}-{n}" for n in range(PAIR_ORDERS)]

    created = await asyncio.gather(
        *(
            call(http, "POST", f"{carts[n % 2]}/create-order", json={"orderId": oid, "numItems": 1})
            for n, oid in enumerate(ids)
        )
    )
    updated = await asyncio.gather(
        *(
            call(
                http,
                "PUT",
                f"{carts[(n + 1) % 2]}/update-order",
                json={"orderId": oid, "status": "confirmed"},
            )
            for n, oid in enumerate(ids)
        )
    )

    assert [status for status, _, _ in created] == [201] * PAIR_ORDERS
    assert [(status, body["status"]) for status, body, _ in updated] == [
        (200, "confirmed")
    ] * PAIR_ORDERS


async def test_every_order_worker_finds_every_order(http, pair, order_id):
    ids = [f"{order_id}-{n}" for n in range(PAIR_ORDERS)]
    for oid in ids:
        status, _, _ = await call(
            http, "POST", f"{pair.cart.base_url}/create-order", json={"orderId": oid, "numItems": 1}
        )
        assert status == 201

    for worker in pair.order_workers:
        for oid in ids:
            _, body, _ = await eventually(
                lambda w=worker, o=oid: call(
                    http, "GET", f"{w.base_url}/order-details?orderId={o}"
                ),
                lambda r: r[0] == 200,
            )
            assert body["orderId"] == oid
            assert body["shippingCost"] == shipping_cost(body["totalAmount"])


async def test_a_race_on_one_order_id_is_decided_once(http, pair, order_id):
    carts = [worker.base_url for worker in pair.cart_workers]
    outcomes: Counter[tuple[int, ...]] = Counter()
    for race in range(RACES):
        body = {"orderId": f"{order_id}-{race}", "numItems": 1}
        answers = await asyncio.gather(
            *(call(http, "POST", f"{cart}/create-order", json=body) for cart in carts)
        )
        outcomes[tuple(sorted(status for status, _, _ in answers))] += 1

    assert outcomes == {(201, 409): RACES}


def partition_of(order_id: str) -> int:
    """The partition the producers write an order to (murmur2 of the raw key)."""
    return (murmur2(order_id.encode()) & 0x7FFFFFFF) % PARTITIONS


def one_per_partition(prefix: str) -> list[str]:
    """An orderId in each partition."""
    ids: dict[int, str] = {}
    for n in itertools.count():
        ids.setdefault(partition_of(f"{prefix}-{n}"), f"{prefix}-{n}")
        if len(ids) == PARTITIONS:
            return list(ids.values())
    raise AssertionError("unreachable")


async def seconds_until_every_partition_served(http, cart_url: str, prefix: str) -> float:
    """Until a new order in each partition, posted to ``cart_url``, is created.

    A refusal (503 while the group rebalances, 504 while a partition has no
    owner) is retried; a 409 after one means an earlier attempt went through.
    """
    started = time.monotonic()

    async def created(order_id: str) -> None:
        while True:
            status, _, _ = await call(
                http, "POST", f"{cart_url}/create-order", json={"orderId": order_id, "numItems": 1}
            )
            if status in {201, 409}:
                return
            assert status in {503, 504}, status
            await asyncio.sleep(0.1)

    async with asyncio.timeout(60):
        await asyncio.gather(*(created(each) for each in one_per_partition(prefix)))
    return time.monotonic() - started


async def test_a_cart_worker_stopped_cleanly_hands_its_partitions_on_at_once(http, pair, order_id):
    survivor, leaving = pair.cart_workers
    await asyncio.to_thread(leaving.stop)
    try:
        handover = await seconds_until_every_partition_served(http, survivor.base_url, order_id)
    finally:
        leaving.start()
        await asyncio.to_thread(leaving.wait_ready)
    logger.info(
        "a cart worker stopped (SIGTERM): the other served every partition %.1f s later", handover
    )
    # A static member leaves its group on a clean stop (measured without the leave: 11 s,
    # the session timeout and the rebalance).
    assert handover < SESSION_TIMEOUT


async def test_a_cart_worker_killed_and_started_again_at_once_is_soon_ready(http, pair, order_id):
    crashed = pair.cart_workers[1]
    crashed.kill()
    killed_at = time.monotonic()
    crashed.start()
    await asyncio.to_thread(crashed.wait_ready)
    ready = time.monotonic() - killed_at
    served = await seconds_until_every_partition_served(http, crashed.base_url, order_id)
    logger.info(
        "a cart worker killed and started again: ready %.1f s after the kill, every partition "
        "served through it %.1f s after that",
        ready,
        served,
    )
    # Static membership: it takes its partitions back without waiting out its own dead
    # session (measured with dynamic membership: ready 6.8-10.1 s; 12.2 s at first).
    assert ready < SESSION_TIMEOUT * 0.6


async def order_details_through(http, worker_url: str, order_ids: list[str]) -> list[tuple]:
    """``/order-details`` of each order through one worker: (status, seconds, Retry-After)."""

    async def timed(order_id: str) -> tuple:
        started = time.monotonic()
        status, _, headers = await call(
            http, "GET", f"{worker_url}/order-details?orderId={order_id}"
        )
        return status, time.monotonic() - started, headers.get("Retry-After")

    return await asyncio.gather(*(timed(each) for each in order_ids))


async def test_a_read_owned_by_a_paused_worker_answers_503_within_2_s(http, pair, order_id):
    ids = one_per_partition(order_id)
    for each in ids:
        assert (await create_order(http, pair, each))[0] == 201
    asker, owner = pair.order_workers
    await eventually(
        lambda: order_details_through(http, asker.base_url, ids),
        lambda answers: {status for status, _, _ in answers} == {200},
    )

    owner.pause()
    try:
        answers = await order_details_through(http, asker.base_url, ids)
    finally:
        owner.resume()
    logger.info("reads through one worker while the other is paused: %s", answers)

    statuses = [status for status, _, _ in answers]
    # Each partition is the asker's own (200) or the paused owner's (503), never a hang.
    assert set(statuses) == {200, 503}
    assert all(seconds < 2.0 for _, seconds, _ in answers)
    assert all(retry == "2" for status, _, retry in answers if status == 503)
    # Resumed, the owner answers again.
    await eventually(
        lambda: order_details_through(http, asker.base_url, ids),
        lambda answers: {status for status, _, _ in answers} == {200},
    )


async def test_partitions_moving_during_a_burst_decide_every_change_once(http, pair, order_id):
    """A third cart worker joins during a burst, then leaves: the partitions move twice
    while both workers take commands, and each change is one event."""
    acked, done = Acknowledged(), asyncio.Event()
    clients = asyncio.ensure_future(
        bursts_until(done, http, pair, order_id, acked, carts=pair.cart_workers, retry_refused=True)
    )
    third = pair.service("cart", worker=2)
    await eventually(lambda: asyncio.sleep(0, len(acked.status)), lambda n: n >= ORDERS // 5)
    third.start()
    try:
        await asyncio.to_thread(third.wait_ready)
        joined = len(acked.status)
        await eventually(
            lambda: asyncio.sleep(0, len(acked.status)), lambda n: n >= joined + ORDERS // 5
        )
        await asyncio.to_thread(third.stop)
        left = len(acked.status)
        await eventually(
            lambda: asyncio.sleep(0, len(acked.status)), lambda n: n >= left + ORDERS // 5
        )
    finally:
        await asyncio.to_thread(third.stop)
        done.set()
    await clients
    logger.info(
        "a third cart worker joined and left during a burst: %d orders acknowledged, refusals %s",
        len(acked.status),
        dict(acked.refusals),
    )

    # While partitions move, a request may wait out its deadline, never more.
    assert set(acked.refusals) <= {503, 504}, acked.refusals
    missing = await eventually(
        lambda: not_found(http, pair.orders.base_url, acked), lambda m: not m, timeout=60
    )
    assert missing == {}
    await one_event_per_change(pair, acked)


async def test_a_cart_worker_paused_past_its_session_publishes_nothing_stale(http, pair, order_id):
    """A worker paused (SIGSTOP) in a burst while its partitions move to the other, then
    resumed: it publishes no decision of its own on top of the other's."""
    acked, done = Acknowledged(), asyncio.Event()
    paused = pair.cart_workers[1]
    clients = asyncio.ensure_future(
        bursts_until(done, http, pair, order_id, acked, carts=pair.cart_workers, retry_refused=True)
    )
    await eventually(lambda: asyncio.sleep(0, len(acked.status)), lambda n: n >= ORDERS // 4)
    paused.pause()
    try:
        # The other worker takes every partition after the session timeout.
        await asyncio.sleep(SESSION_TIMEOUT + 4)
    finally:
        paused.resume()
    resumed = len(acked.status)
    await eventually(
        lambda: asyncio.sleep(0, len(acked.status)), lambda n: n >= resumed + ORDERS // 4
    )
    done.set()
    await clients
    exited = pair.start_exited()
    for worker in pair.cart_workers:
        await asyncio.to_thread(worker.wait_ready)
    logger.info(
        "a cart worker paused %.0f s in a burst: %d orders acknowledged, refusals %s; "
        "exited after it resumed: %s",
        SESSION_TIMEOUT + 4,
        len(acked.status),
        dict(acked.refusals),
        [(service.name, status) for service, status in exited],
    )

    assert set(acked.refusals) <= {0, 503, 504}, acked.refusals
    missing = await eventually(
        lambda: not_found(http, pair.orders.base_url, acked), lambda m: not m, timeout=60
    )
    assert missing == {}
    await one_event_per_change(pair, acked)


async def test_a_worker_of_each_service_killed_in_a_burst_loses_nothing(http, pair, order_id):
    """Runs last in the module: it kills the second worker of each service."""
    survivor, victims = pair.cart, [pair.cart_workers[1], pair.order_workers[1]]
    acked = Acknowledged()
    readiness: list[tuple[float, int]] = []
    killed = asyncio.get_running_loop().create_future()

    async def watch_ready() -> None:
        """Until the survivor, refusing after the kill, is ready again (or 60 s)."""
        with contextlib.suppress(TimeoutError):
            async with asyncio.timeout(60):
                while True:
                    status, _, _ = await call(http, "GET", f"{survivor.base_url}/ready")
                    readiness.append((time.monotonic(), status))
                    if killed.done() and status == 200:
                        after = [s for moment, s in readiness if moment > killed.result()]
                        if any(s != 200 for s in after):
                            return
                    await asyncio.sleep(0.1)

    clients = asyncio.ensure_future(burst(http, pair, order_id, acked))
    watcher = asyncio.ensure_future(watch_ready())
    await eventually(lambda: asyncio.sleep(0, len(acked.status)), lambda n: n >= ORDERS // 4)
    read_before_the_takeover = one_per_partition(f"{order_id}-read")
    for each in read_before_the_takeover:
        assert (await create_order(http, pair, each))[0] == 201
    for victim in victims:
        victim.kill()
    killed_at = time.monotonic()
    killed.set_result(killed_at)
    reads = await order_details_through(http, pair.orders.base_url, read_before_the_takeover)
    await clients
    await watcher
    orders = pair.orders.base_url

    lost = await eventually(lambda: not_found(http, orders, acked), lambda m: not m, timeout=60)
    after_kill = [(moment, status) for moment, status in readiness if moment > killed_at]
    # Ready again after the rebalance: the survivor holds and has recovered every partition.
    last_refused = max(
        (moment for moment, status in after_kill if status != 200), default=killed_at
    )
    takeover = min((m for m, status in after_kill if m > last_refused), default=float("inf"))
    logger.info(
        "one worker of each service killed: %d orders acknowledged, %d refused or cut off, "
        "%d missing; every partition served again %.1f s after the kill; /ready of the "
        "survivor after the kill: %s",
        len(acked.status),
        acked.refused,
        len(lost),
        takeover - killed_at,
        " ".join(str(s) for s, _ in itertools.groupby(status for _, status in after_kill)),
    )
    assert lost == {}
    # Reads of the dead worker's orders, before the survivor took them: a quick 503, never a 500.
    assert {status for status, _, _ in reads} <= {200, 404, 503}, reads
    assert all(seconds < 2.0 for _, seconds, _ in reads), reads
    # Nothing answered wrong: a 504 (fate unknown) at worst, never a 500.
    assert set(acked.refusals) <= {504}, acked.refusals
    duplicates = await asyncio.gather(*(create_order(http, pair, each) for each in acked.status))
    assert {status for status, _, _ in duplicates} == {409}
    # The survivor took the dead worker's partitions: every partition answered again.
    assert takeover - killed_at < SESSION_TIMEOUT + 15
    # While its group rebalanced, the survivor said so; it is ready again after.
    statuses = [status for _, status in after_kill]
    assert 503 in statuses
    assert statuses[-1] == 200
