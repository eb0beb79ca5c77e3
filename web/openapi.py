"""The OpenAPI 3.1 documents of both services, built from the pydantic models."""

import json
from typing import Any

import faust
from faust.web import Request, Response
from pydantic import BaseModel
from pydantic.json_schema import models_json_schema

from models.api import (
    CreateOrderRequest,
    OrderDetailsOut,
    OrderOut,
    Problem,
    TopicScanOut,
    UpdateOrderRequest,
)
from web.http import ApiView

REF = "#/components/schemas/{model}"


def _ref(model: type[BaseModel]) -> dict[str, str]:
    return {"$ref": REF.format(model=model.__name__)}


def _problem(description: str) -> dict[str, Any]:
    return {
        "description": description,
        "content": {"application/problem+json": {"schema": _ref(Problem)}},
    }


def _json(model: type[BaseModel], description: str) -> dict[str, Any]:
    return {"description": description, "content": {"application/json": {"schema": _ref(model)}}}


def _query(name: str, description: str) -> dict[str, Any]:
    return {
        "name": name,
        "in": "query",
        "required": True,
        "description": description,
        "schema": {"type": "string"},
    }


COMMON_ERRORS = {
    "400": _problem("invalid input"),
    "503": _problem("Kafka unreachable or state recovering; retry after Retry-After"),
}
HEALTH_PATHS: dict[str, Any] = {
    "/": {
        "get": {
            "operationId": "index",
            "summary": "Faust's production index, a bare liveness answer",
            "responses": {"200": {"description": '{"status": "OK"}'}},
        }
    },
    "/health": {
        "get": {
            "operationId": "health",
            "summary": "Liveness",
            "responses": {"200": {"description": "alive"}},
        }
    },
    "/ready": {
        "get": {
            "operationId": "ready",
            "summary": "Readiness: Kafka reachable, tables recovered",
            "responses": {"200": {"description": "ready"}, "503": _problem("not ready")},
        }
    },
    "/metrics": {
        "get": {
            "operationId": "metrics",
            "summary": "Prometheus metrics",
            "responses": {
                "200": {
                    "description": "text exposition format",
                    "content": {"text/plain": {"schema": {"type": "string"}}},
                }
            },
        }
    },
}


def _write(operation_id: str, summary: str, body: type[BaseModel], success: dict) -> dict[str, Any]:
    return {
        "operationId": operation_id,
        "summary": summary,
        "requestBody": {"required": True, "content": {"application/json": {"schema": _ref(body)}}},
        "responses": {
            **success,
            **COMMON_ERRORS,
            "404": _problem("unknown order"),
            "409": _problem("duplicate orderId or illegal status move"),
            "413": _problem("body larger than 1 MiB"),
            "415": _problem("body is not application/json"),
            "504": _problem("no acknowledgement within the deadline; the change may have happened"),
        },
    }


def _document(title: str, paths: dict[str, Any], models: list[type[BaseModel]]) -> dict[str, Any]:
    _, schemas = models_json_schema([(m, "validation") for m in models], ref_template=REF)
    return {
        "openapi": "3.1.0",
        "info": {"title": title, "version": "1.0.0"},
        "paths": {**paths, **HEALTH_PATHS},
        "components": {"schemas": schemas["$defs"]},
    }


def cart_openapi() -> dict[str, Any]:
    created = {
        "201": {
            **_json(OrderOut, "the order is created and its event is durable"),
            "headers": {"Location": {"schema": {"type": "string"}}},
        }
    }
    return _document(
        "Cart service",
        {
            "/create-order": {
                "post": _write("createOrder", "Create an order", CreateOrderRequest, created)
            },
            "/update-order": {
                "put": _write(
                    "updateOrderStatus",
                    "Change an order's status",
                    UpdateOrderRequest,
                    {"200": _json(OrderOut, "the updated order")},
                )
            },
        },
        [CreateOrderRequest, UpdateOrderRequest, OrderOut, Problem],
    )


def orders_openapi() -> dict[str, Any]:
    return _document(
        "Order service",
        {
            "/order-details": {
                "get": {
                    "operationId": "getOrderDetails",
                    "summary": "An order with its shipping cost",
                    "parameters": [_query("orderId", "the order's id")],
                    "responses": {
                        "200": _json(OrderDetailsOut, "the order"),
                        **COMMON_ERRORS,
                        "404": _problem("order not known (yet)"),
                    },
                }
            },
            "/getAllOrderIdsFromTopic": {
                "get": {
                    "operationId": "getAllOrderIdsFromTopic",
                    "summary": "Every orderId ever written to a topic",
                    "parameters": [_query("topicName", "a Kafka topic name")],
                    "responses": {
                        "200": _json(TopicScanOut, "the distinct orderIds"),
                        **COMMON_ERRORS,
                        "404": _problem("unknown topic"),
                        "504": _problem("the scan did not finish within the deadline"),
                    },
                }
            },
        },
        [OrderDetailsOut, TopicScanOut, Problem],
    )


def register_openapi_view(app: faust.App, document: dict[str, Any]) -> None:
    body = json.dumps(document).encode()

    @app.page("/openapi.json")
    class OpenApiView(ApiView):
        async def get(self, request: Request) -> Response:
            return self.bytes(body, content_type="application/json")
