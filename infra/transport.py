"""Faust's aiokafka transport with an idempotent, ``acks=all`` producer.

faust-streaming enables idempotence only inside transactions (exactly-once
mode, which has open bugs).  An idempotent producer means a retried send
never writes a record twice or out of order within a partition, and
``acks=all`` means an acknowledged record is on every in-sync replica.
Registered under the URL scheme ``kafka-idempotent`` (``setup.cfg``
entry point ``faust.transports``).

The producer is the first client a worker starts; it waits for the broker
(bounded) instead of crashing the worker when Kafka is not up yet, as after
``docker compose restart``.  The consumer of a static group member leaves its
group once it has stopped (see :mod:`infra.group_leave`).
"""

from collections.abc import Mapping
from typing import Any

import faust
from aiokafka import AIOKafkaConsumer
from aiokafka.errors import KafkaError
from faust.exceptions import ProducerSendError
from faust.transport.drivers import aiokafka as aiokafka_driver
from faust.types import TP

from infra.group_lease import GroupLease, confirm_on_heartbeats
from infra.group_leave import leave_group
from infra.kafka_connection import KafkaConnection
from infra.kafka_metadata import wait_for_kafka

#: What a send through a Faust topic can raise: aiokafka's errors, and Faust's
#: wrapper of those raised while handing the record over (a metadata timeout).
SEND_FAILURES = (KafkaError, ProducerSendError)

#: How long a starting worker waits for the broker before it gives up.
STARTUP_WAIT_SECONDS = 120.0
#: How long a stopping static member tries to leave its group.
LEAVE_GROUP_SECONDS = 3.0
#: How long the broker may hold a fetch that finds no new records, for every
#: consumer of the services.  aiokafka sends one fetch per broker at a time,
#: for the partitions it holds no unread records of: a partition whose records
#: were read while that fetch was out waits for it, so a fetch of idle
#: partitions holds the busy ones back for this long (Faust sets 1,500 ms,
#: aiokafka 500 ms: either holds a command sent to another worker that long).
FETCH_MAX_WAIT_MS = 50


class ServiceApp(faust.App):
    """A Faust app on this transport, connected as ``kafka`` says (servers, TLS, SASL).

    The transport's own clients (the start-up wait, the group leave) connect
    the same way as Faust's; its consumer confirms ``lease`` whenever the
    group coordinator confirms the worker's membership.
    """

    def __init__(
        self, id: str, *, kafka: KafkaConnection, lease: GroupLease, **options: Any
    ) -> None:
        self.kafka = kafka
        self.lease = lease
        super().__init__(
            id,
            broker=f"kafka-idempotent://{kafka.bootstrap_servers}",
            **kafka.faust_options(),
            **options,
        )


def service_app(app: faust.types.AppT) -> ServiceApp:
    if not isinstance(app, ServiceApp):
        raise TypeError("the kafka-idempotent transport serves a ServiceApp")
    return app


class IdempotentProducer(aiokafka_driver.Producer):
    def _settings_extra(self) -> Mapping[str, Any]:
        return {**super()._settings_extra(), "acks": "all", "enable_idempotence": True}

    async def on_start(self) -> None:
        await wait_for_kafka(service_app(self.app).kafka, STARTUP_WAIT_SECONDS)
        await super().on_start()


class ServiceConsumerThread(aiokafka_driver.AIOKafkaConsumerThread):
    def _create_worker_consumer(self, transport: aiokafka_driver.Transport) -> AIOKafkaConsumer:
        consumer = super()._create_worker_consumer(transport)
        # Faust passes its own 1,500 ms; aiokafka reads the value when it starts.
        consumer._fetch_max_wait_ms = FETCH_MAX_WAIT_MS
        return consumer

    async def on_partitions_assigned(self, assigned: set[TP], generation_id: int = 0) -> None:
        lease = service_app(self.app).lease
        confirm_on_heartbeats(self._ensure_consumer(), lease)
        lease.confirm()  # the rebalance completed: the coordinator knows this member
        await super().on_partitions_assigned(assigned, generation_id)

    async def on_thread_stop(self) -> None:
        await super().on_thread_stop()  # the consumer has stopped: it will not rejoin
        conf = self.app.conf
        if conf.consumer_group_instance_id:
            await leave_group(
                service_app(self.app).kafka,
                conf.id,
                conf.consumer_group_instance_id,
                LEAVE_GROUP_SECONDS,
            )


class ServiceConsumer(aiokafka_driver.Consumer):
    def _new_consumer_thread(self) -> aiokafka_driver.AIOKafkaConsumerThread:
        return ServiceConsumerThread(self, loop=self.loop, beacon=self.beacon)


class IdempotentTransport(aiokafka_driver.Transport):
    Producer = IdempotentProducer
    Consumer = ServiceConsumer
