"""Issue 19's goals: big data to worker processes at memory speed, side by side in one run.

Runners, each with 2 workers and warm (a first round is thrown away), except ``poolwise.map``,
which starts its pool on every call as a user's call does: poolwise's Executor with shared
memory (the default) and with ``shared_memory=False`` (the pipe), ``poolwise.map``, the
standard library's ProcessPoolExecutor and joblib (loky, which memory-maps large numpy arrays:
called as usual, a ``Parallel`` per call; and with one ``Parallel`` kept open, where an array
already seen, known by its identity, is not copied again).

Workloads: 32 numpy arguments of 8 MB and 32 ``bytes`` arguments of 8 MB, each task returning
a small digest; 32 results of 8 MB coming back; 100,000 tiny tasks (shared memory must cost them
nothing); and a sweep of sizes that shows where shared memory starts to pay (its threshold).

Goals: numpy arguments >= 5 GB/s and >= 1.0x joblib; bytes >= 3 GB/s; results >= 3 GB/s; tiny
tasks within 3% of the pipe; peak shared memory at most one copy of the data. Rows say
``goal met`` or not, from the numbers of this run. For results, a row measures the ceiling the
parent cannot beat: copying 8 MB into fresh memory that is kept (the results must end up in
the parent's own memory, and new pages cost what they cost on this machine): into bytearrays,
as results were copied before, and into mappings whose pages the kernel populates in one call,
as they are now. Results are also measured with the copy as before (bytearrays), and read and
dropped one by one as they come (where the same mappings are reused), both ways.
"""

from __future__ import annotations

import concurrent.futures as cf
import multiprocessing as mp
import statistics
import threading
import time
from collections.abc import Callable
from typing import Any

import poolwise as pw
from bench.core import interleaved_times
from poolwise.backends import _oob

TITLE = "transfer: large arguments and results to processes (2 workers, GB/s, medians)"
W = 2
N = 32
SIZE = 8 << 20


def digest(a: Any) -> float:
    return float(a[0]) + float(a[-1]) + len(a)


def make(i: int) -> Any:
    import numpy as np

    return np.full(SIZE // 8, float(i))


def tiny(x: int) -> int:
    return x * 2


class ShmemPeak:
    """The peak of the machine's shared memory (``Shmem`` in /proc/meminfo, where memfd
    segments count) above its level at the start, sampled every 2 ms in a thread."""

    def __init__(self) -> None:
        self.base = _shmem()
        self.peak = self.base
        self._stop = threading.Event()
        self._thread = threading.Thread(target=self._run, daemon=True)

    def _run(self) -> None:
        while not self._stop.wait(0.002):
            self.peak = max(self.peak, _shmem())

    def __enter__(self) -> ShmemPeak:
        self._thread.start()
        return self

    def __exit__(self, *exc: object) -> None:
        self._stop.set()
        self._thread.join()

    @property
    def extra(self) -> int:
        return self.peak - self.base


def _shmem() -> int:
    try:
        with open("/proc/meminfo") as fh:
            for line in fh:
                if line.startswith("Shmem:"):
                    return int(line.split()[1]) * 1024
    except OSError:
        pass
    return 0


def _runners(
    fn: Callable[[Any], Any], items: list[Any], pools: dict[str, Any]
) -> dict[str, Callable[[], Any]]:
    import joblib

    shm, pipe, ppe = pools["shm"], pools["pipe"], pools["ppe"]
    kept = pools["joblib"]
    return {
        "poolwise Executor": lambda: list(shm.map(fn, items)),
        "poolwise Executor, pipe": lambda: list(pipe.map(fn, items)),
        "poolwise.map": lambda: pw.map(fn, items, backend="process", workers=W),
        "ProcessPoolExecutor": lambda: list(ppe.map(fn, items)),
        # as joblib is usually called (its loky workers stay warm between calls)
        "joblib (loky)": lambda: joblib.Parallel(n_jobs=W)(joblib.delayed(fn)(x) for x in items),
        # one Parallel kept open: an array it has seen is not copied again (known by identity,
        # so a change made to it in between is not seen): no copy at all, a different thing
        "joblib, Parallel kept open": lambda: kept(joblib.delayed(fn)(x) for x in items),
    }


def _rows(
    workload: str, nbytes: int, times: dict[str, list[float]], goal: float | None
) -> list[dict[str, Any]]:
    joblib_s = statistics.median(times["joblib (loky)"])
    rows = []
    for name, ts in times.items():
        s = statistics.median(ts)
        gbps = nbytes / s / 1e9
        met = None
        if goal is not None and name == "poolwise Executor":
            met = "yes" if gbps >= goal else "NO"
        rows.append(
            {
                "workload": workload,
                "runner": name,
                "seconds": s,
                "spread": (max(ts) - min(ts)) / s,
                "GB/s": gbps,
                "x joblib": joblib_s / s,
                "goal GB/s": goal if name == "poolwise Executor" else None,
                "goal met": met,
            }
        )
    return rows


def fresh_memory_ceiling(populated: bool = False) -> float:
    """GB/s of copying N x 8 MB into new memory that is kept, as results must be: bytearrays
    (pages faulted in one by one), or ``populated``: mappings whose pages the kernel fills in
    one call, as the parent now copies large results."""
    src = memoryview(bytearray(SIZE))
    fresh = _oob.Fresh()
    fresh.enabled = populated and fresh.enabled
    t0 = time.perf_counter()
    kept = [fresh.owned(src, _oob.ARRAY[0]) for _ in range(N)]
    seconds = time.perf_counter() - t0
    del kept
    return N * SIZE / seconds / 1e9


def _as_before(run: Callable[[], Any]) -> Callable[[], Any]:
    """``run`` with results copied into bytearrays, as before they went into fresh mappings."""

    def before() -> Any:
        saved = _oob.Fresh.owned
        _oob.Fresh.owned = lambda self, view, kind: _oob.owned(view, kind)  # type: ignore[method-assign]
        try:
            return run()
        finally:
            _oob.Fresh.owned = saved  # type: ignore[method-assign]

    return before


def _streamed(results: Any) -> float:
    """Each result read and dropped as it comes (the caller keeps none)."""
    return sum(float(a[0]) for a in results)


def sweep(repeat: int) -> list[dict[str, Any]]:
    """Per-item cost of shared memory and of the pipe by size (64 items of each size, shared
    memory forced on from 4 KiB): where the threshold belongs."""
    import numpy as np

    rows = []
    saved = _oob.THRESHOLD
    _oob.THRESHOLD = 4096
    try:
        with (
            pw.Executor(backend="process", workers=W) as shm,
            pw.Executor(backend="process", workers=W, shared_memory=False) as pipe,
        ):
            for size in (16 << 10, 32 << 10, 64 << 10, 128 << 10, 256 << 10, 1 << 20):
                items = [np.ones(size // 8) for _ in range(64)]
                runners = {
                    "shared memory": lambda xs=items: list(shm.map(digest, xs, chunksize=1)),
                    "pipe": lambda xs=items: list(pipe.map(digest, xs, chunksize=1)),
                }
                for r in runners.values():
                    r()
                times = interleaved_times(runners, repeat)
                m = {k: statistics.median(v) / 64 * 1e6 for k, v in times.items()}
                rows.append(
                    {
                        "workload": f"sweep: {size >> 10} KiB numpy, one per task",
                        "runner": "shared memory vs pipe",
                        "us/item shm": m["shared memory"],
                        "us/item pipe": m["pipe"],
                        "shm faster": "yes" if m["shared memory"] < m["pipe"] else "no",
                    }
                )
    finally:
        _oob.THRESHOLD = saved
    return rows


def run(quick: bool) -> list[dict[str, Any]]:
    import joblib
    import numpy as np

    repeat = 2 if quick else 5
    arrays = [np.random.default_rng(i).random(SIZE // 8) for i in range(N)]
    blobs = [a.tobytes() for a in arrays]
    rows: list[dict[str, Any]] = []
    ctx = mp.get_context("fork")
    with (
        pw.Executor(backend="process", workers=W) as shm,
        pw.Executor(backend="process", workers=W, shared_memory=False) as pipe,
        cf.ProcessPoolExecutor(W, mp_context=ctx) as ppe,
        joblib.Parallel(n_jobs=W, backend="loky") as parallel,
    ):
        pools = {"shm": shm, "pipe": pipe, "ppe": ppe, "joblib": parallel}
        for workload, fn, items, goal in (
            ("32 x 8 MB numpy arguments", digest, arrays, 5.0),
            ("32 x 8 MB bytes arguments", digest, blobs, 3.0),
            ("32 x 8 MB numpy results", make, list(range(N)), 3.0),
        ):
            runners = _runners(fn, items, pools)
            if fn is make:
                runners["poolwise Executor, results into bytearrays (before)"] = _as_before(
                    runners["poolwise Executor"]
                )
                runners["poolwise Executor, each dropped as it comes"] = lambda: _streamed(
                    shm.map(make, range(N))
                )
                runners["poolwise Executor, each dropped as it comes (before)"] = _as_before(
                    runners["poolwise Executor, each dropped as it comes"]
                )
            for r in runners.values():  # (warm: workers started, arenas grown, code loaded)
                r()
            times = interleaved_times(runners, repeat)
            rows += _rows(workload, N * SIZE, times, goal)
            got = statistics.median(times["poolwise Executor"])
            if workload.startswith("32 x 8 MB numpy arg"):
                ratio = statistics.median(times["joblib (loky)"]) / got
                rows.append(
                    {
                        "workload": workload,
                        "runner": "poolwise Executor vs joblib",
                        "x joblib": ratio,
                        "goal met": "yes" if ratio >= 1.0 else "NO",
                    }
                )
            # (a fresh pool: its arenas are made, grown and dropped inside the measurement)
            with ShmemPeak() as peak, pw.Executor(backend="process", workers=W) as fresh:
                list(fresh.map(fn, items))
            rows.append(
                {
                    "workload": workload,
                    "runner": "poolwise Executor: peak shared memory",
                    "extra copies": peak.extra / (N * SIZE),
                    "goal met": "yes" if peak.extra <= N * SIZE else "NO",
                }
            )
        rows.append(
            {
                "workload": "32 x 8 MB numpy results",
                "runner": "ceiling: copying into fresh, kept memory",
                "GB/s": statistics.median(fresh_memory_ceiling() for _ in range(3)),
            }
        )
        rows.append(
            {
                "workload": "32 x 8 MB numpy results",
                "runner": "ceiling: copying into fresh, kept mappings populated in one call",
                "GB/s": statistics.median(fresh_memory_ceiling(True) for _ in range(3)),
            }
        )
        items = list(range(100_000))
        tiny_runners = {
            "poolwise Executor": lambda: list(shm.map(tiny, items)),
            "poolwise Executor, pipe": lambda: list(pipe.map(tiny, items)),
        }
        for r in tiny_runners.values():
            r()
        # (runs of 15-30 ms on a shared machine: many rounds, and the median of each round's
        # ratio, whose two runs share the round's conditions)
        times = interleaved_times(tiny_runners, 10 if quick else 40)
        on = statistics.median(times["poolwise Executor"])
        ratio = statistics.median(
            piped / shared
            for shared, piped in zip(times["poolwise Executor"], times["poolwise Executor, pipe"])
        )
        rows.append(
            {
                "workload": "100,000 tiny tasks",
                "runner": "poolwise Executor vs pipe",
                "seconds": on,
                "x pipe": ratio,
                "goal met": "yes" if ratio >= 1 / 1.03 else "NO",
            }
        )
    rows += sweep(repeat)
    return rows
