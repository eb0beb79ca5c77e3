"""A real Apache Kafka broker (KRaft mode) for local runs and integration tests,
and a Confluent-API-compatible schema registry (Apicurio Registry) beside it.

The jars come from Maven Central (see ``pom.xml``) into ``.cache/kafka/<version>/libs``,
Apicurio's distribution into ``.cache/apicurio/<version>/dist``; both run as ``java``
child processes. See ``python -m local_kafka --help``.
"""

from local_kafka.apicurio import APICURIO_VERSION, ensure_registry
from local_kafka.broker import BrokerError, KafkaBroker
from local_kafka.fetch import FetchError, ensure_libs, kafka_version
from local_kafka.jvm import run_tool
from local_kafka.probe import free_port
from local_kafka.process import ServiceError
from local_kafka.registry import RegistryProcessError, SchemaRegistry

__all__ = [
    "APICURIO_VERSION",
    "BrokerError",
    "FetchError",
    "KafkaBroker",
    "RegistryProcessError",
    "SchemaRegistry",
    "ServiceError",
    "ensure_libs",
    "ensure_registry",
    "free_port",
    "kafka_version",
    "run_tool",
]
