"""The real pipeline: a Kafka broker (KRaft) and both service processes.

Everything runs on free ports in a temporary folder and is stopped by the
fixtures.  The broker and the services live for the whole session (starting
them is what costs); tests use their own orderIds so they never collide.
"""

import asyncio
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

PARTITIONS = 6


@dataclass
class Platform:
    broker: KafkaBroker
    cart: ServiceProcess
    orders: ServiceProcess

    @property
    def bootstrap_servers(self) -> str:
        return self.broker.bootstrap_servers

    def restart(self, service: ServiceProcess) -> None:
        service.stop()
        service.start()
        service.wait_ready()


@pytest.fixture(scope="session")
def kafka(tmp_path_factory: pytest.TempPathFactory) -> Iterator[KafkaBroker]:
    broker = KafkaBroker(tmp_path_factory.mktemp("kafka"))
    broker.start()
    try:
        asyncio.run(create_topics(broker.bootstrap_servers, PARTITIONS, replication_factor=1))
        yield broker
    finally:
        broker.stop()


@pytest.fixture(scope="session")
def platform(kafka: KafkaBroker, tmp_path_factory: pytest.TempPathFactory) -> Iterator[Platform]:
    workdir: Path = tmp_path_factory.mktemp("services")
    # A short deadline keeps the timeout tests quick; still ample on loopback.
    extra = {"CART_REQUEST_TIMEOUT": "5", "ORDERS_REQUEST_TIMEOUT": "5"}
    cart, orders = (
        ServiceProcess(
            name,
            bootstrap_servers=kafka.bootstrap_servers,
            port=free_port(),
            data_dir=workdir / "state",
            log_path=workdir / f"{name}.log",
            extra_env=extra,
        )
        for name in ("cart", "orders")
    )
    try:
        for service in (cart, orders):
            service.start()
        for service in (cart, orders):
            service.wait_ready()
        yield Platform(kafka, cart, orders)
    finally:
        for service in (cart, orders):
            service.stop()


@pytest.fixture(scope="session")
async def http() -> AsyncIterator[aiohttp.ClientSession]:
    async with aiohttp.ClientSession(timeout=aiohttp.ClientTimeout(total=30)) as session:
        yield session


@pytest.fixture
def order_id(request: pytest.FixtureRequest) -> str:
    """A fresh orderId per test, readable in the logs."""
    return f"{request.node.name[:40]}-{uuid.uuid4().hex[:8]}".replace("[", "-").replace("]", "")
