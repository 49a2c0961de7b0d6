"""``poolwise.compare``: run the user's function under every backend and worker count.

Method (after pyperf and hyperfine): the pool is started and timed apart from steady state; a
warm-up run is discarded when runs are short; runs repeat until the spread is small, the
configuration is clearly out of the race, or its share of the budget is spent (a share is
what is left of the budget over the configurations left, so quick ones leave time to slow
ones); medians, MAD and outliers describe each sample, and a Mann-Whitney test (or, for the
few repeats a budget allows, ranges apart by more than the spread) decides whether two
configurations differ (see ``_verdict``). CPU time and memory are sampled over the parent
and every worker process while the runs go on.
"""

from __future__ import annotations

import time
from collections.abc import Callable, Iterable, Sequence
from dataclasses import dataclass
from typing import Any

from poolwise import _transport
from poolwise._cpus import usable_cpus
from poolwise._executor import Executor
from poolwise.backends import _arena, _oob
from poolwise.backends._interpreter import available as interpreters_available
from poolwise.backends._interpreter import unavailable_message
from poolwise.comparison._ladder import ladder
from poolwise.comparison._record import Comparison, Measurement
from poolwise.comparison._verdict import decide
from poolwise.measure._machine import machine_facts
from poolwise.measure._repeat import repeat_until_stable
from poolwise.measure._sampler import Sampler
from poolwise.measure._stats import checks, summarize

DEFAULT_BUDGET = 20.0  # seconds for a whole default comparison (goal: under 30 s in all,
# start-ups, warm-ups and the last run of each configuration included, on a busy machine)
BACKENDS = ("serial", "thread", "process", "interpreter", "dask")
TRANSFER_SAMPLE = 20  # items pickled to estimate the bytes and time per task
RESULT_SAMPLE = 5  # items computed in the parent for their results' size


@dataclass(frozen=True)
class Transfer:
    """Pickling cost per task, from a sample (pickle protocol 5, cloudpickle when refused),
    as the process backend moves it: large buffers in shared memory, the rest by the pipe."""

    arg_bytes: float  # bytes moved per task: the pickle stream and any buffers beside it
    result_bytes: float
    seconds: float  # to pickle and unpickle one argument and one result
    shared_bytes: float = 0.0  # of those bytes (argument and result), in shared memory
    transport: str = "pipe"  # "pipe", or "shared memory" when any buffer goes there


def measure_transfer(
    fn: Callable[[Any], Any],
    items: Sequence[Any],
    *,
    clock: Callable[[], float] = time.perf_counter,
) -> Transfer:
    """What a process pool pays per task to move an argument in and a result out.

    Items on which ``fn`` raises, and what cannot be pickled, are left out of the sample (the
    runs count them as errors).
    """
    args = list(items[:TRANSFER_SAMPLE])
    results = []
    for x in args[:RESULT_SAMPLE]:
        try:
            results.append(fn(x))
        except Exception:
            continue

    threshold = _oob.THRESHOLD if _arena.supported() else None

    def round_trip(objs: list[Any]) -> tuple[float, float, float]:
        """Mean bytes, of which in shared memory, and seconds per object."""
        t0 = clock()
        packs = [p for p in (_pack(x, threshold) for x in objs) if p is not None]
        for p in packs:
            # (a buffer in shared memory is copied once; the other side reads it there)
            _oob.loads(p.stream, [bytes(b) for b in p.buffers])
        elapsed = clock() - t0
        if not packs:
            return 0.0, 0.0, 0.0
        total = sum(len(p.stream) + p.nbytes for p in packs) / len(packs)
        return total, sum(p.nbytes for p in packs) / len(packs), elapsed / len(packs)

    arg_bytes, arg_shared, arg_s = round_trip(args)
    result_bytes, result_shared, result_s = round_trip(results)
    shared = arg_shared + result_shared
    return Transfer(
        arg_bytes,
        result_bytes,
        arg_s + result_s,
        shared_bytes=shared,
        transport="shared memory" if shared else "pipe",
    )


def _pack(x: Any, threshold: int | None) -> _oob.Packed | None:
    """``x`` pickled as the process backend would send it; None when it cannot be."""
    try:
        if threshold is None:
            return _oob.Packed(_transport.dumps(x), [], b"")
        try:
            return _oob.dump(x, [x], lambda xs: xs[0], threshold=threshold)[0]
        except Exception:
            import cloudpickle  # (only for what the C pickler refused)

            dumped = _oob.dump(
                x, [x], lambda xs: xs[0], threshold=threshold, dumps=cloudpickle.dumps
            )
            return dumped[0]
    except Exception:
        return None


@dataclass(frozen=True)
class _Raw:
    backend: str
    workers: int
    times: tuple[float, ...]
    startup: float
    cpu_per_run: float
    peak_rss: int
    peak_pss: int | None
    errors: int
    start_method: str | None


class _Failed:
    def __init__(self, exc: BaseException) -> None:
        self.exc = exc


class _Capture:
    """Counts a failing item as an error instead of ending the measurement."""

    def __init__(self, fn: Callable[[Any], Any]) -> None:
        self.fn = fn
        # the transport pickles by value what comes from __main__ (a worker started by
        # forkserver or spawn cannot import it by name): it must see where ``fn`` comes from
        self.__module__ = getattr(fn, "__module__", None) or __name__

    def __call__(self, x: Any) -> Any:
        try:
            return self.fn(x)
        except Exception as exc:
            return _Failed(exc)


def default_backends() -> tuple[str, ...]:
    """The backends compared by default: interpreters too where this Python has them."""
    base = ("serial", "thread", "process")
    return (*base, "interpreter") if interpreters_available() else base


def _start_method(ex: Executor) -> str | None:
    # which start method the pool really used (fork, or forkserver when threads were running)
    used = getattr(getattr(ex, "_backend", None), "start_methods_used", None)
    return ", ".join(sorted(used)) if used else None


def _measure_one(
    fn: Callable[[Any], Any],
    items: list[Any],
    backend: str,
    workers: int,
    *,
    budget: float,
    slower_than: float | None,
    repeat: int | None,
) -> _Raw:
    t0 = time.perf_counter()
    ex = Executor(backend=backend, workers=None if backend == "serial" else workers)
    try:
        ex.start()
        startup = time.perf_counter() - t0
        task = _Capture(fn)
        errors = [0]

        def run() -> None:
            out = ex.map(task, items)
            errors[0] = sum(1 for o in out if isinstance(o, _Failed))

        with Sampler(ex.worker_pids) as sampler:
            r = repeat_until_stable(run, budget=budget, repeat=repeat, slower_than=slower_than)
        usage = sampler.usage
        return _Raw(
            backend,
            workers,
            r.times,
            startup,
            usage.cpu_seconds / (len(r.times) + r.warmups),
            usage.peak_rss,
            usage.peak_pss,
            errors[0],
            _start_method(ex) if backend == "process" else None,
        )
    finally:
        ex.shutdown()


def compare(
    fn: Callable[[Any], Any],
    items: Iterable[Any],
    *,
    backends: Sequence[str] | None = None,
    workers: Sequence[int] | None = None,
    sample: int | None = None,
    repeat: int | None = None,
    budget: float | None = None,
    progress: Callable[[str, int, int], None] | None = None,
) -> Comparison:
    """Measure ``fn`` over ``items`` under every backend and worker count.

    Args:
        backends: which to try; default serial, thread, process and, on Python 3.14+,
            interpreter (``"dask"`` too when installed; it starts a local cluster). Serial
            always runs: it is the baseline of every speed-up.
        workers: worker counts to try for the parallel backends; default a ladder fitted to the
            usable CPUs (1, 2, 4, ... up to 2x the CPUs for processes, 32 for threads).
        sample: use only the first ``sample`` items.
        repeat: timed runs per configuration (default: until stable, within the budget).
        budget: seconds for the whole comparison (default 20; pool start-ups come on top).
        progress: called as ``progress(label, done, total)`` before each configuration and
            once at the end with ``"done"``.

    Returns:
        A frozen Comparison: ``print()`` it, ``to_json()``, ``to_html(path)``.

    Raises:
        ValueError: no items, an unknown backend, a worker count below 1, "interpreter"
            before Python 3.14.
        Exception: whatever ``fn`` raises on the items sampled to measure pickling.
    """
    if not callable(fn):
        raise TypeError(f"fn must be callable, got {type(fn).__name__}")
    items = list(items)
    if sample is not None:
        items = items[:sample]
    if not items:
        raise ValueError("compare needs at least one item")
    if workers is not None and any(w < 1 for w in workers):
        raise ValueError(f"worker counts must be at least 1, got {list(workers)}")
    cpus = usable_cpus()
    budget = DEFAULT_BUDGET if budget is None else budget
    configs: list[tuple[str, int]] = [("serial", 1)]  # the baseline, measured first
    for b in default_backends() if backends is None else backends:
        if b not in BACKENDS:
            raise ValueError(f"unknown backend {b!r}; use one of {', '.join(BACKENDS)}")
        if b == "interpreter" and not interpreters_available():
            raise ValueError(unavailable_message())
        if b != "serial":
            configs += [(b, w) for w in dict.fromkeys(workers or ladder(b, cpus))]
    transfer = measure_transfer(fn, items)
    raw: list[_Raw] = []
    failed: list[str] = []
    best: float | None = None
    began = time.perf_counter()
    for k, (b, w) in enumerate(configs):
        label = b if b == "serial" else f"{b} x{w}"
        if progress:
            progress(label, k, len(configs))
        left = budget - (time.perf_counter() - began)
        share = max(left, 0.0) / (len(configs) - k)
        try:
            r = _measure_one(fn, items, b, w, budget=share, slower_than=best, repeat=repeat)
        except Exception as exc:
            if b == "serial":
                raise  # the function cannot run at all: nothing to compare
            # e.g. results that cannot be pickled: this configuration is out, not the rest
            failed.append(f"{label} could not run: {type(exc).__name__}: {exc}")
            continue
        med = summarize(r.times).median
        best = med if best is None else min(best, med)
        raw.append(r)
    if progress:
        progress("done", len(configs), len(configs))
    return _assemble(fn, items, raw, transfer, cpus, failed)


def _assemble(
    fn: Callable[[Any], Any],
    items: list[Any],
    raw: list[_Raw],
    transfer: Transfer,
    cpus: int,
    failed: list[str],
) -> Comparison:
    serial_median = summarize(raw[0].times).median
    measurements = []
    for r in raw:
        s = summarize(r.times)
        speedup = serial_median / s.median if s.median > 0 else 0.0
        measurements.append(
            Measurement(
                backend=r.backend,
                workers=r.workers,
                times=r.times,
                summary=s,
                startup=r.startup,
                speedup=speedup,
                efficiency=speedup / min(r.workers, cpus),
                cpu_seconds=r.cpu_per_run,
                cpu_utilisation=r.cpu_per_run / (s.median * cpus) if s.median > 0 else 0.0,
                peak_rss=r.peak_rss,
                peak_pss=r.peak_pss,
                transfer_seconds=(
                    transfer.seconds * len(items)
                    if r.backend in ("process", "interpreter", "dask")
                    else 0.0
                ),
                errors=r.errors,
            )
        )
    name = getattr(fn, "__qualname__", repr(fn))
    methods = sorted({r.start_method for r in raw if r.start_method})
    machine = machine_facts(start_method=", ".join(methods) or None)
    best_label, ties, verdict, code = decide(
        measurements, len(items), name, gil_enabled=machine["gil_enabled"]
    )
    warnings = [*failed, *(line for m in measurements for line in checks(m.label, m.summary))]
    warnings += [
        f"{m.label}: {m.errors} of {len(items)} items failed" for m in measurements if m.errors
    ]
    return Comparison(
        function=name,
        items=len(items),
        measurements=tuple(measurements),
        best=best_label,
        ties=ties,
        verdict=verdict,
        code=code,
        arg_bytes=transfer.arg_bytes,
        result_bytes=transfer.result_bytes,
        serialize_per_task=transfer.seconds,
        transport=transfer.transport,
        shared_bytes=transfer.shared_bytes,
        machine=machine,
        warnings=tuple(warnings),
    )
