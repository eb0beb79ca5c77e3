"""Faust's aiokafka transport with an idempotent, ``acks=all`` producer.

faust-streaming enables idempotence only inside transactions (exactly-once
mode, which has open bugs).  An idempotent producer means a retried send
never writes a record twice or out of order within a partition, and
``acks=all`` means an acknowledged record is on every in-sync replica.
Registered under the URL scheme ``kafka-idempotent`` (``setup.cfg``
entry point ``faust.transports``).
"""

from collections.abc import Mapping
from typing import Any

from faust.transport.drivers import aiokafka as aiokafka_driver


class IdempotentProducer(aiokafka_driver.Producer):
    def _settings_extra(self) -> Mapping[str, Any]:
        return {**super()._settings_extra(), "acks": "all", "enable_idempotence": True}


class IdempotentTransport(aiokafka_driver.Transport):
    Producer = IdempotentProducer
