"""The fast path and the producers agree on each order's partition."""

import random
import string

from aiokafka.partitioner import DefaultPartitioner

from agents.cart import partition_of

PARTITIONS = 6


def test_the_cart_picks_the_partition_kafkas_default_partitioner_picks_for_every_key():
    rng = random.Random(7)
    alphabet = string.ascii_letters + string.digits + "._:-"
    keys = ["".join(rng.choice(alphabet) for _ in range(rng.randint(1, 64))) for _ in range(20_000)]
    everyone = list(range(PARTITIONS))

    for key in keys:
        # The default partitioner of aiokafka, and so of Faust's producer and the gateway's
        # sends to order-commands (murmur2 of the key, as Kafka's Java client).
        assert partition_of(key, PARTITIONS) == DefaultPartitioner()(
            key.encode(), everyone, everyone
        ), key
