"""A real Confluent-API-compatible schema registry (Apicurio Registry) as a child JVM."""

from __future__ import annotations

import http.client
import json
import logging
import time
import urllib.request
from pathlib import Path

from local_kafka.apicurio import APICURIO_VERSION, ensure_registry, launcher_jar
from local_kafka.jvm import java_executable
from local_kafka.probe import free_port, port_in_use
from local_kafka.process import LocalService, ManagedProcess, ServiceError

logger = logging.getLogger(__name__)

HOST = "127.0.0.1"
CCOMPAT_PATH = "/apis/ccompat/v7"

# A registry for dev and tests holds a handful of schemas: 384 MiB of heap is plenty.
# C1 only (no C2): it starts sooner and in less memory, and peak throughput does not
# matter here. Exiting on OOM beats a half-dead server that tests would wait on.
_JVM_OPTIONS = ("-Xmx384m", "-XX:TieredStopAtLevel=1", "-XX:+ExitOnOutOfMemoryError")
# The Confluent default. Enforced on every registration, including through ccompat.
_GLOBAL_COMPATIBILITY = "BACKWARD"
# Apicurio's own console format prints the month as "11+00" ("MMx" is a zone offset).
_LOG_FORMAT = "%d{yyyy-MM-dd HH:mm:ss,SSS} %-5p [%c{3.}] (%t) %s%e%n"
# The probe must reach 127.0.0.1 directly even when $http_proxy is set.
_NO_PROXY = urllib.request.build_opener(urllib.request.ProxyHandler({}))


class RegistryProcessError(ServiceError):
    """The registry could not start, or was used in a state that does not allow it."""


class SchemaRegistry(LocalService):
    """Apicurio Registry on ``127.0.0.1``; clients use the Confluent API at :attr:`url`.

    Storage: by default Apicurio's in-memory H2 database, so every schema is lost
    when the JVM stops (:meth:`stop`, :meth:`restart`, :meth:`kill`). With
    ``persistent`` it uses an H2 *file* database in ``data_dir/h2`` instead (no
    other service needed): schemas and ids survive a restart and a SIGKILL. H2
    locks that file, so only one registry at a time can use a ``data_dir``.

    Compatibility: the global rule is BACKWARD (``apicurio.rules.global.compatibility``),
    so ccompat rejects an incompatible version with HTTP 409. Apicurio treats it as
    a default, not a stored setting: ccompat ``GET /config`` answers NONE, and
    ``PUT /config`` with NONE fails (404, nothing to delete). ``PUT /config`` and
    ``PUT /config/{subject}`` with another level store it; ``GET`` reports it and a
    subject's level wins over the global one. A subject's NONE deletes its rule, so
    the global BACKWARD applies again (the native v3 API can store NONE per artifact).

    Ports given as 0 are chosen once, here, so :meth:`restart` comes back at the same
    :attr:`url`. Apicurio 3.0.9 is built without Quarkus' separate management
    interface: ``/health/ready`` and ``/metrics`` are served on ``port``.
    ``management_port`` is still passed (``quarkus.management.port``) so that a
    3.3.x distribution, which has that interface, never binds its default 9000.

    Everything the JVM prints goes to ``data_dir/registry.log``.
    """

    START_TIMEOUT = 120

    def __init__(
        self,
        data_dir: Path,
        port: int = 0,
        management_port: int = 0,
        *,
        persistent: bool = False,
    ) -> None:
        self.data_dir = Path(data_dir).resolve()
        self.port = port or free_port(HOST)
        self.management_port = management_port or free_port(HOST)
        self.persistent = persistent
        self.log_path = self.data_dir / "registry.log"
        self._process = ManagedProcess("Schema registry", self.url, RegistryProcessError)
        #: When the JVM was launched: the start of :meth:`wait_ready`'s deadline.
        self._started = 0.0

    @property
    def url(self) -> str:
        """Base URL of the Confluent-compatible API, e.g. for ``schema.registry.url``."""
        return f"http://{HOST}:{self.port}{CCOMPAT_PATH}"

    @property
    def is_running(self) -> bool:
        """True while the JVM process exists (also when paused)."""
        return self._process.is_running

    def start(self, timeout: float = START_TIMEOUT) -> None:
        """Start the registry and return once ``GET {url}/subjects`` answers a JSON list.

        Fetches the distribution first if needed (not counted in ``timeout``). Raises
        :class:`RegistryProcessError`, quoting the end of ``registry.log``, if the JVM exits
        or is not ready within ``timeout`` seconds; the JVM is then killed.
        """
        self.launch()
        self.wait_ready(timeout)

    def launch(self) -> None:
        """Start the JVM and do not wait for it (it needs nothing else: a stack starts it
        beside Kafka)."""
        self._process.refuse_if_running()
        if port_in_use(HOST, self.port):
            raise RegistryProcessError(
                f"{HOST}:{self.port} is taken (another registry still running?)"
            )
        dist = ensure_registry()
        self._started = time.monotonic()
        self.data_dir.mkdir(parents=True, exist_ok=True)
        # The working directory is data_dir because Quarkus also reads config/ and .env
        # from it: a stray file where the user happens to stand must not change the setup.
        self._process.spawn(
            self._command(dist), output=self.log_path, logs=(self.log_path,), cwd=self.data_dir
        )

    def wait_ready(self, timeout: float = START_TIMEOUT) -> None:
        """Return once the registry answers, ``timeout`` s after the launch at most (see
        :meth:`start`)."""
        self._process.wait_until(self._answers, self._started + timeout)
        logger.info(
            "Apicurio Registry %s (pid %d) started in %.1fs at %s, %s",
            APICURIO_VERSION,
            self._process.pid,
            time.monotonic() - self._started,
            self.url,
            f"data in {self.data_dir / 'h2'}" if self.persistent else "in memory",
        )

    def _command(self, dist: Path) -> list[str]:
        # System properties outrank application.properties and environment variables.
        properties = {
            "quarkus.http.host": HOST,
            "quarkus.http.port": self.port,
            "quarkus.management.host": HOST,
            "quarkus.management.port": self.management_port,
            "apicurio.rules.global.compatibility": _GLOBAL_COMPATIBILITY,
            "quarkus.log.console.format": _LOG_FORMAT,
        }
        if self.persistent:
            # WRITE_DELAY=0: H2 writes each commit to the file at once instead of up to
            # 500 ms later, so a schema whose id was returned survives a SIGKILL (with
            # the default, 2 of 5 kills right after a registration lost it).
            properties["apicurio.datasource.url"] = (
                f"jdbc:h2:file:{self.data_dir / 'h2' / 'registry'};WRITE_DELAY=0"
            )
        return [
            java_executable(),
            *_JVM_OPTIONS,
            *(f"-D{key}={value}" for key, value in properties.items()),
            "-jar",
            str(launcher_jar(dist)),
        ]

    def _answers(self) -> bool:
        """True once the ccompat API lists subjects, i.e. HTTP, REST and storage are up."""
        try:
            with _NO_PROXY.open(f"{self.url}/subjects", timeout=1.0) as response:
                return response.status == 200 and isinstance(json.load(response), list)
        except (OSError, ValueError, http.client.HTTPException):
            return False
