"""Runs the platform locally: Kafka, the registry, the topics, both services.

``ServiceProcess`` is the one start/stop contract of a service worker
process; ``make run`` (``python -m app.launcher``), the integration tests
and the benchmarks all use it.  Ctrl-C stops the services first (Faust
commits and flushes on SIGTERM), then Kafka.
"""

import argparse
import asyncio
import logging
import os
import signal
import subprocess
import sys
import threading
import time
import urllib.error
import urllib.request
from collections.abc import Mapping
from pathlib import Path
from typing import IO

from app.topics import create_topics
from local_kafka.broker import KafkaBroker
from local_kafka.process import terminate
from local_kafka.registry import SchemaRegistry

logger = logging.getLogger(__name__)

#: The Faust entry module and settings prefix of each service.
SERVICES = {"cart": ("app.cart", "CART_"), "orders": ("app.orders", "ORDERS_")}


class ServiceProcess:
    """One ``faust -A <module> worker`` process, configured by environment."""

    def __init__(
        self,
        name: str,
        *,
        bootstrap_servers: str,
        port: int,
        data_dir: Path,
        log_path: Path | None = None,
        schema_registry_url: str | None = None,
        extra_env: Mapping[str, str] | None = None,
    ) -> None:
        """With ``schema_registry_url`` the service writes Avro, else JSON."""
        self.name = name
        self.module, prefix = SERVICES[name]
        self.port = port
        self.base_url = f"http://127.0.0.1:{port}"
        self.data_dir = data_dir
        self.log_path = log_path
        self.env = {
            **os.environ,
            f"{prefix}KAFKA_BOOTSTRAP_SERVERS": bootstrap_servers,
            f"{prefix}WEB_PORT": str(port),
            f"{prefix}DATA_DIR": str(data_dir),
            f"{prefix}VALUE_FORMAT": "avro" if schema_registry_url else "json",
            **(
                {f"{prefix}SCHEMA_REGISTRY_URL": schema_registry_url} if schema_registry_url else {}
            ),
            **(extra_env or {}),
        }
        self._process: subprocess.Popen[bytes] | None = None
        self._log: IO[bytes] | None = None

    @property
    def pid(self) -> int | None:
        return self._process.pid if self._process else None

    def start(self) -> None:
        """Start the worker; its output goes to ``log_path`` or, prefixed, to ours."""
        command = [sys.executable, "-m", "faust", "-A", self.module, "worker", "-l", "info"]
        if self.log_path is not None:
            self._log = self.log_path.open("ab")
            self._process = subprocess.Popen(
                command, env=self.env, stdout=self._log, stderr=subprocess.STDOUT
            )
            return
        self._process = subprocess.Popen(
            command, env=self.env, stdout=subprocess.PIPE, stderr=subprocess.STDOUT
        )
        output = self._process.stdout
        threading.Thread(target=self._relay_output, args=(output,), daemon=True).start()

    def _relay_output(self, output: IO[bytes]) -> None:
        for line in output:
            sys.stdout.write(f"[{self.name:>6}] {line.decode(errors='replace')}")
            sys.stdout.flush()

    def wait_ready(self, timeout: float = 90) -> None:
        """Return once ``/ready`` answers 200; raise if the process dies or time runs out."""
        deadline = time.monotonic() + timeout
        while time.monotonic() < deadline:
            if self._process is None or self._process.poll() is not None:
                raise RuntimeError(f"{self.name} exited during start-up; see {self.log_path}")
            try:
                with urllib.request.urlopen(f"{self.base_url}/ready", timeout=2) as response:
                    if response.status == 200:
                        return
            except (urllib.error.URLError, OSError):
                pass
            time.sleep(0.25)
        raise TimeoutError(f"{self.name} not ready within {timeout:g} s; see {self.log_path}")

    def stop(self, timeout: float = 30) -> None:
        """SIGTERM (Faust stops cleanly: commit, flush), SIGKILL after ``timeout``."""
        if self._process is not None:
            terminate(self._process, self.name, timeout)
        self._close()

    def kill(self) -> None:
        """SIGKILL, as in a crash."""
        if self._process is not None and self._process.poll() is None:
            self._process.kill()
            self._process.wait()
        self._close()

    def _close(self) -> None:
        self._process = None
        if self._log is not None:
            self._log.close()
            self._log = None


def run(
    data_dir: Path, kafka_port: int, registry_port: int, cart_port: int, orders_port: int
) -> None:
    broker = KafkaBroker(data_dir / "kafka", port=kafka_port, controller_port=kafka_port + 1)
    # Persistent, so schema ids in the topics stay resolvable across runs.
    registry = SchemaRegistry(data_dir / "registry", port=registry_port, persistent=True)
    services = [
        ServiceProcess(
            name,
            bootstrap_servers=broker.bootstrap_servers,
            port=port,
            data_dir=data_dir / "state",
            schema_registry_url=registry.url,
        )
        for name, port in (("cart", cart_port), ("orders", orders_port))
    ]
    stop = threading.Event()
    signal.signal(signal.SIGINT, lambda *_: stop.set())
    signal.signal(signal.SIGTERM, lambda *_: stop.set())
    try:
        broker.start()
        registry.start()
        asyncio.run(create_topics(broker.bootstrap_servers, partitions=6, replication_factor=1))
        for service in services:
            service.start()
        for service in services:
            service.wait_ready()
        logger.info(
            "ready: cart http://127.0.0.1:%d, orders http://127.0.0.1:%d, Kafka %s, "
            "schema registry %s (Ctrl-C stops)",
            cart_port,
            orders_port,
            broker.bootstrap_servers,
            registry.url,
        )
        stop.wait()
    finally:
        logger.info("stopping the services, then the registry and Kafka")
        for service in services:
            service.stop()
        registry.stop()
        broker.stop()


def main() -> None:
    parser = argparse.ArgumentParser(description="Run Kafka, the registry and both services.")
    parser.add_argument("--data-dir", type=Path, default=Path(".data"))
    parser.add_argument("--kafka-port", type=int, default=9092)
    parser.add_argument("--registry-port", type=int, default=8081)
    parser.add_argument("--cart-port", type=int, default=8000)
    parser.add_argument("--orders-port", type=int, default=8001)
    args = parser.parse_args()
    logging.basicConfig(level=logging.INFO, format="[launcher] %(message)s")
    run(
        args.data_dir.resolve(),
        args.kafka_port,
        args.registry_port,
        args.cart_port,
        args.orders_port,
    )


if __name__ == "__main__":
    main()
