"""Prometheus metrics of one service, served at ``GET /metrics``.

One registry per app (not the process-global default), built by the
factory and handed to the parts that count.
"""

from collections.abc import Awaitable, Callable, Iterator, Mapping, Sequence

import faust
from aiohttp import web
from faust.sensors.prometheus import FaustMetrics, PrometheusMonitor
from prometheus_client import CollectorRegistry, Counter, Gauge, generate_latest
from prometheus_client.core import GaugeMetricFamily, Metric
from prometheus_client.registry import Collector

from infra.reachability import Reachability

Handler = Callable[[web.Request], Awaitable[web.StreamResponse]]


#: Records not yet committed, per (topic, partition), from a consumer of our own.
LagSource = Callable[[], Mapping[tuple[str, int], int]]


class ConsumerLag(Collector):
    """Per assigned partition: log end offset minus committed offset, read at scrape time.

    Faust's consumer's partitions, and those of ``more`` (the projector's).
    """

    def __init__(self, app: faust.App, more: LagSource) -> None:
        self.app = app
        self.more = more

    def collect(self) -> Iterator[Metric]:
        lag = GaugeMetricFamily(
            "kafka_consumer_lag",
            "Records in the partition not yet committed by this service",
            labels=["topic", "partition"],
        )
        monitor = self.app.monitor
        for tp, end in dict(monitor.tp_end_offsets).items():
            committed = monitor.tp_committed_offsets.get(tp, 0)
            lag.add_metric([tp.topic, str(tp.partition)], max(end - committed, 0))
        for (topic, partition), behind in self.more().items():
            lag.add_metric([topic, str(partition)], behind)
        yield lag


class ServiceMetrics:
    def __init__(self) -> None:
        self.registry = CollectorRegistry()
        self.own_consumer_lag: LagSource = dict
        self.requests = Counter(
            "http_requests_total",
            "HTTP requests by route, method and status",
            ["route", "method", "status"],
            registry=self.registry,
        )
        self.commands = Counter(
            "order_commands_total",
            "Commands the cart agent decided, by type and outcome",
            ["command", "outcome"],
            registry=self.registry,
        )
        self.events_applied = Counter(
            "order_events_applied_total",
            "Order events applied to the order table",
            registry=self.registry,
        )
        self.duplicates_skipped = Counter(
            "order_events_duplicates_skipped_total",
            "Order events skipped because their version was not newer",
            registry=self.registry,
        )
        self.version_gaps = Counter(
            "order_events_version_gaps_total",
            "Order events applied after a gap in the order's versions",
            registry=self.registry,
        )
        self.dead_lettered = Counter(
            "order_events_dead_lettered_total",
            "Records of order-events sent to the dead-letter topic",
            registry=self.registry,
        )

    def watch(self, app: faust.App, monitors: Sequence[Reachability]) -> None:
        """Also report each dependency's reachability, the app's consumer lag, and
        Faust's own histograms (send, commit, HTTP and rebalance latency)."""
        app.monitor = PrometheusMonitor(metrics=FaustMetrics.create(self.registry, "faust"))
        reachable = Gauge(
            "dependency_reachable",
            "1 while the dependency answers its probe",
            ["dependency"],
            registry=self.registry,
        )
        for monitor in monitors:
            reachable.labels(monitor.name).set_function(lambda m=monitor: float(m.reachable))
        self.registry.register(ConsumerLag(app, lambda: self.own_consumer_lag()))

    def report_waiting_reads(self, waiting: Callable[[], int]) -> None:
        """Report how many reads wait for an order's version (``minVersion``) right now."""
        Gauge(
            "reads_waiting",
            "GET /order-details requests waiting for a minVersion",
            registry=self.registry,
        ).set_function(lambda: float(waiting()))

    def report_lag(self, source: LagSource) -> None:
        """Report the lag of a consumer of our own beside Faust's."""
        self.own_consumer_lag = source

    @web.middleware
    async def middleware(self, request: web.Request, handler: Handler) -> web.StreamResponse:
        """Counts every request by route template (not raw path: bounded labels)."""
        resource = request.match_info.route.resource
        route = resource.canonical if resource is not None else "unmatched"
        response = await handler(request)
        self.requests.labels(route, request.method, str(response.status)).inc()
        return response

    def render(self) -> bytes:
        return generate_latest(self.registry)
