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


class Refused(RegistryError):
    """The registry answered with a client error (4xx): asking again changes nothing."""


class NotFound(Refused):
    """The registry answered 404."""


class UnknownSchema(RegistryError):
    """The registry's final word on a schema id: none with that id (a 4xx answer), or
    not an Avro schema (JSON Schema, Protobuf) that fastavro can parse.

    Unlike an unreachable registry, this is final: no value written with that
    id can be read as Avro, and the id is not asked for again.
    """


class SchemaRegistryClient(Service):
    def __init__(self, url: str, *, timeout: float = 2.0, **kwargs: Any) -> None:
        self.url = url.rstrip("/")
        self.timeout = timeout
        self._session: aiohttp.ClientSession | None = None
        self._by_id: dict[int, dict[str, Any]] = {}
        self._parsed: dict[int, Any] = {}
        #: Ids of schemas that are not Avro, with why: a schema never changes.  (An
        #: id the registry does not know is asked again: it may be registered yet.)
        self._unusable: dict[int, str] = {}
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

    async def parsed_schema(self, schema_id: int) -> Any:
        """The Avro schema with that id, parsed for fastavro (parsing per record would be slow).

        Raises :class:`UnknownSchema` when the registry has none, or one that
        is not Avro; :class:`RegistryError` when it does not answer.
        """
        if schema_id in self._unusable:
            raise UnknownSchema(self._unusable[schema_id])
        if schema_id not in self._parsed:
            writer = await self._avro_schema(schema_id)
            try:
                self._parsed[schema_id] = parse_schema(writer)
            except Exception as exc:  # fastavro raises many types for what it cannot parse
                raise self._not_avro(schema_id, f"unparseable ({exc!r:.200})") from None
        return self._parsed[schema_id]

    async def _avro_schema(self, schema_id: int) -> Any:
        """The schema's JSON, if the registry holds an Avro schema with that id."""
        if schema_id in self._by_id:
            return self._by_id[schema_id]
        try:
            answer = await self._call("GET", f"/schemas/ids/{schema_id}")
        except Refused as exc:
            raise UnknownSchema(f"schema id {schema_id} is not in the registry ({exc})") from None
        # Confluent's API leaves schemaType out for Avro.
        schema_type = answer.get("schemaType", "AVRO") if isinstance(answer, dict) else "?"
        if schema_type != "AVRO":
            raise self._not_avro(schema_id, f"a {schema_type} schema")
        try:
            return json.loads(answer["schema"])
        except (KeyError, TypeError, ValueError, RecursionError):
            raise self._not_avro(schema_id, "not JSON") from None

    def _not_avro(self, schema_id: int, what: str) -> UnknownSchema:
        """Remembered: a schema never changes."""
        self._unusable[schema_id] = f"schema id {schema_id} is {what}, not an Avro schema"
        return UnknownSchema(self._unusable[schema_id])

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
                text = await response.text()
                status = response.status
        except (aiohttp.ClientError, TimeoutError, UnicodeDecodeError) as exc:
            raise RegistryError(f"{method} {path}: {exc!r}") from exc
        if status == 409:
            raise IncompatibleSchema(f"{path}: {text:.200}")
        if status == 404:
            raise NotFound(f"{path}: {text:.200}")
        if 400 <= status < 500:
            raise Refused(f"{method} {path}: {status} {text:.200}")
        if status >= 400:
            raise RegistryError(f"{method} {path}: {status} {text:.200}")
        try:
            return json.loads(text)
        except (ValueError, RecursionError) as exc:
            raise RegistryError(f"{method} {path}: the answer is not JSON ({exc})") from None
