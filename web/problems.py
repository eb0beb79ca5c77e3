"""The one error mapping of both services: every failure → RFC 9457 problem+json.

Views raise; this middleware answers.  Domain and infrastructure errors are
mapped by type in ``STATUS_OF``; aiohttp's own errors (unknown path, wrong
verb, body too large) keep their status and get a problem body; anything
else is a 500 whose error id is also in the log, next to the traceback.
"""

import logging
import uuid
from collections.abc import Awaitable, Callable, Mapping
from http import HTTPStatus
from typing import Any

from aiohttp import web
from faust.web.exceptions import WebError

from infra.command_gateway import NotAcknowledged
from infra.kafka_metadata import UnknownTopic
from infra.reachability import DependencyUnavailable
from infra.schema_registry import RegistryError
from models.codec import dumps

logger = logging.getLogger(__name__)

PROBLEM_TYPE = "application/problem+json"
RETRY_AFTER_SECONDS = "2"


class HttpProblem(Exception):
    """An error a view raises with its HTTP status."""

    def __init__(
        self,
        status: int,
        detail: str,
        *,
        errors: list[dict[str, Any]] | None = None,
        headers: Mapping[str, str] | None = None,
        error_id: str | None = None,
    ) -> None:
        super().__init__(detail)
        self.status = status
        self.detail = detail
        self.errors = errors
        self.headers = dict(headers or {})
        self.error_id = error_id


#: Exceptions raised below the views and the status each one means.
STATUS_OF: Mapping[type[Exception], int] = {
    UnknownTopic: 404,
    DependencyUnavailable: 503,
    RegistryError: 503,  # a writer's schema could not be fetched
    NotAcknowledged: 504,
}


def problem_response(problem: HttpProblem) -> web.Response:
    body: dict[str, Any] = {
        # RFC 9457 §4.2.1: "about:blank" = no more semantics than the status.
        "type": "about:blank",
        "title": HTTPStatus(problem.status).phrase,
        "status": problem.status,
        "detail": problem.detail,
    }
    if problem.errors is not None:
        body["errors"] = problem.errors
    if problem.error_id is not None:
        body["errorId"] = problem.error_id
    headers = dict(problem.headers)
    if problem.status in (503, 504):
        headers.setdefault("Retry-After", RETRY_AFTER_SECONDS)
    return web.Response(
        status=problem.status, body=dumps(body), content_type=PROBLEM_TYPE, headers=headers
    )


def _allowed_methods(request: web.Request) -> str:
    resource = request.match_info.route.resource
    methods = {route.method for route in resource} if resource else set()
    return ", ".join(sorted(methods - {"*"}))


Handler = Callable[[web.Request], Awaitable[web.StreamResponse]]


@web.middleware
async def problem_middleware(request: web.Request, handler: Handler) -> web.StreamResponse:
    try:
        return await handler(request)
    except Exception as exc:
        problem = _as_problem(request, exc)
    logger.log(
        logging.INFO if problem.status < 500 else logging.WARNING,
        "rejected method=%s path=%s status=%d orderId=%s: %s",
        request.method,
        request.path,
        problem.status,
        request.query.get("orderId", "-"),
        problem.detail,
    )
    return problem_response(problem)


def _as_problem(request: web.Request, exc: Exception) -> HttpProblem:
    if isinstance(exc, HttpProblem):
        return exc
    if isinstance(exc, web.HTTPException):
        if exc.status < 400:
            raise exc
        headers = {"Allow": exc.headers["Allow"]} if "Allow" in exc.headers else None
        detail = {
            404: f"there is nothing at {request.path}",
            405: f"{request.method} is not allowed on {request.path}",
        }.get(exc.status, exc.text or exc.reason)
        return HttpProblem(exc.status, detail, headers=headers)
    if isinstance(exc, WebError):
        # Faust's own: 503 while table routing has no owner for a key yet, and
        # 405 for HEAD, which Faust routes to every view's GET, GET or not.
        if exc.code == 405:
            detail = f"{request.method} is not allowed on {request.path}"
            return HttpProblem(405, detail, headers={"Allow": _allowed_methods(request)})
        return HttpProblem(exc.code, str(exc.detail))
    for kind, status in STATUS_OF.items():
        if isinstance(exc, kind):
            return HttpProblem(status, str(exc) or kind.__name__)
    error_id = uuid.uuid4().hex
    logger.error("%s %s failed, error id %s", request.method, request.path, error_id, exc_info=exc)
    return HttpProblem(
        500, "unexpected error; quote the error id when reporting it", error_id=error_id
    )
