"""``table_route`` must send a request to the worker that holds the order.

The pitfall: a Table's key serializer defaults to json while the topics'
keys are raw, so Faust's router would hash ``b'"ORD-1"'`` where the producer
hashed ``b'ORD-1'`` and pick another partition (another worker) for most
keys.  Faust routes with ``Router.key_store`` → the changelog topic's
``prepare_key`` → ``PartitionAssignor.key_store`` → ``producer.key_partition``
→ aiokafka's ``AIOKafkaProducer._partition`` → its partitioner (murmur2).
These tests run that very path over an aiokafka producer that is built by
Faust's own producer settings but never started (its cluster metadata is
filled in by hand).
"""

import random
from collections.abc import AsyncIterator
from dataclasses import dataclass

import faust
import pytest
from aiokafka.partitioner import DefaultPartitioner, murmur2
from aiokafka.protocol.metadata import MetadataResponse_v0
from faust.types import TP
from yarl import URL

from app.factory import shipped_orders_table, value_formats
from app.settings import OrdersSettings
from infra.topics import OrderTopics, declare_topics
from models import codec
from models.state import ShippedOrder

PARTITIONS = 6
ALL_PARTITIONS = list(range(PARTITIONS))

#: Apache Kafka's own murmur2 vectors (clients UtilsTest.testMurmur2), as
#: Java's signed ints; aiokafka returns the same 32 bits unsigned.
JAVA_MURMUR2 = {
    b"21": -973932308,
    b"foobar": -790332482,
    b"a-little-bit-long-string": -985981536,
    b"a-little-bit-longer-string": -1486304829,
    b"lkjh234lh9fiuh90y23oiuhsafujhadof229phr9h19h89h8": -58897971,
    b"abc": 479470107,
}

ALPHABET = "ABCDEFGHIJKLMNOPQRSTUVWXYZabcdefghijklmnopqrstuvwxyz0123456789._:-"


def order_ids(count: int = 2000) -> list[str]:
    rng = random.Random(20261125)
    drawn = ["".join(rng.choices(ALPHABET, k=rng.randint(1, 64))) for _ in range(count)]
    return [f"ORD-{n}" for n in range(200)] + drawn


def worker_url(partition: int) -> URL:
    return URL(f"http://worker-{partition}:6066")


@dataclass
class Routing:
    app: faust.App
    topics: OrderTopics
    shipped_orders_by_id: faust.Table
    producer: object

    def routed_partition(self, table: faust.Table, order_id: str) -> int:
        url = self.app.router.key_store(table.name, order_id)
        return int(url.host.removeprefix("worker-"))

    def produced_partition(self, order_id: str) -> int:
        key = self.topics.events.prepare_key(order_id, None)[0]
        return self.producer._partition("order-events", None, None, None, key, None)


@pytest.fixture
async def routing() -> AsyncIterator[Routing]:
    codec.register()
    settings = OrdersSettings(topic_partitions=PARTITIONS)
    app = faust.App(
        "routing-test",
        broker="kafka-idempotent://127.0.0.1:1",  # the production transport; never contacted
        store="memory://",
        autodiscover=False,
        topic_partitions=PARTITIONS,
    )
    topics = declare_topics(app, settings.topic_partitions, 1, value_formats(settings, None))
    shipped_orders_by_id = shipped_orders_table(app, ShippedOrder, settings)
    # The pitfall as a control: a str-keyed table gets the json key serializer.
    app.Table("json_keyed", key_type=str, value_type=ShippedOrder, partitions=PARTITIONS)
    changelogs = [table.changelog_topic.get_topic_name() for table in app.tables.values()]

    producer = app.producer._new_producer()  # Faust's settings, partitioner included
    producer.client.cluster.update_metadata(
        MetadataResponse_v0(
            brokers=[(0, "127.0.0.1", 1)],
            topics=[
                (0, topic, [(0, p, 0, [0], [0]) for p in ALL_PARTITIONS])
                for topic in [*changelogs, "order-events"]
            ],
        )
    )
    app.producer._producer = producer
    # What the assignor learns at a rebalance: which worker serves which partition.
    app.assignor._tps_url = {
        TP(t, p): str(worker_url(p)) for t in changelogs for p in ALL_PARTITIONS
    }
    try:
        yield Routing(app, topics, shipped_orders_by_id, producer)
    finally:
        await producer.stop()


def test_aiokafka_murmur2_is_the_java_client_hash():
    for key, java_hash in JAVA_MURMUR2.items():
        assert murmur2(key) == java_hash & 0xFFFFFFFF, key


def test_the_default_partitioner_matches_the_java_client_partitions():
    # Partitions the Java client's default partitioner gives over 1000 partitions.
    partitions = list(range(1000))
    keys = [b"", b"a", b"ab", b"abc", b"123456789", b"\x00 "]

    picked = [DefaultPartitioner()(key, partitions, partitions) for key in keys]

    assert picked == [681, 524, 434, 107, 566, 742]


async def test_the_table_and_its_changelog_serialize_keys_raw(routing: Routing):
    changelog = routing.shipped_orders_by_id.changelog_topic

    assert routing.shipped_orders_by_id.key_serializer == "raw"
    assert changelog.key_serializer == "raw"
    assert changelog.prepare_key("ORD-1", None)[0] == b"ORD-1"
    assert routing.topics.events.prepare_key("ORD-1", None)[0] == b"ORD-1"


async def test_the_producer_uses_murmur2_of_the_raw_utf8_order_id(routing: Routing):
    for order_id in order_ids():
        expected = DefaultPartitioner()(order_id.encode(), ALL_PARTITIONS, ALL_PARTITIONS)

        assert routing.produced_partition(order_id) == expected, order_id


async def test_table_route_goes_to_the_partition_the_event_was_written_to(routing: Routing):
    ids = order_ids()

    wrong = [
        order_id
        for order_id in ids
        if routing.routed_partition(routing.shipped_orders_by_id, order_id)
        != routing.produced_partition(order_id)
    ]

    assert wrong == []
    # and the sample spreads over every partition, so the check means something
    assert {routing.produced_partition(order_id) for order_id in ids} == set(ALL_PARTITIONS)


async def test_a_json_keyed_table_would_route_most_orders_to_the_wrong_worker(routing: Routing):
    # The control: the same check fails for the pitfall, so it can fail at all.
    json_keyed = routing.app.tables["json_keyed"]
    ids = order_ids()

    wrong = [
        order_id
        for order_id in ids
        if routing.routed_partition(json_keyed, order_id) != routing.produced_partition(order_id)
    ]

    assert json_keyed.key_serializer == "json"
    assert len(wrong) > len(ids) / 2
