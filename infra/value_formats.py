"""How the values of ``order-commands`` and ``order-events`` are written: JSON or Avro.

Avro values use the Confluent wire format (magic byte 0, the schema id as a
4-byte big-endian integer, the Avro binary), with schemas registered under
the topic name strategy (``<topic>-value``) and compatibility BACKWARD, so
any Confluent-compatible consumer, Kafka UI and the console tools with a
registry can read them.

Encoding never waits on the registry: the schema is registered once, at
start-up.  Decoding a value written with a schema version this process has
not seen needs the registry (async ``decode``); Faust's codecs are
synchronous, so they decode from the cache only (``decode_cached``).
"""

import asyncio
import io
import logging
import struct
from typing import Any, Protocol, TypeVar

import faust
from fastavro import parse_schema, schemaless_reader, schemaless_writer
from mode import Service

from infra.dead_letters import RecordAt, position
from infra.reachability import DependencyUnavailable
from infra.schema_registry import RegistryError, SchemaRegistryClient, UnknownSchema
from models import codec
from models.commands import OrderCommand
from models.events import OrderEvent
from models.wire import InvalidRecord

logger = logging.getLogger(__name__)

#: Between two attempts to read a record while the registry does not answer.
REGISTRY_RETRY_SECONDS = 1.0
MAGIC = b"\x00"
HEADER = struct.Struct(">bI")
COMPATIBILITY = "BACKWARD"


class UndecodableValue(ValueError):
    """Bytes that are not a value of this format."""


class ValueFormat(Protocol):
    codec_name: str
    content_type: bytes

    def encode(self, data: Any) -> bytes: ...
    def decode_cached(self, payload: bytes) -> Any: ...
    async def decode(self, payload: bytes) -> Any: ...
    async def prepare(self) -> None: ...


class JsonFormat:
    codec_name = codec.CODEC_NAME
    content_type = b"application/json"

    def encode(self, data: Any) -> bytes:
        return codec.dumps(data)

    def decode_cached(self, payload: bytes) -> Any:
        try:
            return codec.loads(payload)
        except (ValueError, RecursionError) as exc:
            raise UndecodableValue(f"not JSON: {str(exc)[:200]}") from None

    async def decode(self, payload: bytes) -> Any:
        return self.decode_cached(payload)

    async def prepare(self) -> None:
        return None


#: JSON has no state: one instance serves every caller.
JSON_FORMAT = JsonFormat()


class AvroFormat:
    content_type = b"application/vnd.apache.avro+binary"

    def __init__(self, subject: str, schema: dict[str, Any], registry: SchemaRegistryClient):
        self.codec_name = subject
        self.subject = subject
        self.schema = schema
        self.parsed = parse_schema(schema)
        self.registry = registry
        self.schema_id: int | None = None

    async def prepare(self) -> None:
        self.schema_id = await self.registry.register(self.subject, self.schema, COMPATIBILITY)
        logger.info(
            "schema registered", extra={"subject": self.subject, "schemaId": self.schema_id}
        )

    def encode(self, data: Any) -> bytes:
        if self.schema_id is None:
            # The registry was down at start-up and still is: a 503, not a 500.
            raise DependencyUnavailable(f"schema {self.subject} is not registered yet")
        out = io.BytesIO()
        out.write(HEADER.pack(0, self.schema_id))
        schemaless_writer(out, self.parsed, data)
        return out.getvalue()

    def decode_cached(self, payload: bytes) -> Any:
        schema_id = schema_id_of(payload)
        if schema_id == self.schema_id:
            return read_avro(payload, self.parsed)  # our schema: nothing to resolve
        writer = self.registry.cached_parsed_schema(schema_id)
        if writer is None:
            raise UndecodableValue(f"schema id {schema_id} is not known to this process")
        return read_avro(payload, writer, self.parsed)

    async def decode(self, payload: bytes) -> Any:
        """Decode with the writer's schema, fetched from the registry if need be.

        Raises :class:`UndecodableValue` for bytes that are not such a value,
        and lets :class:`~infra.schema_registry.RegistryError` through: a
        registry that does not answer says nothing about the record.  A value
        written with this service's own schema is read without resolving one
        schema into the other (a fifth of fastavro's time per value).
        """
        if schema_id_of(payload) == self.schema_id:
            return read_avro(payload, self.parsed)
        return read_avro(payload, await writer_schema(payload, self.registry), self.parsed)


#: The records of the order topics, each keyed by its order.
R = TypeVar("R", OrderCommand, OrderEvent)


async def decode_order_record(
    record_type: type[R], key: bytes | None, value: bytes | None, value_format: ValueFormat
) -> R:
    """The ``record_type`` a Kafka record holds, keyed by its orderId; :class:`InvalidRecord`
    if it holds none (no value, bytes of no value, a wrong shape, another order's key).

    Lets :class:`~infra.schema_registry.RegistryError` through: an unreachable
    registry says nothing about the record.
    """
    if value is None:
        raise InvalidRecord("record has no value")
    try:
        record = record_type.from_wire(await value_format.decode(value))
    except UndecodableValue as exc:
        raise InvalidRecord(str(exc)) from None
    if key != record.orderId.encode():
        raise InvalidRecord(f"record key {key!r:.80} is not the record's orderId")
    return record


async def read_order_record(record_type: type[R], record: RecordAt, value_format: ValueFormat) -> R:
    """:func:`decode_order_record`, waiting out a registry that does not answer (logged):
    a record must not be skipped for it."""
    while True:
        try:
            return await decode_order_record(record_type, record.key, record.value, value_format)
        except RegistryError as exc:
            logger.warning(
                "cannot read the record until the registry answers",
                extra={**position(record), "error": repr(exc)},
            )
            await asyncio.sleep(REGISTRY_RETRY_SECONDS)


def value_subject(topic: str) -> str:
    """The registry subject of a topic's values (the topic name strategy)."""
    return f"{topic}-value"


def schema_id_of(payload: bytes) -> int:
    if len(payload) < HEADER.size or payload[:1] != MAGIC:
        raise UndecodableValue("not in the Confluent wire format (magic byte 0)")
    return HEADER.unpack_from(payload)[1]


async def writer_schema(payload: bytes, registry: SchemaRegistryClient) -> Any:
    """The parsed schema a Confluent-framed value was written with."""
    try:
        return await registry.parsed_schema(schema_id_of(payload))
    except UnknownSchema as exc:  # none with that id, or not Avro
        raise UndecodableValue(str(exc)) from None


def read_avro(payload: bytes, writer: Any, reader: Any = None) -> Any:
    try:
        return schemaless_reader(io.BytesIO(payload[HEADER.size :]), writer, reader)
    except Exception as exc:  # fastavro raises many types for corrupt bytes
        raise UndecodableValue(f"not a valid Avro value: {exc!r:.200}") from None


async def decode_any(payload: bytes, registry: SchemaRegistryClient | None) -> Any:
    """A value of any topic, whatever its schema: Avro by its schema id, else JSON.

    For reading topics this service does not own (the topic scan), so the
    writer's schema is the only one.
    """
    if registry is not None and payload[:1] == MAGIC:
        return read_avro(payload, await writer_schema(payload, registry))
    return JSON_FORMAT.decode_cached(payload)


class FormatCodec(faust.Codec):
    """A value format as a Faust codec, for the topics Faust (de)serializes."""

    def __init__(self, value_format: ValueFormat) -> None:
        self.value_format = value_format
        super().__init__()

    def _dumps(self, value: Any) -> bytes:
        return self.value_format.encode(value)

    def _loads(self, payload: bytes) -> Any:
        return self.value_format.decode_cached(payload)


class ValueFormats(Service):
    """The formats of the command and event values; ready once schemas are registered."""

    def __init__(self, commands: ValueFormat, events: ValueFormat, **kwargs: Any) -> None:
        self.commands = commands
        self.events = events
        self.prepared = False
        super().__init__(**kwargs)
        for value_format in (commands, events):
            faust.serializers.codecs.register(value_format.codec_name, FormatCodec(value_format))

    @Service.task
    async def _prepare(self) -> None:
        # The registry may be down at start-up: keep trying, /ready says so.
        while not self.should_stop:
            try:
                for value_format in (self.commands, self.events):
                    await value_format.prepare()
                self.prepared = True
                return
            except Exception as exc:
                logger.warning("cannot register the value schemas yet", extra={"error": repr(exc)})
                await self.sleep(1.0)
