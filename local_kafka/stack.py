"""The local platform: Kafka, the schema registry, the topics and both services.

One lifecycle, in one order: broker → registry (Avro only) → topics →
services → ready; stopped the other way round, services first (Faust
commits and flushes on SIGTERM).  ``make run`` (:mod:`local_kafka.launcher`),
the integration tests and the benchmarks all run the platform through
:class:`LocalStack`.
"""

import asyncio
from collections.abc import Mapping
from concurrent.futures import ThreadPoolExecutor
from pathlib import Path
from typing import Literal

from app.settings import order_service_app_id
from infra.kafka_connection import KafkaConnection
from infra.topics import create_topics, platform_topics
from local_kafka.broker import KafkaBroker
from local_kafka.cluster import KafkaCluster, replication_of
from local_kafka.probe import free_port
from local_kafka.process import Lifecycle
from local_kafka.registry import SchemaRegistry
from local_kafka.services import ServiceProcess

PARTITIONS = 6
#: The Faust entry module and settings prefix of each service.
SERVICES = {"cart": ("app.cart", "CART_"), "orders": ("app.orders", "ORDERS_")}


class LocalStack(Lifecycle):
    """Everything under ``workdir``; ports given as 0 are free ports, chosen here.

    ``brokers`` above 1 runs a local KRaft cluster (:class:`KafkaCluster`; with a
    fixed ``kafka_port``, node *i* on ``kafka_port + 2(i - 1)``), its topics
    replicated on up to 3 nodes with ``min.insync.replicas`` 2.
    ``value_format`` ``avro`` runs a registry (kept on disk with
    ``persistent_registry``, so schema ids in the topics resolve across
    runs); ``json`` runs none.  ``workers`` of each service share its app id
    (its consumer group), each on its own web port (with fixed ports, worker
    *i* of the cart is on ``cart_port + 2i`` and of the orders on
    ``orders_port + 2i``) and with its own state under
    ``<workdir>/state/worker-<i>`` (the first: ``<workdir>/state``).  Each
    worker logs to ``<workdir>/<name>.log``, or with ``relay_logs`` to our
    output, prefixed with its name.
    """

    def __init__(
        self,
        workdir: Path,
        *,
        value_format: Literal["avro", "json"] = "avro",
        kafka_port: int = 0,
        registry_port: int = 0,
        cart_port: int = 0,
        orders_port: int = 0,
        workers: int = 1,
        brokers: int = 1,
        persistent_registry: bool = False,
        relay_logs: bool = False,
        service_env: Mapping[str, str] | None = None,
    ) -> None:
        self.workdir = workdir
        self.broker: KafkaBroker | KafkaCluster = (
            KafkaCluster(workdir / "kafka", brokers, kafka_port)
            if brokers > 1
            else KafkaBroker(
                workdir / "kafka",
                port=kafka_port,
                controller_port=kafka_port + 1 if kafka_port else 0,
            )
        )
        self.replication_factor, _ = replication_of(brokers)
        self.registry = (
            SchemaRegistry(workdir / "registry", port=registry_port, persistent=persistent_registry)
            if value_format == "avro"
            else None
        )
        self.relay_logs = relay_logs
        self.service_env = dict(service_env or {})
        self.cart_workers = [
            self.service("cart", cart_port and cart_port + 2 * i, worker=i) for i in range(workers)
        ]
        self.order_workers = [
            self.service("orders", orders_port and orders_port + 2 * i, worker=i)
            for i in range(workers)
        ]

    @property
    def cart(self) -> ServiceProcess:
        """The first cart worker (any of them answers any request)."""
        return self.cart_workers[0]

    @property
    def orders(self) -> ServiceProcess:
        """The first order-service worker."""
        return self.order_workers[0]

    @property
    def bootstrap_servers(self) -> str:
        return self.broker.bootstrap_servers

    @property
    def registry_url(self) -> str | None:
        return self.registry.url if self.registry else None

    @property
    def services(self) -> list[ServiceProcess]:
        return [*self.cart_workers, *self.order_workers]

    def service(
        self,
        kind: str,
        port: int = 0,
        extra_env: Mapping[str, str] | None = None,
        worker: int = 0,
    ) -> ServiceProcess:
        """A (not started) worker of service ``kind`` on this stack's Kafka and registry."""
        module, env_prefix = SERVICES[kind]
        name = f"{kind}-{worker}" if worker else kind
        state = self.workdir / "state"
        return ServiceProcess(
            name,
            module,
            env_prefix,
            bootstrap_servers=self.bootstrap_servers,
            port=port or free_port(),
            data_dir=state / f"worker-{worker}" if worker else state,
            log_path=None if self.relay_logs else self.workdir / f"{name}.log",
            schema_registry_url=self.registry_url,
            extra_env={
                f"{env_prefix}TOPIC_REPLICATION_FACTOR": str(self.replication_factor),
                **self.service_env,
                **(extra_env or {}),
            },
        )

    def start(self) -> None:
        """Start everything and return once both services answer ``/ready``."""
        # The registry keeps its schemas apart from Kafka: both JVMs start at once (each
        # from this thread, which they end with: see ends_with_parent).
        if self.registry is not None:
            self.registry.launch()
        self.broker.start()
        if self.registry is not None:
            self.registry.wait_ready()
        topics = platform_topics(order_service_app_id())
        asyncio.run(
            create_topics(
                KafkaConnection(self.bootstrap_servers), PARTITIONS, self.replication_factor, topics
            )
        )
        for service in self.services:
            service.start()
        for service in self.services:
            service.wait_ready()

    def stop(self) -> None:
        """Stop whatever runs (idempotent): services (all at once), registry, broker."""
        if self.services:
            with ThreadPoolExecutor(max_workers=len(self.services)) as stopping:
                list(stopping.map(ServiceProcess.stop, self.services))
        if self.registry is not None:
            self.registry.stop()
        self.broker.stop()

    def start_exited(self) -> list[tuple[ServiceProcess, int]]:
        """Start again every service that exited on its own; those, with their status.

        What a restart policy does: a worker that stops itself (e.g. the
        cart, when a batch's events could not be delivered) comes back and
        takes up its partitions from their last commit.
        """
        exited = [
            (service, status)
            for service in self.services
            if (status := service.exit_status) is not None
        ]
        for service, _ in exited:
            service.start()
        return exited

    def restart(self, service: ServiceProcess) -> None:
        """Stop ``service`` cleanly and bring it back, ready."""
        service.stop()
        service.start()
        service.wait_ready()
