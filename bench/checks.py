"""Issues 6 and 18: what the checks cost, what they find, and what they never cry wolf about.

1. Lock-order tracking on lock-heavy loops, tracked (inside ``poolwise.lock_order``) and
   untracked, in pairs run back to back: the median of the pairs' ratios and their spread.
   Goal: under 2x on a loop that takes a lock to update shared state.
2. ``lock_order`` on every legal pattern of tests/catalogue/legal_locks.py (reports in N runs:
   goal 0), on every inversion of tests/catalogue/locks.py (found in N runs: goal N, and 0 for
   each correct twin), and on deadlocks that form (reported and interrupted in N runs).
3. ``check_races`` with its default budget on every race in tests/catalogue: how many of N
   runs found the bug, how many of N runs flagged its locked twin (false alarms), and the
   time per check; the same on 2000 items (sampled), and ``poolwise check races --range 2000``
   as a user runs it: its wall time against the documented budget (goal: at most 1.5x).

``python -m bench checks`` (N=100) or ``--quick`` (N=10); run it under each Python to compare.
``BENCH_ONLY=overhead,lock_order,races,cli`` runs some parts only.
"""

from __future__ import annotations

import functools
import os
import statistics
import subprocess
import sys
import threading
import time
from collections.abc import Callable
from pathlib import Path
from typing import Any

import poolwise as pw

TITLE = "checks: lock_order cost, legal patterns, inversions and deadlocks; check_races detection and wall time"

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


def _time_loop(loop: Callable[[Any], None], tracked: bool) -> float:
    if tracked:
        with pw.lock_order():
            lock = threading.Lock()
            t0 = time.perf_counter()
            loop(lock)
            return time.perf_counter() - t0
    lock = threading.Lock()
    t0 = time.perf_counter()
    loop(lock)
    return time.perf_counter() - t0


def overhead(quick: bool) -> list[dict[str, Any]]:
    n = 20_000 if quick else 100_000
    pairs = 5 if quick else 21
    rows = []
    for name, loop in LOOPS:
        run = functools.partial(loop, n=n)
        _time_loop(run, False)  # warm-ups
        _time_loop(run, True)
        plain, tracked, ratios = [], [], []
        for k in range(pairs):  # back to back, in alternating order: drift hits both alike
            order = (False, True) if k % 2 else (True, False)
            got = {t: _time_loop(run, t) for t in order}
            plain.append(got[False])
            tracked.append(got[True])
            ratios.append(got[True] / got[False])
        ratios.sort()
        q1, q3 = ratios[len(ratios) // 4], ratios[(3 * len(ratios)) // 4]
        med = statistics.median(ratios)
        rows.append(
            {
                "what": "lock_order overhead",
                "case": name,
                "untracked_ns_per_iter": statistics.median(plain) / n * 1e9,
                "tracked_ns_per_iter": statistics.median(tracked) / n * 1e9,
                "ratio": med,
                "ratio_q1_q3": f"{q1:.2f}-{q3:.2f}",
                "note": "spread too wide to decide" if (q3 - q1) / med > 0.25 else "",
            }
        )
    return rows


def lock_order_rows(quick: bool) -> list[dict[str, Any]]:
    from tests.catalogue.legal_locks import LEGAL_CASES, run_case
    from tests.catalogue.locks import LOCK_PROGRAMS

    runs = 10 if quick else 100
    rows = []
    for case in LEGAL_CASES:
        reports = failures = 0
        t0 = time.perf_counter()
        for _ in range(runs):
            try:
                reports += run_case(case).found
            except Exception:
                failures += 1
        rows.append(
            {
                "what": "lock_order: legal pattern (goal: 0 reported)",
                "case": case.name,
                "python": sys.version.split()[0],
                "runs": runs,
                "flagged": reports + failures,
                "ms_per_run": (time.perf_counter() - t0) / runs * 1e3,
            }
        )
    for program in LOCK_PROGRAMS:
        for kind, correct in (("inversion (goal: all found)", False), ("its correct twin", True)):
            found = 0
            t0 = time.perf_counter()
            for _ in range(runs):
                with pw.lock_order(raise_on_exit=False) as graph:
                    program(correct)
                found += bool(graph.cycles())
            rows.append(
                {
                    "what": f"lock_order: {kind}",
                    "case": program.__name__,
                    "python": sys.version.split()[0],
                    "runs": runs,
                    "flagged": found,
                    "ms_per_run": (time.perf_counter() - t0) / runs * 1e3,
                }
            )
    for name, make in (
        ("two plain locks, with blocks", _plain_pair),
        ("RLock and Condition", _rlock_pair),
    ):
        found = 0
        t0 = time.perf_counter()
        for _ in range(runs):
            found += _formed_deadlock(make)
        rows.append(
            {
                "what": "lock_order: deadlock formed (goal: reported with both stacks, interrupted)",
                "case": name,
                "python": sys.version.split()[0],
                "runs": runs,
                "flagged": found,
                "ms_per_run": (time.perf_counter() - t0) / runs * 1e3,
            }
        )
    return rows


def _plain_pair() -> tuple[Any, Any]:
    return threading.Lock(), threading.Lock()


def _rlock_pair() -> tuple[Any, Any]:
    return threading.RLock(), threading.Condition()


def _formed_deadlock(make: Callable[[], tuple[Any, Any]]) -> bool:
    """Two threads take a pair of locks in opposite orders and meet in between: one must be
    interrupted, with a report that holds both threads' stacks and says it interrupted."""
    errors: list[BaseException] = []
    with pw.lock_order(raise_on_exit=False) as graph:
        a, b = make()
        meet = threading.Barrier(2)

        def take(first: Any, second: Any) -> None:
            try:
                with first:
                    meet.wait()
                    with second:
                        pass
            except pw.PotentialDeadlock as exc:
                errors.append(exc)

        ts = [threading.Thread(target=take, args=p) for p in ((a, b), (b, a))]
        for t in ts:
            t.start()
        for t in ts:
            t.join(60)
    text = graph.deadlocks[0] if graph.deadlocks else ""
    return (
        len(errors) == 1
        and len(graph.deadlocks) == 1
        and text.count("in take") == 2
        and "poolwise interrupted the program" in text
    )


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


def detection_large(quick: bool) -> list[dict[str, Any]]:
    """The same lost update and its locked twin on 2000 items: rounds run samples."""
    from tests.catalogue import races

    runs = 10 if quick else 100
    rows = []
    for kind, fn in (("bug", races.bump), ("locked twin", races.bump_locked)):
        found, seconds = 0, []
        for _ in range(runs):
            t0 = time.perf_counter()
            report = pw.check_races(
                fn, range(2000), setup=races.reset_counter, invariant=races.read_counter
            )
            seconds.append(time.perf_counter() - t0)
            found += report.found
        rows.append(
            {
                "what": f"check_races: {kind}, 2000 items (sampled)",
                "case": fn.__name__,
                "python": sys.version.split()[0],
                "runs": runs,
                "flagged": found,
                "rate": found / runs,
                "seconds_per_check": statistics.median(seconds),
                "seconds_max": max(seconds),
            }
        )
    return rows


CLI_CASES = [
    ("bump", ()),
    ("bump_locked", ()),
    (
        "bump",
        (
            "--setup",
            "tests.catalogue.races:reset_counter",
            "--invariant",
            "tests.catalogue.races:read_counter",
        ),
    ),
    (
        "bump_locked",
        (
            "--setup",
            "tests.catalogue.races:reset_counter",
            "--invariant",
            "tests.catalogue.races:read_counter",
        ),
    ),
    ("count_word_locked", ()),
    ("square_via_scratch_locked", ()),
]


def cli_wall_times(quick: bool) -> list[dict[str, Any]]:
    """``poolwise check races MOD:FN --range 2000`` as a user runs it, start-up included."""
    from poolwise.checks._rounds import DEFAULT_BUDGET

    runs = 2 if quick else 5
    root = Path(__file__).resolve().parent.parent
    env = {**os.environ, "PYTHONPATH": os.pathsep.join((str(root / "src"), str(root)))}
    rows = []
    for fn, extra in CLI_CASES:
        cmd = [sys.executable, "-m", "poolwise", "check", "races", f"tests.catalogue.races:{fn}"]
        cmd += ["--range", "2000", *extra]
        seconds, codes = [], set()
        for _ in range(runs):
            t0 = time.perf_counter()
            done = subprocess.run(cmd, capture_output=True, text=True, env=env, cwd=root)
            seconds.append(time.perf_counter() - t0)
            codes.add(done.returncode)
        rows.append(
            {
                "what": "poolwise check races --range 2000 (goal: <= 1.5x the budget)",
                "case": fn + (" +setup/invariant" if extra else ""),
                "python": sys.version.split()[0],
                "runs": runs,
                "exit_status": ",".join(map(str, sorted(codes))),
                "seconds_median": statistics.median(seconds),
                "seconds_max": max(seconds),
                "x_budget_max": max(seconds) / DEFAULT_BUDGET,
            }
        )
    return rows


PARTS: dict[str, Callable[[bool], list[dict[str, Any]]]] = {
    "overhead": overhead,
    "lock_order": lock_order_rows,
    "races": lambda quick: detection(quick) + detection_large(quick),
    "cli": cli_wall_times,
}


def run(quick: bool) -> list[dict[str, Any]]:
    only = [p for p in os.environ.get("BENCH_ONLY", "").split(",") if p] or list(PARTS)
    return [row for name in only for row in PARTS[name](quick)]


if __name__ == "__main__":
    import json

    quick = "--quick" in sys.argv
    for row in run(quick):
        print(json.dumps(row))
