"""Operational endpoints of both services: liveness, readiness, metrics."""

from collections.abc import Callable

import faust
from faust.web import Request, Response
from prometheus_client import CONTENT_TYPE_LATEST

from infra.metrics import ServiceMetrics
from infra.reachability import Dependencies
from web.http import ApiView
from web.openapi import Operation
from web.problems import Answer, NotReady

HEALTH_OPERATIONS = (
    Operation(
        "index",
        "get",
        "/",
        "Faust's production index, a bare liveness answer",
        success=Answer(200, '{"status": "OK"}'),
    ),
    Operation("health", "get", "/health", "Liveness", success=Answer(200, "alive")),
    Operation(
        "ready",
        "get",
        "/ready",
        "Readiness: Kafka reachable, state restored, schemas registered",
        success=Answer(200, "ready"),
        causes=(NotReady,),
    ),
    Operation(
        "metrics", "get", "/metrics", "Prometheus metrics", success=Answer(200, "text format")
    ),
)


class Readiness:
    """Ready = the dependencies answer and every check of the service holds (its state
    restored, its schemas registered …)."""

    def __init__(self, dependencies: Dependencies, checks: dict[str, Callable[[], bool]]) -> None:
        self.dependencies = dependencies
        self.checks = checks

    def failing(self) -> list[str]:
        return self.dependencies.failing() + [n for n, check in self.checks.items() if not check()]


def tables_ready(app: faust.App) -> bool:
    """Faust's tables are recovered and no rebalance is under way."""
    return app.tables.recovery.completed.is_set() and not app.rebalancing


def register_health_views(app: faust.App, readiness: Readiness, metrics: ServiceMetrics) -> None:
    @app.page("/health")
    class HealthView(ApiView):
        async def get(self, request: Request) -> Response:
            return self.json({"status": "ok"})

    @app.page("/ready")
    class ReadyView(ApiView):
        async def get(self, request: Request) -> Response:
            failing = readiness.failing()
            if failing:
                raise NotReady("not ready: " + ", ".join(failing))
            return self.json({"status": "ready"})

    @app.page("/metrics")
    class MetricsView(ApiView):
        async def get(self, request: Request) -> Response:
            return self.bytes(metrics.render(), content_type=CONTENT_TYPE_LATEST.split(";")[0])
