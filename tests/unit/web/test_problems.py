"""The one error mapping (``problem_middleware``) and ``read_json``, over real HTTP.

An aiohttp application with the services' middleware and body limit, driven
by aiohttp's TestServer/TestClient; its handlers raise what views raise.
"""

import io
import logging
from collections.abc import AsyncIterator

import faust
import pytest
from aiohttp import web
from aiohttp.test_utils import TestClient, TestServer
from faust.sensors import Monitor
from faust.web.exceptions import ServiceUnavailable

from agents.command_gateway import NoReplyInTime
from infra.kafka_metadata import UnknownTopic
from infra.reachability import DependencyUnavailable
from models.api import UpdateOrderRequest
from models.codec import loads
from web.http import MAX_BODY_BYTES, ApiView, json_response, read_json
from web.problems import HttpProblem, problem_middleware
from web.topic_scan import ClientGone

PROBLEM_JSON = "application/problem+json"


def raising(exc: Exception):
    async def handler(request: web.Request) -> web.Response:
        raise exc

    return handler


async def update_order(request: web.Request) -> web.Response:
    body = await read_json(request, UpdateOrderRequest)
    return json_response(body)


class CreateOrderView(ApiView):
    """A POST-only Faust view; Faust registers HEAD for every view as well."""

    async def post(self, request, **kwargs):
        return json_response({"created": True}, status=201)


class ScanView(ApiView):
    """A Faust view whose client leaves while it works."""

    async def get(self, request, **kwargs):
        raise ClientGone("the client went away; the scan stopped")


def add_view(app: web.Application, path: str, view: ApiView) -> None:
    async def dispatch(request: web.Request) -> web.StreamResponse:
        return await view(request)

    for method in view.get_methods():  # as faust.web.drivers.aiohttp registers a view
        app.router.add_route(method, path, dispatch)


def build_app() -> web.Application:
    app = web.Application(middlewares=[problem_middleware], client_max_size=MAX_BODY_BYTES)
    conflict = HttpProblem(
        409,
        "order ORD-1 already exists",
        errors=[{"field": "orderId", "message": "taken"}],
        headers={"X-Order": "ORD-1"},
    )
    app.router.add_get("/conflict", raising(conflict))
    app.router.add_get("/broker", raising(DependencyUnavailable("Kafka is not reachable")))
    app.router.add_get("/deadline", raising(NoReplyInTime("no answer within 5 s")))
    app.router.add_get("/topic", raising(UnknownTopic("topic nope does not exist")))
    app.router.add_get("/routing", raising(ServiceUnavailable("no owner for the key yet")))
    app.router.add_get("/boom", raising(RuntimeError("password=hunter2")))
    app.router.add_put("/update-order", update_order)
    faust_app = faust.App("problems-test", autodiscover=False)
    # The services run Faust's monitor, which records each view's status.
    faust_app.sensors.add(Monitor())
    add_view(app, "/create-order", CreateOrderView(faust_app, web=None))
    add_view(app, "/scan", ScanView(faust_app, web=None))
    return app


@pytest.fixture
async def client() -> AsyncIterator[TestClient]:
    async with TestClient(TestServer(build_app())) as test_client:
        yield test_client


async def problem_of(response) -> dict:
    assert response.content_type == PROBLEM_JSON
    body = loads(await response.read())
    assert body["status"] == response.status
    assert body["title"] == response.reason
    assert body["type"] == "about:blank"
    assert isinstance(body["detail"], str)
    assert body["detail"]
    return body


async def test_an_http_problem_keeps_its_status_detail_errors_and_headers(client):
    response = await client.get("/conflict")

    assert response.status == 409
    assert response.headers["X-Order"] == "ORD-1"
    body = await problem_of(response)
    assert body["detail"] == "order ORD-1 already exists"
    assert body["errors"] == [{"field": "orderId", "message": "taken"}]
    assert "errorId" not in body


@pytest.mark.parametrize(
    ("path", "status", "retry_after"),
    [
        ("/broker", 503, True),
        ("/deadline", 504, True),
        ("/topic", 404, False),
        ("/routing", 503, True),  # Faust's own WebError
    ],
)
async def test_infrastructure_errors_map_to_their_status(client, path, status, retry_after):
    response = await client.get(path)

    assert response.status == status
    await problem_of(response)
    assert ("Retry-After" in response.headers) is retry_after
    if retry_after:
        assert int(response.headers["Retry-After"]) > 0


async def test_a_wrong_verb_is_a_405_problem_with_allow(client):
    response = await client.post("/conflict")

    assert response.status == 405
    assert {m.strip() for m in response.headers["Allow"].split(",")} >= {"GET"}
    assert "POST" not in response.headers["Allow"]
    body = await problem_of(response)
    assert "POST" in body["detail"]


@pytest.mark.parametrize("method", ["HEAD", "GET"])
async def test_a_405_of_a_post_only_faust_view_does_not_advertise_head(client, method):
    # Faust registers HEAD for every view and answers it with its GET, so on a
    # POST-only view HEAD is refused too: Allow must not list it.
    response = await client.request(method, "/create-order")

    assert response.status == 405
    allowed = {m.strip() for m in response.headers["Allow"].split(",")}
    assert "POST" in allowed
    assert "HEAD" not in allowed


async def test_an_unknown_path_is_a_404_problem(client):
    response = await client.get("/no/such/thing")

    assert response.status == 404
    body = await problem_of(response)
    assert "/no/such/thing" in body["detail"]


async def test_an_unexpected_error_is_a_500_whose_error_id_is_in_the_log(client, caplog):
    with caplog.at_level(logging.ERROR, logger="web.problems"):
        response = await client.get("/boom")

    assert response.status == 500
    body = await problem_of(response)
    error_id = body["errorId"]
    assert len(error_id) >= 16
    assert "hunter2" not in body["detail"]  # internals stay in the log
    logged = [r for r in caplog.records if getattr(r, "errorId", None) == error_id]
    assert len(logged) == 1
    assert logged[0].exc_info is not None  # with the traceback
    assert "hunter2" in str(logged[0].exc_info[1])


async def test_read_json_accepts_a_valid_body(client):
    response = await client.put("/update-order", json={"orderId": "ORD-1", "status": "shipped"})

    assert response.status == 200
    assert loads(await response.read()) == {"orderId": "ORD-1", "status": "shipped"}


@pytest.mark.parametrize(
    ("content_type", "body", "status"),
    [
        ("text/plain", b'{"orderId": "ORD-1", "status": "shipped"}', 415),
        ("application/x-www-form-urlencoded", b"orderId=ORD-1&status=shipped", 415),
        ("application/json", b'{"orderId": "ORD-1", "status": ', 400),
        ("application/json", b"", 400),
        ("application/json", b"\xff\xfe{}", 400),
        ("application/json", b"[" * 100_000, 400),
        ("application/json", b'{"a":' * 50_000 + b"1" + b"}" * 50_000, 400),
        ("application/json", b'[{"orderId": "ORD-1", "status": "shipped"}]', 400),
        ("application/json", b'"ORD-1"', 400),
        ("application/json", b"null", 400),
        ("application/json", b'{"orderId": "ORD-1", "status": "lost"}', 400),
        ("application/json", b"[" + b" " * (MAX_BODY_BYTES + 1) + b"]", 413),
    ],
)
async def test_read_json_refuses_a_bad_body_with_a_problem(client, content_type, body, status):
    response = await client.put(
        "/update-order", data=io.BytesIO(body), headers={"Content-Type": content_type}
    )

    assert response.status == status
    await problem_of(response)


async def test_an_invalid_field_is_named_in_the_errors(client):
    response = await client.put("/update-order", json={"orderId": "ORD 1", "status": "shipped"})

    assert response.status == 400
    body = await problem_of(response)
    assert [error["field"] for error in body["errors"]] == ["orderId"]


async def test_a_client_gone_is_logged_as_499_not_as_a_failure(client, caplog):
    """Faust's monitor takes a view's status for an http.HTTPStatus; a 499 returned by
    the view made it raise, and the request was logged as a failed 500."""
    caplog.set_level(logging.INFO, logger="web.problems")
    response = await client.get("/scan")

    assert response.status == 499
    assert [r.levelname for r in caplog.records] == ["INFO"]
    assert caplog.records[0].getMessage() == "client went away"
