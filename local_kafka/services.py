"""One service worker process: ``faust -A <module> worker``, configured by environment.

The one start/stop contract of a service process, for the local stack
(:mod:`local_kafka.stack`) and so for ``make run``, the tests and the benchmarks.
"""

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

from local_kafka.process import ends_with_parent, terminate


class ServiceProcess:
    """One ``faust -A <module> worker`` process, configured by environment variables
    with the service's ``env_prefix``."""

    def __init__(
        self,
        name: str,
        module: str,
        env_prefix: str,
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
        self.module = module
        prefix = env_prefix
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

    @property
    def is_running(self) -> bool:
        return self._process is not None and self._process.poll() is None

    @property
    def exit_status(self) -> int | None:
        """The status the worker exited with, once started and exited on its own."""
        return self._process.poll() if self._process is not None else None

    def start(self) -> None:
        """Start the worker; its output goes to ``log_path`` or, prefixed, to ours."""
        command = [
            *(sys.executable, "-m", "faust", "-L", "uvloop", "-A", self.module),
            *("worker", "-l", "info"),
        ]
        self._close()  # what an earlier run that exited on its own left open
        if self.log_path is not None:
            self._log = self.log_path.open("ab")
        self._process = subprocess.Popen(
            command,
            env=self.env,
            stdout=self._log or subprocess.PIPE,
            stderr=subprocess.STDOUT,
            preexec_fn=ends_with_parent(),
        )
        if self._log is None:
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

    def pause(self) -> None:
        """SIGSTOP: connections are accepted, nothing is answered (a hung worker)."""
        if self._process is not None:
            self._process.send_signal(signal.SIGSTOP)

    def resume(self) -> None:
        """SIGCONT a paused worker."""
        if self._process is not None:
            self._process.send_signal(signal.SIGCONT)

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
