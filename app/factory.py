"""Builds the two Faust apps from settings: one place for all start-up wiring.

Everything is registered explicitly here (no autodiscover scan): topics from
the registry, tables, agents, clients with their owners, views.
"""

import logging
from dataclasses import dataclass

import faust

from agents.cart import register_command_handler
from agents.projector import register_projector
from app.broker_monitor import BrokerMonitor
from app.command_gateway import CommandGateway
from app.metrics import ServiceMetrics
from app.settings import CartSettings, OrdersSettings, ServiceSettings
from app.topics import COMMAND_REPLIES, ORDERS_TABLE, OrderTopics, declare_topics
from models import codec
from models.state import CartOrder, ShippedOrder
from web.cart import register_cart_views
from web.health import Readiness, register_health_views
from web.http import MAX_BODY_BYTES
from web.openapi import cart_openapi, orders_openapi, register_openapi_view
from web.orders import register_order_views
from web.problems import problem_middleware

#: How long a topic scan may take before the request gets a 504.
SCAN_TIMEOUT_SECONDS = 60.0


def create_app(settings: ServiceSettings, metrics: ServiceMetrics) -> faust.App:
    codec.register()
    logging.getLogger().setLevel(settings.log_level)
    datadir = settings.data_dir / settings.app_id
    datadir.mkdir(parents=True, exist_ok=True)  # Faust expects it to exist
    return faust.App(
        settings.app_id,
        env_prefix=settings.faust_env_prefix,
        broker=f"kafka-idempotent://{settings.kafka_bootstrap_servers}",
        autodiscover=False,
        store="rocksdb://",
        datadir=str(datadir),
        topic_partitions=settings.topic_partitions,
        topic_replication_factor=settings.topic_replication_factor,
        producer_acks=-1,
        producer_request_timeout=settings.request_timeout,
        consumer_auto_offset_reset="earliest",
        broker_session_timeout=settings.consumer_session_timeout,
        broker_heartbeat_interval=settings.consumer_session_timeout / 3,
        web_bind=settings.web_bind,
        web_host=settings.web_host,
        web_port=settings.web_port,
        web_application_options={
            "middlewares": [metrics.middleware, problem_middleware],
            "client_max_size": MAX_BODY_BYTES,
        },
        # Faust's built-in pages (/tables shows table contents, /graph, /router,
        # /stats, /metrics) are not part of the API: off.
        web_tables_enabled=False,
        web_graph_enabled=False,
        web_router_enabled=False,
        web_stats_enabled=False,
        web_metrics_enabled=False,
    )


def orders_table(app: faust.App, value_type: type, settings: ServiceSettings) -> faust.Table:
    # key_type=bytes makes the table's key serializer "raw", like the topics':
    # the changelog key and table_route's partition are the orderId's UTF-8
    # bytes, the partition the producer picked (str keys default to json).
    return app.Table(
        ORDERS_TABLE,
        key_type=bytes,
        value_type=value_type,
        partitions=settings.topic_partitions,
    )


@dataclass(frozen=True)
class ServiceParts:
    """What both services are built on: the app, its topics, table, probe and metrics."""

    app: faust.App
    topics: OrderTopics
    orders_by_id: faust.Table
    monitor: BrokerMonitor
    metrics: ServiceMetrics


def build_service(settings: ServiceSettings, row_type: type) -> ServiceParts:
    metrics = ServiceMetrics()
    app = create_app(settings, metrics)
    monitor = app.add_dependency(BrokerMonitor(settings.kafka_bootstrap_servers))
    metrics.watch(app, monitor)
    return ServiceParts(
        app=app,
        topics=declare_topics(app, settings),
        orders_by_id=orders_table(app, row_type, settings),
        monitor=monitor,
        metrics=metrics,
    )


def create_cart_app(settings: CartSettings) -> faust.App:
    parts = build_service(settings, CartOrder)
    app = parts.app
    gateway = app.add_dependency(
        CommandGateway(
            parts.topics.commands,
            COMMAND_REPLIES.name,
            settings.kafka_bootstrap_servers,
            parts.monitor,
            deadline=settings.request_timeout,
        )
    )
    register_command_handler(app, parts.topics, parts.orders_by_id, parts.metrics)
    readiness = Readiness(app, parts.monitor, {"replies": gateway.listening.is_set})
    register_health_views(app, readiness, parts.metrics)
    register_cart_views(app, gateway)
    register_openapi_view(app, cart_openapi())
    return app


def create_orders_app(settings: OrdersSettings) -> faust.App:
    parts = build_service(settings, ShippedOrder)
    app = parts.app
    register_projector(app, parts.topics, parts.orders_by_id, parts.metrics)
    readiness = Readiness(app, parts.monitor, {})
    register_health_views(app, readiness, parts.metrics)
    register_order_views(
        app,
        parts.orders_by_id,
        parts.monitor,
        readiness,
        settings.kafka_bootstrap_servers,
        SCAN_TIMEOUT_SECONDS,
    )
    register_openapi_view(app, orders_openapi())
    return app
