"""How big and how long each scenario is: the full run and ``--quick``."""

from collections.abc import Iterable
from dataclasses import dataclass, fields, replace


@dataclass(frozen=True)
class Sizes:
    """The full run's sizes fit 12 minutes on 2 cores; where the issue asks for
    more, its figure is in the comment (``--size`` restores it)."""

    reps: int = 3
    clients: int = 32
    #: Seconds of each throughput measurement, ours and the ceiling's (issue: 30).
    throughput_seconds: float = 15
    warmup_seconds: float = 3
    #: Seconds of each wrk run, ours and the bare endpoint's (wrk takes whole seconds).
    wrk_seconds: int = 15
    latency_rate: float = 300
    #: The open-loop rate reported beside it (no target).
    high_latency_rate: float = 1000
    latency_seconds: float = 10
    #: Preloaded orders on ``order-events``, and events of each, 1 or 2 (issue:
    #: 200,000 events; the projection reads all of them in each repetition at
    #: about 1,000-2,000 events/s).
    orders: int = 100_000
    events_per_order: int = 1
    #: Records and distinct orders of the scanned topic (issue: 1,000,000 and 100,000).
    scan_records: int = 500_000
    scan_ids: int = 50_000
    #: Orders looked up after a restart.
    sample: int = 1000
    #: Reads waiting at once for a version (the waits scenario).
    waits: int = 1000

    def override(self, assignments: Iterable[str]) -> "Sizes":
        """These sizes with ``name=value`` assignments applied (values of the field's type)."""
        kinds = {f.name: type(getattr(self, f.name)) for f in fields(self)}
        changes = {}
        for assignment in assignments:
            name, _, value = assignment.partition("=")
            if name not in kinds:
                raise SystemExit(f"unknown size {name!r}; one of {', '.join(kinds)}")
            changes[name] = kinds[name](value)
        return replace(self, **changes)


FULL = Sizes()
QUICK = Sizes(
    reps=1,
    throughput_seconds=5,
    wrk_seconds=5,
    warmup_seconds=1,
    latency_seconds=5,
    orders=5_000,
    events_per_order=2,
    scan_records=50_000,
    scan_ids=5_000,
    sample=200,
)
