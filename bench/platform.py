"""The platform under test, started as ``make run`` starts it, and always stopped.

A fresh broker and both services on free ports in a temporary folder, via
the same ``KafkaBroker``, ``create_topics`` and ``ServiceProcess`` as
``make run``.  One difference: each service logs to a file in the folder
instead of through the launcher's relay thread, as the integration tests do,
so the bench process does not spend CPU copying log lines.
"""

import asyncio
import contextlib
import logging
import time
from collections.abc import Iterator
from dataclasses import dataclass, field
from pathlib import Path

import aiohttp

from app.launcher import ServiceProcess
from app.settings import OrdersSettings
from app.topics import TopicSpec, changelog_topic, create_topics
from bench.procstat import children_named, is_alive
from local_kafka.broker import KafkaBroker
from local_kafka.probe import free_port

logger = logging.getLogger(__name__)

PARTITIONS = 6
ORDERS_APP_ID = OrdersSettings.model_fields["app_id"].default


def new_service(
    workdir: Path, bootstrap_servers: str, name: str, app_id: str | None = None
) -> ServiceProcess:
    """A (not yet started) service on a free port, logging to ``<workdir>/<name or app id>.log``."""
    prefix = "ORDERS_" if name == "orders" else "CART_"
    # JSON, the default, pinned: the preloaded records are JSON, and a
    # VALUE_FORMAT left in the caller's environment must not change that.
    env = {f"{prefix}VALUE_FORMAT": "json", **({f"{prefix}APP_ID": app_id} if app_id else {})}
    return ServiceProcess(
        name,
        bootstrap_servers=bootstrap_servers,
        port=free_port(),
        data_dir=workdir / "state",
        log_path=workdir / f"{app_id or name}.log",
        extra_env=env,
    )


@dataclass
class Platform:
    workdir: Path
    broker: KafkaBroker
    cart: ServiceProcess
    orders: ServiceProcess
    #: The consumer group (= Faust app id) of the order service now running.
    orders_app_id: str = ORDERS_APP_ID
    #: What scenarios leave for later ones (e.g. the preloaded orders).
    shared: dict[str, object] = field(default_factory=dict)

    @property
    def bootstrap_servers(self) -> str:
        return self.broker.bootstrap_servers

    @property
    def broker_pid(self) -> int | None:
        pids = children_named("java")
        return pids[0] if pids else None

    def process_ids(self) -> dict[str, int]:
        pids = {"cart": self.cart.pid, "orders": self.orders.pid, "kafka": self.broker_pid}
        return {name: pid for name, pid in pids.items() if pid is not None}

    def service(self, name: str, app_id: str | None = None) -> ServiceProcess:
        return new_service(self.workdir, self.bootstrap_servers, name, app_id)

    async def create_topic(self, name: str, partitions: int = PARTITIONS) -> None:
        spec = TopicSpec(name, "benchmark data", {"retention.ms": "-1"}, partitions)
        await create_topics(self.bootstrap_servers, PARTITIONS, 1, [spec])

    async def replace_orders(self, app_id: str) -> ServiceProcess:
        """Stop the order service; the next one (not started) has its own group and table.

        Its changelog topic is created first, as ``create_topics`` does for the
        default app id: Faust's own creation races its agent (PartitionsMismatch).
        """
        await create_topics(self.bootstrap_servers, PARTITIONS, 1, [changelog_topic(app_id)])
        await asyncio.to_thread(self.orders.stop)
        self.orders = self.service("orders", app_id)
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
        if service.pid is None or not is_alive(service.pid):
            raise RuntimeError(f"{service.name} exited; see {service.log_path}")
        with contextlib.suppress(aiohttp.ClientError, TimeoutError):
            async with http.get(f"{service.base_url}/ready") as response:
                if response.status == 200:
                    return time.monotonic()
        await asyncio.sleep(0.05)
    raise TimeoutError(f"{service.name} not ready within {timeout:g} s; see {service.log_path}")


@contextlib.contextmanager
def running_platform(workdir: Path) -> Iterator[Platform]:
    """Broker, topics and both services, ready; everything stopped on the way out."""
    broker = KafkaBroker(workdir / "kafka")
    cart, orders = (new_service(workdir, broker.bootstrap_servers, n) for n in ("cart", "orders"))
    platform = Platform(workdir, broker, cart, orders)
    try:
        broker.start()
        asyncio.run(create_topics(broker.bootstrap_servers, PARTITIONS, replication_factor=1))
        for service in (cart, orders):
            service.start()
        for service in (cart, orders):
            service.wait_ready()
        yield platform
    finally:
        # Scenarios may have replaced a service: stop the first ones and whatever runs now
        # (stopping a stopped one does nothing).
        for service in (platform.cart, platform.orders, cart, orders):
            service.stop()
        broker.stop()
