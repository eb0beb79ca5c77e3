"""Configuration by environment, one prefix per service (``CART_``, ``ORDERS_``).

Faust itself also reads environment variables (``WEB_PORT``, ``BROKER`` …)
and lets them override App arguments, for every app alike; each app gets its
own Faust prefix (``CART_FAUST_``, ``ORDERS_FAUST_``) so that a variable
meant for one service never changes the other.
"""

from pathlib import Path
from typing import Literal

from pydantic import Field, model_validator
from pydantic_settings import BaseSettings, SettingsConfigDict


class ServiceSettings(BaseSettings):
    model_config = SettingsConfigDict(frozen=True, extra="ignore")

    app_id: str
    kafka_bootstrap_servers: str = "127.0.0.1:9092"
    web_bind: str = "127.0.0.1"
    #: The host name other workers use to reach this one (request routing).
    web_host: str = "127.0.0.1"
    web_port: int
    data_dir: Path = Path(".data/state")
    topic_partitions: int = Field(default=6, ge=1)
    topic_replication_factor: int = Field(default=1, ge=1)
    #: Deadline of a request that waits on Kafka; also the producer's.
    request_timeout: float = Field(default=5.0, gt=0)
    #: How long the producer waits to fill a batch.  Records that nothing
    #: waits on (table changelogs) are cheaper in batches; where each send is
    #: awaited before the next (the cart's events), any wait is added latency.
    producer_linger_ms: float = Field(default=0.0, ge=0, le=100)
    #: Seconds before the group gives a silent (crashed) worker's partitions
    #: to the others; Faust's default is 60.
    consumer_session_timeout: float = Field(default=10.0, ge=6.0)
    #: How command and event values are written: Avro via the schema
    #: registry (Confluent wire format), or JSON.
    value_format: Literal["avro", "json"] = "json"
    schema_registry_url: str | None = None
    log_level: str = "INFO"

    @model_validator(mode="after")
    def _registry_for_avro(self) -> "ServiceSettings":
        if self.value_format == "avro" and not self.schema_registry_url:
            raise ValueError("value_format avro needs schema_registry_url")
        return self

    @property
    def faust_env_prefix(self) -> str:
        return f"{self.model_config.get('env_prefix', '')}FAUST_"


class CartSettings(ServiceSettings):
    model_config = SettingsConfigDict(env_prefix="CART_")

    app_id: str = "cart-service"
    web_port: int = 8000


class OrdersSettings(ServiceSettings):
    model_config = SettingsConfigDict(env_prefix="ORDERS_")

    app_id: str = "order-service"
    web_port: int = 8001
    # The projector awaits no send: its changelog writes can share batches.
    producer_linger_ms: float = 10.0


def service_app_ids() -> tuple[str, str]:
    """The app ids the two services run under here (environment or defaults)."""
    return CartSettings().app_id, OrdersSettings().app_id
