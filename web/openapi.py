"""The OpenAPI 3.1 document of each service, generated from its operations.

Each views module declares its :class:`Operation` values next to the views
(the path, the models, the causes it can end with); the documented
responses come from :data:`web.problems.ANSWERS`, the same table the views
answer from, and the schemas from the pydantic models.
"""

import json
from collections import defaultdict
from collections.abc import Mapping, Sequence
from dataclasses import dataclass, field
from typing import Any

import faust
from faust.web import Request, Response
from pydantic import BaseModel
from pydantic.json_schema import models_json_schema

from models.api import Problem
from models.commands import UNDECIDED, Outcome
from web.http import ApiView
from web.problems import ANSWERS, Answer, Cause

REF = "#/components/schemas/{model}"
#: The one error that is not problem+json: the HTTP server's parser answers it.
UNPARSABLE = "a request HTTP cannot parse (a request line or header over 8 KiB): text/plain"
#: What each response header the services send means.
RESPONSE_HEADERS = {
    "ETag": 'the order\'s version, quoted ("3"): send it back in If-Match or If-None-Match',
    "Location": "where the new order can be read",
    "Idempotent-Replayed": "true when this is the answer given before to the Idempotency-Key",
    "Retry-After": "seconds to wait before trying again",
}


@dataclass(frozen=True)
class Operation:
    operation_id: str
    method: str
    path: str
    summary: str
    #: The body of a successful answer.
    response: type[BaseModel] | None = None
    #: The outcomes and errors it can end with (their statuses: ``ANSWERS``).
    causes: tuple[Cause, ...] = ()
    #: A success no outcome decides (reads).
    success: Answer | None = None
    body: type[BaseModel] | None = None
    #: Its fields are the query parameters (required unless they have a default).
    query: type[BaseModel] | None = None
    #: The header a 201 carries.
    location: bool = False
    #: Request headers it reads, with what each does.
    headers: Mapping[str, str] = field(default_factory=dict)
    #: Its successes carry the order's ETag.
    etag: bool = False
    #: A 304 for a matching If-None-Match.
    not_modified: bool = False
    #: Its successes may be the replay of an earlier answer (Idempotent-Replayed).
    replays: bool = False


def _ref(model: type[BaseModel]) -> dict[str, str]:
    return {"$ref": REF.format(model=model.__name__)}


def _headers(*names: str) -> dict[str, Any]:
    return {
        name: {"description": RESPONSE_HEADERS[name], "schema": {"type": "string"}}
        for name in names
    }


def _responses(operation: Operation) -> dict[str, Any]:
    answers = [ANSWERS[cause] for cause in operation.causes]
    if operation.success is not None:
        answers.insert(0, operation.success)
    if operation.not_modified:
        answers.append(Answer(304, "the order is still at the version If-None-Match named"))
    meanings: dict[int, list[str]] = defaultdict(list)
    for answer in answers:
        if answer.meaning not in meanings[answer.status]:
            meanings[answer.status].append(answer.meaning)
    # aiohttp's parser refuses these before any view, in its own words.
    meanings[400].append(UNPARSABLE)
    meanings[500].append("unexpected error; the errorId is in the service's log")
    # Every answer the rule decided is kept under the request's Idempotency-Key.
    replayable = {
        ANSWERS[cause].status
        for cause in operation.causes
        if isinstance(cause, Outcome) and cause not in UNDECIDED
    }
    responses: dict[str, Any] = {}
    for status, texts in sorted(meanings.items()):
        response: dict[str, Any] = {"description": "; ".join(texts)}
        headers: list[str] = []
        if status >= 400:
            response["content"] = {"application/problem+json": {"schema": _ref(Problem)}}
            if status == 400:
                response["content"]["text/plain"] = {"schema": {"type": "string"}}
            headers += ["Retry-After"] if status in (429, 503, 504) else []
        elif operation.response is not None and status != 304:
            response["content"] = {"application/json": {"schema": _ref(operation.response)}}
        if status < 400 and operation.etag:
            headers.append("ETag")
        if status == 201 and operation.location:
            headers.append("Location")
        if operation.replays and status in replayable:
            headers.append("Idempotent-Replayed")
        if headers:
            response["headers"] = _headers(*headers)
        responses[str(status)] = response
    return responses


def _parameters(operation: Operation) -> list[dict[str, Any]]:
    parameters = []
    if operation.query is not None:
        properties = operation.query.model_json_schema()["properties"]
        parameters += [
            {
                "name": name,
                "in": "query",
                "required": info.is_required(),
                "schema": properties[name],
                **({"description": info.description} if info.description else {}),
            }
            for name, info in operation.query.model_fields.items()
        ]
    parameters += [
        {"name": name, "in": "header", "required": False, "description": description}
        | {"schema": {"type": "string"}}
        for name, description in operation.headers.items()
    ]
    return parameters


def _operation(operation: Operation) -> dict[str, Any]:
    document: dict[str, Any] = {
        "operationId": operation.operation_id,
        "summary": operation.summary,
        "responses": _responses(operation),
    }
    parameters = _parameters(operation)
    if parameters:
        document["parameters"] = parameters
    if operation.body is not None:
        document["requestBody"] = {
            "required": True,
            "content": {"application/json": {"schema": _ref(operation.body)}},
        }
    return document


def openapi_document(title: str, operations: Sequence[Operation]) -> dict[str, Any]:
    paths: dict[str, dict[str, Any]] = defaultdict(dict)
    models: list[type[BaseModel]] = [Problem]
    for operation in operations:
        paths[operation.path][operation.method] = _operation(operation)
        for model in (operation.body, operation.response):
            if model is not None and model not in models:
                models.append(model)
    _, schemas = models_json_schema([(m, "validation") for m in models], ref_template=REF)
    return {
        "openapi": "3.1.0",
        "info": {"title": title, "version": "1.0.0"},
        "paths": dict(paths),
        "components": {"schemas": schemas["$defs"]},
    }


def register_openapi_view(app: faust.App, document: dict[str, Any]) -> None:
    body = json.dumps(document).encode()

    @app.page("/openapi.json")
    class OpenApiView(ApiView):
        async def get(self, request: Request) -> Response:
            return self.bytes(body, content_type="application/json")
