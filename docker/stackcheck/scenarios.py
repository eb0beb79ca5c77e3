"""The two stacks, each brought up, driven, restarted and removed as a user would."""

from __future__ import annotations

import itertools
import threading
import time
import uuid
from concurrent.futures import ThreadPoolExecutor
from typing import Any

from stackcheck import walkthrough as api
from stackcheck.engine import Compose, docker
from stackcheck.http_client import CART, eventually, request
from stackcheck.report import CheckFailed, Report
from stackcheck.wire import check_confluent_avro, check_schema_ids_known

#: In the compose files for users, not started by the check (see docs/operations.md).
NOT_STARTED = {"kafka-ui"}
#: Topics every stack has at the replication factor topic-init gives them.
APP_TOPICS = ("order-commands", "order-events", "order-events.DLQ", "order-command-replies")
#: Where Apicurio keeps the schemas (kafkasql): created by the registry itself.
REGISTRY_TOPICS = ("kafkasql-journal",)


def checked_services(compose: Compose) -> list[str]:
    return [name for name in compose.services if name not in NOT_STARTED]


def brokers(compose: Compose) -> list[str]:
    return [n for n, s in compose.services.items() if s["image"].startswith("apache/kafka:")]


def bootstrap(compose: Compose) -> str:
    """The brokers' published PLAINTEXT_HOST ports, as the host reaches them."""
    ports = [p["published"] for b in brokers(compose) for p in compose.services[b]["ports"]]
    return ",".join(f"127.0.0.1:{port}" for port in ports)


def create_burst(prefix: str, count: int, workers: int = 4) -> dict[str, tuple[int, Any]]:
    """``count`` creates, ``workers`` at a time: orderId -> (HTTP status, body)."""

    def one(index: int) -> tuple[str, tuple[int, Any]]:
        order_id = f"{prefix}-{index:04d}"
        answer = request("POST", f"{CART}/create-order", {"orderId": order_id, "numItems": 2})
        return order_id, (answer.status, answer.json() if answer.status == 201 else answer.body)

    with ThreadPoolExecutor(workers) as pool:
        return dict(pool.map(one, range(count)))


class CreateLoop:
    """Creates orders, ``WORKERS`` at a time, until told to stop; keeps every answer."""

    WORKERS = 3
    #: Between two creates of one worker: a steady trickle, not a load test.
    PAUSE = 0.1

    def __init__(self, prefix: str) -> None:
        self.prefix = prefix
        self.stop = threading.Event()
        self.answers: dict[str, tuple[int, bytes]] = {}
        self.sent_at: dict[str, float] = {}
        self._numbers = itertools.count()

    def run(self) -> None:
        while not self.stop.is_set():
            order_id = f"{self.prefix}-{next(self._numbers):05d}"
            self.sent_at[order_id] = time.monotonic()
            answer = request("POST", f"{CART}/create-order", {"orderId": order_id, "numItems": 2})
            self.answers[order_id] = (answer.status, answer.body)
            self.stop.wait(self.PAUSE)


def check_not_crash_looping(compose: Compose) -> str:
    counts = compose.restart_counts()
    if looping := {s: n for s, n in counts.items() if n}:
        raise CheckFailed(f"restarted by their restart policy: {looping}")
    return f"RestartCount 0 for {len(counts)} containers"


def check_nothing_left(compose: Compose, volumes_before: set[str]) -> str:
    compose.run("down", "--volumes", "--timeout", "30")
    left = [c.service for c in compose.containers()]
    new_volumes = set(docker("volume", "ls", "-q").stdout.split()) - volumes_before
    networks = docker(
        "network", "ls", "-q", "--filter", f"label=com.docker.compose.project={compose.name}"
    ).stdout.split()
    if left or new_volumes or compose.volumes() or networks:
        raise CheckFailed(
            f"left: containers {left}, volumes {sorted(new_volumes)}, networks {networks}"
        )
    return "no container, network or volume of the project"


def up(report: Report, stack: str, compose: Compose) -> None:
    with report.step(stack, "docker compose build (the project image)"):
        compose.run("build")
    with report.step(stack, "docker compose up --build --wait (time to healthy)") as row:
        compose.run("up", "--build", "--wait", "--wait-timeout", "300", *checked_services(compose))
        row.detail = f"{len(checked_services(compose))} services; kafka-ui not started"


def single_broker(report: Report, compose: Compose) -> None:
    stack, prefix = "one broker", f"dt-{uuid.uuid4().hex[:6]}"
    volumes_before = set(docker("volume", "ls", "-q").stdout.split())
    up(report, stack, compose)
    with report.step(stack, "create (random, explicit items), update, order-details") as row:
        orders = api.run_walkthrough(prefix)
        row.detail = "shippingCost = 2% of totalAmount for " + ", ".join(orders)
    with report.step(stack, "errors: 400, 404, 405 (Allow), 409 as problem+json"):
        api.check_errors(next(iter(orders)))
    with report.step(stack, "/ready and /metrics of both services"):
        api.check_ready_and_metrics()
    with report.step(stack, "20 more creates, each found in order-details") as row:
        burst = create_burst(f"{prefix}-b", 20)
        if failed := {k: v[0] for k, v in burst.items() if v[0] != 201}:
            raise CheckFailed(f"not created: {failed}")
        orders.update({k: api.order_details(k) for k in burst})
        row.detail = f"{len(orders)} orders in all"
    with report.step(stack, "topic scan of order-events finds every order") as row:
        row.detail = f"{api.check_topic_scan(set(orders))} records scanned"
    with report.step(
        stack, "order-events values: Confluent Avro, schema ids in the registry"
    ) as row:
        schema_ids = check_confluent_avro(bootstrap(compose), set(orders))
        row.detail = f"schema ids {sorted(schema_ids)}"
    with report.step(stack, "docker compose restart, until all healthy again") as row:
        compose.run("restart")
        row.detail = f"healthy {compose.wait_healthy(checked_services(compose)):.1f}s after restart"
    with report.step(stack, "after restart: every order found, none crash-looping") as row:
        api.check_found_again(orders)
        row.detail = check_not_crash_looping(compose)
    with report.step(stack, "docker compose down, then up --wait (no -v)"):
        compose.run("down", "--timeout", "30")
        compose.run("up", "--wait", "--wait-timeout", "300", *checked_services(compose))
    with report.step(
        stack, "after down/up: every order, the same schema ids, no crash loop"
    ) as row:
        api.check_found_again(orders)
        check_schema_ids_known(schema_ids)
        row.detail = check_not_crash_looping(compose)
    with report.step(stack, "docker compose down -v leaves nothing") as row:
        row.detail = check_nothing_left(compose, volumes_before)


def three_brokers(report: Report, compose: Compose) -> None:
    stack, prefix = "three brokers", f"dt-{uuid.uuid4().hex[:6]}"
    volumes_before = set(docker("volume", "ls", "-q").stdout.split())
    up(report, stack, compose)
    victim = brokers(compose)[-1]
    with report.step(stack, f"creates before, while and after {victim} is down") as row:
        creates = CreateLoop(prefix)
        with ThreadPoolExecutor(CreateLoop.WORKERS) as pool:
            workers = [pool.submit(creates.run) for _ in range(CreateLoop.WORKERS)]
            time.sleep(3)
            compose.run("stop", victim)
            down_from = time.monotonic()
            time.sleep(10)
            down_until = time.monotonic()
            compose.run("start", victim)
            compose.wait_healthy(checked_services(compose))
            time.sleep(3)
            creates.stop.set()
            for worker in workers:
                worker.result(timeout=120)
        acked = {k for k, (status, _) in creates.answers.items() if 200 <= status < 300}
        during = [k for k in acked if down_from <= creates.sent_at[k] < down_until]
        others = sorted({status for status, _ in creates.answers.values()} - {201})
        row.detail = (
            f"{len(acked)}/{len(creates.answers)} acknowledged, {len(during)} of them while "
            f"{victim} was down; other answers: {others or 'none'}"
        )
        if not during:
            raise CheckFailed(f"no create was acknowledged while {victim} was down")
    with report.step(stack, "every acknowledged order found (order-details, topic scan)") as row:
        for order_id in acked:
            api.order_details(order_id, timeout=90)
        row.detail = f"{api.check_topic_scan(set(acked))} records scanned"
    with report.step(
        stack, "order-events values: Confluent Avro, schema ids in the registry"
    ) as row:
        row.detail = f"schema ids {sorted(check_confluent_avro(bootstrap(compose), set(acked)))}"
    with report.step(
        stack, "every topic (app, changelogs, registry journal) at RF 3, min ISR 2"
    ) as row:
        # The restarted broker may still be catching up: wait for full in-sync sets.
        row.detail = eventually("3 replicas in sync", lambda: check_replication(compose), 90, 2)
    with report.step(stack, "all healthy, none crash-looping") as row:
        compose.wait_healthy(checked_services(compose), timeout=60)
        row.detail = check_not_crash_looping(compose)
    with report.step(stack, "docker compose down -v leaves nothing") as row:
        row.detail = check_nothing_left(compose, volumes_before)


def check_replication(compose: Compose) -> str:
    """Kafka's own kafka-topics.sh, inside a broker container, describes every topic:
    the app's, the changelogs, the registry's journal and Kafka's own offsets."""
    described = compose.run(
        "exec",
        "-T",
        "kafka",
        "/opt/kafka/bin/kafka-topics.sh",
        "--bootstrap-server",
        "localhost:9092",
        "--describe",
    ).stdout
    summaries = {
        line.split()[1]: line
        for line in described.splitlines()
        if line.startswith("Topic:") and "PartitionCount" in line
    }
    if missing := set(APP_TOPICS + REGISTRY_TOPICS) - set(summaries):
        raise CheckFailed(f"no topic {sorted(missing)}")
    for topic, line in summaries.items():
        if "ReplicationFactor: 3" not in line or "min.insync.replicas=2" not in line:
            raise CheckFailed(f"{topic}: {line.strip()}")
    in_sync = [line for line in described.splitlines() if "Isr:" in line]
    short = [
        line.strip() for line in in_sync if len(line.split("Isr:")[1].split()[0].split(",")) < 3
    ]
    if short:
        raise CheckFailed(f"partitions not fully in sync: {short[:2]}")
    return f"{len(summaries)} topics, {len(in_sync)} partitions, all with 3 in sync"
