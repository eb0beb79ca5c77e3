"""The OpenAPI 3.1 document of each service, generated from its operations.

Each views module declares its :class:`Operation` values next to the views
(the path, the models, the causes it can end with); the documented
responses come from :data:`web.problems.ANSWERS`, the same table the views
answer from, and the schemas from the pydantic models.
"""

import json
from collections import defaultdict
from collections.abc import Sequence
from dataclasses import dataclass
from typing import Any

import faust
from faust.web import Request, Response
from pydantic import BaseModel
from pydantic.json_schema import models_json_schema

from models.api import Problem
from web.http import ApiView
from web.problems import ANSWERS, Answer, Cause

REF = "#/components/schemas/{model}"


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
    #: Every field is a required query parameter.
    query: type[BaseModel] | None = None
    #: The header a 201 carries.
    location: bool = False


def _ref(model: type[BaseModel]) -> dict[str, str]:
    return {"$ref": REF.format(model=model.__name__)}


def _responses(operation: Operation) -> dict[str, Any]:
    answers = [ANSWERS[cause] for cause in operation.causes]
    if operation.success is not None:
        answers.insert(0, operation.success)
    meanings: dict[int, list[str]] = defaultdict(list)
    for answer in answers:
        if answer.meaning not in meanings[answer.status]:
            meanings[answer.status].append(answer.meaning)
    meanings[500].append("unexpected error; the errorId is in the service's log")
    responses: dict[str, Any] = {}
    for status, texts in sorted(meanings.items()):
        response: dict[str, Any] = {"description": "; ".join(texts)}
        if status >= 400:
            response["content"] = {"application/problem+json": {"schema": _ref(Problem)}}
        elif operation.response is not None:
            response["content"] = {"application/json": {"schema": _ref(operation.response)}}
        if status == 201 and operation.location:
            response["headers"] = {"Location": {"schema": {"type": "string"}}}
        responses[str(status)] = response
    return responses


def _parameters(query: type[BaseModel]) -> list[dict[str, Any]]:
    properties = query.model_json_schema()["properties"]
    return [
        {"name": name, "in": "query", "required": True, "schema": properties[name]}
        for name in query.model_fields
    ]


def _operation(operation: Operation) -> dict[str, Any]:
    document: dict[str, Any] = {
        "operationId": operation.operation_id,
        "summary": operation.summary,
        "responses": _responses(operation),
    }
    if operation.query is not None:
        document["parameters"] = _parameters(operation.query)
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
