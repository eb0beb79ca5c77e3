"""A static member's leave of its consumer group (LeaveGroup v3, KIP-345).

A static member (``group.instance.id``) does not leave its group when it
stops: the coordinator keeps its partitions for it until its session times
out, so that a restart takes them back without a rebalance.  A worker that
stops cleanly is not coming back that soon (or at all), and should hand its
partitions on at once, as a dynamic member does.  Kafka's own clients send a
LeaveGroup naming the instance (version 3 and later); aiokafka 0.14 sends
only versions 0-1, by member id, and none at all for a static member.  This
module sends version 3 itself, after the worker's consumer has stopped.
"""

import asyncio
import logging

from aiokafka.client import AIOKafkaClient, CoordinationType
from aiokafka.errors import KafkaError, for_code
from aiokafka.protocol.api import Request, RequestStruct, Response
from aiokafka.protocol.types import Array, Int16, Int32, Schema, String

from infra.kafka_connection import KafkaConnection

logger = logging.getLogger(__name__)

#: The member id of a member named by its instance id alone.
UNKNOWN_MEMBER_ID = ""


class LeaveGroupResponse_v3(Response):
    API_KEY = 13
    API_VERSION = 3
    SCHEMA = Schema(
        ("throttle_time_ms", Int32),
        ("error_code", Int16),
        (
            "members",
            Array(
                ("member_id", String("utf-8")),
                ("group_instance_id", String("utf-8")),
                ("error_code", Int16),
            ),
        ),
    )


class LeaveGroupRequest_v3(RequestStruct):
    API_KEY = 13
    API_VERSION = 3
    RESPONSE_TYPE = LeaveGroupResponse_v3
    SCHEMA = Schema(
        ("group_id", String("utf-8")),
        ("members", Array(("member_id", String("utf-8")), ("group_instance_id", String("utf-8")))),
    )


class LeaveGroupByInstance(Request[LeaveGroupRequest_v3]):
    API_KEY = 13

    def __init__(self, group_id: str, instance_id: str) -> None:
        self.group_id = group_id
        self.instance_id = instance_id

    def build(self, request_struct_class: type[LeaveGroupRequest_v3]) -> LeaveGroupRequest_v3:
        return request_struct_class(self.group_id, [(UNKNOWN_MEMBER_ID, self.instance_id)])


async def leave_group(
    kafka: KafkaConnection, group_id: str, instance_id: str, timeout: float
) -> None:
    """Take the static member ``instance_id`` out of ``group_id``; log, never raise.

    If it cannot be done (Kafka away, deadline passed), the coordinator
    hands the partitions on once the member's session has timed out, as
    for a crashed worker.
    """
    client = AIOKafkaClient(**kafka.client_options())
    fields = {"group": group_id, "groupInstanceId": instance_id}
    try:
        async with asyncio.timeout(timeout):
            await client.bootstrap()
            coordinator = await client.coordinator_lookup(CoordinationType.GROUP, group_id)
            response = await client.send(coordinator, LeaveGroupByInstance(group_id, instance_id))
        errors = [response.error_code, *(code for *_, code in response.members)]
        if error := next((code for code in errors if code), 0):
            raise for_code(error)()
        logger.info("left the consumer group", extra=fields)
    except (KafkaError, TimeoutError) as exc:
        logger.warning(
            "could not leave the consumer group: its partitions move on after the session timeout",
            extra={**fields, "error": repr(exc)},
        )
    finally:
        await client.close()
