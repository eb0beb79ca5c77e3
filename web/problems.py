"""The one error mapping of both services: every failure → RFC 9457 problem+json.

Views raise; this middleware answers.  Domain and infrastructure errors are
mapped by type in ``STATUS_OF``; aiohttp's own errors (unknown path, wrong
verb, body too large) keep their status and get a problem body; anything
else is a 500 whose error id is also in the log, next to the traceback.
"""

import logging
import uuid
from collections.abc import Awaitable, Callable, Mapping
from typing import Any

from aiohttp import web
from faust.web.exceptions import WebError

from app.broker_monitor import BrokerUnavailable
from app.command_gateway import NotAcknowledged
from app.kafka_metadata import UnknownTopic
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
    ) -> None:
        super().__init__(detail)
        self.status = status
        self.detail = detail
        self.errors = errors
        self.headers = dict(headers or {})


#: Exceptions raised below the views and the status each one means.
STATUS_OF: Mapping[type[Exception], int] = {
    UnknownTopic: 404,
    BrokerUnavailable: 503,
    NotAcknowledged: 504,
}


def problem_response(
    status: int,
    detail: str,
    *,
    errors: list[dict[str, Any]] | None = None,
    headers: Mapping[str, str] | None = None,
    error_id: str | None = None,
) -> web.Response:
    title = web.Response(status=status).reason
    body: dict[str, Any] = {
        # RFC 9457 §4.2.1: "about:blank" = no more semantics than the status.
        "type": "about:blank",
        "title": title,
        "status": status,
        "detail": detail,
    }
    if errors is not None:
        body["errors"] = errors
    if error_id is not None:
        body["errorId"] = error_id
    all_headers = dict(headers or {})
    if status in (503, 504):
        all_headers.setdefault("Retry-After", RETRY_AFTER_SECONDS)
    return web.Response(
        status=status, body=dumps(body), content_type=PROBLEM_TYPE, headers=all_headers
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
    except HttpProblem as problem:
        return problem_response(
            problem.status, problem.detail, errors=problem.errors, headers=problem.headers
        )
    except web.HTTPException as exc:
        if exc.status < 400:
            raise
        headers = {"Allow": exc.headers["Allow"]} if "Allow" in exc.headers else None
        detail = {
            404: f"there is nothing at {request.path}",
            405: f"{request.method} is not allowed on {request.path}",
        }.get(exc.status, exc.text or exc.reason)
        return problem_response(exc.status, detail, headers=headers)
    except WebError as exc:
        # Faust's own: 503 while table routing has no owner for a key yet, and
        # 405 for HEAD, which Faust routes to every view's GET, GET or not.
        if exc.code == 405:
            allowed = _allowed_methods(request)
            detail = f"{request.method} is not allowed on {request.path}"
            return problem_response(405, detail, headers={"Allow": allowed})
        return problem_response(exc.code, str(exc.detail))
    except Exception as exc:
        for kind, status in STATUS_OF.items():
            if isinstance(exc, kind):
                logger.warning("%s %s → %d: %s", request.method, request.path, status, exc)
                return problem_response(status, str(exc) or kind.__name__)
        error_id = uuid.uuid4().hex
        logger.exception("%s %s failed, error id %s", request.method, request.path, error_id)
        return problem_response(
            500, "unexpected error; quote the error id when reporting it", error_id=error_id
        )
