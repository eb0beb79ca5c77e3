"""A three-node KRaft cluster: replicated topics, and a broker lost in the middle of a burst.

Topics are replicated on all three nodes with ``min.insync.replicas`` 2 and
the producers write with ``acks=all``: an acknowledged change is on two
nodes, so one node may die without losing it.
"""

import asyncio
import logging
import time
from collections.abc import Iterator

import pytest
from aiokafka.admin import AIOKafkaAdminClient
from aiokafka.admin.config_resource import ConfigResource, ConfigResourceType

from infra.topics import ORDER_COMMANDS, ORDER_EVENTS
from local_kafka.stack import LocalStack
from tests.integration.client import call, create_once_accepted, create_order, eventually
from tests.integration.load import ORDERS, Acknowledged, burst, longest_pause, not_found

logger = logging.getLogger(__name__)


@pytest.fixture(scope="module")
def cluster(tmp_path_factory: pytest.TempPathFactory) -> Iterator[LocalStack]:
    with LocalStack(tmp_path_factory.mktemp("brokers"), brokers=3) as stack:
        yield stack


async def test_order_topics_are_on_three_nodes_with_two_in_sync(cluster):
    admin = AIOKafkaAdminClient(bootstrap_servers=cluster.bootstrap_servers)
    await admin.start()
    try:
        topics = [ORDER_COMMANDS.name, ORDER_EVENTS.name]
        described = await admin.describe_topics(topics)
        configs = await admin.describe_configs(
            [ConfigResource(ConfigResourceType.TOPIC, topic) for topic in topics]
        )
    finally:
        await admin.close()

    for topic in described:
        assert [len(p["replicas"]) for p in topic["partitions"]] == [3] * 6, topic["topic"]
    min_isr = {
        name: dict((key, value) for key, value, *_ in entries)["min.insync.replicas"]
        for response in configs
        for _, _, _, name, entries in response.resources
    }
    assert min_isr == dict.fromkeys(topics, "2")


@pytest.mark.parametrize("how", ["killed", "paused"])
async def test_a_broker_lost_in_a_burst_loses_no_acknowledged_change(http, cluster, order_id, how):
    """SIGKILL, or SIGSTOP (a hang: connections accepted, nothing answered) and SIGCONT."""
    admin = AIOKafkaAdminClient(bootstrap_servers=cluster.bootstrap_servers)
    await admin.start()
    try:
        controller = (await admin.describe_cluster())["controller_id"]
    finally:
        await admin.close()
    # The active controller, and the leader of some order partitions.
    victim = next(b for b in cluster.broker.brokers if b.node_id == controller)
    acked = Acknowledged()
    clients = asyncio.ensure_future(burst(http, cluster, order_id, acked, retry_refused=True))
    await eventually(lambda: asyncio.sleep(0, len(acked.status)), lambda n: n >= ORDERS // 3)

    (victim.kill if how == "killed" else victim.pause)()
    killed_at = time.monotonic()
    await clients
    pause = longest_pause(acked.times, killed_at, time.monotonic())
    await asyncio.to_thread(victim.start if how == "killed" else victim.resume)

    orders = cluster.orders.base_url

    lost = await eventually(lambda: not_found(http, orders, acked), lambda m: not m, timeout=60)
    _, scan, _ = await call(http, "GET", f"{orders}/getAllOrderIdsFromTopic?topicName=order-events")
    logger.info(
        "broker %d (the controller) %s: %d orders acknowledged, %d requests refused or "
        "cut off, writes paused %.1f s at most, %d missing",
        controller,
        how,
        len(acked.status),
        acked.refused,
        pause,
        len(lost),
    )
    assert lost == {}
    assert set(acked.refusals) <= {503, 504}, acked.refusals  # never a 500
    assert set(acked.status) <= set(scan["orderIds"])
    assert len(scan["orderIds"]) == len(set(scan["orderIds"]))
    # Writes go on without the lost node, before it is back: a dead node is fenced and
    # its partitions get new leaders within seconds; a hung one waits out the clients'
    # deadlines as well (the cart's lease and its coordinator's 3 s).
    assert pause < (15.0 if how == "killed" else 25.0)


async def test_two_brokers_down_refuse_writes_fast_and_reads_go_on(http, cluster, order_id):
    cart, orders = cluster.cart.base_url, cluster.orders.base_url
    # Given a cluster that takes writes again after the tests before,
    created = await create_once_accepted(http, cluster, f"{order_id}-before", timeout=60)
    await eventually(
        lambda: call(http, "GET", f"{orders}/order-details?orderId={created['orderId']}"),
        lambda r: r[0] == 200,
    )
    down = cluster.broker.brokers[1:]
    for broker in down:
        broker.kill()
    try:
        # Acknowledged writes need two replicas in sync: the cart notices it cannot have
        # them (a 503 for its tables alone is a rebalance: the coordinator may have moved).
        await eventually(
            lambda: call(http, "GET", f"{cart}/ready"),
            lambda r: r[0] == 503 and "Kafka writes" in r[1]["detail"],
        )
        started = time.monotonic()
        status, problem, headers = await create_order(http, cluster, f"{order_id}-refused")
        elapsed = time.monotonic() - started
        details = await call(http, "GET", f"{orders}/order-details?orderId={created['orderId']}")
    finally:
        await asyncio.to_thread(cluster.broker.start_nodes, down)

    logger.info("two brokers down: create %d in %.3f s: %s", status, elapsed, problem["detail"])
    assert status == 503
    # The write probe, and often the metadata probe too (the node it asked is gone).
    assert "Kafka" in problem["detail"]
    assert headers["Retry-After"]
    assert elapsed < 2.0
    assert details[0] == 200  # reads are local state
    # Back without restarting anything.
    await create_once_accepted(http, cluster, f"{order_id}-after", timeout=60)
