"""Issue 5's cost goal: a default compare of a function over 100 items of 10 ms each
finishes within 30 s on this machine."""

from __future__ import annotations

import time
from typing import Any

import poolwise as pw

TITLE = "compare: cost of a default comparison (100 items of 10 ms; goal under 30 s)"


def ten_ms_cpu(_: int) -> int:
    end = time.perf_counter() + 0.01
    n = 0
    while time.perf_counter() < end:
        n += 1
    return n


def ten_ms_wait(_: int) -> float:
    time.sleep(0.01)
    return 0.01


def run(quick: bool) -> list[dict[str, Any]]:
    rows = []
    for fn in (ten_ms_cpu, ten_ms_wait):
        t0 = time.perf_counter()
        c = pw.compare(fn, range(100))
        elapsed = time.perf_counter() - t0
        rows.append(
            {
                "function": fn.__name__,
                "configurations": len(c.measurements),
                "runs": sum(len(m.times) for m in c.measurements),
                "seconds": elapsed,
                "goal_s": 30.0,
                "met": elapsed <= 30.0,
                "best": c.best or "too noisy",
            }
        )
    return rows
