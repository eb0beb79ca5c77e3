"""Figures of a run: repeated values, their baseline, the target, the verdict."""

import statistics
from collections.abc import Mapping, Sequence
from dataclasses import asdict, dataclass
from typing import Any, Literal


def percentile(values: Sequence[float], q: float) -> float:
    """The q-th percentile (0..100), nearest-rank: a value that was really observed."""
    if not values:
        return float("nan")
    ordered = sorted(values)
    rank = max(1, -(-len(ordered) * q // 100))  # ceil without floats
    return ordered[int(rank) - 1]


#: One repetition's figures by name, e.g. ``{"rate": 812.5, "p99": 41.0}``.
Metrics = dict[str, float]


def column(reps: list[Metrics], key: str) -> list[float]:
    """One figure across the repetitions."""
    return [round(rep[key], 2) for rep in reps]


@dataclass(frozen=True)
class Target:
    """``ours <op> value`` (``relative``: ``ours <op> value × baseline``).

    Checked on the median of the repetitions, except ``worst``: then every
    repetition must meet it (error counts, memory).
    """

    op: Literal["<=", ">="]
    value: float
    relative: bool = False
    worst: bool = False

    def __str__(self) -> str:
        limit = f"{self.value:g} × baseline" if self.relative else f"{self.value:g}"
        return f"{'≤' if self.op == '<=' else '≥'} {limit}" + (" (every rep)" if self.worst else "")


@dataclass(frozen=True)
class Figure:
    scenario: str
    metric: str
    unit: str
    ours: Sequence[float]
    baseline: Sequence[float] | None = None
    target: Target | None = None
    note: str = ""

    @property
    def median(self) -> float:
        return statistics.median(self.ours)

    @property
    def baseline_median(self) -> float | None:
        return statistics.median(self.baseline) if self.baseline else None

    @property
    def ratio(self) -> float | None:
        base = self.baseline_median
        return self.median / base if base else None

    @property
    def met(self) -> bool | None:
        target = self.target
        if target is None:
            return None
        if target.relative:
            value, limit = self.ratio, target.value
            if value is None:
                return None
        else:
            worst = max(self.ours) if target.op == "<=" else min(self.ours)
            value, limit = (worst if target.worst else self.median), target.value
        return value <= limit if target.op == "<=" else value >= limit

    def to_json(self) -> dict[str, Any]:
        data = asdict(self)
        data["target"] = str(self.target) if self.target else None
        data.update(
            median=self.median,
            spread=[min(self.ours), max(self.ours)],
            baselineMedian=self.baseline_median,
            ratio=self.ratio,
            met=self.met,
        )
        return data


def load_figures(
    scenario: str,
    label: str,
    ours: list[Metrics],
    base: list[Metrics],
    *,
    rate_target: float,
    baseline_note: str,
    errors_metric: str,
    errors_seen: Mapping[str, int],
) -> list[Figure]:
    """The figures of a load run beside its baseline: rate (at least ``rate_target`` ×
    the baseline's), p50, p99 (≤ 50 ms) and errors (none in any repetition)."""
    return [
        Figure(
            scenario,
            f"{label}: rate",
            "req/s",
            column(ours, "rate"),
            column(base, "rate"),
            Target(">=", rate_target, relative=True),
            note=baseline_note,
        ),
        Figure(scenario, "latency p50", "ms", column(ours, "p50"), column(base, "p50")),
        Figure(
            scenario,
            "latency p99",
            "ms",
            column(ours, "p99"),
            column(base, "p99"),
            Target("<=", 50),
        ),
        Figure(
            scenario,
            errors_metric,
            "count",
            column(ours, "errors"),
            column(base, "errors"),
            Target("<=", 0, worst=True),
            note="ours: " + (", ".join(f"{k} × {v}" for k, v in errors_seen.items()) or "none"),
        ),
    ]
