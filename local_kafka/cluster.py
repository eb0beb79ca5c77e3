"""A local Kafka cluster: several KRaft nodes, each a broker and a controller, as children.

Three nodes by default: a controller quorum and replicas that survive one
node down.  Topics are replicated on every node (up to 3) with
``min.insync.replicas`` 2, so an ``acks=all`` write is acknowledged only
once it is on two nodes.  Each node keeps its data under
``<data_dir>/node-<id>``; the cluster id is written once, at the first
start, and read back afterwards, so the cluster comes back with its data.
"""

from __future__ import annotations

import time
from pathlib import Path

from local_kafka.broker import HOST, KafkaBroker, Quorum
from local_kafka.probe import free_port
from local_kafka.process import Lifecycle
from local_kafka.storage import cluster_id, random_cluster_id

#: Replication and the in-sync replicas an acknowledged write needs.
MAX_REPLICATION = 3
MIN_INSYNC = 2


def replication_of(size: int) -> tuple[int, int]:
    """(replication factor, min.insync.replicas) of topics on a cluster of ``size`` nodes."""
    replication = min(size, MAX_REPLICATION)
    return replication, min(MIN_INSYNC, replication)


class KafkaCluster(Lifecycle):
    """``size`` nodes on ``127.0.0.1``; with ``first_port``, node *i* (from 1) listens on
    ``first_port + 2(i - 1)`` and its controller on the port after it, else on free ports."""

    START_TIMEOUT = 120

    def __init__(
        self, data_dir: Path, size: int = 3, first_port: int = 0, *, log_to_terminal: bool = False
    ) -> None:
        self.data_dir = Path(data_dir).resolve()
        ports = [
            (first_port + 2 * n, first_port + 2 * n + 1)
            if first_port
            else (free_port(), free_port())
            for n in range(size)
        ]
        voters = ",".join(f"{n + 1}@{HOST}:{controller}" for n, (_, controller) in enumerate(ports))
        replication, min_isr = replication_of(size)
        quorum = Quorum(voters, replication, min_isr, self._cluster_id(), size)
        self.replication_factor = replication
        self.brokers = [
            KafkaBroker(
                self.data_dir / f"node-{n + 1}",
                port,
                controller,
                log_to_terminal=log_to_terminal,
                node_id=n + 1,
                quorum=quorum,
            )
            for n, (port, controller) in enumerate(ports)
        ]
        self.bootstrap_servers = ",".join(broker.bootstrap_servers for broker in self.brokers)

    def _cluster_id(self) -> str:
        path = self.data_dir / "cluster.id"
        if path.exists():
            return path.read_text().strip()
        found = cluster_id(self.data_dir / "node-1" / "logs") or random_cluster_id()
        self.data_dir.mkdir(parents=True, exist_ok=True)
        path.write_text(found + "\n")
        return found

    def start(self, timeout: float = START_TIMEOUT) -> None:
        """Launch every node, then wait until each sees the whole cluster."""
        deadline = time.monotonic() + timeout
        for broker in self.brokers:
            broker.launch()
        for broker in self.brokers:
            broker.wait_ready(deadline)

    def stop(self) -> None:
        """All nodes at once: the last of nodes stopped one by one would wait for a
        controller quorum that is gone."""
        for broker in self.brokers:
            broker.ask_to_stop()
        for broker in self.brokers:
            broker.stop()
