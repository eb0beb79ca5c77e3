"""The Docker engine and one compose project, driven through the docker CLI."""

from __future__ import annotations

import json
import os
import subprocess
import sys
import time
from collections.abc import Sequence
from dataclasses import dataclass
from pathlib import Path

from stackcheck.report import CheckFailed

ROOT = Path(__file__).resolve().parents[2]
#: How long any one docker command may take (a build or `up --wait` included).
COMMAND_TIMEOUT = 900.0


def docker(
    *args: str,
    env: dict[str, str] | None = None,
    timeout: float = COMMAND_TIMEOUT,
    check: bool = True,
) -> subprocess.CompletedProcess[str]:
    """Run ``docker ARGS`` in the repository; a failure raises with the end of its output."""
    result = subprocess.run(
        ["docker", *args],
        cwd=ROOT,
        env={**os.environ, **(env or {})},
        capture_output=True,
        text=True,
        timeout=timeout,
        check=False,
    )
    if check and result.returncode != 0:
        tail = (result.stderr or result.stdout).strip().splitlines()[-8:]
        raise CheckFailed(
            f"docker {' '.join(args[:3])} … exited {result.returncode}: " + " / ".join(tail)
        )
    return result


def engine_problem() -> str | None:
    """Why no check can run here, in one line; None when an engine and Compose v2 answer."""
    try:
        info = docker("info", "--format", "{{.ServerVersion}}", timeout=30, check=False)
    except FileNotFoundError:
        return "no docker command on PATH"
    except subprocess.TimeoutExpired:
        return "`docker info` did not answer within 30 s"
    if info.returncode != 0 or not info.stdout.strip():
        reason = (info.stderr.strip().splitlines() or ["no answer"])[-1]
        return f"no Docker engine reachable ({reason})"
    compose = docker("compose", "version", "--short", timeout=30, check=False)
    major = compose.stdout.strip().lstrip("v").split(".")[0]
    # The `docker compose` plugin: v2, or a later major release (v5 followed v2).
    if compose.returncode != 0 or not major.isdigit() or int(major) < 2:
        return "Docker Compose v2 (the `docker compose` plugin) is not installed"
    return None


@dataclass
class Container:
    service: str
    id: str
    state: str
    health: str
    exit_code: int


class Compose:
    """One compose project (``files`` layered), as a user runs it from the repository."""

    def __init__(self, files: Sequence[str], env: dict[str, str]) -> None:
        self.files = list(files)
        self.env = env
        config = json.loads(self.run("config", "--format", "json").stdout)
        self.name: str = config["name"]
        self.services: dict[str, dict] = config["services"]

    def run(self, *args: str, timeout: float = COMMAND_TIMEOUT) -> subprocess.CompletedProcess[str]:
        file_args = [arg for name in self.files for arg in ("-f", name)]
        return docker("compose", *file_args, *args, env=self.env, timeout=timeout)

    def containers(self) -> list[Container]:
        """Every container of the project, running or not."""
        output = self.run("ps", "--all", "--format", "json").stdout.strip()
        # Compose prints one JSON object per line (older versions: one JSON list).
        entries = (
            json.loads(output)
            if output.startswith("[")
            else [json.loads(line) for line in output.splitlines() if line.strip()]
        )
        return [
            Container(e["Service"], e["ID"], e["State"], e.get("Health", ""), int(e["ExitCode"]))
            for e in entries
        ]

    def restart_counts(self) -> dict[str, int]:
        """Restarts by the restart policy per service (a crash loop shows here)."""
        ids = {c.id: c.service for c in self.containers()}
        output = docker("inspect", "--format", "{{.Id}} {{.RestartCount}}", *ids).stdout
        counts = {}
        for line in output.split("\n"):
            if line.strip():
                full_id, count = line.split()
                (service,) = [s for short, s in ids.items() if full_id.startswith(short)]
                counts[service] = int(count)
        return counts

    def wait_healthy(self, services: Sequence[str], timeout: float = 180.0) -> float:
        """Wait until every long-running service is healthy and every one-shot one has
        exited 0; returns the seconds taken. Fails at once if a one-shot job failed."""
        started = time.monotonic()
        while True:
            states = {c.service: c for c in self.containers() if c.service in services}
            pending = []
            for service in services:
                c = states.get(service)
                if c is None:
                    pending.append(f"{service} missing")
                elif self.services[service].get("restart", "no") == "no":
                    if c.state == "exited" and c.exit_code != 0:
                        raise CheckFailed(f"{service} exited {c.exit_code}")
                    if c.state != "exited":
                        pending.append(f"{service} {c.state}")
                elif c.health != "healthy":
                    pending.append(f"{service} {c.state}/{c.health or 'no health'}")
            if not pending:
                return time.monotonic() - started
            if time.monotonic() - started > timeout:
                raise CheckFailed(f"not healthy after {timeout:.0f}s: {', '.join(pending)}")
            time.sleep(0.5)

    def volumes(self) -> list[str]:
        return docker(
            "volume", "ls", "-q", "--filter", f"label=com.docker.compose.project={self.name}"
        ).stdout.split()

    def remove(self) -> None:
        """Containers, networks and volumes of the project, whatever state it is in."""
        self.run("down", "--volumes", "--remove-orphans", "--timeout", "30")


if __name__ == "__main__":
    # `make docker-test` asks this first, with any Python, before it sets anything up.
    if problem := engine_problem():
        print(f"make docker-test: {problem}; nothing was checked.", file=sys.stderr)
        sys.exit(2)
