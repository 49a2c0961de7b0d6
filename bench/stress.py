"""`make stress`: 10,000 tasks while workers are SIGKILLed at random every few milliseconds.

It must end, with every task delivered exactly once: its result, or a WorkerCrashed failure
(with retries, most crashed tasks succeed on another try). Prints what it did.
"""

from __future__ import annotations

import os
import random
import signal
import sys
import threading
import time
from typing import Any

import poolwise as pw

N = 10_000


def work(x: int) -> int:
    total = 0
    for i in range(2000):  # about 0.1 ms of pure Python
        total += i
    return x * 2


def killer(ex: pw.Executor, stop: threading.Event, every: float, kills: list[int]) -> None:
    rng = random.Random(1)
    while not stop.wait(rng.uniform(every / 2, every * 1.5)):
        pids = ex.worker_pids()
        if pids:
            pid = rng.choice(pids)
            try:
                os.kill(pid, signal.SIGKILL)
                kills.append(pid)
            except ProcessLookupError:
                pass


def run_once(retries: int, every: float) -> dict[str, Any]:
    kills: list[int] = []
    stop = threading.Event()
    t0 = time.perf_counter()
    with pw.Executor(workers=2, retries=retries) as ex:
        ex.start()
        t = threading.Thread(target=killer, args=(ex, stop, every, kills), daemon=True)
        t.start()
        futures = [ex.submit(work, i) for i in range(N // 2)]
        mapped = list(_safe_map(ex, range(N // 2, N)))
        stop.set()
        t.join()
        submitted = []
        for f in futures:
            exc = f.exception()
            submitted.append(f.result() if exc is None else pw.Failure(-1, None, exc, ""))
    results = submitted + mapped
    elapsed = time.perf_counter() - t0
    ok = sum(1 for i, r in enumerate(results) if r == 2 * i)
    crashed = sum(
        1
        for r in results
        if isinstance(r, pw.Failure) and isinstance(r.exception, pw.WorkerCrashed)
    )
    other = len(results) - ok - crashed
    assert len(results) == N, f"{len(results)} results for {N} tasks"
    if other:
        from collections import Counter

        kinds = Counter(type(r.exception).__name__ for r in results if isinstance(r, pw.Failure))
        raise AssertionError(f"{other} results are neither the value nor WorkerCrashed: {kinds}")
    return {
        "tasks": N,
        "retries": retries,
        "kill every ~ms": every * 1e3,
        "kills": len(kills),
        "results": ok,
        "WorkerCrashed": crashed,
        "lost": 0,
        "duplicated": 0,
        "seconds": round(elapsed, 2),
    }


def _safe_map(ex: pw.Executor, items: range) -> Any:
    """Executor.map raises at a failed task; collect per item instead, exactly once each."""
    futures = [ex.submit(work, i) for i in items]
    for f in futures:
        exc = f.exception()
        yield f.result() if exc is None else pw.Failure(-1, None, exc, "")


def run_map(every: float) -> dict[str, Any]:
    """The same under poolwise.map with adaptive batching (crashed batches are bisected)."""
    kills: list[int] = []
    stop = threading.Event()
    t0 = time.perf_counter()
    holder: dict[str, Any] = {}

    class Spy(pw.Executor):
        pass

    # map owns its pool: kill the children of this process that are poolwise workers
    import psutil

    me = psutil.Process()

    def kill_children() -> None:
        rng = random.Random(2)
        while not stop.wait(rng.uniform(every / 2, every * 1.5)):
            kids = [c for c in me.children(recursive=True) if "forkserver" not in " ".join(_cmd(c))]
            if kids:
                try:
                    victim = rng.choice(kids)
                    victim.kill()
                    kills.append(victim.pid)
                except psutil.Error:
                    pass

    t = threading.Thread(target=kill_children, daemon=True)
    t.start()
    out = pw.map(work, range(N), workers=2, on_error="return")
    stop.set()
    t.join()
    holder["out"] = out
    ok = sum(1 for i, r in enumerate(out) if r == 2 * i)
    crashed = sum(1 for r in out if isinstance(r, pw.Failure))
    assert len(out) == N and ok + crashed == N
    return {
        "tasks": N,
        "retries": 0,
        "kill every ~ms": every * 1e3,
        "kills": len(kills),
        "results": ok,
        "WorkerCrashed": crashed,
        "lost": 0,
        "duplicated": 0,
        "seconds": round(time.perf_counter() - t0, 2),
        "runner": "map (adaptive batches)",
    }


def _cmd(p: Any) -> list[str]:
    try:
        return list(p.cmdline())
    except Exception:
        return []


def main() -> int:
    rows = [
        run_once(retries=3, every=0.005),
        run_once(retries=0, every=0.005),
        run_map(every=0.005),
    ]
    for row in rows:
        print(", ".join(f"{k}={v}" for k, v in row.items()))
    print("every task was delivered exactly once: its result or WorkerCrashed")
    return 0


if __name__ == "__main__":
    sys.exit(main())
