"""Which partitions a topic has, asked of the cluster.

aiokafka's consumer only knows the partitions of topics it subscribed to;
the consumers that assign partitions themselves (reply listener, topic scan)
ask the cluster here first.
"""

from aiokafka import TopicPartition
from aiokafka.admin import AIOKafkaAdminClient


class UnknownTopic(LookupError):
    pass


async def topic_partitions(
    bootstrap_servers: str, topic: str, timeout: float
) -> list[TopicPartition]:
    admin = AIOKafkaAdminClient(
        bootstrap_servers=bootstrap_servers, request_timeout_ms=int(timeout * 1000)
    )
    await admin.start()
    try:
        (description,) = await admin.describe_topics([topic])
    finally:
        await admin.close()
    if description["error_code"] != 0 or not description["partitions"]:
        raise UnknownTopic(f"topic {topic} does not exist")
    return sorted(TopicPartition(topic, p["partition"]) for p in description["partitions"])
