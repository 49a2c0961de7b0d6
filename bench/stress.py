"""`make stress`: 10,000 tasks while workers are SIGKILLed at random every few milliseconds.

Every run must end with every task delivered exactly once: its result, or a WorkerCrashed
failure naming it (with ``retries``, a crashed task runs again and usually succeeds). Four runs:

- ``map``: poolwise.map, adaptive batches, no retries; the killer is a separate process, so this
  process stays single-threaded and workers are forked (the fast path);
- ``map retries=3``: the same, each task may crash three times before it fails;
- ``imap unordered``: results in completion order, so a task delivered twice would show up as
  a duplicate value and a lost one as a missing value;
- ``Executor.submit``: one future per task; a killer thread picks its victims from
  ``Executor.worker_pids()``, and replacements start from the forkserver (the manager thread
  makes this process multi-threaded); a kill every ~10 ms, since such a worker needs ~16 ms to
  start.

Each task appends its index to a log file when it finishes, so the run can count how many
tasks ran more than once (siblings of a crashed batch run again; retried tasks run again).
Prints one line per run and saves them to bench/results/stress.json.
"""

from __future__ import annotations

import json
import os
import random
import signal
import subprocess
import sys
import tempfile
import threading
import time
from collections import Counter
from collections.abc import Callable
from pathlib import Path
from typing import Any

import poolwise as pw

N = int(os.environ.get("POOLWISE_STRESS_N", 10_000))
WORKERS = 2
EVERY = 0.005  # seconds between kills, on average
# A worker started from the forkserver takes ~16 ms to be ready (a forked one ~2 ms): killed
# every 5 ms, almost none would ever start, and the run would crawl rather than test anything.
EVERY_FORKSERVER = 0.01
RESULTS = Path(__file__).parent / "results" / "stress.json"

_log_fd: int | None = None


def work(x: int) -> int:
    """About 0.2 ms of pure Python; logs that it ran (O_APPEND writes are atomic)."""
    global _log_fd
    total = 0
    for i in range(4000):
        total += i
    if _log_fd is None:
        _log_fd = os.open(os.environ["POOLWISE_STRESS_LOG"], os.O_WRONLY | os.O_APPEND)
    os.write(_log_fd, b"%d\n" % x)
    return x * 2


KILLER = r"""
import os, random, select, signal, sys
import psutil
owner, every, seed = int(sys.argv[1]), float(sys.argv[2]), int(sys.argv[3])
rng, me, kills = random.Random(seed), os.getpid(), 0
parent = psutil.Process(owner)

def victims():
    out = []
    for c in parent.children(recursive=True):
        try:
            cmd = " ".join(c.cmdline())
            direct = c.ppid() == owner
        except psutil.Error:
            continue
        # the forkserver and resource tracker are infrastructure; workers forked by the
        # forkserver share its command line but are not direct children of the owner
        if c.pid == me or "resource_tracker" in cmd or (direct and "forkserver" in cmd):
            continue
        out.append(c.pid)
    return out

while not select.select([sys.stdin], [], [], rng.uniform(every / 2, every * 1.5))[0]:
    pids = victims()
    if pids:
        try:
            os.kill(rng.choice(pids), signal.SIGKILL)
            kills += 1
        except OSError:
            pass
print(kills, flush=True)
"""


class ProcessKiller:
    """A separate process that SIGKILLs a random worker of this process every few ms."""

    def __init__(self, every: float, seed: int) -> None:
        self.proc = subprocess.Popen(
            [sys.executable, "-c", KILLER, str(os.getpid()), str(every), str(seed)],
            stdin=subprocess.PIPE,
            stdout=subprocess.PIPE,
            text=True,
        )
        self.kills = 0

    def stop(self) -> None:
        out, _ = self.proc.communicate(input="", timeout=60)
        self.kills = int(out.strip() or 0)


class ThreadKiller:
    """A thread that SIGKILLs one of ``Executor.worker_pids()`` every few ms."""

    def __init__(self, ex: pw.Executor, every: float, seed: int) -> None:
        self.kills = 0
        self._stop = threading.Event()
        self._thread = threading.Thread(target=self._run, args=(ex, every, seed), daemon=True)
        self._thread.start()

    def _run(self, ex: pw.Executor, every: float, seed: int) -> None:
        rng = random.Random(seed)
        while not self._stop.wait(rng.uniform(every / 2, every * 1.5)):
            pids = ex.worker_pids()
            if pids:
                try:
                    os.kill(rng.choice(pids), signal.SIGKILL)
                    self.kills += 1
                except OSError:
                    pass

    def stop(self) -> None:
        self._stop.set()
        self._thread.join()


def check_ordered(results: list[Any]) -> tuple[int, int]:
    """results[i] is 2*i or a WorkerCrashed Failure for item i: (succeeded, crashed)."""
    assert len(results) == N, f"{len(results)} results for {N} tasks"
    ok = crashed = 0
    for i, r in enumerate(results):
        if isinstance(r, pw.Failure):
            assert r.index == i, (i, r)
            assert isinstance(r.exception, pw.WorkerCrashed), (i, r)
            assert "SIGKILL" in str(r.exception), (i, str(r.exception))
            crashed += 1
        else:
            assert r == 2 * i, (i, r)
            ok += 1
    return ok, crashed


def check_unordered(results: list[Any]) -> tuple[int, int]:
    """Each index appears exactly once, as 2*index or as the index of a WorkerCrashed."""
    seen: Counter[int] = Counter()
    crashed = 0
    for r in results:
        if isinstance(r, pw.Failure):
            assert isinstance(r.exception, pw.WorkerCrashed), r
            seen[r.index] += 1
            crashed += 1
        else:
            seen[r // 2] += 1
    twice = [i for i, c in seen.items() if c > 1]
    lost = sorted(set(range(N)) - set(seen))
    assert not twice, f"delivered twice: {twice[:10]}"
    assert not lost, f"lost: {lost[:10]}"
    assert len(results) == N
    return N - crashed, crashed


def run_map(retries: int) -> list[Any]:
    return pw.map(
        work, range(N), backend="process", workers=WORKERS, retries=retries, on_error="return"
    )


def run_imap() -> list[Any]:
    return list(
        pw.imap(
            work,
            iter(range(N)),
            backend="process",
            workers=WORKERS,
            ordered=False,
            on_error="return",
        )
    )


def run_submit(seed: int, every: float) -> tuple[list[Any], int]:
    with pw.Executor(backend="process", workers=WORKERS) as ex:
        ex.start()
        killer = ThreadKiller(ex, every, seed)
        try:
            futures = [ex.submit(work, i) for i in range(N)]
            results: list[Any] = []
            for i, f in enumerate(futures):
                exc = f.exception()
                results.append(f.result() if exc is None else pw.Failure(i, i, exc, ""))
        finally:
            killer.stop()
    return results, killer.kills


def measure(name: str, retries: int, body: Callable[[], tuple[list[Any], int]], ordered: bool):
    with tempfile.NamedTemporaryFile(prefix="poolwise-stress-", suffix=".log") as log:
        os.environ["POOLWISE_STRESS_LOG"] = log.name
        t0 = time.perf_counter()
        results, kills = body()
        seconds = time.perf_counter() - t0
        runs = Counter(int(line) for line in Path(log.name).read_text().split())
    ok, crashed = (check_ordered if ordered else check_unordered)(results)
    return {
        "run": name,
        "tasks": N,
        "workers": WORKERS,
        "retries": retries,
        "kills": kills,
        "succeeded": ok,
        "WorkerCrashed": crashed,
        "ran more than once": sum(1 for c in runs.values() if c > 1),
        "executions": sum(runs.values()),
        "lost": 0,
        "delivered twice": 0,
        "seconds": round(seconds, 2),
    }


def with_process_killer(fn: Callable[[], list[Any]], seed: int) -> tuple[list[Any], int]:
    killer = ProcessKiller(EVERY, seed)
    try:
        results = fn()
    finally:
        killer.stop()
    return results, killer.kills


def main() -> int:
    t0 = time.perf_counter()
    rows = [
        measure("map", 0, lambda: with_process_killer(lambda: run_map(0), 1), True),
        measure("map", 3, lambda: with_process_killer(lambda: run_map(3), 2), True),
        measure("imap unordered", 0, lambda: with_process_killer(run_imap, 3), False),
        measure("Executor.submit", 0, lambda: run_submit(4, EVERY_FORKSERVER), True),
    ]
    for row in rows:
        print(", ".join(f"{k}={v}" for k, v in row.items()), flush=True)
    assert all(r["kills"] > 0 for r in rows), "the killer never found a worker"
    print(
        f"every task delivered exactly once (its result or WorkerCrashed) in "
        f"{time.perf_counter() - t0:.0f} s, with workers SIGKILLed every few ms"
    )
    RESULTS.parent.mkdir(exist_ok=True)
    RESULTS.write_text(json.dumps(rows, indent=2) + "\n")
    return 0


if __name__ == "__main__":
    sys.exit(main())
