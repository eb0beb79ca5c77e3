"""What the cart knows of the partitions it owns: when the fast path to one is open."""

import pytest
from aiokafka.structs import RecordMetadata, TopicPartition

from agents.cart import CartWriters, Ownership, partition_of
from agents.cart_orders import CartOrders
from app.factory import value_formats
from app.settings import CartSettings
from infra.group_lease import GroupLease
from infra.kafka_connection import KafkaConnection
from infra.metrics import ServiceMetrics
from infra.topics import declare_topics
from tests.unit.agents.conftest import build_app

PARTITIONS = 6


@pytest.fixture
def writers(tmp_path) -> CartWriters:
    settings = CartSettings(topic_partitions=PARTITIONS)
    app = build_app("cart-ownership-test")
    formats = value_formats(settings, None)
    kafka = KafkaConnection("127.0.0.1:1")
    return CartWriters(
        app,
        declare_topics(app, PARTITIONS, 1, formats),
        CartOrders(tmp_path, "order-events", "order-idempotency-keys", formats.events, kafka),
        formats,
        ServiceMetrics(),
        kafka,
        GroupLease(3.0),
        partitions=PARTITIONS,
        max_in_flight=10,
        delivery_timeout=1.0,
        key_lifetime=3600.0,
        producer_options={},
    )


def sent_at(offset: int) -> RecordMetadata:
    tp = TopicPartition("order-commands", 0)
    return RecordMetadata("order-commands", 0, tp, offset, -1, 0, 0)


def test_a_remote_send_ends_on_the_ownership_it_started_on(writers):
    partition = partition_of("ORD-1", PARTITIONS)
    before = writers.remote_send_started("ORD-1")  # not this worker's partition yet
    owned = writers.owned[partition] = Ownership()
    during = writers.remote_send_started("ORD-1")

    writers.remote_send_ended(before, sent_at(4))
    assert owned.remote_sends_in_flight == 1  # the first one was never counted here
    writers.remote_send_ended(during, sent_at(7))

    assert owned.remote_sends_in_flight == 0
    # The fast path waits until the agent has read past the command sent here.
    assert owned.read_before_opening == 8
