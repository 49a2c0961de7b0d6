"""Issue 5's cost goal: a default compare of a function over 100 items of 10 ms each
finishes within 30 s on this machine (default budget 20 s; start-ups and each
configuration's last run come on top)."""

from __future__ import annotations

import time
from typing import Any

import poolwise as pw

TITLE = "compare: cost of a default comparison (100 items of 10 ms; goal under 30 s)"


def spin(n: int) -> int:
    """Pure-Python work that holds the GIL: ``n`` additions (the item says how many)."""
    total = 0
    for i in range(n):
        total += i
    return total


def ten_ms_wait(_: int) -> float:
    time.sleep(0.01)
    return 0.01


def iterations_for(seconds: float) -> int:
    """How many additions ``spin`` makes in ``seconds`` here (best of five tries)."""
    n = 100_000
    best = min(_timed(n) for _ in range(5))
    return max(1, int(n * seconds / best))


def _timed(n: int) -> float:
    t0 = time.perf_counter()
    spin(n)
    return time.perf_counter() - t0


def run(quick: bool) -> list[dict[str, Any]]:
    rows = []
    n = iterations_for(0.01)
    for fn, items in ((spin, [n] * 100), (ten_ms_wait, list(range(100)))):
        t0 = time.perf_counter()
        c = pw.compare(fn, items)
        elapsed = time.perf_counter() - t0
        serial = c.measurements[0].summary.median
        rows.append(
            {
                "function": "10 ms of Python (holds the GIL)" if fn is spin else "10 ms sleep",
                "serial_s": serial,
                "configurations": len(c.measurements),
                "runs": sum(len(m.times) for m in c.measurements),
                "seconds": elapsed,
                "goal_s": 30.0,
                "met": elapsed <= 30.0,
                "best": c.best or "too noisy",
                "speedup": max(m.speedup for m in c.measurements),
            }
        )
    return rows
