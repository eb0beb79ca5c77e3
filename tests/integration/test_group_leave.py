"""A static group member leaves its group by instance id (LeaveGroup v3), on the real broker."""

import uuid

from aiokafka import AIOKafkaConsumer
from aiokafka.admin import AIOKafkaAdminClient

from infra.group_leave import leave_group
from infra.kafka_connection import KafkaConnection
from infra.topics import ORDER_EVENTS
from tests.integration.client import eventually


async def members_of(bootstrap_servers: str, group_id: str) -> list[str]:
    admin = AIOKafkaAdminClient(bootstrap_servers=bootstrap_servers)
    await admin.start()
    try:
        (described,) = await admin.describe_consumer_groups([group_id])
    finally:
        await admin.close()
    return [member[0] for member in described.groups[0][5]]


async def test_a_stopped_static_member_stays_in_its_group_until_it_leaves_by_instance_id(
    platform,
):
    group_id, instance_id = f"leave-test-{uuid.uuid4().hex[:8]}", "worker@127.0.0.1:1"
    consumer = AIOKafkaConsumer(
        ORDER_EVENTS.name,
        bootstrap_servers=platform.bootstrap_servers,
        group_id=group_id,
        group_instance_id=instance_id,
        session_timeout_ms=60_000,
    )
    await consumer.start()
    try:
        await eventually(lambda: _assigned(consumer), bool)
    finally:
        await consumer.stop()

    # Stopped, the static member keeps its place (and partitions) for its session:
    assert len(await members_of(platform.bootstrap_servers, group_id)) == 1

    await leave_group(
        KafkaConnection(platform.bootstrap_servers), group_id, instance_id, timeout=10
    )

    assert await members_of(platform.bootstrap_servers, group_id) == []


async def test_leaving_a_group_the_member_is_not_in_is_logged_not_raised(platform, caplog):
    await leave_group(
        KafkaConnection(platform.bootstrap_servers), "no-such-group", "nobody", timeout=10
    )

    assert "could not leave the consumer group" in caplog.text


async def _assigned(consumer: AIOKafkaConsumer) -> set:
    return consumer.assignment()
