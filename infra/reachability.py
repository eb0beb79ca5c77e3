"""Knows, at any moment and without waiting, whether Kafka (and the registry) answer.

A background probe per dependency sends a real request every half second
with a one-second deadline, so an outage is known within 1.5 s.  For Kafka
that is a metadata request: a TCP connect would not do, since a hung broker
(SIGSTOP, GC pause, full disk) still completes the TCP handshake.  Views
refuse requests at once while a dependency is down (503) instead of letting
them hang for a client library's timeouts; ``/ready`` reports it.
"""

import asyncio
import contextlib
import logging
from collections.abc import Awaitable, Callable, Sequence
from typing import TypeVar

from aiokafka import AIOKafkaProducer
from aiokafka.client import AIOKafkaClient
from mode import Service

from infra.kafka_connection import KafkaConnection

logger = logging.getLogger(__name__)

Probe = Callable[[], Awaitable[object]]
T = TypeVar("T")


class DependencyUnavailable(Exception):
    """A dependency does not answer: the request was refused before anything was sent."""


class DependencyLost(Exception):
    """A dependency stopped answering while work waited on it."""


class Reachability(Service):
    def __init__(
        self, name: str, probe: Probe, *, interval: float = 0.5, timeout: float = 1.0, **kwargs
    ) -> None:
        self.name = name
        self.probe = probe
        self.interval = interval
        self.timeout = timeout
        self.reachable = False
        #: Set while the dependency does not answer, for requests waiting on it.
        self.unreachable = asyncio.Event()
        self.unreachable.set()
        #: Set while it answers.
        self.answering = asyncio.Event()
        super().__init__(**kwargs)

    async def answers(self) -> bool:
        try:
            await asyncio.wait_for(self.probe(), self.timeout)
            return True
        except Exception as exc:  # any failure means "not answering"; logged on change
            logger.debug("probe failed", extra={"dependency": self.name, "error": repr(exc)})
            return False

    @Service.task
    async def _watch(self) -> None:
        while not self.should_stop:
            reachable = await self.answers()
            if reachable != self.reachable:
                self.reachable = reachable
                if reachable:
                    self.unreachable.clear()
                    self.answering.set()
                    logger.info("dependency reachable", extra={"dependency": self.name})
                else:
                    self.answering.clear()
                    self.unreachable.set()
                    logger.warning("dependency NOT reachable", extra={"dependency": self.name})
            await self.sleep(self.interval)


class KafkaProbe(Service):
    """A metadata request on a kept connection: cheap enough to stay fast on a busy host.

    A new client per probe would pay for bootstrap and version checks every
    half second, and on a loaded machine that alone can miss the deadline
    and report an outage that is not there.  After a failure the client is
    dropped, and the next probe starts afresh.
    """

    def __init__(self, kafka: KafkaConnection, timeout: float = 1.0, **kwargs: object) -> None:
        self.kafka = kafka
        self.timeout = timeout
        self._client: AIOKafkaClient | None = None
        super().__init__(**kwargs)

    async def __call__(self) -> None:
        try:
            if self._client is None:
                self._client = AIOKafkaClient(
                    **self.kafka.client_options(), request_timeout_ms=int(self.timeout * 1000)
                )
                await self._client.bootstrap()
            await self._client.fetch_all_metadata()
        except BaseException:
            await self._drop()
            raise

    async def _drop(self) -> None:
        client, self._client = self._client, None
        if client is not None:
            await client.close()

    async def on_stop(self) -> None:
        await self._drop()


class KafkaWriteProbe(Service):
    """A tiny ``acks=all`` record to the health topic, on a kept producer.

    It is acknowledged only while Kafka takes writes as the services make
    them: a leader, and ``min.insync.replicas`` replicas in sync.  A
    metadata request cannot tell: with two of three brokers down, the last
    one still answers metadata, while every write would time out.

    The producer is started once, in the background (a start takes several
    round trips, more than a probe's deadline on a busy host), and kept:
    it finds new leaders by itself, so a failed probe says only that this
    write was not acknowledged in time.
    """

    def __init__(self, kafka: KafkaConnection, topic: str, timeout: float = 1.0, **kwargs: object):
        self.kafka = kafka
        self.topic = topic
        self.timeout = timeout
        self._producer: AIOKafkaProducer | None = None
        super().__init__(**kwargs)

    async def __call__(self) -> None:
        if self._producer is None:
            raise DependencyUnavailable("the write probe's producer is not started yet")
        await self._producer.send_and_wait(self.topic, b"ok")

    @Service.task
    async def _start_producer(self) -> None:
        while not self.should_stop:
            producer = AIOKafkaProducer(
                **self.kafka.client_options(),
                acks="all",
                request_timeout_ms=int(self.timeout * 1000),
            )
            try:
                await producer.start()
            except Exception as exc:  # Kafka not up yet: the probe reports it meanwhile
                logger.debug("write probe cannot start", extra={"error": repr(exc)})
                await producer.stop()
                await self.sleep(1.0)
                continue
            self._producer = producer
            return

    async def on_stop(self) -> None:
        producer, self._producer = self._producer, None
        if producer is not None:
            # Stopping flushes what is pending, which Kafka may never take: bounded.
            with contextlib.suppress(Exception):
                await asyncio.wait_for(producer.stop(), self.timeout)


class Dependencies:
    """The external services a service needs to take writes: all must answer."""

    def __init__(self, monitors: Sequence[Reachability]) -> None:
        self.monitors = list(monitors)

    def failing(self) -> list[str]:
        return [m.name for m in self.monitors if not m.reachable]

    def require(self) -> None:
        """Raise :class:`DependencyUnavailable` naming what does not answer."""
        failing = self.failing()
        if failing:
            raise DependencyUnavailable(f"{' and '.join(failing)} not reachable; nothing was sent")

    async def within(self, work: Awaitable[T], deadline: float) -> T:
        """The result of ``work``, unless a dependency goes away first.

        Raises :class:`DependencyLost` as soon as a probe notices an outage and
        :class:`TimeoutError` after ``deadline`` seconds; ``work`` is cancelled
        then.  A client library would wait out its own, much longer timeouts.
        """
        working = asyncio.ensure_future(work)
        outage = asyncio.ensure_future(self.any_down())
        try:
            done, _ = await asyncio.wait(
                {working, outage}, timeout=deadline, return_when=asyncio.FIRST_COMPLETED
            )
        finally:
            working.cancel()
            outage.cancel()
        if working in done:
            return working.result()
        if outage in done:
            raise DependencyLost(f"{' and '.join(self.failing()) or 'a dependency'} went away")
        raise TimeoutError(f"no result within {deadline:g} s")

    async def all_up(self) -> None:
        """Return once every dependency answers."""
        while self.failing():
            for monitor in self.monitors:
                await monitor.answering.wait()

    async def any_down(self) -> None:
        """Return as soon as a dependency stops answering."""
        waiters = [asyncio.ensure_future(m.unreachable.wait()) for m in self.monitors]
        try:
            await asyncio.wait(waiters, return_when=asyncio.FIRST_COMPLETED)
        finally:
            for waiter in waiters:
                waiter.cancel()
