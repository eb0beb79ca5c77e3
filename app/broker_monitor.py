"""Knows, at any moment and without waiting, whether Kafka answers.

A background probe sends a real metadata request every half second with a
one-second deadline, so an outage is known within 1.5 s.  A TCP connect
would not do: a hung broker (SIGSTOP, GC pause, full disk) still completes
the TCP handshake.  Views read ``reachable``
and answer 503 at once instead of letting a request hang for the client
library's timeouts; ``/ready`` reports it.
"""

import asyncio
import logging
import time

from aiokafka.client import AIOKafkaClient
from mode import Service

logger = logging.getLogger(__name__)


class BrokerUnavailable(Exception):
    """Kafka does not answer: the request was refused before anything was sent."""


class BrokerMonitor(Service):
    def __init__(
        self, bootstrap_servers: str, *, interval: float = 0.5, timeout: float = 1.0, **kwargs
    ) -> None:
        self.bootstrap_servers = bootstrap_servers
        self.interval = interval
        self.timeout = timeout
        self.reachable = False
        #: Set while Kafka does not answer, for requests waiting on it.
        self.unreachable = asyncio.Event()
        self.unreachable.set()
        self.changed_at = time.monotonic()
        super().__init__(**kwargs)

    async def probe(self) -> bool:
        client = AIOKafkaClient(
            bootstrap_servers=self.bootstrap_servers,
            request_timeout_ms=int(self.timeout * 1000),
        )
        try:
            await asyncio.wait_for(client.bootstrap(), self.timeout)
            return True
        except Exception as exc:  # any failure means "not answering"; logged on change
            logger.debug("broker probe failed: %r", exc)
            return False
        finally:
            await client.close()

    @Service.task
    async def _watch(self) -> None:
        while not self.should_stop:
            reachable = await self.probe()
            if reachable != self.reachable:
                self.reachable = reachable
                self.changed_at = time.monotonic()
                if reachable:
                    self.unreachable.clear()
                    logger.info("Kafka at %s is reachable", self.bootstrap_servers)
                else:
                    self.unreachable.set()
                    logger.warning("Kafka at %s is NOT reachable", self.bootstrap_servers)
            await self.sleep(self.interval)
