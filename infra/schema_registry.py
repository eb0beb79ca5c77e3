"""A client of a Confluent-compatible schema registry (Confluent, Apicurio ccompat).

Only what the services use: register a subject's schema (setting its
compatibility only where none is set, so an operator's choice stands), fetch
a schema by id, and answer whether the registry is up.  Schemas never change
once registered, so lookups by id are cached forever.  Registering is
idempotent: the same schema gets its existing id, and two workers starting
at the same moment both succeed.
"""

import json
import logging
from typing import Any

import aiohttp
from fastavro import parse_schema
from mode import Service

logger = logging.getLogger(__name__)

CONTENT_TYPE = "application/vnd.schemaregistry.v1+json"


class RegistryError(Exception):
    """The registry answered with an error, or not at all."""


class IncompatibleSchema(RegistryError):
    """The registry refused a schema under its compatibility rule (HTTP 409)."""


class NotFound(RegistryError):
    """The registry answered 404."""


class UnknownSchema(NotFound):
    """The registry answered: there is no schema with that id (HTTP 404).

    Unlike an unreachable registry, this is final: the bytes name no schema.
    """


class SchemaRegistryClient(Service):
    def __init__(self, url: str, *, timeout: float = 2.0, **kwargs: Any) -> None:
        self.url = url.rstrip("/")
        self.timeout = timeout
        self._session: aiohttp.ClientSession | None = None
        self._by_id: dict[int, dict[str, Any]] = {}
        self._parsed: dict[int, Any] = {}
        super().__init__(**kwargs)

    async def on_start(self) -> None:
        self._session = aiohttp.ClientSession(
            timeout=aiohttp.ClientTimeout(total=self.timeout),
            headers={"Content-Type": CONTENT_TYPE, "Accept": CONTENT_TYPE},
        )

    async def on_stop(self) -> None:
        if self._session is not None:
            await self._session.close()

    async def register(self, subject: str, schema: dict[str, Any], compatibility: str) -> int:
        """Register ``schema`` under ``subject`` (idempotent) and return its id.

        ``compatibility`` is set only if the subject has no level of its own.
        """
        await self._default_compatibility(subject, compatibility)
        answer = await self._call(
            "POST",
            f"/subjects/{subject}/versions",
            {"schema": json.dumps(schema), "schemaType": "AVRO"},
        )
        schema_id = int(answer["id"])
        self._by_id[schema_id] = schema
        return schema_id

    async def _default_compatibility(self, subject: str, compatibility: str) -> None:
        try:
            await self._call("GET", f"/config/{subject}")
            return  # a level of its own (Apicurio reports NONE for none: the global rule)
        except NotFound:
            pass
        try:
            await self._call("PUT", f"/config/{subject}", {"compatibility": compatibility})
        except IncompatibleSchema:
            # Apicurio's 409 "rule already exists": another worker set it a moment ago.
            logger.debug("compatibility set concurrently", extra={"subject": subject})

    async def schema(self, schema_id: int) -> dict[str, Any]:
        if schema_id not in self._by_id:
            answer = await self._call("GET", f"/schemas/ids/{schema_id}")
            self._by_id[schema_id] = json.loads(answer["schema"])
        return self._by_id[schema_id]

    async def parsed_schema(self, schema_id: int) -> Any:
        """The schema, parsed for fastavro (parsing per record would be slow)."""
        if schema_id not in self._parsed:
            self._parsed[schema_id] = parse_schema(await self.schema(schema_id))
        return self._parsed[schema_id]

    def cached_parsed_schema(self, schema_id: int) -> Any | None:
        if schema_id not in self._parsed and schema_id in self._by_id:
            self._parsed[schema_id] = parse_schema(self._by_id[schema_id])
        return self._parsed.get(schema_id)

    async def probe(self) -> None:
        """Raise :class:`RegistryError` unless the registry answers."""
        await self._call("GET", "/subjects")

    async def _call(self, method: str, path: str, body: Any = None) -> Any:
        if self._session is None:
            raise RegistryError("the registry client is not started")
        try:
            async with self._session.request(method, self.url + path, json=body) as response:
                answer = await response.json(content_type=None)
                if response.status == 409:
                    raise IncompatibleSchema(f"{path}: {answer}")
                if response.status == 404:
                    kind = UnknownSchema if path.startswith("/schemas/ids/") else NotFound
                    raise kind(f"{path}: {answer}")
                if response.status >= 400:
                    raise RegistryError(f"{method} {path}: {response.status} {answer}")
                return answer
        except (aiohttp.ClientError, TimeoutError, ValueError) as exc:
            raise RegistryError(f"{method} {path}: {exc!r}") from exc
