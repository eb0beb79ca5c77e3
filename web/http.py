"""What every view needs of HTTP: the base view, JSON in with limits, JSON out."""

from typing import Any, TypeVar

from aiohttp import web
from faust.web import Request, Response, View
from faust.web.exceptions import WebError
from pydantic import BaseModel, ValidationError

from models.codec import dumps, loads
from web.problems import HttpProblem

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
        raise HttpProblem(400, "the request is not valid", errors=field_errors(exc)) from None


async def read_json(request: web.Request, model: type[M]) -> M:
    """Parse and validate a JSON body: 415, 413 or 400 on the way."""
    if request.content_type != "application/json":
        raise HttpProblem(415, "send the body as application/json")
    body = await request.read()  # 413 past client_max_size
    try:
        data = loads(body)
    except (ValueError, RecursionError) as exc:
        raise HttpProblem(400, f"malformed JSON: {str(exc)[:120]}") from None
    if not isinstance(data, dict):
        raise HttpProblem(400, "the body must be a JSON object")
    return validated(model, data)


def query_param(request: web.Request, name: str) -> str:
    values = request.query.getall(name, [])
    if len(values) != 1:
        raise HttpProblem(
            400,
            f"give exactly one query parameter {name!r}",
            errors=[{"field": name, "message": "required, exactly once"}],
        )
    return values[0]


def json_response(
    payload: Any, *, status: int = 200, headers: dict[str, str] | None = None
) -> web.Response:
    return web.Response(
        status=status, body=dumps(payload), content_type="application/json", headers=headers
    )
