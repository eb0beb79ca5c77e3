"""The table of checks: one row per step, with its outcome and how long it took."""

from __future__ import annotations

import time
from collections.abc import Iterator
from contextlib import contextmanager
from dataclasses import dataclass, field


class CheckFailed(Exception):
    """A check saw something other than what it expects; the message says what."""


@dataclass
class Row:
    stack: str
    step: str
    ok: bool
    seconds: float
    detail: str = ""


@dataclass
class Report:
    rows: list[Row] = field(default_factory=list)

    @contextmanager
    def step(self, stack: str, name: str) -> Iterator[Row]:
        """Time the block as one row; the block may set ``row.detail``.

        A failing block is recorded as failed and its exception goes on, so the
        scenario stops there (and cleans up) instead of checking on a broken stack.
        """
        row = Row(stack, name, ok=False, seconds=0.0)
        started = time.monotonic()
        try:
            yield row
            row.ok = True
        except BaseException as error:  # a timeout or Ctrl-C, too, shows in the table
            row.detail = f"{type(error).__name__}: {error}"[:300]
            raise
        finally:
            row.seconds = time.monotonic() - started
            self.rows.append(row)
            mark = "ok  " if row.ok else "FAIL"
            print(f"[{mark}] {stack}: {name} ({row.seconds:.1f}s) {row.detail}", flush=True)

    @property
    def ok(self) -> bool:
        return bool(self.rows) and all(row.ok for row in self.rows)

    def table(self) -> str:
        headers = ("stack", "check", "result", "seconds", "detail")
        cells = [
            (r.stack, r.step, "ok" if r.ok else "FAIL", f"{r.seconds:.1f}", r.detail)
            for r in self.rows
        ]
        widths = [max(len(h), *(len(c[i]) for c in cells)) for i, h in enumerate(headers[:4])]
        lines = []
        for values in (headers, *cells):
            fixed = " | ".join(v.ljust(w) for v, w in zip(values[:4], widths, strict=True))
            lines.append(f"| {fixed} | {values[4]} |")
        lines.insert(1, "|" + "|".join("-" * (w + 2) for w in widths) + "|---|")
        return "\n".join(lines)
