"""Integration tests: a real Apicurio Registry from local_kafka, driven over the
Confluent-compatible API with plain aiohttp, as a Confluent client would.

They need Java 17+ and Maven (the first run downloads Apicurio, ~110 MB).
"""

from __future__ import annotations

import asyncio
import json
import socket
import time
from collections.abc import AsyncIterator, Iterator
from pathlib import Path
from typing import Any

import aiohttp
import pytest

from local_kafka import RegistryProcessError, SchemaRegistry

pytestmark = pytest.mark.integration

SUBJECT = "t-value"
# What Confluent's serializers send and accept.
CONFLUENT_JSON = "application/vnd.schemaregistry.v1+json"


def order_schema(*extra_fields: dict[str, Any], order_id_type: str = "string") -> str:
    fields = [
        {"name": "orderId", "type": order_id_type},
        {"name": "totalAmount", "type": "double"},
        *extra_fields,
    ]
    return json.dumps({"type": "record", "name": "Order", "namespace": "orders", "fields": fields})


V1 = order_schema()
# Backward compatible: a new reader fills the optional field with its default.
WITH_NOTE = order_schema({"name": "note", "type": ["null", "string"], "default": None})
# Incompatible: a new reader cannot read an old string orderId as an int.
ID_AS_INT = order_schema(order_id_type="int")
# Incompatible: old records have no currency and the reader has no default for it.
WITH_REQUIRED_CURRENCY = order_schema({"name": "currency", "type": "string"})


class Ccompat:
    """The few calls of the Confluent Schema Registry API the tests make."""

    def __init__(self, session: aiohttp.ClientSession, url: str) -> None:
        self.session = session
        self.url = url

    async def call(self, method: str, path: str, body: object = None) -> tuple[int, Any]:
        data = None if body is None else json.dumps(body)
        headers = {"Content-Type": CONFLUENT_JSON, "Accept": CONFLUENT_JSON}
        async with self.session.request(
            method, f"{self.url}{path}", data=data, headers=headers
        ) as response:
            return response.status, await response.json(content_type=None)

    async def register(self, subject: str, schema: str, **extra: str) -> tuple[int, Any]:
        return await self.call("POST", f"/subjects/{subject}/versions", {"schema": schema, **extra})

    async def registered_id(self, subject: str, schema: str) -> int:
        status, body = await self.register(subject, schema)
        assert status == 200, body
        return int(body["id"])


@pytest.fixture
def registry(tmp_path: Path) -> Iterator[SchemaRegistry]:
    with SchemaRegistry(tmp_path / "registry") as schema_registry:
        yield schema_registry


@pytest.fixture
async def http() -> AsyncIterator[aiohttp.ClientSession]:
    async with aiohttp.ClientSession(timeout=aiohttp.ClientTimeout(total=10)) as session:
        yield session


async def test_avro_evolution_is_checked_against_the_global_backward_rule(
    registry: SchemaRegistry, http: aiohttp.ClientSession
) -> None:
    api = Ccompat(http, registry.url)

    # No schemaType: Confluent's default, AVRO, applies.
    first_id = await api.registered_id(SUBJECT, V1)
    status, stored = await api.call("GET", f"/schemas/ids/{first_id}")
    assert status == 200
    assert json.loads(stored["schema"]) == json.loads(V1)
    assert stored["schemaType"] == "AVRO"
    # The same schema again (schemaType given this time) keeps its id.
    assert await api.register(SUBJECT, V1, schemaType="AVRO") == (200, {"id": first_id})

    second_id = await api.registered_id(SUBJECT, WITH_NOTE)
    assert second_id != first_id

    for incompatible in (ID_AS_INT, WITH_REQUIRED_CURRENCY):
        status, error = await api.register(SUBJECT, incompatible, schemaType="AVRO")
        assert (status, error["error_code"]) == (409, 409), error
    assert await api.call("GET", f"/subjects/{SUBJECT}/versions") == (200, [1, 2])


async def test_compatibility_set_through_ccompat_is_reported_and_enforced(
    registry: SchemaRegistry, http: aiohttp.ClientSession
) -> None:
    api = Ccompat(http, registry.url)
    # The BACKWARD rule given at start-up is a default, not a stored setting.
    assert await api.call("GET", "/config") == (200, {"compatibilityLevel": "NONE"})
    await api.registered_id(SUBJECT, V1)

    # A subject's level overrides the global rule: old readers skip the new field, so
    # FORWARD accepts the required currency that BACKWARD rejects.
    forward = {"compatibilityLevel": "FORWARD"}
    assert await api.call("PUT", f"/config/{SUBJECT}", {"compatibility": "FORWARD"}) == (
        200,
        forward,
    )
    assert await api.call("GET", f"/config/{SUBJECT}") == (200, forward)
    await api.registered_id(SUBJECT, WITH_REQUIRED_CURRENCY)

    backward = {"compatibilityLevel": "BACKWARD"}
    assert await api.call("PUT", f"/config/{SUBJECT}", {"compatibility": "BACKWARD"}) == (
        200,
        backward,
    )
    assert await api.call("GET", f"/config/{SUBJECT}") == (200, backward)
    assert (await api.register(SUBJECT, ID_AS_INT))[0] == 409

    # NONE deletes the subject's rule instead of storing NONE: the global rule applies.
    none = {"compatibilityLevel": "NONE"}
    assert await api.call("PUT", f"/config/{SUBJECT}", {"compatibility": "NONE"}) == (200, none)
    assert (await api.register(SUBJECT, ID_AS_INT))[0] == 409

    full = {"compatibilityLevel": "FULL"}
    assert await api.call("PUT", "/config", {"compatibility": "FULL"}) == (200, full)
    assert await api.call("GET", "/config") == (200, full)


async def test_in_memory_registry_forgets_schemas_on_restart(
    registry: SchemaRegistry, http: aiohttp.ClientSession
) -> None:
    api = Ccompat(http, registry.url)
    await api.registered_id(SUBJECT, V1)
    url = registry.url

    await asyncio.to_thread(registry.restart)

    assert registry.url == url
    assert await api.call("GET", "/subjects") == (200, [])


async def test_persistent_registry_keeps_schemas_across_restart_and_kill(
    tmp_path: Path, http: aiohttp.ClientSession
) -> None:
    with SchemaRegistry(tmp_path / "registry", persistent=True) as registry:
        api = Ccompat(http, registry.url)
        first_id = await api.registered_id(SUBJECT, V1)

        await asyncio.to_thread(registry.restart)
        assert await api.call("GET", "/subjects") == (200, [SUBJECT])
        second_id = await api.registered_id(SUBJECT, WITH_NOTE)
        # Killed right after answering: the id it returned must still resolve.
        registry.kill()
        await asyncio.to_thread(registry.start)

        for schema_id, schema in ((first_id, V1), (second_id, WITH_NOTE)):
            status, stored = await api.call("GET", f"/schemas/ids/{schema_id}")
            assert status == 200
            assert json.loads(stored["schema"]) == json.loads(schema)
        # The compatibility rule still applies after the restarts.
        status, _ = await api.register(SUBJECT, ID_AS_INT)
        assert status == 409


async def test_paused_registry_does_not_answer_until_resumed(
    registry: SchemaRegistry, http: aiohttp.ClientSession
) -> None:
    registry.pause()
    try:
        with pytest.raises(TimeoutError):
            async with http.get(
                f"{registry.url}/subjects", timeout=aiohttp.ClientTimeout(total=1)
            ) as response:
                await response.read()
    finally:
        registry.resume()
    async with http.get(f"{registry.url}/subjects") as response:
        assert response.status == 200


def test_stop_works_while_paused_is_idempotent_and_frees_the_port(
    registry: SchemaRegistry,
) -> None:
    registry.pause()
    started = time.monotonic()
    registry.stop(timeout=20)
    registry.stop()

    # Stopped by SIGTERM, not by the SIGKILL that follows the timeout.
    assert time.monotonic() - started < 20
    assert not registry.is_running
    with socket.create_server(("127.0.0.1", registry.port)):
        pass


def test_start_refuses_a_taken_port(tmp_path: Path) -> None:
    with socket.create_server(("127.0.0.1", 0)) as taken:
        registry = SchemaRegistry(tmp_path / "registry", port=taken.getsockname()[1])
        with pytest.raises(RegistryProcessError, match="is taken"):
            registry.start()
    assert not registry.is_running


def test_start_failure_quotes_the_registry_log(tmp_path: Path) -> None:
    # H2 locks its file: a second registry on the same data exits at start-up.
    with SchemaRegistry(tmp_path / "registry", persistent=True):
        second = SchemaRegistry(tmp_path / "registry", persistent=True)
        with pytest.raises(
            RegistryProcessError, match=r"exited with code [1-9](.|\n)*registry\.log(.|\n)*in use"
        ):
            second.start()
        assert not second.is_running
