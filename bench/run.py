"""One benchmark run: the local stack (:class:`~local_kafka.stack.LocalStack`, as
``make run`` starts it) and what the scenarios share.

Differences from ``make run``: a temporary folder and free ports, each service
logging to a file instead of through a relay (the bench process should not
spend CPU copying log lines), and the registry in memory.  Values are Avro
through the registry, as ``make run`` writes them.
"""

import asyncio
import contextlib
import time
from collections.abc import Iterator
from dataclasses import dataclass, field
from pathlib import Path

import aiohttp

from app.settings import CartSettings, OrdersSettings
from infra.kafka_connection import KafkaConnection
from infra.topics import ORDER_TOPICS, TopicSpec, changelog_topic, create_topics
from infra.value_formats import JSON_FORMAT, ValueFormat
from local_kafka.services import ServiceProcess
from local_kafka.stack import PARTITIONS, LocalStack

ORDERS_APP_ID = OrdersSettings.model_fields["app_id"].default
CART_APP_ID = CartSettings.model_fields["app_id"].default


@dataclass
class BenchRun:
    stack: LocalStack
    #: The consumer group (= Faust app id) of the order service now running.
    orders_app_id: str = ORDERS_APP_ID
    #: What scenarios leave for later ones (e.g. the preloaded orders).
    shared: dict[str, object] = field(default_factory=dict)
    #: The value format of ``order-events`` as the services write it (set once
    #: the event loop runs: it is registered with the registry).
    events: ValueFormat = JSON_FORMAT

    @property
    def workdir(self) -> Path:
        return self.stack.workdir

    @property
    def bootstrap_servers(self) -> str:
        return self.stack.bootstrap_servers

    @property
    def cart(self) -> ServiceProcess:
        return self.stack.cart

    @property
    def cart_state(self) -> Path:
        """Everything the cart keeps on disk: ``<CART_DATA_DIR>/<app id>``, its table's
        stores under ``cart_orders_by_id``.  Not its data dir: the order service shares it."""
        return self.cart.data_dir / CART_APP_ID

    @property
    def orders(self) -> ServiceProcess:
        return self.stack.orders

    def process_ids(self) -> dict[str, int]:
        pids = {"cart": self.cart.pid, "orders": self.orders.pid, "kafka": self.stack.broker.pid}
        return {name: pid for name, pid in pids.items() if pid is not None}

    async def create_topic(self, name: str, partitions: int = PARTITIONS) -> None:
        spec = TopicSpec(name, {"retention.ms": "-1"}, partitions)
        await create_topics(KafkaConnection(self.bootstrap_servers), PARTITIONS, 1, [spec])

    async def replace_orders(self, app_id: str) -> ServiceProcess:
        """Stop the order service; the next one (not started) has its own group and table.

        Its changelog topic is created first, as ``create_topics`` does for the
        default app id: Faust's own creation races its agent (PartitionsMismatch).
        """
        await create_topics(
            KafkaConnection(self.bootstrap_servers), PARTITIONS, 1, [changelog_topic(app_id)]
        )
        await asyncio.to_thread(self.orders.stop)
        self.stack.order_workers[0] = self.stack.service(
            "orders", extra_env={"ORDERS_APP_ID": app_id}
        )
        self.orders_app_id = app_id
        return self.orders


async def wait_ready(
    http: aiohttp.ClientSession, service: ServiceProcess, timeout: float = 90
) -> float:
    """Poll ``/ready`` every 50 ms until 200; the monotonic time it first answered 200.

    ``ServiceProcess.wait_ready`` polls every 250 ms: too coarse to time a restart.
    """
    deadline = time.monotonic() + timeout
    while time.monotonic() < deadline:
        if not service.is_running:
            raise RuntimeError(f"{service.name} exited; see {service.log_path}")
        with contextlib.suppress(aiohttp.ClientError, TimeoutError):
            async with http.get(f"{service.base_url}/ready") as response:
                if response.status == 200:
                    return time.monotonic()
        await asyncio.sleep(0.05)
    raise TimeoutError(f"{service.name} not ready within {timeout:g} s; see {service.log_path}")


#: The topic the scan scenario fills and scans.
SCAN_TOPIC = "bench-scan"


@contextlib.contextmanager
def bench_run(workdir: Path) -> Iterator[BenchRun]:
    """The stack up and ready; everything stopped on the way out, also what scenarios replaced."""
    # The scan scenario's topic is one the order service may scan (a setting).
    scannable = ",".join((*ORDER_TOPICS, SCAN_TOPIC))
    with LocalStack(workdir, service_env={"ORDERS_SCANNABLE_TOPICS": scannable}) as stack:
        first = stack.services
        try:
            yield BenchRun(stack)
        finally:
            for service in first:
                service.stop()
