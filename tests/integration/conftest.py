"""The real pipeline: a Kafka broker (KRaft) and both service processes.

Everything runs on free ports in a temporary folder and is stopped by the
fixtures.  The broker and the services live for the whole session (starting
them is what costs); tests use their own orderIds so they never collide.
"""

import asyncio
import contextlib
import uuid
from collections.abc import AsyncIterator, Iterator
from dataclasses import dataclass
from pathlib import Path

import aiohttp
import pytest

from app.launcher import ServiceProcess
from app.topics import create_topics
from local_kafka.broker import KafkaBroker
from local_kafka.probe import free_port
from local_kafka.registry import SchemaRegistry

PARTITIONS = 6


@dataclass
class Platform:
    broker: KafkaBroker
    registry: SchemaRegistry | None  # None: the services write JSON
    cart: ServiceProcess
    orders: ServiceProcess

    @property
    def bootstrap_servers(self) -> str:
        return self.broker.bootstrap_servers

    @property
    def registry_url(self) -> str | None:
        return self.registry.url if self.registry else None

    def restart(self, service: ServiceProcess) -> None:
        service.stop()
        service.start()
        service.wait_ready()


@contextlib.contextmanager
def running_platform(workdir: Path, value_format: str = "avro") -> Iterator[Platform]:
    """A broker with the topics, a registry (for Avro) and both services, all
    stopped on the way out."""
    broker = KafkaBroker(workdir / "kafka")
    registry = SchemaRegistry(workdir / "registry") if value_format == "avro" else None
    services = [
        ServiceProcess(
            name,
            bootstrap_servers=broker.bootstrap_servers,
            port=free_port(),
            data_dir=workdir / "state",
            log_path=workdir / f"{name}.log",
            schema_registry_url=registry.url if registry else None,
        )
        for name in ("cart", "orders")
    ]
    try:
        broker.start()
        if registry is not None:
            registry.start()
        asyncio.run(create_topics(broker.bootstrap_servers, PARTITIONS, replication_factor=1))
        for service in services:
            service.start()
        for service in services:
            service.wait_ready()
        yield Platform(broker, registry, *services)
    finally:
        for service in services:
            service.stop()
        if registry is not None:
            registry.stop()
        broker.stop()


@pytest.fixture(scope="session")
def platform(tmp_path_factory: pytest.TempPathFactory) -> Iterator[Platform]:
    """The shared platform (Avro, as `make run`): tests must leave it running and healthy."""
    with running_platform(tmp_path_factory.mktemp("platform")) as shared:
        yield shared


@pytest.fixture(scope="session")
async def http() -> AsyncIterator[aiohttp.ClientSession]:
    async with aiohttp.ClientSession(timeout=aiohttp.ClientTimeout(total=30)) as session:
        yield session


@pytest.fixture
def order_id(request: pytest.FixtureRequest) -> str:
    """A fresh orderId per test, readable in the logs."""
    return f"{request.node.name[:40]}-{uuid.uuid4().hex[:8]}".replace("[", "-").replace("]", "")
