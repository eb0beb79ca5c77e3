"""What every view needs of HTTP: the base view, validated input, modelled output."""

from collections.abc import Mapping
from typing import Any, TypeVar

from aiohttp import web
from faust.web import Request, Response, View
from faust.web.exceptions import WebError
from pydantic import BaseModel, ValidationError

from models.codec import dumps, loads_strict
from web.problems import InvalidInput, UnsupportedBody

#: Request bodies above this size are refused with 413 (aiohttp enforces it).
MAX_BODY_BYTES = 1024 * 1024

M = TypeVar("M", bound=BaseModel)


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
