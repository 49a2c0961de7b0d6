"""``poolwise.compare``: run the user's function under every backend and worker count.

Method (after pyperf and hyperfine): the pool is started and timed apart from steady state; a
warm-up run is discarded when runs are short; runs repeat until the spread is small, the
configuration is clearly out of the race, or its share of the budget is spent; medians, MAD and
outliers describe each sample, and a Mann-Whitney test decides whether two configurations
differ (see ``_verdict``).
"""

from __future__ import annotations

import platform
import sys
import time
from collections.abc import Callable, Iterable, Sequence
from typing import Any

import poolwise
from poolwise import _transport
from poolwise._cpus import usable_cpus
from poolwise.comparison._record import Comparison, Measurement
from poolwise.comparison._verdict import decide
from poolwise.measure._sampler import Sampler
from poolwise.measure._stats import summarize

DEFAULT_BUDGET = 25.0  # seconds for a whole default comparison
MIN_REPEATS = 3
MAX_REPEATS = 10
STABLE = 0.03  # stop repeating once the relative MAD is below this


def ladder(backend: str, cpus: int) -> list[int]:
    """Worker counts to try: 1, 2, 4, ... up to 2x the CPUs for processes, 32 for threads."""
    if backend == "serial":
        return [1]
    top = 2 * cpus if backend in ("process", "dask") else max(32, 2 * cpus)
    out = {cpus}
    k = 1
    while k <= top:
        out.add(k)
        k *= 2
    return sorted(x for x in out if x <= top)


def _transfer(fn: Callable[[Any], Any], items: Sequence[Any]) -> tuple[float, float, float]:
    """Mean pickled bytes per argument and per result, and seconds to pickle and unpickle
    both, from a sample of up to 20 items."""
    sample = list(items[:20])
    t0 = time.perf_counter()
    blobs = [_transport.dumps(x) for x in sample]
    results = [fn(x) for x in sample[:5]]
    rblobs = [_transport.dumps(r) for r in results]
    for b in blobs + rblobs:
        _transport.loads(b)
    elapsed = time.perf_counter() - t0
    compute = 0.0
    t1 = time.perf_counter()
    for x in sample[:5]:
        fn(x)
    compute = time.perf_counter() - t1
    per_task = max(0.0, elapsed - compute) / max(1, len(sample))
    arg = sum(map(len, blobs)) / max(1, len(blobs))
    res = sum(map(len, rblobs)) / max(1, len(rblobs))
    return arg, res, per_task


def machine_facts() -> dict[str, Any]:
    from poolwise.backends._process import choose_start_method

    gil = getattr(sys, "_is_gil_enabled", lambda: True)()
    return {
        "usable_cpus": usable_cpus(),
        "python": platform.python_version(),
        "implementation": platform.python_implementation(),
        "build": " ".join(platform.python_build()),
        "gil_enabled": gil,
        "start_method": choose_start_method(None),
        "poolwise": poolwise.__version__,
        "platform": platform.platform(),
    }


def _measure_one(
    fn: Callable[[Any], Any],
    items: list[Any],
    backend: str,
    workers: int,
    budget: float,
    best_so_far: float | None,
    repeat: int | None,
) -> tuple[list[float], float, float, int, int | None, int]:
    t0 = time.perf_counter()
    ex = poolwise.Executor(backend=backend, workers=None if backend == "serial" else workers)
    try:
        ex.start()
        startup = time.perf_counter() - t0
        times: list[float] = []
        errors = 0
        spent = 0.0
        with Sampler(ex.worker_pids) as sampler:
            runs = 0
            while True:
                r0 = time.perf_counter()
                out = list(ex.map(_capture(fn), items))
                elapsed = time.perf_counter() - r0
                errors = sum(1 for o in out if isinstance(o, _Failed))
                runs += 1
                spent += elapsed
                if runs == 1 and elapsed < 0.1 * budget and repeat is None:
                    continue  # a warm-up, discarded, when it is cheap
                times.append(elapsed)
                if repeat is not None:
                    if len(times) >= repeat:
                        break
                    continue
                if best_so_far is not None and len(times) >= 1 and elapsed > 2 * best_so_far:
                    break  # clearly out of the race: one sample says so
                if len(times) >= MAX_REPEATS or (spent > budget and len(times) >= 1):
                    break
                if len(times) >= MIN_REPEATS and summarize(times).spread < STABLE:
                    break
        usage = sampler.usage
        return (
            times,
            startup,
            usage.cpu_seconds / max(1, runs),
            usage.peak_rss,
            usage.peak_pss,
            errors,
        )
    finally:
        ex.shutdown()


class _Failed:
    def __init__(self, exc: BaseException) -> None:
        self.exc = exc


class _capture:
    """Counts a failing item as an error instead of ending the measurement."""

    def __init__(self, fn: Callable[[Any], Any]) -> None:
        self.fn = fn

    def __call__(self, x: Any) -> Any:
        try:
            return self.fn(x)
        except Exception as exc:
            return _Failed(exc)

    def __reduce__(self) -> Any:
        return (_capture, (self.fn,))


def compare(
    fn: Callable[[Any], Any],
    items: Iterable[Any],
    *,
    backends: Sequence[str] = ("serial", "thread", "process"),
    workers: Sequence[int] | None = None,
    sample: int | None = None,
    repeat: int | None = None,
    budget: float | None = None,
    progress: Callable[[str, int, int], None] | None = None,
) -> Comparison:
    """Measure ``fn`` over ``items`` under every backend and worker count.

    Args:
        backends: which to try (``"dask"`` too when installed; it starts a local cluster).
        workers: worker counts to try for the parallel backends; default a ladder fitted to the
            usable CPUs (1, 2, 4, ... up to 2x the CPUs for processes, 32 for threads).
        sample: use only the first ``sample`` items.
        repeat: runs per configuration (default: until stable, within the budget).
        budget: seconds for the whole comparison (default 25).
        progress: called as ``progress(label, done, total)`` before each configuration.

    Returns:
        A frozen Comparison: ``print()`` it, ``to_json()``, ``to_html(path)``.
    """
    if not callable(fn):
        raise TypeError(f"fn must be callable, got {type(fn).__name__}")
    items = list(items)
    if sample is not None:
        items = items[:sample]
    if not items:
        raise ValueError("compare needs at least one item")
    cpus = usable_cpus()
    budget = DEFAULT_BUDGET if budget is None else budget
    configs = []
    for b in backends:
        if b not in ("serial", "thread", "process", "dask"):
            raise ValueError(f"unknown backend {b!r}; use serial, thread, process or dask")
        ws = [1] if b == "serial" else list(workers or ladder(b, cpus))
        configs += [(b, w) for w in ws]
    if ("serial", 1) not in configs:
        configs.insert(0, ("serial", 1))  # the baseline every speed-up is measured against
    arg_b, res_b, ser = _transfer(fn, items)
    raw = []
    best: float | None = None
    share = budget / len(configs)
    for k, (b, w) in enumerate(configs):
        if progress:
            progress(b if b == "serial" else f"{b} x{w}", k, len(configs))
        times, startup, cpu, rss, pss, errors = _measure_one(fn, items, b, w, share, best, repeat)
        med = summarize(times).median
        best = med if best is None else min(best, med)
        raw.append((b, w, times, startup, cpu, rss, pss, errors))
    if progress:
        progress("done", len(configs), len(configs))
    serial_median = next(summarize(r[2]).median for r in raw if r[0] == "serial")
    measurements = []
    for b, w, times, startup, cpu, rss, pss, errors in raw:
        s = summarize(times)
        speedup = serial_median / s.median if s.median > 0 else 0.0
        measurements.append(
            Measurement(
                backend=b,
                workers=w,
                times=tuple(times),
                summary=s,
                startup=startup,
                speedup=speedup,
                efficiency=speedup / min(w, cpus),
                cpu_seconds=cpu,
                cpu_utilisation=cpu / (s.median * cpus) if s.median > 0 else 0.0,
                peak_rss=rss,
                peak_pss=pss,
                transfer_seconds=ser * len(items) if b in ("process", "dask") else 0.0,
                errors=errors,
            )
        )
    name = getattr(fn, "__qualname__", repr(fn))
    best_label, ties, verdict, code = decide(measurements, len(items), name)
    return Comparison(
        function=name,
        items=len(items),
        measurements=tuple(measurements),
        best=best_label,
        ties=ties,
        verdict=verdict,
        code=code,
        arg_bytes=arg_b,
        result_bytes=res_b,
        serialize_per_task=ser,
        machine=machine_facts(),
    )
