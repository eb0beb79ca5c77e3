"""Operational endpoints of both services: liveness, readiness, metrics."""

from collections.abc import Callable

import faust
from faust.web import Request, Response
from prometheus_client import CONTENT_TYPE_LATEST

from infra.metrics import ServiceMetrics
from infra.reachability import Dependencies
from web.http import ApiView, json_response
from web.problems import HttpProblem


class Readiness:
    """Ready = the dependencies answer, the tables are recovered, every extra check holds."""

    def __init__(
        self, app: faust.App, dependencies: Dependencies, extra: dict[str, Callable[[], bool]]
    ) -> None:
        self.app = app
        self.dependencies = dependencies
        self.extra = extra

    def tables_ready(self) -> bool:
        return self.app.tables.recovery.completed.is_set() and not self.app.rebalancing

    def failing(self) -> list[str]:
        checks = {"tables": self.tables_ready, **self.extra}
        return self.dependencies.failing() + [n for n, check in checks.items() if not check()]


def register_health_views(app: faust.App, readiness: Readiness, metrics: ServiceMetrics) -> None:
    @app.page("/health")
    class HealthView(ApiView):
        async def get(self, request: Request) -> Response:
            return json_response({"status": "ok"})

    @app.page("/ready")
    class ReadyView(ApiView):
        async def get(self, request: Request) -> Response:
            failing = readiness.failing()
            if failing:
                raise HttpProblem(503, "not ready: " + ", ".join(failing))
            return json_response({"status": "ready"})

    @app.page("/metrics")
    class MetricsView(ApiView):
        async def get(self, request: Request) -> Response:
            return self.bytes(metrics.render(), content_type=CONTENT_TYPE_LATEST.split(";")[0])
