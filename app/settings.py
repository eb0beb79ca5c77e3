"""Configuration by environment, one prefix per service (``CART_``, ``ORDERS_``).

Faust itself also reads environment variables (``WEB_PORT``, ``BROKER`` …)
and lets them override App arguments, for every app alike; each app gets its
own Faust prefix (``CART_FAUST_``, ``ORDERS_FAUST_``) so that a variable
meant for one service never changes the other.
"""

import os
from pathlib import Path
from typing import Annotated, Literal

from pydantic import BeforeValidator, Field, SecretStr, field_validator, model_validator
from pydantic_settings import BaseSettings, NoDecode, SettingsConfigDict

from infra.group_lease import shortest_safe_session
from infra.kafka_connection import KafkaConnection, SaslMechanism, SecurityProtocol
from infra.topics import (
    EVENT_MAX_AGE_SECONDS,
    MAX_KEY_LIFETIME_HOURS,
    ORDER_TOPICS,
    is_internal_topic,
)


def _comma_separated(value: object) -> object:
    if isinstance(value, str):
        return [part.strip() for part in value.split(",") if part.strip()]
    return value


#: The one setting both services read unprefixed: the order topics are co-partitioned
#: (an order's commands, events and rows share a partition number), so one value.
PARTITIONS_VARIABLE = "ORDER_TOPIC_PARTITIONS"


class ServiceSettings(BaseSettings):
    model_config = SettingsConfigDict(frozen=True, extra="ignore", populate_by_name=True)

    app_id: str
    kafka_bootstrap_servers: str = "127.0.0.1:9092"
    #: How every Kafka client of the service connects (:mod:`infra.kafka_connection`).
    kafka_security_protocol: SecurityProtocol = "PLAINTEXT"
    kafka_sasl_mechanism: SaslMechanism = "SCRAM-SHA-512"
    kafka_sasl_username: str | None = None
    kafka_sasl_password: SecretStr | None = None
    #: PEM file of the CA that signed the brokers' certificates (TLS); unset: the system's.
    kafka_ssl_cafile: Path | None = None
    web_bind: str = "127.0.0.1"
    #: The host name other workers use to reach this one (request routing).
    web_host: str = "127.0.0.1"
    web_port: int
    data_dir: Path = Path(".data/state")
    topic_partitions: int = Field(default=6, ge=1, validation_alias=PARTITIONS_VARIABLE)
    topic_replication_factor: int = Field(default=1, ge=1)
    #: Deadline of a request that waits on Kafka; also the producer's.
    request_timeout: float = Field(default=5.0, gt=0)
    #: How long the writes an agent waits for (the cart's events, the order
    #: service's changelog and dead letters) may go unacknowledged (Kafka's
    #: ``delivery.timeout.ms`` default) before the worker exits and its
    #: partitions are handled again from their last commit.
    delivery_timeout: float = Field(default=120.0, gt=0)
    #: How long the producer waits to fill a batch.  Records that nothing
    #: waits on (table changelogs) are cheaper in batches; where a request
    #: waits on the acknowledgement (the cart's events), any wait is added
    #: latency, and records pile up into batches anyway while one is in flight.
    producer_linger_ms: float = Field(default=0.0, ge=0, le=100)
    #: Largest batch of records for one partition.  aiokafka keeps one batch
    #: per partition while the request before it is in flight, and a record
    #: that does not fit waits for that request: the batch bounds what a
    #: partition takes per round trip (16 KiB, the default, held the projector
    #: at 11,200 events/s; 256 KiB gave 13,200).  Below the brokers' 1 MiB
    #: ``max.message.bytes``.
    producer_max_batch_bytes: int = Field(default=262144, ge=1024, le=1000000)
    #: Seconds before the group gives a silent (crashed) worker's partitions
    #: to the others; Faust's default is 60.  The cart needs at least 15 (see
    #: CartSettings).
    consumer_session_timeout: float = Field(default=10.0, ge=6.0)
    #: Static group membership: a worker restarted within the session timeout
    #: takes its partitions back at once, without a rebalance that waits out
    #: its crashed predecessor's session.  Its identity is ``<app id>@<web
    #: host>:<web port>``, stable across restarts and unique per worker.  A
    #: static member does not leave the group when its consumer stops (and
    #: aiokafka 0.14 cannot send the leave by instance id): a worker that stops
    #: cleanly sends it itself (:mod:`infra.group_leave`), so its partitions
    #: move on at once, as with dynamic membership.  A worker that crashes and
    #: stays down gives them up after the session timeout, as with dynamic
    #: membership.
    static_membership: bool = True
    #: How command and event values are written: Avro via the schema
    #: registry (Confluent wire format), or JSON.
    value_format: Literal["avro", "json"] = "json"
    schema_registry_url: str | None = None
    log_level: str = "INFO"

    @model_validator(mode="after")
    def _no_partitions_of_its_own(self) -> "ServiceSettings":
        own = f"{self.model_config.get('env_prefix', '')}TOPIC_PARTITIONS"
        if own in os.environ:
            raise ValueError(
                f"{own} is no longer read: set {PARTITIONS_VARIABLE}, one value for both "
                "services (their topics are co-partitioned)"
            )
        return self

    @model_validator(mode="after")
    def _registry_for_avro(self) -> "ServiceSettings":
        if self.value_format == "avro" and not self.schema_registry_url:
            raise ValueError("value_format avro needs schema_registry_url")
        return self

    @model_validator(mode="after")
    def _credentials_for_sasl(self) -> "ServiceSettings":
        self.kafka_connection()  # refuses SASL without a username and password
        return self

    def kafka_connection(self) -> KafkaConnection:
        password = self.kafka_sasl_password
        return KafkaConnection(
            bootstrap_servers=self.kafka_bootstrap_servers,
            security_protocol=self.kafka_security_protocol,
            sasl_mechanism=self.kafka_sasl_mechanism,
            sasl_username=self.kafka_sasl_username,
            sasl_password=password.get_secret_value() if password else None,
            ssl_cafile=self.kafka_ssl_cafile,
        )

    @property
    def group_instance_id(self) -> str | None:
        if not self.static_membership:
            return None
        return f"{self.app_id}@{self.web_host}:{self.web_port}"

    @property
    def faust_env_prefix(self) -> str:
        return f"{self.model_config.get('env_prefix', '')}FAUST_"


class CartSettings(ServiceSettings):
    model_config = SettingsConfigDict(env_prefix="CART_")

    app_id: str = "cart-service"
    web_port: int = 8000
    #: Most commands of a partition decided and sent but not yet acknowledged
    #: by Kafka; the next one waits for room.
    max_in_flight: int = Field(default=1000, ge=1)
    #: How long the answer to an Idempotency-Key is kept (and replayed): 24 h by
    #: default, as Stripe; at most the week ``order-idempotency-keys`` keeps them.
    idempotency_key_hours: float = Field(default=24.0, gt=0, le=MAX_KEY_LIFETIME_HOURS)
    #: A cart worker's partitions move on only after the longest an event it
    #: decided may still be appended (infra.group_lease): 24 s.
    consumer_session_timeout: float = Field(
        default=shortest_safe_session(EVENT_MAX_AGE_SECONDS),
        ge=shortest_safe_session(EVENT_MAX_AGE_SECONDS),
    )


class OrdersSettings(ServiceSettings):
    model_config = SettingsConfigDict(env_prefix="ORDERS_")

    app_id: str = "order-service"
    web_port: int = 8001
    # The projector awaits its writes once per batch: they can share requests.
    producer_linger_ms: float = 10.0
    #: Most records (of all its partitions) the projector fetches and applies as
    #: one batch; with the commit queue, this bounds what it holds in memory.
    max_records_per_batch: int = Field(default=500, ge=1)
    #: The topics ``/getAllOrderIdsFromTopic`` may read (comma-separated); the
    #: platform's internal topics are refused here too.
    scannable_topics: Annotated[list[str], NoDecode, BeforeValidator(_comma_separated)] = list(
        ORDER_TOPICS
    )
    #: Scans running at once in one worker; more are answered 429.
    max_concurrent_scans: int = Field(default=4, ge=1)
    #: How long a read forwarded to the worker that owns the order may take: an
    #: owner that is paused or gone is a 503 within 2 s.
    routed_request_timeout: float = Field(default=1.5, gt=0)

    @field_validator("scannable_topics")
    @classmethod
    def _no_internal_topics(cls, topics: list[str]) -> list[str]:
        internal = [topic for topic in topics if is_internal_topic(topic)]
        if internal:
            raise ValueError(f"internal topics cannot be scannable: {', '.join(internal)}")
        return topics


def order_service_app_id() -> str:
    """The app id the order service runs under here (environment or default)."""
    return OrdersSettings().app_id
