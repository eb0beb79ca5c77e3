"""How every client of the platform connects to Kafka: one place for servers and security.

Faust's worker, the aiokafka clients of the services (probes, the projector,
the reply listener, the topic scan, the admin calls), the topic-init step
and Kafka's own command-line tools (``make kafka-topics``) all take their
connection options from a :class:`KafkaConnection`, built from the service's
settings (``<PREFIX>KAFKA_SECURITY_PROTOCOL`` and the rest).  PLAINTEXT is
the default, as for a broker on loopback; a production cluster adds TLS and
SASL here and nowhere else.
"""

import asyncio
import logging
import ssl
from dataclasses import dataclass, field
from functools import cached_property
from pathlib import Path
from typing import Any, Literal

import faust
from aiokafka import AIOKafkaConsumer
from aiokafka.helpers import create_ssl_context

logger = logging.getLogger(__name__)

#: How long a consumer's stop may wait for its connections to close.  Under uvloop, a
#: TLS connection closed with a fetch in flight waits for the broker's TLS goodbye,
#: which brokers leave unanswered, for the SSL shutdown timeout (30 s): an order
#: service on SASL_SSL took 30 s to stop and was killed.  Past the deadline the
#: sockets are left to close on their own.
CONSUMER_STOP_SECONDS = 2.0

SecurityProtocol = Literal["PLAINTEXT", "SSL", "SASL_PLAINTEXT", "SASL_SSL"]
SaslMechanism = Literal["PLAIN", "SCRAM-SHA-256", "SCRAM-SHA-512"]


@dataclass(frozen=True)
class KafkaConnection:
    bootstrap_servers: str
    security_protocol: SecurityProtocol = "PLAINTEXT"
    sasl_mechanism: SaslMechanism = "SCRAM-SHA-512"
    sasl_username: str | None = None
    sasl_password: str | None = field(default=None, repr=False)
    #: The CA that signed the brokers' certificates; None: the system's trust store.
    ssl_cafile: Path | None = None

    def __post_init__(self) -> None:
        if self.uses_sasl and not (self.sasl_username and self.sasl_password):
            raise ValueError(f"{self.security_protocol} needs a SASL username and password")

    @property
    def uses_sasl(self) -> bool:
        return self.security_protocol.startswith("SASL_")

    @property
    def uses_tls(self) -> bool:
        return self.security_protocol in ("SSL", "SASL_SSL")

    @property
    def server_list(self) -> list[str]:
        return [server.strip() for server in self.bootstrap_servers.split(",")]

    @cached_property
    def ssl_context(self) -> ssl.SSLContext | None:
        """One context per connection: it verifies the brokers' certificates and names."""
        if not self.uses_tls:
            return None
        return create_ssl_context(cafile=str(self.ssl_cafile) if self.ssl_cafile else None)

    def client_options(self) -> dict[str, Any]:
        """Keyword arguments of every aiokafka client (consumer, producer, admin, client)."""
        options: dict[str, Any] = {
            "bootstrap_servers": self.bootstrap_servers,
            "security_protocol": self.security_protocol,
        }
        if self.uses_tls:
            options["ssl_context"] = self.ssl_context
        if self.uses_sasl:
            options |= {
                "sasl_mechanism": self.sasl_mechanism,
                "sasl_plain_username": self.sasl_username,
                "sasl_plain_password": self.sasl_password,
            }
        return options

    def faust_options(self) -> dict[str, Any]:
        """``faust.App`` keyword arguments: Faust passes them on to its own aiokafka clients."""
        if self.uses_sasl:
            credentials: Any = faust.SASLCredentials(
                username=self.sasl_username,
                password=self.sasl_password,
                mechanism=self.sasl_mechanism,
                ssl_context=self.ssl_context,
            )
            return {"broker_credentials": credentials}
        if self.uses_tls:
            return {"broker_credentials": faust.SSLCredentials(self.ssl_context)}
        return {}

    def tool_properties(self) -> str:
        """The same connection as a Java client's properties (Kafka's command-line tools)."""
        lines = [f"security.protocol={self.security_protocol}"]
        if self.uses_tls and self.ssl_cafile is not None:
            lines += ["ssl.truststore.type=PEM", f"ssl.truststore.location={self.ssl_cafile}"]
        if self.uses_sasl:
            module = (
                "org.apache.kafka.common.security.plain.PlainLoginModule"
                if self.sasl_mechanism == "PLAIN"
                else "org.apache.kafka.common.security.scram.ScramLoginModule"
            )
            lines += [
                f"sasl.mechanism={self.sasl_mechanism}",
                f'sasl.jaas.config={module} required username="{self.sasl_username}" '
                f'password="{self.sasl_password}";',
            ]
        return "\n".join(lines) + "\n"


async def stop_consumer(consumer: AIOKafkaConsumer) -> None:
    """Stop ``consumer``, waiting at most ``CONSUMER_STOP_SECONDS`` for its connections."""
    try:
        async with asyncio.timeout(CONSUMER_STOP_SECONDS):
            await consumer.stop()
    except TimeoutError:
        logger.info(
            "a consumer's connections are left to close on their own",
            extra={"deadlineSeconds": CONSUMER_STOP_SECONDS},
        )
