"""The one table of how a request can end, and the one error mapping.

``ANSWERS`` says, for every outcome of a command and every error a view or
the layers below it raise, the HTTP status and what it means.  The views'
responses take their status from it, and the OpenAPI documents
(:mod:`web.openapi`) take their documented responses from it.

Views raise; :func:`problem_middleware` answers every failure with RFC 9457
problem+json: errors by type from ``ANSWERS``, aiohttp's own (unknown path,
wrong verb, body too large) with their status, anything else as a 500 whose
error id is also in the log, next to the traceback.
"""

import logging
import uuid
from collections.abc import Awaitable, Callable, Mapping
from dataclasses import dataclass
from http import HTTPStatus
from typing import Any

from aiohttp import web
from faust.web.exceptions import WebError

from agents.command_gateway import NoReplyInTime
from infra.kafka_metadata import UnknownTopic
from infra.reachability import DependencyUnavailable
from infra.schema_registry import RegistryError
from models.api import Problem
from models.codec import dumps
from models.commands import Outcome
from web.owner_routing import OwnerUnavailable
from web.topic_scan import ClientGone, NotScannable, ScanTimeout, TooManyScans

logger = logging.getLogger(__name__)

PROBLEM_TYPE = "application/problem+json"
RETRY_AFTER_SECONDS = "2"


class HttpProblem(Exception):
    """An error with its HTTP status, as the middleware answers it."""

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


class InvalidInput(Exception):
    """The body or a query parameter breaks the request model."""

    def __init__(self, detail: str, errors: list[dict[str, Any]] | None = None) -> None:
        super().__init__(detail)
        self.errors = errors


class UnsupportedBody(Exception):
    """The body is not ``application/json``."""


class UnknownOrder(LookupError):
    """No order with that id (yet: the order service is eventually consistent)."""


class NotReady(Exception):
    """The tables are still being recovered."""


class VersionNotReached(TimeoutError):
    """A read's minVersion was not held within its waitMs."""


class Rejected(Exception):
    """The cart agent decided against the command."""

    def __init__(
        self, outcome: Outcome, detail: str, headers: Mapping[str, str] | None = None
    ) -> None:
        super().__init__(detail)
        self.outcome = outcome
        self.headers = dict(headers or {})


@dataclass(frozen=True)
class Answer:
    status: int
    meaning: str


Cause = Outcome | type[Exception]

#: Every way a request can end: its status and what it means to the client.
ANSWERS: Mapping[Cause, Answer] = {
    Outcome.CREATED: Answer(201, "the order is created and its event is durable"),
    Outcome.UPDATED: Answer(200, "the order with its new status; the event is durable"),
    Outcome.UNCHANGED: Answer(200, "the order already had that status; nothing was published"),
    Outcome.ALREADY_EXISTS: Answer(409, "an order with this orderId exists"),
    Outcome.NOT_FOUND: Answer(404, "there is no order with this orderId"),
    Outcome.ILLEGAL_TRANSITION: Answer(
        409, "the status cannot move there (backwards, or out of a final status)"
    ),
    Outcome.UNREADABLE: Answer(
        503, "the worker that owns the order cannot read the command; nothing was done"
    ),
    Outcome.OWNERSHIP_UNCONFIRMED: Answer(
        503, "the worker cannot confirm it still owns the order's partition; nothing was done"
    ),
    Outcome.VERSION_MISMATCH: Answer(
        412, "If-Match named another version than the order's; nothing was changed"
    ),
    Outcome.KEY_REUSED: Answer(
        422, "this Idempotency-Key was used for another request to this order; nothing was done"
    ),
    InvalidInput: Answer(400, "malformed JSON or invalid fields; `errors` names each field"),
    UnsupportedBody: Answer(415, "the body is not application/json"),
    # aiohttp refuses such a body while reading it.
    web.HTTPRequestEntityTooLarge: Answer(413, "the body is larger than 1 MiB"),
    UnknownOrder: Answer(404, "the order is not known (yet)"),
    UnknownTopic: Answer(404, "there is no topic of that name"),
    NotScannable: Answer(404, "no scannable topic has that name (internal topics never are)"),
    TooManyScans: Answer(429, "as many scans as allowed run already; retry after Retry-After"),
    NotReady: Answer(503, "the tables are being recovered; retry after Retry-After"),
    OwnerUnavailable: Answer(
        503, "the worker that owns the order did not answer in time; retry after Retry-After"
    ),
    DependencyUnavailable: Answer(
        503,
        "Kafka or the schema registry is unreachable; nothing was done",
    ),
    # A writer's schema that could not be fetched.
    RegistryError: Answer(503, "the schema registry did not answer; retry after Retry-After"),
    NoReplyInTime: Answer(
        504, "no acknowledgement within the deadline: the change may or may not have happened"
    ),
    ScanTimeout: Answer(504, "the scan did not finish within its deadline"),
    VersionNotReached: Answer(
        504, "the order did not reach minVersion within waitMs; retry after Retry-After"
    ),
}


def answer_for(cause: Cause) -> Answer:
    return ANSWERS[cause]


def problem_response(problem: HttpProblem) -> web.Response:
    body = Problem(
        # RFC 9457 §4.2.1: "about:blank" = no more semantics than the status.
        type="about:blank",
        title=HTTPStatus(problem.status).phrase,
        status=problem.status,
        detail=problem.detail,
        errors=problem.errors,
        errorId=problem.error_id,
    )
    headers = dict(problem.headers)
    if problem.status in (429, 503, 504):
        headers.setdefault("Retry-After", RETRY_AFTER_SECONDS)
    return web.Response(
        status=problem.status,
        body=dumps(body.model_dump(exclude_none=True)),
        content_type=PROBLEM_TYPE,
        headers=headers,
    )


def _allowed_methods(request: web.Request) -> str:
    resource = request.match_info.route.resource
    methods = {route.method for route in resource} if resource else set()
    return ", ".join(sorted(methods - {"*"}))


#: nginx's status for a request whose client closed the connection first: logged
#: and counted, never received.
CLIENT_CLOSED_REQUEST = 499

Handler = Callable[[web.Request], Awaitable[web.StreamResponse]]


@web.middleware
async def problem_middleware(request: web.Request, handler: Handler) -> web.StreamResponse:
    try:
        return await handler(request)
    except ClientGone as exc:
        # Answered here, outside Faust's view dispatch: its monitor takes every status
        # for an http.HTTPStatus, and 499 is none (it logged a 500 instead).
        logger.info(
            "client went away",
            extra={**_request_fields(request, CLIENT_CLOSED_REQUEST), "reason": str(exc)},
        )
        return web.Response(status=CLIENT_CLOSED_REQUEST)
    except Exception as exc:
        problem = _as_problem(request, exc)
        # A 503 from /ready is an answer (pollers ask it every moment), not a failure.
        quiet = problem.status < 500 or isinstance(exc, NotReady)
    logger.log(
        logging.INFO if quiet else logging.WARNING,
        "request rejected",
        extra={**_request_fields(request, problem.status), "reason": problem.detail},
    )
    return problem_response(problem)


def _request_fields(request: web.Request, status: int) -> dict[str, str | int]:
    """What a log line of an answered request names: the request, its status, and the
    order or topic the query names."""
    fields: dict[str, str | int] = {
        "method": request.method,
        "route": request.path,
        "status": status,
    }
    for name, field in (("orderId", "orderId"), ("topicName", "topic")):
        if name in request.query:
            fields[field] = request.query[name]
    return fields


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
    if isinstance(exc, Rejected):
        return HttpProblem(answer_for(exc.outcome).status, str(exc), headers=exc.headers)
    for cause, answer in ANSWERS.items():
        if isinstance(cause, type) and isinstance(exc, cause):
            errors = exc.errors if isinstance(exc, InvalidInput) else None
            return HttpProblem(answer.status, str(exc) or cause.__name__, errors=errors)
    error_id = uuid.uuid4().hex
    logger.error(
        "request failed",
        extra={"method": request.method, "route": request.path, "errorId": error_id},
        exc_info=exc,
    )
    return HttpProblem(
        500, "unexpected error; quote the error id when reporting it", error_id=error_id
    )
