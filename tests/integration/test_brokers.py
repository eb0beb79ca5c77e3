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
from tests.integration.client import call, eventually
from tests.integration.load import ORDERS, Acknowledged, burst, longest_pause

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


async def test_a_broker_killed_in_a_burst_loses_no_acknowledged_change(http, cluster, order_id):
    admin = AIOKafkaAdminClient(bootstrap_servers=cluster.bootstrap_servers)
    await admin.start()
    try:
        controller = (await admin.describe_cluster())["controller_id"]
    finally:
        await admin.close()
    # The active controller, and the leader of some order partitions.
    victim = next(b for b in cluster.broker.brokers if b.node_id == controller)
    acked = Acknowledged()
    clients = asyncio.ensure_future(burst(http, cluster, order_id, acked))
    await eventually(lambda: asyncio.sleep(0, len(acked.status)), lambda n: n >= ORDERS // 3)

    victim.kill()
    killed_at = time.monotonic()
    await clients
    pause = longest_pause(acked.times, killed_at)
    await asyncio.to_thread(victim.start)

    orders = cluster.orders.base_url

    async def missing() -> list[str]:
        found = await asyncio.gather(
            *(call(http, "GET", f"{orders}/order-details?orderId={each}") for each in acked.status)
        )
        return [
            each
            for (each, want), (status, body, _) in zip(acked.status.items(), found, strict=True)
            if status != 200 or body["status"] != want
        ]

    lost = await eventually(missing, lambda m: not m, timeout=60)
    _, scan, _ = await call(http, "GET", f"{orders}/getAllOrderIdsFromTopic?topicName=order-events")
    logger.info(
        "broker %d (the controller) killed: %d orders acknowledged, %d requests refused or "
        "cut off, writes paused %.1f s at most, %d missing",
        controller,
        len(acked.status),
        acked.refused,
        pause,
        len(lost),
    )
    assert lost == []
    assert set(acked.status) <= set(scan["orderIds"])
    assert len(scan["orderIds"]) == len(set(scan["orderIds"]))
    assert pause < 15.0
