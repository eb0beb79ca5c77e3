"""A real Apache Kafka broker (KRaft mode) for local runs and integration tests.

The jars come from Maven Central (see ``pom.xml``) into ``.cache/kafka/<version>/libs``;
the broker runs as a ``java`` child process. See ``python -m local_kafka --help``.
"""

from local_kafka.broker import BrokerError, KafkaBroker
from local_kafka.fetch import FetchError, ensure_libs, kafka_version
from local_kafka.jvm import run_tool
from local_kafka.probe import free_port

__all__ = [
    "BrokerError",
    "FetchError",
    "KafkaBroker",
    "ensure_libs",
    "free_port",
    "kafka_version",
    "run_tool",
]
