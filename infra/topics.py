"""Every topic of the platform: name, key, value, purpose and configuration.

The one registry of topics.  The apps declare their Faust topics from it,
and the topic-init step (``python -m app.topic_init``), ``make run`` and the
tests create the topics from it.  Every key is the raw UTF-8 orderId (the
replies are keyed by commandId), so each order's records share a partition.
Longer than most modules: every topic's declaration, its Faust topics and its
creation belong in this one place.
"""

import contextlib
import logging
from collections.abc import AsyncIterator, Mapping, Sequence
from dataclasses import dataclass, field

import faust
from aiokafka.admin import AIOKafkaAdminClient, NewTopic
from aiokafka.admin.config_resource import ConfigResource, ConfigResourceType
from aiokafka.errors import TopicAlreadyExistsError, for_code

from infra.kafka_connection import KafkaConnection
from infra.kafka_metadata import wait_for_kafka
from infra.schema_registry import SchemaRegistryClient
from infra.value_formats import JSON_FORMAT, AvroFormat, ValueFormat, ValueFormats, value_subject
from models.avro import ORDER_EVENT
from models.codec import CODEC_NAME
from models.commands import CommandReply, OrderCommand
from models.events import OrderEvent

logger = logging.getLogger(__name__)

DAY_MS = 24 * 60 * 60 * 1000


@dataclass(frozen=True)
class TopicSpec:
    name: str
    config: Mapping[str, str] = field(default_factory=dict)
    #: ``None``: the service's ``topic_partitions`` (co-partitioned topics).
    partitions: int | None = None


#: CreateOrder / UpdateOrderStatus commands from the cart's web views to the
#: cart agent, the single writer of each order's partition.
ORDER_COMMANDS = TopicSpec("order-commands", {"retention.ms": str(7 * DAY_MS)})
#: Records of order-commands the cart could not read (error headers as the DLQ's below).
ORDER_COMMANDS_DLQ = TopicSpec("order-commands.DLQ", {"retention.ms": "-1"})
#: The header of a command record that names the request waiting for its reply.
COMMAND_ID_HEADER = "commandId"
#: How old (by its own timestamp) an event may be when the broker appends it: a
#: worker that lost its partitions while paused cannot append what it decided
#: before (infra.group_lease).  Longer than a leader's failover, so that events
#: only delayed by one are not refused: Kafka fences a silent broker after 9 s
#: by default, and the cart gives up a request to a hung leader after 2 s (the
#: figures behind the choice: docs/design.md).
EVENT_MAX_AGE_SECONDS = 20.0
#: Every change of every order (OrderEvent), for all consumers; kept forever,
#: so the topic scan finds every orderId ever written.
ORDER_EVENTS = TopicSpec(
    "order-events",
    {
        "retention.ms": "-1",
        "message.timestamp.before.max.ms": str(int(EVENT_MAX_AGE_SECONDS * 1000)),
    },
)
#: Records of order-events the order service could not decode or validate.
ORDER_EVENTS_DLQ = TopicSpec("order-events.DLQ", {"retention.ms": "-1"})
#: The cart agent's answer to each command, for the cart worker holding the request.
COMMAND_REPLIES = TopicSpec(
    "order-command-replies", {"retention.ms": str(60 * 60 * 1000)}, partitions=1
)

#: The answers the cart gave to idempotency keys that changed nothing (409, 404,
#: 412, an unchanged status), keyed by orderId and key, in the order's partition
#: (agents.idempotency); the answers of changes ride in their events' headers.
#: Compacted, and kept a week: longer than a key's lifetime may be set.
IDEMPOTENCY_KEYS = TopicSpec(
    "order-idempotency-keys", {"cleanup.policy": "compact,delete", "retention.ms": str(7 * DAY_MS)}
)
#: The longest an idempotency key may be kept (the topic's retention).
MAX_KEY_LIFETIME_HOURS = 7 * 24

#: Tiny records the cart writes every half second with acks=all: whether Kafka
#: takes writes right now (``infra.reachability.KafkaWriteProbe``).
WRITE_PROBES = TopicSpec(
    "order-platform.write-probes", {"retention.ms": str(60 * 60 * 1000)}, partitions=1
)

#: The topics of the orders themselves, readable by anyone the platform lets in
#: (the topic scan's default); the rest are the platform's own machinery.
ORDER_TOPICS = tuple(
    spec.name for spec in (ORDER_COMMANDS, ORDER_COMMANDS_DLQ, ORDER_EVENTS, ORDER_EVENTS_DLQ)
)
#: Topics the schema registry keeps its schemas in (Apicurio's kafkasql, Confluent's).
REGISTRY_TOPICS = ("kafkasql-journal", "_schemas")


def is_internal_topic(name: str) -> bool:
    """Kafka's and Faust's own topics, table changelogs, the reply, probe and idempotency
    key topics, the registry's."""
    return (
        name.startswith("_")
        or "__" in name  # Faust's, e.g. <app id>-__assignor-__leader
        or name.endswith("-changelog")
        or name in (COMMAND_REPLIES.name, WRITE_PROBES.name, IDEMPOTENCY_KEYS.name)
        or name in REGISTRY_TOPICS
    )


#: The order service's table, orderId → order with its shipping cost (and so the name
#: of its changelog topic).  Named ``orders_by_id`` before: see the migration note in
#: docs/operations.md.
SHIPPED_ORDERS_TABLE = "shipped_orders_by_id"
#: The cart's table: its changelog is ``order-events`` itself (agents.cart_orders).
CART_TABLE = "cart_orders_by_id"


def projector_group(app_id: str) -> str:
    """The group that keeps how far an app's projector has applied ``order-events``
    into its table.

    Only offsets: the projector reads the partitions Faust assigns it with a
    consumer of its own, so this group never has members.  Named after the
    table: a table under a new name (a new changelog, an empty store) is
    projected from the start of ``order-events``, never from where another
    table's projection stopped.
    """
    return f"{app_id}-{SHIPPED_ORDERS_TABLE}-projector"


def changelog_topic(app_id: str) -> TopicSpec:
    """The changelog of the order service's ``shipped_orders_by_id`` table, as Faust names it.

    Faust would create it at start-up, but an agent that sees the topic before
    its metadata has arrived crashes (PartitionsMismatch) and drops the event
    in hand; created beforehand, the race is gone.
    """
    return TopicSpec(f"{app_id}-{SHIPPED_ORDERS_TABLE}-changelog", {"cleanup.policy": "compact"})


def platform_topics(orders_app_id: str) -> tuple[TopicSpec, ...]:
    """Every topic of the platform whose order service runs under ``orders_app_id``."""
    order_topics = (
        ORDER_COMMANDS,
        ORDER_COMMANDS_DLQ,
        ORDER_EVENTS,
        ORDER_EVENTS_DLQ,
        COMMAND_REPLIES,
        IDEMPOTENCY_KEYS,
        WRITE_PROBES,
    )
    return (*order_topics, changelog_topic(orders_app_id))


@dataclass(frozen=True)
class OrderTopics:
    """The Faust topics of one app, declared from the registry."""

    commands: faust.TopicT
    #: ``order-commands`` as the cart agent reads it: bytes it decodes itself, so
    #: that a record it cannot decode reaches the dead-letter topic intact.
    command_records: faust.TopicT
    command_dead_letters: faust.TopicT
    events: faust.TopicT
    replies: faust.TopicT
    #: ``order-events`` as the projector reads it: bytes it decodes itself, so
    #: that a record it cannot decode reaches the dead-letter topic intact.
    event_records: faust.TopicT
    dead_letters: faust.TopicT


def declare_topics(
    app: faust.App, partitions: int, replication_factor: int, formats: ValueFormats
) -> OrderTopics:
    """The app's topics; commands and events in the configured value format.

    Faust serializes a Record with the Record's own codec even when the topic
    names another, so senders pass ``record.to_wire()``, not the Record.
    """

    def declare(spec: TopicSpec, value_type: type, codec_name: str = CODEC_NAME) -> faust.TopicT:
        raw = value_type is bytes
        return app.topic(
            spec.name,
            key_type=bytes if raw else str,
            value_type=value_type,
            key_serializer="raw",
            value_serializer="raw" if raw else codec_name,
            partitions=spec.partitions or partitions,
            replicas=replication_factor,
        )

    return OrderTopics(
        commands=declare(ORDER_COMMANDS, OrderCommand, formats.commands.codec_name),
        command_records=declare(ORDER_COMMANDS, bytes),
        command_dead_letters=declare(ORDER_COMMANDS_DLQ, bytes),
        events=declare(ORDER_EVENTS, OrderEvent, formats.events.codec_name),
        replies=declare(COMMAND_REPLIES, CommandReply),
        event_records=declare(ORDER_EVENTS, bytes),
        dead_letters=declare(ORDER_EVENTS_DLQ, bytes),
    )


async def create_topics(
    kafka: KafkaConnection,
    partitions: int,
    replication_factor: int,
    specs: Sequence[TopicSpec],
    startup_wait: float = 0.0,
) -> None:
    """Create the topics that are missing, and give those that exist the declared config.

    The declared configuration is the whole of a topic's own (an upgrade that
    adds a setting, such as the events' max age, reaches topics made before);
    partitions and replication of an existing topic are left as they are.
    ``startup_wait``: seconds to wait for a broker that is not up yet.
    """
    min_isr = str(min(2, replication_factor))
    configs = {spec.name: {**spec.config, "min.insync.replicas": min_isr} for spec in specs}
    new_topics = [
        NewTopic(
            spec.name,
            num_partitions=spec.partitions or partitions,
            replication_factor=replication_factor,
            topic_configs=configs[spec.name],
        )
        for spec in specs
    ]
    await wait_for_kafka(kafka, startup_wait)
    admin = AIOKafkaAdminClient(**kafka.client_options())
    await admin.start()
    try:
        response = await admin.create_topics(new_topics)
        existing = []
        # The broker answers per topic; the first two fields are name and error code.
        for name, error_code, *_ in response.topic_errors:
            if error_code == 0:
                logger.info("topic %s created", name, extra={"topic": name})
            elif error_code == TopicAlreadyExistsError.errno:
                existing.append(name)
            else:
                raise for_code(error_code)(f"cannot create topic {name}")
        if existing:
            (altered,) = await admin.alter_configs(
                [ConfigResource(ConfigResourceType.TOPIC, name, configs[name]) for name in existing]
            )
            for error_code, message, _, name in altered.resources:
                if error_code:
                    raise for_code(error_code)(f"cannot configure topic {name}: {message}")
            logger.info(
                "topics exist; their configuration is the declared one",
                extra={"topics": existing},
            )
    finally:
        await admin.close()


@contextlib.asynccontextmanager
async def events_format(registry_url: str | None) -> AsyncIterator[ValueFormat]:
    """The value format of ``order-events`` as the services write it, for a client of
    the platform (tests, benchmarks): Avro through ``registry_url``, JSON without one."""
    if registry_url is None:
        yield JSON_FORMAT
        return
    registry = SchemaRegistryClient(registry_url)
    await registry.start()
    try:
        avro = AvroFormat(value_subject(ORDER_EVENTS.name), ORDER_EVENT, registry)
        await avro.prepare()  # the services' schema: registering it again gives its id
        yield avro
    finally:
        await registry.stop()
