"""Issue 6's goals: what lock-order tracking costs, and how reliably check_races finds races.

1. Lock-order tracking on lock-heavy loops, tracked (inside ``poolwise.lock_order``) and
   untracked, side by side in this run: medians of repeats, the ratio, and the spread.
   Goal: under 2x on a loop that takes a lock to update shared state.
2. ``check_races`` with its default budget on every race in tests/catalogue: how many of N
   runs found the bug, how many of N runs flagged its locked twin (false alarms), and the
   time per check, on the Python running this benchmark.

``python -m bench checks`` (N=100) or ``--quick`` (N=10); run it under each Python to compare.
"""

from __future__ import annotations

import statistics
import sys
import threading
import time
from collections.abc import Callable
from pathlib import Path
from typing import Any

import poolwise as pw

TITLE = "checks: lock-order tracking overhead; check_races detection rate over N runs"

sys.path.insert(0, str(Path(__file__).resolve().parent.parent))  # for tests.catalogue


def _loop_bare(lock: Any, n: int) -> None:
    for _ in range(n):
        with lock:
            pass


def _loop_update(lock: Any, n: int) -> None:
    # the lock-heavy loop the goal is about: a lock around each update of shared state
    d: dict[int, int] = {}
    for i in range(n):
        with lock:
            k = i & 63
            d[k] = d.get(k, 0) + 1


def _loop_record(lock: Any, n: int) -> None:
    # a critical section with a little more in it: update a record and keep a short log
    d: dict[int, int] = {}
    log: list[str] = []
    for i in range(n):
        with lock:
            k = i & 63
            d[k] = d.get(k, 0) + 1
            log.append(f"{k}:{d[k]}")
            if len(log) > 100:
                log.clear()


def _loop_nested(lock: Any, n: int) -> None:
    inner = threading.Lock()  # made where the outer lock is made: tracked alike
    d: dict[int, int] = {}
    for i in range(n):
        with lock, inner:
            k = i & 63
            d[k] = d.get(k, 0) + 1


def _threads(loop: Callable[[Any, int], None]) -> Callable[[Any, int], None]:
    def run(lock: Any, n: int) -> None:
        ts = [threading.Thread(target=loop, args=(lock, n // 4)) for _ in range(4)]
        for t in ts:
            t.start()
        for t in ts:
            t.join()

    return run


LOOPS: list[tuple[str, Callable[[Any, int], None]]] = [
    ("with lock: pass (worst case)", _loop_bare),
    ("with lock: d[k] = d.get(k, 0) + 1", _loop_update),
    ("with lock: record update + log line", _loop_record),
    ("with a, b: d[k] = ... (nested)", _loop_nested),
    ("4 threads: with lock: d[k] = ...", _threads(_loop_update)),
]


def _time_loop(loop: Callable[[Any, int], None], n: int, tracked: bool) -> float:
    if tracked:
        with pw.lock_order():
            lock = threading.Lock()
            t0 = time.perf_counter()
            loop(lock, n)
            return time.perf_counter() - t0
    lock = threading.Lock()
    t0 = time.perf_counter()
    loop(lock, n)
    return time.perf_counter() - t0


def overhead(quick: bool) -> list[dict[str, Any]]:
    n = 20_000 if quick else 200_000
    repeats = 3 if quick else 7
    rows = []
    for name, loop in LOOPS:
        _time_loop(loop, n // 10, False)  # warm-up
        _time_loop(loop, n // 10, True)
        plain, tracked = [], []
        for _ in range(repeats):  # interleaved, so drift hits both alike
            plain.append(_time_loop(loop, n, False))
            tracked.append(_time_loop(loop, n, True))
        p, t = statistics.median(plain), statistics.median(tracked)
        spread = max((max(x) - min(x)) / statistics.median(x) for x in (plain, tracked))
        rows.append(
            {
                "what": "lock_order overhead",
                "case": name,
                "untracked_ns_per_iter": p / n * 1e9,
                "tracked_ns_per_iter": t / n * 1e9,
                "ratio": t / p,
                "spread": spread,
                "note": "spread too wide to decide" if spread > 0.25 else "",
            }
        )
    return rows


def detection(quick: bool) -> list[dict[str, Any]]:
    from tests.catalogue.races import RACE_CASES

    runs = 10 if quick else 100
    rows = []
    for case in RACE_CASES:
        for kind, fn in (("bug", case.bug), ("locked twin", case.twin)):
            t0 = time.perf_counter()
            found = sum(pw.check_races(fn, case.items, **case.options).found for _ in range(runs))
            rows.append(
                {
                    "what": f"check_races: {kind}",
                    "case": case.name,
                    "python": sys.version.split()[0],
                    "runs": runs,
                    "flagged": found,
                    "rate": found / runs,
                    "seconds_per_check": (time.perf_counter() - t0) / runs,
                }
            )
    return rows


def run(quick: bool) -> list[dict[str, Any]]:
    return overhead(quick) + detection(quick)


if __name__ == "__main__":
    import json

    what = sys.argv[1] if len(sys.argv) > 1 else "all"
    quick = "--quick" in sys.argv
    rows = {"overhead": overhead, "detection": detection, "all": run}[what](quick)
    for row in rows:
        print(json.dumps(row))
