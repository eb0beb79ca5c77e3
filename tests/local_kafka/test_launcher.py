"""``make run`` killed hard leaves nothing behind, and the next one starts with the data.

The launcher (``python -m local_kafka.launcher``) runs in a process group of
its own on free ports, as a terminal would run it; the test SIGKILLs that
whole group, as closing the terminal does.
"""

import asyncio
import json
import os
import random
import signal
import socket
import subprocess
import sys
import time
import urllib.error
import urllib.request
from collections.abc import Iterator
from pathlib import Path

import pytest
from aiokafka.admin import AIOKafkaAdminClient
from aiokafka.admin.config_resource import ConfigResource, ConfigResourceType

from local_kafka.probe import free_port, port_in_use

pytestmark = pytest.mark.integration

REPO = Path(__file__).resolve().parents[2]
HOST = "127.0.0.1"


def kafka_port() -> int:
    """A free port whose next one (the launcher's controller port) is free too.

    Both below the ephemeral range: there the kernel hands out the local ports
    of outgoing connections (even ones first), so a port that no one listens on
    can still be taken when Kafka binds it (seen in CI: the controller port).
    """
    lowest_ephemeral = int(Path("/proc/sys/net/ipv4/ip_local_port_range").read_text().split()[0])
    while True:
        port = random.randrange(10000, lowest_ephemeral - 1)
        if bindable(port) and bindable(port + 1):
            return port


def bindable(port: int) -> bool:
    with socket.socket(socket.AF_INET, socket.SOCK_STREAM) as sock:
        try:
            sock.bind((HOST, port))
        except OSError:
            return False
        return True


class Launcher:
    def __init__(self, data_dir: Path) -> None:
        self.data_dir = data_dir
        self.kafka = kafka_port()
        others: list[int] = []
        for _ in range(3):  # the OS may hand out the controller port as a free one
            others.append(free_port(HOST, avoid={self.kafka, self.kafka + 1, *others}))
        self.registry, self.cart, self.orders = others
        self.process: subprocess.Popen[bytes] | None = None

    @property
    def ports(self) -> list[int]:
        return [self.kafka, self.kafka + 1, self.registry, self.cart, self.orders]

    @property
    def log_path(self) -> Path:
        return self.data_dir.parent / "launcher.log"

    def start(self) -> None:
        started_at = self.log_path.stat().st_size if self.log_path.exists() else 0
        log = self.log_path.open("ab")
        self.process = subprocess.Popen(
            [
                *(sys.executable, "-m", "local_kafka.launcher"),
                *("--data-dir", str(self.data_dir), "--kafka-port", str(self.kafka)),
                *("--registry-port", str(self.registry), "--cart-port", str(self.cart)),
                *("--orders-port", str(self.orders)),
            ],
            cwd=REPO,
            stdout=log,
            stderr=subprocess.STDOUT,
            start_new_session=True,
        )
        for port in (self.cart, self.orders):
            wait_until(lambda p=port: self.ready(p), 180)
        # and the launcher itself has seen them ready (it watches them from then on)
        wait_until(lambda: b"[launcher] ready:" in self.log_path.read_bytes()[started_at:], 30)

    def ready(self, port: int) -> bool:
        assert self.process is not None
        if self.process.poll() is not None:
            tail = self.log_path.read_text(errors="replace").splitlines()[-40:]
            raise AssertionError(
                f"the launcher exited with {self.process.returncode}; its log ends:\n"
                + "\n".join(tail)
            )
        return answers(f"http://{HOST}:{port}/ready") == 200

    def kill_group(self) -> None:
        assert self.process is not None
        os.killpg(self.process.pid, signal.SIGKILL)
        self.process.wait()

    def stop(self) -> None:
        if self.process is not None and self.process.poll() is None:
            os.killpg(self.process.pid, signal.SIGTERM)
            self.process.wait(90)


def answers(url: str, body: dict | None = None) -> int:
    data = json.dumps(body).encode() if body is not None else None
    request = urllib.request.Request(url, data=data, headers={"Content-Type": "application/json"})
    try:
        with urllib.request.urlopen(request, timeout=5) as response:
            return response.status
    except urllib.error.HTTPError as error:
        return error.code
    except OSError:
        return 0


def wait_until(condition, timeout: float) -> None:
    deadline = time.monotonic() + timeout
    while not condition():
        if time.monotonic() > deadline:
            raise AssertionError(f"not within {timeout} s")
        time.sleep(0.25)


def processes_under(folder: Path) -> list[int]:
    """Processes whose command line names ``folder``: what this test started."""
    found = []
    for entry in Path("/proc").iterdir():
        if entry.name.isdigit():
            try:
                if str(folder).encode() in (entry / "cmdline").read_bytes():
                    found.append(int(entry.name))
            except OSError:
                continue
    return found


@pytest.fixture
def launcher(tmp_path: Path) -> Iterator[Launcher]:
    running = Launcher(tmp_path / "data")
    try:
        yield running
    finally:
        running.stop()
        for pid in processes_under(tmp_path):  # whatever outlived its owner
            os.kill(pid, signal.SIGKILL)


def test_should_leave_nothing_running_when_killed_hard_and_start_again_with_the_data(launcher):
    launcher.start()
    order = {"orderId": "kept-across-a-hard-kill", "numItems": 2}
    assert answers(f"http://{HOST}:{launcher.cart}/create-order", order) == 201
    details = f"http://{HOST}:{launcher.orders}/order-details?orderId={order['orderId']}"
    wait_until(lambda: answers(details) == 200, 30)

    launcher.kill_group()

    # Kafka, the registry and both workers end with their owner: every port is free, and
    # every process gone (a JVM may still be shutting down once its ports are closed).
    wait_until(lambda: not any(port_in_use(HOST, port) for port in launcher.ports), 60)
    wait_until(lambda: processes_under(launcher.data_dir) == [], 30)
    launcher.start()
    assert answers(details) == 200


def set_topic_config(bootstrap_servers: str, topic: str, name: str, value: str) -> None:
    async def alter() -> None:
        admin = AIOKafkaAdminClient(bootstrap_servers=bootstrap_servers)
        await admin.start()
        try:
            resource = ConfigResource(ConfigResourceType.TOPIC, topic, configs={name: value})
            await admin.alter_configs([resource])
        finally:
            await admin.close()

    asyncio.run(alter())


def test_should_start_again_a_cart_that_exits_because_its_events_cannot_be_written(launcher):
    # Given the platform, and order-events refusing every record as too large
    launcher.start()
    kafka = f"{HOST}:{launcher.kafka}"
    set_topic_config(kafka, "order-events", "max.message.bytes", "64")

    # When an order is created, the cart cannot write its event: it answers no
    # 2xx and exits, and the launcher starts it again
    order = {"orderId": "written-after-a-restart", "numItems": 1}
    create = f"http://{HOST}:{launcher.cart}/create-order"
    assert answers(create, order) not in range(200, 300)
    wait_until(lambda: b"cart exited with status 70" in launcher.log_path.read_bytes(), 30)

    # Then, once the topic takes records again, the restarted cart takes the
    # create again, with nothing restarted by hand: the first one was never
    # acknowledged, and nothing of it was written
    set_topic_config(kafka, "order-events", "max.message.bytes", "1048588")
    wait_until(lambda: answers(f"http://{HOST}:{launcher.cart}/ready") == 200, 30)
    details = f"http://{HOST}:{launcher.orders}/order-details?orderId={order['orderId']}"
    assert answers(details) == 404
    wait_until(lambda: answers(create, order) in (201, 409), 30)  # 409: an earlier try took
    wait_until(lambda: answers(details) == 200, 30)
