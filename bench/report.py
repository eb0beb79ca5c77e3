"""The run's header, the aligned table, and the JSON file under ``bench/results/``."""

import json
import os
import platform as host
import statistics
import sys
from collections.abc import Sequence
from datetime import UTC, datetime
from importlib.metadata import version
from pathlib import Path
from typing import Any

from bench.stats import Figure
from local_kafka.fetch import kafka_version

RESULTS_DIR = Path(__file__).parent / "results"


def environment() -> dict[str, Any]:
    return {
        "cores": os.cpu_count(),
        "loadavg": [round(x, 2) for x in os.getloadavg()],
        "machine": host.platform(),
        "python": sys.version.split()[0],
        "kafka": kafka_version(),
        **{name: version(name) for name in ("faust-streaming", "aiokafka", "aiohttp")},
    }


def _number(value: float | None) -> str:
    if value is None:
        return "—"
    if value != value:  # NaN: nothing was measured
        return "n/a"
    return f"{value:,.0f}" if abs(value) >= 100 else f"{value:.3g}"


def _spread(values: Sequence[float] | None) -> str:
    if not values:
        return "—"
    median = _number(statistics.median(values))
    return (
        median if len(values) == 1 else f"{median} ({_number(min(values))}–{_number(max(values))})"
    )


def table(figures: list[Figure]) -> str:
    header = (
        "scenario",
        "metric",
        "unit",
        "ours: median (min–max)",
        "baseline",
        "ratio",
        "target",
        "met",
    )
    rows = [
        (
            f.scenario,
            f.metric,
            f.unit,
            _spread(f.ours),
            _spread(f.baseline),
            f"{f.ratio:.2f}" if f.ratio is not None else "—",
            str(f.target) if f.target else "",
            {True: "yes", False: "NO", None: ""}[f.met],
        )
        for f in figures
    ]
    widths = [max(len(row[i]) for row in (header, *rows)) for i in range(len(header))]
    lines = [
        "  ".join(cell.ljust(width) for cell, width in zip(row, widths, strict=True))
        for row in (header, *rows)
    ]
    lines.insert(1, "  ".join("-" * width for width in widths))
    notes = [f"  {f.scenario} / {f.metric}: {f.note}" for f in figures if f.note]
    return "\n".join(lines + (["", "notes:", *notes] if notes else []))


def _strict(value: Any) -> Any:
    """NaN (nothing measured, e.g. a scan that ended in 504) as null: NaN is not JSON."""
    if isinstance(value, float) and value != value:
        return None
    if isinstance(value, dict):
        return {key: _strict(item) for key, item in value.items()}
    if isinstance(value, list | tuple):
        return [_strict(item) for item in value]
    return value


def write_json(env: dict[str, Any], options: dict[str, Any], figures: list[Figure]) -> Path:
    RESULTS_DIR.mkdir(exist_ok=True)
    stamp = datetime.now(UTC).strftime("%Y%m%dT%H%M%SZ")
    path = RESULTS_DIR / f"{stamp}.json"
    payload = {"environment": env, "options": options, "figures": [f.to_json() for f in figures]}
    path.write_text(json.dumps(_strict(payload), indent=2, allow_nan=False, default=str) + "\n")
    return path
