"""``poolwise.advise`` and ``decide``: predict every configuration from a profile, pick, explain."""

from __future__ import annotations

import sys
from collections.abc import Callable, Iterable
from typing import Any

from poolwise._cpus import usable_cpus
from poolwise.advisor._advice import Advice
from poolwise.advisor._measure import SAFE, UNSAFE, VARIES
from poolwise.advisor._model import chunksize_for, gil_enabled, ladder, predict
from poolwise.advisor._profile import Profile

# A parallel configuration must beat serial by this much (and by MIN_GAIN seconds) to be worth
# its complexity; processes must beat threads by PROCESS_MARGIN to be worth their memory; of
# the worker counts predicted within SAME of the best, the fewest win (fewer workers contend
# less, which the model does not see).
SERIAL_MARGIN = 0.10
MIN_GAIN = 0.002
PROCESS_MARGIN = 0.05
# ...and by more when a thread trial measured threads: a measured time against a modelled one
# that leaves out what processes cost beyond start-up and pickling (their first results, pages)
PROCESS_MARGIN_MEASURED = 0.15
# (10%: on 2 CPUs, 4 processes predicted 10% ahead of 2 by the fair share against a busy
# reading of 0.5 took 25% longer for json, 7% for pure Python; more workers than CPUs cost
# switches and caches the model leaves out)
SAME = 0.10
# interpreters must beat processes by this much: as fast, processes can also stop a task
# (timeout), survive a crash in native code, and load every extension module
INTERPRETER_MARGIN = 0.15
ASSUMED_ITEMS = 10_000  # for an input of unknown length


def fmt_s(seconds: float) -> str:
    if seconds >= 1:
        return f"{seconds:.2f} s"
    if seconds >= 1e-3:
        return f"{seconds * 1e3:.1f} ms"
    return f"{seconds * 1e6:.1f} us"


def _fmt_b(n: float) -> str:
    for unit, size in (("GB", 1e9), ("MB", 1e6), ("kB", 1e3)):
        if n >= size:
            return f"{n / size:.1f} {unit}"
    return f"{n:.0f} bytes"


# CPU time per wall time above which a function runs threads of its own (a native pool)
MANY_CORES = 1.2


def _through_pipe(p: Profile) -> float:
    """Seconds per task the item and result would cost pickled through a pipe instead."""
    from poolwise.advisor._pilot import COPY, PIPE  # (loaded with the pilot already)

    moved = (p.arg_bytes or 0.0) + (p.result_bytes or 0.0)
    return 2 * moved / COPY + moved / PIPE


def _label(backend: str, workers: int) -> str:
    return backend if backend == "serial" else f"{backend} x{workers}"


def _fewest(preds: dict[tuple[str, int], float], backend: str) -> tuple[float, tuple[str, int]]:
    mine = {k: v for k, v in preds.items() if k[0] == backend}
    best = min(mine.values())
    key = min(k for k, v in mine.items() if v <= best * (1 + SAME))
    return mine[key], key


def fewest(predictions: dict[str, float], backend: str) -> int:
    """The worker count ``decide`` would pick for ``backend`` from an advice's predictions
    (labelled "thread x8"...), 0 when it has none."""
    preds = {
        (b, int(w)): v
        for label, v in predictions.items()
        for b, _, w in [label.partition(" x")]
        if b == backend and w
    }
    return _fewest(preds, backend)[1][1] if preds else 0


def _choose(
    preds: dict[tuple[str, int], float], backends: set[str], margin: float = PROCESS_MARGIN
) -> tuple[tuple[str, int], float]:
    serial = preds[("serial", 1)]
    choice, best = ("serial", 1), serial
    options = [_fewest(preds, b) for b in ("thread", "process", "interpreter") if b in backends]
    for value, key in options:
        if value < best * (1 - SERIAL_MARGIN) and serial - value > MIN_GAIN and value < best:
            choice, best = key, value
    if choice[0] == "interpreter" and "process" in backends:
        value, key = _fewest(preds, "process")
        if value <= best * (1 + INTERPRETER_MARGIN):
            choice, best = key, value  # processes are as good and safer
    if choice[0] in ("process", "interpreter") and "thread" in backends:
        value, key = _fewest(preds, "thread")
        if value <= best * (1 + margin):
            choice, best = key, value  # threads are as good and cheaper
    return choice, best


def decide(
    p: Profile,
    n: int | None,
    *,
    cpus: int | None = None,
    method: str = "fork",
    threads: bool = True,
    processes: bool = True,
    interpreters: bool | None = None,
) -> Advice:
    """The advice for ``n`` items (None: an input of unknown length) from a profile (pure: the
    tests feed it made-up profiles). ``threads``/``processes``/``interpreters`` False leave
    them out; interpreters are in by default where this Python has them (3.14+)."""
    cpus = cpus or usable_cpus()
    count = n if n is not None else ASSUMED_ITEMS
    allowed = {"serial"}
    if threads and p.safety != UNSAFE:
        allowed.add("thread")
    if processes and p.picklable is not False:
        allowed.add("process")
    if interpreters is None:
        interpreters = sys.version_info >= (3, 14)
    if interpreters and p.picklable is not False:
        allowed.add("interpreter")
    busy = p.busy_others
    scenarios = [busy]
    if busy < cpus - 0.5:
        scenarios.append(min(cpus - 1.0, busy + 1.0))  # the machine one CPU busier
    table: list[dict[tuple[str, int], float]] = []
    backends: tuple[str, ...] = ("serial", "thread", "process", "interpreter")
    for b in scenarios:
        preds: dict[tuple[str, int], float] = {
            (backend, w): predict(p, backend, w, count, cpus, method, b)
            for backend in backends
            if backend in allowed
            for w in ladder(backend, cpus, n)
        }
        table.append(preds)
    preds = table[0]
    margin = PROCESS_MARGIN if p.trial is None else PROCESS_MARGIN_MEASURED
    choice, best_time = _choose(preds, allowed, margin)
    confidence = _confidence(p, preds, choice)
    if confidence == "low" and len(table) > 1:
        # too noisy to trust one prediction: the choice that loses least in the worst case
        choice = min(
            {choice, *(_choose(t, allowed, margin)[0] for t in table)},
            key=lambda k: max(t[k] / max(min(t.values()), 1e-12) for t in table),
        )
        best_time = preds[choice]
    backend, workers = choice
    serial = preds[("serial", 1)]
    return Advice(
        backend=backend,
        workers=workers,
        chunksize=chunksize_for(p, workers, n),
        expected_speedup=serial / best_time if best_time > 0 else 1.0,
        confidence=confidence,
        reasons=tuple(_reasons(p, choice, preds, n, cpus, threads, method)),
        predictions={_label(b, w): v for (b, w), v in preds.items()},
        measured={
            "task_wall_s": p.wall,
            "task_cpu_s": p.cpu,
            "gil_fraction": p.gil,
            "spread": p.spread,
            "timed_groups": p.samples,
            "arg_bytes": p.arg_bytes,
            "result_bytes": p.result_bytes,
            "parent_serialize_s": p.serialize,
            "transport": p.transport,
            "thread_safety": p.safety,
            "thread_trial": p.trial,
            "busy_other_cpus": busy,
            "start_method": method,
            "items": n,
            "usable_cpus": cpus,
            "gil_enabled": gil_enabled(),
        },
    )


def _confidence(p: Profile, preds: dict[tuple[str, int], float], choice: tuple[str, int]) -> str:
    ranked = sorted(set(preds.values()))
    margin = (ranked[1] - ranked[0]) / ranked[0] if len(ranked) > 1 and ranked[0] > 0 else 1.0
    if p.samples >= 6 and p.spread < 0.3 and (margin > 0.2 or choice[0] == "serial"):
        return "high"
    # few timed groups are fine when each is long (slow items): noise shows as spread
    if p.spread < 0.5 and (p.samples >= 2 or p.wall >= 0.002):
        return "medium"
    return "low"


def _reasons(
    p: Profile,
    choice: tuple[str, int],
    preds: dict[tuple[str, int], float],
    n: int | None,
    cpus: int,
    threads: bool,
    method: str,
) -> list[str]:
    out = []
    share = p.cpu / p.wall if p.wall > 0 else 0.0
    kind = "computes" if share > 0.7 else "waits" if share < 0.3 else "computes and waits"
    out.append(
        f"each task takes {fmt_s(p.wall)} and keeps a CPU busy {share:.0%} of that time: "
        f"it mostly {kind}"
    )
    if share > MANY_CORES:
        out.append(
            f"it already uses about {share:.1f} cores on its own (CPU time {fmt_s(p.cpu)} in "
            f"{fmt_s(p.wall)} of wall time: a native thread pool, such as BLAS or OpenMP): "
            "workers share the CPUs with it, and poolwise gives each worker's pool its share"
        )
    if not gil_enabled():
        out.append("this Python runs without the GIL: threads run Python code in parallel")
    elif p.gil is not None and share > 0.3:
        holds = "holds the GIL" if p.gil > 0.5 else "releases the GIL"
        out.append(f"it {holds} ({p.gil:.0%} of its time, sampled while it ran)")
    if p.safety == UNSAFE:
        out.append(
            f"threads are ruled out: {p.safety_note}; run `poolwise check races` on it to see "
            "the race"
        )
    elif p.safety == SAFE:
        out.append(f"thread-safe as far as measured: {p.safety_note}")
    elif p.safety == VARIES:
        out.append(f"results vary by nature ({p.safety_note}); only exceptions were checked")
    elif not threads:
        out.append("threads are ruled out: no item may run twice, and only re-runs check safety")
    if p.trial is not None:
        out.append(f"on {p.trial[0]} threads a task took {fmt_s(p.trial[1])} (measured)")
    if p.picklable is False:
        out.append("the function or its items cannot be pickled: processes are ruled out")
    elif (
        p.serialize is not None
        and p.arg_bytes is not None
        and p.result_bytes is not None
        and choice[0] != "process"
        and p.serialize > max(0.2 * p.wall, 1e-5)
    ):
        out.append(
            f"arguments are {_fmt_b(p.arg_bytes)} and results {_fmt_b(p.result_bytes)}: "
            f"sending them to processes costs {fmt_s(p.serialize)} per task against "
            f"{fmt_s(p.wall)} of work"
        )
    if p.transport == "shared memory" and p.serialize is not None:
        out.append(
            f"arguments of {_fmt_b(p.arg_bytes or 0)} and results of "
            f"{_fmt_b(p.result_bytes or 0)} would cross to processes in shared memory, "
            f"{fmt_s(p.serialize)} per task (through a pipe they would cost "
            f"{fmt_s(_through_pipe(p))})"
        )
    if p.busy_others >= 0.5:
        out.append(f"other programs keep {p.busy_others:.1f} of {cpus} CPUs busy")
    procs = [(v, k[1]) for k, v in preds.items() if k[0] == "process"]
    if procs and choice[0] != "process":
        value, w = min(procs)
        out.append(
            f"{w} worker process{'es' if w > 1 else ''} ({method}) would take {fmt_s(value)}, "
            "start-up included"
        )
    count = f"{n} items" if n is not None else "an input of unknown length (assumed long)"
    best = sorted(preds.items(), key=lambda kv: kv[1])[:3]
    shown = ", ".join(f"{_label(b, w)} {fmt_s(v)}" for (b, w), v in best)
    out.append(f"for {count}, predicted: {shown}")
    if choice[0] == "interpreter":
        out.append(
            "interpreters run it in parallel inside this process (Python 3.14), predicted more "
            f"than {INTERPRETER_MARGIN:.0%} faster than processes; unlike processes they cannot "
            "stop a running task (no timeout) and a crash in native code ends the program"
        )
    if choice[0] == "serial":
        out.append("no parallel configuration is predicted to be 10% faster: keep it serial")
    return out


def advise(
    fn: Callable[[Any], Any], items: Iterable[Any], *, budget: float | None = None
) -> Advice:
    """Measure ``fn`` on its first items and advise a backend, worker count and chunk size.

    The first items run for real in the calling thread, as a loop would run them: wall and CPU
    time, and how much of it holds the GIL (sampled by a helper thread). When threads could
    help, a few of those items run again on threads beside new ones, and any result that
    differs rules threads out. A cost model then predicts every configuration. ``budget``
    (seconds, default 0.2) bounds the measuring; results are not kept (``poolwise.map`` with
    the default ``backend="auto"`` does the same and keeps them).

    Raises:
        ValueError: for an empty input.
    """
    from poolwise.advisor._pilot import Pilot  # (the pilot loads the clocks and the sampler)

    if not callable(fn):
        raise TypeError(f"fn must be callable, got {type(fn).__name__} {fn!r}")
    pilot = Pilot(fn, items, mode="advise", budget=budget)
    for _ in pilot.run():
        pass
    if pilot.advice is None:
        raise ValueError("cannot advise on an empty input")
    return pilot.advice
