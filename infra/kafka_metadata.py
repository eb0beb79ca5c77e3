"""Which partitions a topic has, asked of the cluster.

aiokafka's consumer only knows the partitions of topics it subscribed to;
the consumers that assign partitions themselves (reply listener, topic scan)
ask the cluster here first.
"""

import asyncio
import logging
import time

from aiokafka import TopicPartition
from aiokafka.admin import AIOKafkaAdminClient
from aiokafka.client import AIOKafkaClient
from aiokafka.errors import KafkaError

from infra.kafka_connection import KafkaConnection

logger = logging.getLogger(__name__)

#: Between two attempts to reach a broker that is not up yet.
RETRY_SECONDS = 1.0


class UnknownTopic(LookupError):
    pass


async def topic_partitions(
    kafka: KafkaConnection, topic: str, timeout: float
) -> list[TopicPartition]:
    admin = AIOKafkaAdminClient(**kafka.client_options(), request_timeout_ms=int(timeout * 1000))
    await admin.start()
    try:
        (description,) = await admin.describe_topics([topic])
    finally:
        await admin.close()
    if description["error_code"] != 0 or not description["partitions"]:
        raise UnknownTopic(f"topic {topic} does not exist")
    return sorted(TopicPartition(topic, p["partition"]) for p in description["partitions"])


async def wait_for_kafka(kafka: KafkaConnection, timeout: float) -> None:
    """Return once a broker answers a metadata request; raise after ``timeout`` s.

    For start-up: a broker started at the same moment (``docker compose up``
    or ``restart``) takes seconds to listen, and a process that gives up at
    once only crash-loops until it does.
    """
    deadline = time.monotonic() + timeout
    attempt = 0
    while True:
        attempt += 1
        client = AIOKafkaClient(**kafka.client_options(), request_timeout_ms=2000)
        try:
            await client.bootstrap()
            if attempt > 1:
                logger.info(
                    "Kafka answers",
                    extra={"bootstrapServers": kafka.bootstrap_servers, "attempt": attempt},
                )
            return
        except KafkaError as exc:
            left = deadline - time.monotonic()
            if left <= 0:
                raise
            logger.warning(
                "waiting for Kafka",
                extra={
                    "bootstrapServers": kafka.bootstrap_servers,
                    "attempt": attempt,
                    "secondsLeft": round(left),
                    "error": repr(exc),
                },
            )
        finally:
            await client.close()
        await asyncio.sleep(RETRY_SECONDS)
