"""The real pipeline: a Kafka broker (KRaft) and both service processes.

Everything runs on free ports in a temporary folder and is stopped by the
fixtures.  The broker and the services live for the whole session (starting
them is what costs); tests use their own orderIds so they never collide.
"""

import uuid
from collections.abc import AsyncIterator, Iterator

import aiohttp
import pytest

from infra.topics import ORDER_TOPICS
from local_kafka.stack import LocalStack

#: Topics the tests write at will, which the JSON platform's order service may scan.
SCAN_TEST_TOPICS = ("scan-load", "scan-odd")


@pytest.fixture(scope="session")
def platform(tmp_path_factory: pytest.TempPathFactory) -> Iterator[LocalStack]:
    """The shared platform (Avro, as `make run`): tests must leave it running and healthy."""
    with LocalStack(tmp_path_factory.mktemp("platform")) as shared:
        yield shared


@pytest.fixture(scope="session")
def json_platform(tmp_path_factory: pytest.TempPathFactory) -> Iterator[LocalStack]:
    """The platform with JSON values and no registry; its order service may also scan the
    topics the tests fill (``SCAN_TEST_TOPICS``)."""
    scannable = ",".join((*ORDER_TOPICS, *SCAN_TEST_TOPICS))
    with LocalStack(
        tmp_path_factory.mktemp("json"),
        value_format="json",
        service_env={"ORDERS_SCANNABLE_TOPICS": scannable},
    ) as shared:
        yield shared


@pytest.fixture(scope="session")
async def http() -> AsyncIterator[aiohttp.ClientSession]:
    async with aiohttp.ClientSession(timeout=aiohttp.ClientTimeout(total=30)) as session:
        yield session


@pytest.fixture
def order_id(request: pytest.FixtureRequest) -> str:
    """A fresh orderId per test, readable in the logs."""
    return f"{request.node.name[:40]}-{uuid.uuid4().hex[:8]}".replace("[", "-").replace("]", "")
