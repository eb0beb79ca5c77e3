"""Builds the two Faust apps from settings: one place for all start-up wiring.

Everything is registered explicitly here (no autodiscover scan): topics from
the registry, tables, agents, clients with their owners, views.
Longer than most modules: all the wiring of both services, on purpose in
one place.
"""

from collections.abc import Callable
from dataclasses import dataclass
from typing import Any

import faust

from agents.cart import CartCommands, CartWriters
from agents.cart_orders import CartOrders
from agents.command_gateway import CommandGateway
from agents.projection import Projection
from agents.projector import Projector
from agents.remote_commands import RemoteCommands
from agents.table_sink import TableSink, changelog_producer
from agents.version_waits import VersionWaits
from app.settings import CartSettings, OrdersSettings, ServiceSettings
from infra.group_lease import HEARTBEAT_SECONDS, LEASE_SECONDS, GroupLease
from infra.kafka_connection import KafkaConnection
from infra.logs import logging_config
from infra.metrics import ServiceMetrics
from infra.reachability import Dependencies, KafkaProbe, KafkaWriteProbe, Reachability
from infra.schema_registry import SchemaRegistryClient
from infra.topics import (
    CART_TABLE,
    COMMAND_REPLIES,
    IDEMPOTENCY_KEYS,
    ORDER_COMMANDS,
    ORDER_EVENTS,
    SHIPPED_ORDERS_TABLE,
    WRITE_PROBES,
    OrderTopics,
    declare_topics,
)
from infra.transport import ServiceApp
from infra.value_formats import AvroFormat, JsonFormat, ValueFormats, value_subject
from models import codec
from models.avro import ORDER_COMMAND, ORDER_EVENT
from models.state import ShippedOrder
from web.cart import CART_OPERATIONS, register_cart_views
from web.docs import register_docs_view
from web.health import HEALTH_OPERATIONS, Readiness, register_health_views, tables_ready
from web.http import MAX_BODY_BYTES
from web.openapi import openapi_document, register_openapi_view
from web.orders import ORDER_OPERATIONS, register_order_views
from web.owner_routing import OwnerRouter
from web.problems import problem_middleware
from web.topic_scan import TopicScanner

#: How long a topic scan may take before the request gets a 504.
SCAN_TIMEOUT_SECONDS = 60.0


def create_app(
    settings: ServiceSettings, kafka: KafkaConnection, metrics: ServiceMetrics
) -> ServiceApp:
    codec.register()
    datadir = settings.data_dir / settings.app_id
    datadir.mkdir(parents=True, exist_ok=True)  # Faust expects it to exist
    return ServiceApp(
        settings.app_id,
        kafka=kafka,
        lease=GroupLease(LEASE_SECONDS),
        env_prefix=settings.faust_env_prefix,
        autodiscover=False,
        store="rocksdb://",
        datadir=str(datadir),
        topic_partitions=settings.topic_partitions,
        topic_replication_factor=settings.topic_replication_factor,
        producer_acks=-1,
        producer_max_batch_size=settings.producer_max_batch_bytes,
        producer_linger=settings.producer_linger_ms / 1000,
        producer_request_timeout=settings.request_timeout,
        consumer_auto_offset_reset="earliest",
        broker_session_timeout=settings.consumer_session_timeout,
        consumer_group_instance_id=settings.group_instance_id,
        broker_heartbeat_interval=HEARTBEAT_SECONDS,
        logging_config=logging_config(settings.log_level),
        web_bind=settings.web_bind,
        web_host=settings.web_host,
        web_port=settings.web_port,
        web_application_options={
            "middlewares": [metrics.middleware, problem_middleware],
            "client_max_size": MAX_BODY_BYTES,
        },
        # Faust's built-in pages are not part of the API: /table (it shows the
        # table contents), /router, /graph, the stats pages and /performance
        # are off; only its production index at / stays (documented).
        web_tables_enabled=False,
        web_graph_enabled=False,
        web_router_enabled=False,
        web_stats_enabled=False,
        web_metrics_enabled=False,
    )


def producer_options(settings: ServiceSettings) -> dict[str, Any]:
    """The producer settings of a service, for a producer of its own (the cart's events)."""
    return {
        "max_batch_size": settings.producer_max_batch_bytes,
        "linger_ms": settings.producer_linger_ms,
        "request_timeout_ms": int(settings.request_timeout * 1000),
    }


def shipped_orders_table(
    app: faust.App, value_type: type, settings: ServiceSettings
) -> faust.Table:
    # key_type=bytes makes the table's key serializer "raw", like the topics':
    # the changelog key and table_route's partition are the orderId's UTF-8
    # bytes, the partition the producer picked (str keys default to json).
    return app.Table(
        SHIPPED_ORDERS_TABLE,
        key_type=bytes,
        value_type=value_type,
        partitions=settings.topic_partitions,
    )


@dataclass(frozen=True)
class ServiceParts:
    """What both services are built on."""

    app: ServiceApp
    topics: OrderTopics
    #: How the service's clients connect to Kafka.
    connection: KafkaConnection
    #: What the service's answers need (Kafka); the registry is needed only for
    #: schemas not known yet (``formats.prepared``).
    dependencies: Dependencies
    registry: SchemaRegistryClient | None
    formats: ValueFormats
    metrics: ServiceMetrics

    def readiness(self, **checks: Callable[[], bool]) -> Readiness:
        return Readiness(self.dependencies, {"schemas": lambda: self.formats.prepared, **checks})


def value_formats(settings: ServiceSettings, registry: SchemaRegistryClient | None) -> ValueFormats:
    if registry is None:
        return ValueFormats(commands=JsonFormat(), events=JsonFormat())
    return ValueFormats(
        commands=AvroFormat(value_subject(ORDER_COMMANDS.name), ORDER_COMMAND, registry),
        events=AvroFormat(value_subject(ORDER_EVENTS.name), ORDER_EVENT, registry),
    )


def build_service(settings: ServiceSettings, *, takes_writes: bool = False) -> ServiceParts:
    """``takes_writes``: the service answers requests with writes to Kafka (the cart);
    they are refused at once while Kafka does not acknowledge ``acks=all`` writes."""
    metrics = ServiceMetrics()
    connection = settings.kafka_connection()
    app = create_app(settings, connection, metrics)
    kafka = app.add_dependency(Reachability("Kafka", app.add_dependency(KafkaProbe(connection))))
    needed = [kafka]
    if takes_writes:
        write_probe = KafkaWriteProbe(connection, WRITE_PROBES.name)
        writes = Reachability("Kafka writes (acks=all)", app.add_dependency(write_probe))
        needed.append(app.add_dependency(writes))
    watched = list(needed)
    registry = None
    if settings.value_format == "avro":
        assert settings.schema_registry_url is not None  # checked by the settings
        registry = app.add_dependency(SchemaRegistryClient(settings.schema_registry_url))
        # Watched (metrics, log lines), not needed: the service encodes and decodes
        # with the schemas it holds while the registry is away.
        watched.append(app.add_dependency(Reachability("the schema registry", registry.probe)))
    dependencies = Dependencies(needed)
    formats = app.add_dependency(value_formats(settings, registry))
    metrics.watch(app, watched)
    return ServiceParts(
        app=app,
        topics=declare_topics(
            app, settings.topic_partitions, settings.topic_replication_factor, formats
        ),
        connection=connection,
        dependencies=dependencies,
        registry=registry,
        formats=formats,
        metrics=metrics,
    )


def register_api_documents(app: faust.App, document: dict[str, Any]) -> None:
    """The OpenAPI document at /openapi.json and the interactive page over it at /docs."""
    register_openapi_view(app, document)
    register_docs_view(app, document["info"]["title"])


def create_cart_app(settings: CartSettings) -> faust.App:
    parts = build_service(settings, takes_writes=True)
    app = parts.app
    orders = CartOrders(
        settings.data_dir / settings.app_id / CART_TABLE,
        ORDER_EVENTS.name,
        IDEMPOTENCY_KEYS.name,
        parts.formats.events,
        parts.connection,
    )
    writers = app.add_dependency(
        CartWriters(
            app,
            parts.topics,
            orders,
            parts.formats,
            parts.metrics,
            parts.connection,
            app.lease,
            partitions=settings.topic_partitions,
            max_in_flight=settings.max_in_flight,
            delivery_timeout=settings.delivery_timeout,
            key_lifetime=settings.idempotency_key_hours * 3600,
            producer_options=producer_options(settings),
        )
    )
    gateway = app.add_dependency(
        CommandGateway(
            parts.topics.commands,
            COMMAND_REPLIES.name,
            parts.connection,
            parts.dependencies,
            writers,
            deadline=settings.request_timeout,
        )
    )
    RemoteCommands(
        app,
        parts.topics,
        writers,
        parts.formats,
        parts.metrics,
        gateway.deliver_locally,
        settings.max_in_flight,
    ).register()
    commands = CartCommands(writers, gateway, parts.dependencies)
    readiness = parts.readiness(
        partitions=lambda: writers.restored and not app.rebalancing,
        replies=gateway.listening.is_set,
    )
    register_health_views(app, readiness, parts.metrics)
    register_cart_views(app, commands.submit)
    register_api_documents(
        app, openapi_document("Cart service", CART_OPERATIONS + HEALTH_OPERATIONS)
    )
    return app


def create_orders_app(settings: OrdersSettings) -> faust.App:
    parts = build_service(settings)
    app = parts.app
    shipped_orders_by_id = shipped_orders_table(app, ShippedOrder, settings)
    version_waits = VersionWaits()
    parts.metrics.report_waiting_reads(lambda: len(version_waits))
    projection = Projection(
        TableSink(
            shipped_orders_by_id, changelog_producer(parts.connection, producer_options(settings))
        ),
        parts.formats.events,
        parts.topics.dead_letters,
        version_waits,
        parts.metrics,
        service=settings.app_id,
    )
    app.add_dependency(
        Projector(
            app,
            parts.topics,
            shipped_orders_by_id,
            parts.metrics,
            parts.connection,
            projection,
            max_records=settings.max_records_per_batch,
            delivery_timeout=settings.delivery_timeout,
        )
    )
    register_health_views(app, parts.readiness(tables=lambda: tables_ready(app)), parts.metrics)
    scanner = app.add_dependency(
        TopicScanner(
            parts.connection,
            parts.registry,
            parts.dependencies,
            scannable=settings.scannable_topics,
            max_concurrent=settings.max_concurrent_scans,
            timeout=SCAN_TIMEOUT_SECONDS,
        )
    )
    owners = app.add_dependency(
        OwnerRouter(app, shipped_orders_by_id, settings.routed_request_timeout)
    )
    register_order_views(app, shipped_orders_by_id, owners, scanner, version_waits)
    register_api_documents(
        app, openapi_document("Order service", ORDER_OPERATIONS + HEALTH_OPERATIONS)
    )
    return app
