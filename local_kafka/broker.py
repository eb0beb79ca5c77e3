"""A real Kafka broker (KRaft, broker+controller in one JVM) as a child: alone, or a node
of a :class:`~local_kafka.cluster.KafkaCluster`."""

from __future__ import annotations

import logging
import subprocess
import time
from collections.abc import Mapping
from dataclasses import dataclass, field
from pathlib import Path

from local_kafka.fetch import PACKAGE_DIR, ensure_libs, kafka_version
from local_kafka.jvm import java_command
from local_kafka.probe import fetch_cluster_info, free_port, port_in_use
from local_kafka.process import LocalService, ManagedProcess, ServiceError
from local_kafka.storage import format_once

logger = logging.getLogger(__name__)

HOST = "127.0.0.1"
CONFIG_TEMPLATE = PACKAGE_DIR / "server.properties.template"
BROKER_LOG_CONFIG = PACKAGE_DIR / "broker-log4j2.xml"

# Kafka's scripts default to a 1 GiB heap; a dev/test broker with a handful of topics
# needs far less. Exiting on OOM beats a half-dead broker that tests would wait on.
_BROKER_JVM_OPTIONS = ("-Xms128m", "-Xmx512m", "-XX:+ExitOnOutOfMemoryError")


class BrokerError(ServiceError):
    """The broker could not start, or was used in a state that does not allow it."""


@dataclass(frozen=True)
class Quorum:
    """What a node knows of its cluster: the voters, the replication of internal
    topics, and the cluster id a first start formats its storage with."""

    #: ``<node id>@<host>:<controller port>,…``; empty: this node alone.
    voters: str = ""
    replication_factor: int = 1
    min_isr: int = 1
    cluster_id: str | None = None
    size: int = 1


@dataclass(frozen=True)
class SecureListener:
    """A SASL_SSL listener beside PLAINTEXT: TLS with ``keystore`` (PKCS12) and SCRAM
    logins of ``users`` (name → password), created when the storage is formatted."""

    port: int
    keystore: Path
    keystore_password: str = field(repr=False)
    users: Mapping[str, str] = field(repr=False)
    mechanism: str = "SCRAM-SHA-256"

    @property
    def bootstrap_servers(self) -> str:
        return f"{HOST}:{self.port}"

    def properties(self) -> str:
        prefix = "listener.name.sasl_ssl"
        return "\n".join(
            [
                f"sasl.enabled.mechanisms={self.mechanism}",
                f"{prefix}.{self.mechanism.lower()}.sasl.jaas.config="
                "org.apache.kafka.common.security.scram.ScramLoginModule required;",
                f"{prefix}.ssl.keystore.type=PKCS12",
                f"{prefix}.ssl.keystore.location={self.keystore}",
                f"{prefix}.ssl.keystore.password={self.keystore_password}",
                "",
            ]
        )

    def scram_credentials(self) -> list[str]:
        return [
            f"{self.mechanism}=[name={name},password={password}]"
            for name, password in self.users.items()
        ]


class KafkaBroker(LocalService):
    """A Kafka broker listening on ``127.0.0.1`` with all its state under ``data_dir``.

    Ports given as 0 are chosen once, here, and kept for the object's lifetime, so
    :meth:`restart` brings the broker back at the same ``bootstrap_servers`` and
    clients can reconnect. ``data_dir`` survives :meth:`stop`: the next
    :meth:`start` reuses its cluster id and topics.

    With ``log_to_terminal`` the JVM's stderr (WARN and above, JVM crashes) goes to
    our terminal; otherwise to ``data_dir/broker.out``. Full logs are always in
    ``data_dir/broker.log``.
    """

    def __init__(
        self,
        data_dir: Path,
        port: int = 0,
        controller_port: int = 0,
        *,
        log_to_terminal: bool = False,
        node_id: int = 1,
        quorum: Quorum = Quorum(),
        secure_listener: SecureListener | None = None,
    ) -> None:
        self.data_dir = Path(data_dir).resolve()
        chosen = {secure_listener.port} if secure_listener else set()
        self.port = port or free_port(HOST, avoid=chosen)
        self.controller_port = controller_port or free_port(HOST, avoid={*chosen, self.port})
        self.node_id = node_id
        self.quorum = quorum
        self.secure_listener = secure_listener
        self.bootstrap_servers = f"{HOST}:{self.port}"
        self.log_path = self.data_dir / "broker.log"
        self._log_to_terminal = log_to_terminal
        self._process = ManagedProcess("Kafka", self.bootstrap_servers, BrokerError)
        self._cluster_id: str | None = None

    @property
    def is_running(self) -> bool:
        """True while the JVM process exists (also when paused)."""
        return self._process.is_running

    def start(self, timeout: float = 90) -> None:
        """Start the broker and return once it serves requests.

        Fetches the jars first if needed (not counted in ``timeout``). Raises
        :class:`BrokerError`, quoting the end of ``broker.log``, if the JVM exits or
        is not ready within ``timeout`` seconds; the JVM is then killed.
        """
        started = time.monotonic()
        self.launch()
        self.wait_ready(started + timeout)

    def launch(self) -> None:
        """Format the storage (first start only) and start the JVM; do not wait for it.

        The nodes of a cluster are all launched before any is waited for: a
        node serves only once a majority of the controllers has elected a leader.
        """
        self._process.refuse_if_running()
        for port in (self.port, self.controller_port):
            if port_in_use(HOST, port):
                raise BrokerError(f"{HOST}:{port} is taken (another Kafka still running?)")
        ensure_libs()
        self._started = time.monotonic()
        self.data_dir.mkdir(parents=True, exist_ok=True)
        config = self._write_config()
        try:
            self._cluster_id = format_once(
                self.data_dir / "logs",
                config,
                self.quorum.cluster_id,
                self.secure_listener.scram_credentials() if self.secure_listener else (),
            )
        except subprocess.CalledProcessError as exc:
            output = f"{exc.stdout}{exc.stderr}".strip()
            raise BrokerError(f"Formatting {self.data_dir / 'logs'} failed:\n{output}") from exc

        command = java_command(
            "kafka.Kafka",
            [str(config)],
            log_config=BROKER_LOG_CONFIG,
            jvm_options=[*_BROKER_JVM_OPTIONS, f"-Dkafka.logs.dir={self.data_dir}"],
        )
        broker_out = self.data_dir / "broker.out"
        self._process.spawn(
            command,
            output=None if self._log_to_terminal else broker_out,
            logs=(self.log_path, broker_out),
        )

    def wait_ready(self, deadline: float) -> None:
        """Return once the broker answers as a member of its whole cluster (see :meth:`start`)."""
        self._process.wait_until(self._answers, deadline)
        logger.info(
            "Kafka %s node %d (pid %d) started in %.1fs on %s, data in %s",
            kafka_version(),
            self.node_id,
            self._process.pid,
            time.monotonic() - self._started,
            self.bootstrap_servers,
            self.data_dir,
        )

    def _write_config(self) -> Path:
        """Render server.properties on every start, so port changes take effect."""
        config = self.data_dir / "server.properties"
        secure = self.secure_listener
        text = CONFIG_TEMPLATE.read_text().format(
            node_id=self.node_id,
            port=self.port,
            controller_port=self.controller_port,
            sasl_ssl=f",SASL_SSL://{secure.bootstrap_servers}" if secure else "",
            sasl_ssl_protocol=",SASL_SSL:SASL_SSL" if secure else "",
            voters=self.quorum.voters or f"{self.node_id}@{HOST}:{self.controller_port}",
            data_dir=self.data_dir,
            replication_factor=self.quorum.replication_factor,
            min_isr=self.quorum.min_isr,
        )
        config.write_text(text + (secure.properties() if secure else ""))
        return config

    def _answers(self) -> bool:
        """True once a Metadata request shows every broker of the cluster, and a controller.

        Checking the cluster id makes sure the answer comes from this broker, not
        from another process that took the port.
        """
        # Ask only once the listener is bound: until then every try would
        # just log a refused connection.
        if not port_in_use(HOST, self.port):
            return False
        try:
            info = fetch_cluster_info(HOST, self.port, timeout=1.0)
        except OSError:
            return False
        return (
            info.cluster_id == self._cluster_id
            and len(info.broker_ids) >= self.quorum.size
            and info.controller_id >= 0
        )
