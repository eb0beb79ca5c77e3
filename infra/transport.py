"""Faust's aiokafka transport with an idempotent, ``acks=all`` producer.

faust-streaming enables idempotence only inside transactions (exactly-once
mode, which has open bugs).  An idempotent producer means a retried send
never writes a record twice or out of order within a partition, and
``acks=all`` means an acknowledged record is on every in-sync replica.
Registered under the URL scheme ``kafka-idempotent`` (``setup.cfg``
entry point ``faust.transports``).

The producer is the first client a worker starts; it waits for the broker
(bounded) instead of crashing the worker when Kafka is not up yet, as after
``docker compose restart``.
"""

from collections.abc import Mapping
from typing import Any

from aiokafka.errors import KafkaError
from faust.exceptions import ProducerSendError
from faust.transport.drivers import aiokafka as aiokafka_driver

from infra.kafka_metadata import wait_for_kafka

#: What a send through a Faust topic can raise: aiokafka's errors, and Faust's
#: wrapper of those raised while handing the record over (a metadata timeout).
SEND_FAILURES = (KafkaError, ProducerSendError)

#: How long a starting worker waits for the broker before it gives up.
STARTUP_WAIT_SECONDS = 120.0


class IdempotentProducer(aiokafka_driver.Producer):
    def _settings_extra(self) -> Mapping[str, Any]:
        return {**super()._settings_extra(), "acks": "all", "enable_idempotence": True}

    async def on_start(self) -> None:
        servers = aiokafka_driver.server_list(self.app.conf.broker, 9092)
        await wait_for_kafka(",".join(servers), STARTUP_WAIT_SECONDS)
        await super().on_start()


class IdempotentTransport(aiokafka_driver.Transport):
    Producer = IdempotentProducer
