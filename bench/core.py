"""Issue 3's speed goals: poolwise against the standard library and its peers, one run.

Every figure is a median of repeats measured side by side in this run; ratios are what
matter on a shared, noisy machine.
"""

from __future__ import annotations

import concurrent.futures as cf
import importlib.util
import multiprocessing as mp
import statistics
import subprocess
import sys
import time
from collections.abc import Callable
from pathlib import Path
from typing import Any

import poolwise as pw

TITLE = "core: poolwise vs concurrent.futures, multiprocessing.Pool and peers (2 workers)"
W = 2
_SPIN = 1  # loop count for ~25 ms of pure Python, calibrated below


def tiny(x: int) -> int:
    return x * 2


def spin(_: int) -> int:
    total = 0
    for i in range(_SPIN):
        total += i * i
    return total


def nap(_: int) -> None:
    time.sleep(0.02)


def set_spin(n: int) -> None:
    global _SPIN
    _SPIN = n


def calibrate(target: float = 0.025) -> int:
    n = 100_000
    while True:
        set_spin(n)
        t = min(_timed(lambda: spin(0)) for _ in range(3))
        if t > 0.005:
            return max(1, int(n * target / t))
        n *= 4


def _timed(fn: Callable[[], Any]) -> float:
    t0 = time.perf_counter()
    fn()
    return time.perf_counter() - t0


def median_time(
    fn: Callable[[], Any], repeat: int, setup: Callable[[], Any] | None = None
) -> float:
    times = []
    for _ in range(repeat):
        if setup:
            setup()
        times.append(_timed(fn))
    return statistics.median(times)


def interleaved(runners: dict[str, Callable[[], Any]], repeat: int) -> dict[str, float]:
    """Median seconds of each runner, measured in turns, round after round: a shared machine
    whose speed drifts during the run moves every runner's figure alike."""
    times = interleaved_times(runners, repeat)
    return {name: statistics.median(ts) for name, ts in times.items()}


def interleaved_times(runners: dict[str, Callable[[], Any]], repeat: int) -> dict[str, list[float]]:
    """Every round's seconds of each runner, measured in turns."""
    times: dict[str, list[float]] = {name: [] for name in runners}
    for _ in range(repeat):
        for name, fn in runners.items():
            times[name].append(_timed(fn))
    return times


def efficiencies(times: dict[str, list[float]], serial: str) -> dict[str, tuple[float, float]]:
    """(median seconds, parallel efficiency) of each runner. The efficiency is the median over
    rounds of that round's serial time / (W x that round's time): on this host the speed of
    both cores together drifts by several percent from one second to the next (one round
    measured 0.92, the next 1.00), and a round's runners share its conditions."""
    base = times[serial]
    return {
        name: (
            statistics.median(ts),
            statistics.median(s / (W * t) for s, t in zip(base, ts)),
        )
        for name, ts in times.items()
        if name != serial
    }


def _pool(ctx: str = "fork") -> Any:
    return mp.get_context(ctx).Pool(W, initializer=set_spin, initargs=(_SPIN,))


def tiny_tasks(repeat: int) -> list[dict[str, Any]]:
    n = 100_000
    items = list(range(n))
    rows: list[dict[str, Any]] = []

    def row(name: str, mode: str, seconds: float, count: int = n) -> None:
        rows.append(
            {
                "benchmark": "100k tiny tasks",
                "runner": name,
                "mode": mode,
                "seconds": seconds,
                "tasks_per_s": count / seconds,
            }
        )

    good = n // (4 * W)
    ctx = mp.get_context("fork")

    def pool_cold() -> None:
        with _pool() as p:
            p.map(tiny, items)

    def ppe_cold() -> None:
        with cf.ProcessPoolExecutor(W, mp_context=ctx) as ex:
            list(ex.map(tiny, items, chunksize=good))

    cold = interleaved(
        {
            "plain loop": lambda: [tiny(x) for x in items],
            "multiprocessing.Pool.map": pool_cold,
            f"ProcessPoolExecutor chunksize={good}": ppe_cold,
            "poolwise.map (process)": lambda: pw.map(tiny, items, backend="process", workers=W),
        },
        3 * repeat,  # short runs: more rounds
    )
    for name, seconds in cold.items():
        row(name, "-" if name == "plain loop" else "cold", seconds)
    with (
        _pool() as p,
        cf.ProcessPoolExecutor(W, mp_context=ctx) as ex,
        pw.Executor(backend="process", workers=W) as pex,
    ):
        p.map(tiny, range(10))
        list(ex.map(tiny, range(10)))
        pex.start()
        list(pex.map(tiny, range(10)))
        warm = interleaved(
            {
                "multiprocessing.Pool.map": lambda: p.map(tiny, items),
                f"ProcessPoolExecutor chunksize={good}": lambda: list(
                    ex.map(tiny, items, chunksize=good)
                ),
                "poolwise Executor.map (process)": lambda: list(pex.map(tiny, items)),
            },
            3 * repeat,  # short runs: more rounds
        )
        for name, seconds in warm.items():
            row(name, "warm", seconds)
        small = items[:5000]
        row(
            "ProcessPoolExecutor chunksize=1 (5k items)",
            "warm",
            median_time(lambda: list(ex.map(tiny, small)), max(1, repeat // 2)),
            len(small),
        )
    if importlib.util.find_spec("joblib"):
        import joblib

        with joblib.Parallel(n_jobs=W, batch_size="auto") as par:
            par(joblib.delayed(tiny)(x) for x in range(100))
            row(
                "joblib (loky)",
                "warm",
                median_time(lambda: par(joblib.delayed(tiny)(x) for x in items), repeat),
            )
    if importlib.util.find_spec("mpire"):
        import mpire

        with mpire.WorkerPool(n_jobs=W, keep_alive=True) as mpool:
            mpool.map(tiny, range(10))
            row("mpire", "warm", median_time(lambda: mpool.map(tiny, items), repeat))
    return rows


def cpu_tasks(repeat: int) -> list[dict[str, Any]]:
    items = list(range(64))
    ctx = mp.get_context("fork")

    def pool_cold() -> None:
        with _pool() as p:
            p.map(spin, items)

    def ppe_cold() -> None:
        with cf.ProcessPoolExecutor(
            W, mp_context=ctx, initializer=set_spin, initargs=(_SPIN,)
        ) as ex:
            list(ex.map(spin, items))

    # the serial loop takes its turn among the cold runners, so that its time (the baseline of
    # every efficiency) is measured under the same conditions
    rounds = 2 * repeat - 1  # noisy: more rounds than elsewhere
    cold_times = interleaved_times(
        {
            "plain loop": lambda: [spin(x) for x in items],
            "multiprocessing.Pool.map": pool_cold,
            "ProcessPoolExecutor chunksize=1": ppe_cold,
            "poolwise.map (process)": lambda: pw.map(
                spin, items, backend="process", workers=W, initializer=set_spin, initargs=(_SPIN,)
            ),
        },
        rounds,
    )
    serial = statistics.median(cold_times["plain loop"])
    rows: list[dict[str, Any]] = []

    def row(name: str, mode: str, seconds: float, efficiency: float) -> None:
        rows.append(
            {
                "benchmark": "64 x 25 ms pure Python",
                "runner": name,
                "mode": mode,
                "seconds": seconds,
                "efficiency": efficiency,
            }
        )

    rows.append(
        {
            "benchmark": "64 x 25 ms pure Python",
            "runner": "plain loop",
            "mode": "-",
            "seconds": serial,
            "efficiency": 1.0 / W,
        }
    )
    for name, (seconds, eff) in efficiencies(cold_times, "plain loop").items():
        row(name, "cold", seconds, eff)
    with (
        _pool() as p,
        pw.Executor(backend="process", workers=W, initializer=set_spin, initargs=(_SPIN,)) as pex,
    ):
        p.map(tiny, range(10))
        pex.start()
        list(pex.map(tiny, range(10)))
        warm_times = interleaved_times(
            {
                "plain loop": lambda: [spin(x) for x in items],
                "multiprocessing.Pool.map": lambda: p.map(spin, items),
                "multiprocessing.Pool.map chunksize=1": lambda: p.map(spin, items, chunksize=1),
                "poolwise Executor.map (process)": lambda: list(pex.map(spin, items)),
            },
            rounds,
        )
    for name, (seconds, eff) in efficiencies(warm_times, "plain loop").items():
        row(name, "warm", seconds, eff)
    return rows


FIRST_RESULT = {
    "ProcessPoolExecutor (fork)": (
        "import concurrent.futures as cf, multiprocessing as mp\n"
        "with cf.ProcessPoolExecutor(2, mp_context=mp.get_context('fork')) as ex:\n"
        "    ex.submit(abs, -1).result()"
    ),
    "multiprocessing.Pool (fork)": (
        "import multiprocessing as mp\n"
        "with mp.get_context('fork').Pool(2) as p:\n"
        "    p.apply(abs, (-1,))"
    ),
    "poolwise.ProcessPoolExecutor": (
        "with poolwise.ProcessPoolExecutor(2) as ex:\n    ex.submit(abs, -1).result()"
    ),
    "poolwise.map([1], process)": "poolwise.map(abs, [-1], backend='process', workers=2)",
}


def compile_poolwise() -> None:
    """Write poolwise's bytecode, as ``pip install`` does: an editable install under
    PYTHONDONTWRITEBYTECODE=1 (set on this machine) would otherwise compile every module from
    source in each fresh interpreter (about 6 ms), while the standard library's is compiled."""
    import compileall

    compileall.compile_dir(str(Path(pw.__file__).parent), quiet=1)


def first_result(repeat: int) -> list[dict[str, Any]]:
    """Each in a fresh interpreter, as a user's script starts: no threads yet, modules
    imported (the time to import them is not counted), the clock around the pool alone."""
    compile_poolwise()
    codes = {
        name: (
            "import time, poolwise, concurrent.futures, multiprocessing.pool\n"
            "t0 = time.perf_counter()\n" + body + "\nprint(time.perf_counter() - t0)\n"
        )
        for name, body in FIRST_RESULT.items()
    }
    times: dict[str, list[float]] = {name: [] for name in codes}
    for _ in range(repeat * 6):  # in turns, so that drift moves every contender alike
        for name, code in codes.items():
            out = subprocess.run(
                [sys.executable, "-c", code], check=True, capture_output=True, text=True
            ).stdout
            times[name].append(float(out))
    return [
        {
            "benchmark": "create a pool, get one result",
            "runner": name,
            "mode": "cold",
            "seconds": statistics.median(ts),
        }
        for name, ts in times.items()
    ]


def sleeping(repeat: int) -> list[dict[str, Any]]:
    items = list(range(200))
    rows: list[dict[str, Any]] = []

    def std() -> None:
        with cf.ThreadPoolExecutor(32) as ex:
            list(ex.map(nap, items))

    for name, fn in [
        ("ThreadPoolExecutor", std),
        ("poolwise.map (thread)", lambda: pw.map(nap, items, backend="thread", workers=32)),
    ]:
        rows.append(
            {
                "benchmark": "200 x 20 ms sleeps, 32 threads",
                "runner": name,
                "mode": "cold",
                "seconds": median_time(fn, repeat),
                "ideal_s": 0.125,
            }
        )
    return rows


def import_time(repeat: int) -> list[dict[str, Any]]:
    def run(code: str) -> float:
        times = []
        for _ in range(repeat * 3):
            t0 = time.perf_counter()
            subprocess.run([sys.executable, "-c", code], check=True)
            times.append(time.perf_counter() - t0)
        return statistics.median(times)

    compile_poolwise()
    base = run("pass")
    ours = run("import poolwise")
    return [
        {
            "benchmark": "import poolwise",
            "runner": "python -c 'import poolwise' - 'pass'",
            "mode": "-",
            "seconds": ours - base,
        }
    ]


def run(quick: bool) -> list[dict[str, Any]]:
    repeat = 2 if quick else 5
    set_spin(calibrate())
    rows = []
    for part in (tiny_tasks, cpu_tasks, first_result, sleeping, import_time):
        rows.extend(part(repeat))
    return rows
