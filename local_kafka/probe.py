"""Is the broker really ready? Free ports, and a metadata probe.

An open TCP port is not enough: a KRaft broker binds its listener early but only
processes requests after it has caught up with the metadata log, and only lists
itself in Metadata responses once the controller has unfenced it. Until then
topic creation fails with "no brokers available". So readiness here means: a
Metadata request is answered and the answer names at least one broker.
"""

from __future__ import annotations

import asyncio
import socket
from collections.abc import Collection
from dataclasses import dataclass

from aiokafka.admin import AIOKafkaAdminClient
from aiokafka.errors import KafkaError


@dataclass(frozen=True)
class ClusterInfo:
    """The parts of a Metadata response the readiness check cares about."""

    broker_ids: tuple[int, ...]
    cluster_id: str | None
    controller_id: int


def free_port(host: str = "127.0.0.1", avoid: Collection[int] = ()) -> int:
    """Return a TCP port that is free right now (the OS may hand it out again later) and
    is none of ``avoid``: ports chosen for the same process, not bound yet."""
    while True:
        with socket.socket(socket.AF_INET, socket.SOCK_STREAM) as sock:
            sock.bind((host, 0))
            port = int(sock.getsockname()[1])
        if port not in avoid:
            return port


def port_in_use(host: str, port: int) -> bool:
    """True if something already listens on ``host:port``."""
    with socket.socket(socket.AF_INET, socket.SOCK_STREAM) as sock:
        sock.settimeout(0.5)
        return sock.connect_ex((host, port)) == 0


def fetch_cluster_info(host: str, port: int, timeout: float = 2.0) -> ClusterInfo:
    """Ask the broker for its cluster metadata with aiokafka's admin client.

    Raises ``OSError`` (``TimeoutError`` included) if the broker does not answer
    in time or refuses the connection.
    """
    try:
        return asyncio.run(asyncio.wait_for(_describe(f"{host}:{port}", timeout), timeout))
    except KafkaError as exc:
        raise OSError(f"Kafka on {host}:{port} did not answer: {exc!r}") from exc


async def _describe(bootstrap_servers: str, timeout: float) -> ClusterInfo:
    admin = AIOKafkaAdminClient(
        bootstrap_servers=bootstrap_servers, request_timeout_ms=int(timeout * 1000)
    )
    try:
        await admin.start()
        cluster = await admin.describe_cluster()
    finally:
        await admin.close()
    return ClusterInfo(
        broker_ids=tuple(sorted(broker["node_id"] for broker in cluster["brokers"])),
        cluster_id=cluster.get("cluster_id"),
        controller_id=cluster.get("controller_id", -1),
    )
