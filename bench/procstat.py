"""CPU time and resident memory of processes, read from ``/proc`` (Linux only).

Reading ``/proc`` directly needs no extra dependency (psutil) and is what
``ps`` and ``top`` read anyway.
"""

import asyncio
import contextlib
import os
import resource
import time
from collections.abc import Mapping
from dataclasses import dataclass, field
from pathlib import Path

_TICKS = os.sysconf("SC_CLK_TCK")


def rss_mb(pid: int) -> float:
    """Resident set size (VmRSS) in MB; 0 if the process is gone."""
    try:
        for line in Path(f"/proc/{pid}/status").read_text().splitlines():
            if line.startswith("VmRSS:"):
                return int(line.split()[1]) / 1024
    except OSError:
        pass
    return 0.0


def _stat_fields(pid: int) -> list[str]:
    # The command name (field 2) may contain spaces: split after its ')'.
    text = Path(f"/proc/{pid}/stat").read_text()
    return text[text.rindex(")") + 2 :].split()


def cpu_seconds(pid: int) -> float:
    """User + system CPU seconds the process has used so far."""
    try:
        fields = _stat_fields(pid)
    except OSError:
        return 0.0
    return (int(fields[11]) + int(fields[12])) / _TICKS


def is_alive(pid: int) -> bool:
    """True unless the process is gone or a zombie (exited, not yet reaped)."""
    try:
        return _stat_fields(pid)[0] != "Z"
    except OSError:
        return False


def children_named(name: str, parent: int | None = None) -> list[int]:
    """Pids of our direct children whose command is ``name`` (e.g. the broker's ``java``).

    KafkaBroker does not expose its pid; it is our only ``java`` child.
    """
    parent = os.getpid() if parent is None else parent
    found = []
    for entry in Path("/proc").iterdir():
        if not entry.name.isdigit():
            continue
        try:
            comm = (entry / "comm").read_text().strip()
            ppid = int(_stat_fields(int(entry.name))[1])
        except (OSError, ValueError):
            continue
        if comm == name and ppid == parent:
            found.append(int(entry.name))
    return found


def own_cpu_seconds() -> float:
    usage = resource.getrusage(resource.RUSAGE_SELF)
    return usage.ru_utime + usage.ru_stime


@dataclass
class CpuMeter:
    """CPU used by this process and by named others between two moments, as % of one core.

    Shows readers where the machine's two cores went: a load generator near
    100 % would be the bottleneck itself.
    """

    pids: Mapping[str, int]
    #: After the block: % of one core per name ("loadgen" is this process).
    percent: dict[str, float] = field(default_factory=dict)
    _start: dict[str, float] = field(default_factory=dict)
    _wall: float = 0.0

    def _now(self) -> dict[str, float]:
        return {"loadgen": own_cpu_seconds(), **{n: cpu_seconds(p) for n, p in self.pids.items()}}

    def __enter__(self) -> "CpuMeter":
        self._start, self._wall = self._now(), time.monotonic()
        return self

    def __exit__(self, *_: object) -> None:
        self._wall = time.monotonic() - self._wall
        end = self._now()
        self.percent = {
            name: round(100 * (end[name] - self._start[name]) / self._wall, 1) for name in end
        }


class PeakRss:
    """Samples a process's RSS every ``interval`` seconds in the background; keeps the peak."""

    def __init__(self, pid: int, interval: float = 0.05) -> None:
        self.pid = pid
        self.interval = interval
        self.start_mb = rss_mb(pid)
        self.peak_mb = self.start_mb
        self._task: asyncio.Task[None] | None = None

    async def _sample(self) -> None:
        while True:
            self.peak_mb = max(self.peak_mb, rss_mb(self.pid))
            await asyncio.sleep(self.interval)

    async def __aenter__(self) -> "PeakRss":
        self._task = asyncio.create_task(self._sample())
        return self

    async def __aexit__(self, *_: object) -> None:
        assert self._task is not None
        self._task.cancel()
        with contextlib.suppress(asyncio.CancelledError):
            await self._task
        self.peak_mb = max(self.peak_mb, rss_mb(self.pid))
