"""What every view needs of HTTP: the base view, validated input, modelled output."""

import asyncio
import re
from collections.abc import Awaitable, Mapping
from dataclasses import dataclass
from typing import Any, TypeVar

from aiohttp import web
from faust.web import Request, Response, View
from faust.web.exceptions import WebError
from pydantic import BaseModel, ValidationError

from models.codec import dumps, loads_strict
from models.rules import MAX_VERSION
from web.problems import InvalidInput, UnsupportedBody
from web.topic_scan import ClientGone

#: Request bodies above this size are refused with 413 (aiohttp enforces it).
MAX_BODY_BYTES = 1024 * 1024
#: How often a request that waits looks whether its client is still there.
CLIENT_CHECK_SECONDS = 1.0

M = TypeVar("M", bound=BaseModel)
T = TypeVar("T")


class ApiView(View):
    """A Faust view whose errors all go to the one mapping, ``problem_middleware``."""

    def get_methods(self) -> set[str]:
        # Faust routes HEAD to every view and answers it with GET; a view
        # without GET must not offer HEAD (nor list it in Allow).
        methods = super().get_methods()
        return methods if "GET" in methods else methods - {"HEAD"}

    async def on_request_error(self, request: Request, exc: WebError) -> Response:
        raise exc


def field_errors(error: ValidationError) -> list[dict[str, Any]]:
    return [
        {"field": ".".join(str(part) for part in item["loc"]) or "(body)", "message": item["msg"]}
        for item in error.errors(include_url=False, include_context=False, include_input=False)
    ]


def validated(model: type[M], data: Any) -> M:
    try:
        return model.model_validate(data)
    except ValidationError as exc:
        raise InvalidInput("the request is not valid", field_errors(exc)) from None


async def read_json(request: web.Request, model: type[M]) -> M:
    """Parse and validate a JSON body: 415, 413 or 400 on the way."""
    if request.content_type != "application/json":
        raise UnsupportedBody("send the body as application/json")
    body = await request.read()  # 413 past client_max_size
    try:
        data = loads_strict(body)
    except (ValueError, RecursionError) as exc:
        raise InvalidInput(f"malformed JSON: {str(exc)[:120]}") from None
    if not isinstance(data, dict):
        raise InvalidInput("the body must be a JSON object")
    return validated(model, data)


def read_query(request: web.Request, model: type[M]) -> M:
    """The query parameters as ``model``: each of its fields given exactly once."""
    repeated = [name for name in model.model_fields if len(request.query.getall(name, [])) > 1]
    if repeated:
        raise InvalidInput(
            "give each query parameter once",
            [{"field": name, "message": "given more than once"} for name in repeated],
        )
    return validated(model, dict(request.query))


def json_response(
    payload: BaseModel | Mapping[str, Any],
    *,
    status: int = 200,
    headers: dict[str, str] | None = None,
) -> web.Response:
    """The response body is the response model (or the data it describes), written by the
    platform's JSON codec."""
    return web.Response(
        status=status,
        body=dumps(payload.model_dump() if isinstance(payload, BaseModel) else payload),
        content_type="application/json",
        headers=headers,
    )


def etag(version: int) -> str:
    """An order's entity tag: its version, quoted (a strong validator: one version, one body)."""
    return f'"{version}"'


#: One entity tag of a list: optionally weak, then an opaque quoted string (RFC 9110 §8.8.3).
ENTITY_TAG = re.compile(r'\s*(W/)?"([\x21\x23-\x7e]*)"\s*')


@dataclass(frozen=True)
class VersionCondition:
    """What an If-Match or If-None-Match names: any version (``*``), or these."""

    any_version: bool
    versions: frozenset[int]

    def holds_for(self, version: int) -> bool:
        return self.any_version or version in self.versions


def version_condition(request: web.Request, header: str) -> VersionCondition | None:
    """The versions ``header`` names; None without it.

    If-Match compares strongly (a weak tag never matches), If-None-Match
    weakly; a tag that is no version of ours never matches.  Malformed is a 400.
    """
    value = request.headers.get(header)
    if value is None:
        return None
    if value.strip() == "*":
        return VersionCondition(any_version=True, versions=frozenset())
    versions = set()
    for item in value.split(","):
        tag = ENTITY_TAG.fullmatch(item)
        if tag is None:
            raise InvalidInput(
                f'{header} must be * or entity tags as the ETag header gives them, quoted: "3"',
                [{"field": header, "message": "not a list of entity tags"}],
            )
        weak, opaque = tag.groups()
        if weak and header == "If-Match":
            continue
        if opaque.isdigit() and 1 <= int(opaque) <= MAX_VERSION:
            versions.add(int(opaque))
    return VersionCondition(any_version=False, versions=frozenset(versions))


def client_gone(request: web.Request) -> bool:
    """The client closed its connection (aiohttp does not cancel the handler then)."""
    transport = request.transport
    return transport is None or transport.is_closing()


async def while_client_waits(request: web.Request, work: Awaitable[T]) -> T:
    """What ``work`` gives; cancelled, and :class:`ClientGone` raised, once the client has
    closed its connection, so that nothing is held for a request nobody waits for."""
    task = asyncio.ensure_future(work)
    try:
        while True:
            done, _ = await asyncio.wait([task], timeout=CLIENT_CHECK_SECONDS)
            if done:
                return task.result()
            if client_gone(request):
                raise ClientGone(f"the client of {request.method} {request.path} went away")
    finally:
        task.cancel()
