"""What the cart's writers write: events on ``order-events`` and kept answers on
``order-idempotency-keys``, through the cart's own idempotent ``acks=all`` producer.

Its own, not Faust's: a request to a hung leader is given up after 2 s
(:data:`EVENT_REQUEST_TIMEOUT_MS`) so that an event is not held near its max
age, and each record goes to the partition its writer owns.
"""

import asyncio
from collections.abc import Mapping
from typing import Any

from aiokafka import AIOKafkaProducer
from aiokafka.structs import RecordMetadata

from agents.hand_over import hand_over
from infra.kafka_connection import KafkaConnection
from infra.value_formats import ValueFormat
from models.events import OrderEvent

#: How long the events' producer waits for a leader's answer before it asks for
#: the new leader: a hung one must not hold an event near its max age.
EVENT_REQUEST_TIMEOUT_MS = 2000


class CartProducer:
    def __init__(
        self,
        kafka: KafkaConnection,
        events_format: ValueFormat,
        events_topic: str,
        kept_answers_topic: str,
        options: Mapping[str, Any],
    ) -> None:
        self.kafka = kafka
        self.events_format = events_format
        self.events_topic = events_topic
        self.kept_answers_topic = kept_answers_topic
        self.options = options
        self._producer: AIOKafkaProducer | None = None

    async def start(self) -> None:
        self._producer = AIOKafkaProducer(
            **self.kafka.client_options(),
            acks="all",
            enable_idempotence=True,
            **{**self.options, "request_timeout_ms": EVENT_REQUEST_TIMEOUT_MS},
        )
        await self._producer.start()

    async def stop(self) -> None:
        if self._producer is not None:
            # What the writers handed over is flushed: a clean stop loses nothing.
            await self._producer.stop()

    def encode(self, event: OrderEvent) -> bytes:
        return self.events_format.encode(event.to_wire())

    async def publish(
        self, partition: int, event: OrderEvent, payload: bytes, kept: tuple[str, bytes]
    ) -> asyncio.Future[RecordMetadata]:
        """Hand an event's bytes over; the future is Kafka's acknowledgement."""
        headers = [
            ("eventType", event.eventType.value.encode()),
            ("content-type", self.events_format.content_type),
            kept,
        ]
        return await self._send(
            self.events_topic,
            partition,
            event.orderId.encode(),
            payload,
            headers,
            {"orderId": event.orderId, "eventId": event.eventId, "version": event.version},
        )

    async def keep_answer(
        self, partition: int, key: bytes, kept: bytes
    ) -> asyncio.Future[RecordMetadata]:
        """Hand a kept answer over; the future is Kafka's acknowledgement."""
        return await self._send(
            self.kept_answers_topic, partition, key, kept, [], {"keptAnswer": key.decode()}
        )

    async def _send(
        self,
        topic: str,
        partition: int,
        key: bytes,
        value: bytes,
        headers: list[tuple[str, bytes]],
        about: dict[str, object],
    ) -> asyncio.Future[RecordMetadata]:
        producer = self._producer
        assert producer is not None  # started before any writer
        return await hand_over(
            lambda: producer.send(topic, value, key=key, partition=partition, headers=headers),
            about,
        )
