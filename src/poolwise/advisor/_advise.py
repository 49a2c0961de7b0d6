"""``poolwise.advise``: probe, predict every configuration, pick the fastest, explain."""

from __future__ import annotations

from collections.abc import Callable, Iterable, Iterator, Sequence
from typing import TYPE_CHECKING, Any

from poolwise import _transport
from poolwise._cpus import usable_cpus
from poolwise.advisor._advice import Advice

if TYPE_CHECKING:  # the model and the probe load on first use: `import poolwise` stays light
    from poolwise.advisor._model import Task
    from poolwise.advisor._probe import ProbeOutcome

# A parallel configuration must beat serial by this much to be worth its complexity, and
# processes must beat threads by this much to be worth their memory.
SERIAL_MARGIN = 0.10
PROCESS_MARGIN = 0.05
ASSUMED_ITEMS = 10_000  # for an input of unknown length


def _fmt_s(seconds: float) -> str:
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


def decide(
    p: ProbeOutcome,
    n: int | None,
    *,
    cpus: int | None = None,
    backends: Sequence[str] = ("serial", "thread", "process"),
    remaining: bool = False,
) -> Advice:
    """The advice from probe measurements (pure: the tests feed it made-up probes).

    Predictions cover all ``n`` items, or with ``remaining`` only those the probe did not run
    (``backend="auto"``, which keeps the probe's results)."""
    from poolwise.advisor._model import chunksize_for, gil_enabled, ladder, predict, task_from

    cpus = cpus or usable_cpus()
    if p.crashed:
        return Advice(
            "process",
            cpus,
            1,
            1.0,
            "low",
            (
                f"the function crashed its process during the probe ({p.crashed}): only "
                "processes keep a crash to the task that caused it",
            ),
            {},
            {"crashed": p.crashed},
        )
    task = task_from(p, cpus)
    total = n if n is not None else ASSUMED_ITEMS
    left = max(0, total - p.consumed) if remaining else total
    preds: dict[tuple[str, int], float] = {}
    for backend in backends:
        for w in ladder(backend, cpus):
            preds[(backend, w)] = predict(task, backend, w, left, cpus, p.startup)
    serial = preds.get(("serial", 1), left * task.wall)
    best_thread = min(((v, k) for k, v in preds.items() if k[0] == "thread"), default=None)
    best_proc = min(((v, k) for k, v in preds.items() if k[0] == "process"), default=None)
    choice: tuple[str, int] = ("serial", 1)
    best_time = serial
    for cand in (best_thread, best_proc):
        if cand is not None and cand[0] < best_time * (1 - SERIAL_MARGIN):
            best_time, choice = cand[0], cand[1]
    if (
        choice[0] == "process"
        and best_thread is not None
        and best_thread[0] <= best_time * (1 + PROCESS_MARGIN)
    ):
        best_time, choice = best_thread  # threads are as good and cheaper
    backend, workers = choice
    chunk = chunksize_for(task, workers, left if n is not None else None)
    speedup = serial / best_time if best_time > 0 else 1.0
    reasons = _reasons(task, p, backend, workers, preds, left, n, cpus)
    ranked = sorted(preds.values())
    margin = (ranked[1] - ranked[0]) / ranked[0] if len(ranked) > 1 and ranked[0] > 0 else 1.0
    samples = len(p.serial_wall)
    if samples >= 8 and task.spread < 0.3 and (margin > 0.2 or backend == "serial"):
        confidence = "high"
    elif samples >= 3 and task.spread < 1.0:
        confidence = "medium"
    else:
        confidence = "low"
    return Advice(
        backend=backend,
        workers=workers,
        chunksize=chunk,
        expected_speedup=speedup,
        confidence=confidence,
        reasons=tuple(reasons),
        predictions={f"{b} x{w}" if b != "serial" else b: v for (b, w), v in preds.items()},
        measured={
            "task_wall_s": task.wall,
            "task_cpu_s": task.cpu,
            "gil_fraction": task.gil,
            "thread_speedup_2": task.thread_speedup,
            "arg_bytes": p.arg_bytes,
            "result_bytes": p.result_bytes,
            "parent_serialize_s": task.parent_serialize,
            "process_startup_s": p.startup,
            "start_method": p.start_method,
            "probed_items": p.consumed,
            "items": n,
            "usable_cpus": cpus,
            "gil_enabled": gil_enabled(),
        },
    )


def _reasons(
    task: Task,
    p: ProbeOutcome,
    backend: str,
    workers: int,
    preds: dict[tuple[str, int], float],
    left: int,
    n: int | None,
    cpus: int,
) -> list[str]:
    from poolwise.advisor._model import gil_enabled

    out = []
    share = task.cpu / task.wall if task.wall > 0 else 0.0
    kind = "computes" if share > 0.7 else "waits" if share < 0.3 else "computes and waits"
    out.append(
        f"each task takes {_fmt_s(task.wall)} and keeps a CPU busy {share:.0%} of that time: "
        f"it mostly {kind}"
    )
    if not gil_enabled():
        out.append("this Python runs without the GIL: threads run Python code in parallel")
    elif task.thread_speedup is not None and share > 0.3:
        holds = "holds the GIL" if task.gil > 0.5 else "releases the GIL"
        out.append(f"it {holds} (2 threads ran {task.thread_speedup:.1f}x as fast as 1)")
    move = task.parent_serialize
    if backend != "process" and move > 0.2 * task.wall and move > 1e-5:
        out.append(
            f"arguments are {_fmt_b(p.arg_bytes)} and results {_fmt_b(p.result_bytes)}: sending "
            f"them to processes costs {_fmt_s(move)} per task against {_fmt_s(task.wall)} of work"
        )
    procs = [(v, k[1]) for k, v in preds.items() if k[0] == "process"]
    if procs and left > 0:
        proc, pw_ = min(procs)
        start = p.startup * pw_
        per_item_gain = task.wall - (proc - start) / left
        if per_item_gain > 0:
            pays = int(start / per_item_gain) + 1
            out.append(
                f"starting {pw_} worker process{'es' if pw_ > 1 else ''} costs {_fmt_s(start)} "
                f"({p.start_method}), which pays off above about {pays} items"
            )
        else:
            out.append(
                f"processes cannot win here: starting them costs {_fmt_s(start)} and each task "
                "gains nothing once its arguments and results are pickled"
            )
    count = f"{n} items" if n is not None else "an input of unknown length (assumed long)"
    best = sorted(preds.items(), key=lambda kv: kv[1])[:3]
    shown = ", ".join(f"{b}{'' if b == 'serial' else f' x{w}'} {_fmt_s(v)}" for (b, w), v in best)
    out.append(f"for {count}, predicted: {shown}")
    if backend == "serial":
        out.append("no parallel configuration is predicted to be 10% faster: keep it serial")
    return out


def advise_with_probe(
    fn: Callable[[Any], Any],
    items: Iterable[Any],
    *,
    budget: float | None = None,
    backends: Sequence[str] = ("serial", "thread", "process"),
    timeout: float | None = None,
) -> tuple[Advice, ProbeOutcome, Iterator[Any], int | None]:
    from poolwise.advisor._probe import probe

    n = len(items) if isinstance(items, (list, tuple, range)) else None
    outcome, rest = probe(fn, items, budget=budget, timeout=timeout)
    return decide(outcome, n, backends=backends, remaining=True), outcome, rest, n


def advise(
    fn: Callable[[Any], Any],
    items: Iterable[Any],
    *,
    budget: float | None = None,
) -> Advice:
    """Probe ``fn`` on a few items and advise a backend, worker count and chunk size.

    The probe runs the first items for real in one worker process: some one after another
    (wall and CPU time), some on two threads (does the function hold the GIL?); it measures
    pickled sizes and this machine's process start-up. A cost model then predicts every
    configuration. ``budget`` (seconds) bounds the probe's own work (default 0.3 s).

    Raises:
        ValueError: for an empty input.
    """
    if not callable(fn):
        raise TypeError(f"fn must be callable, got {type(fn).__name__} {fn!r}")
    n = len(items) if isinstance(items, (list, tuple, range)) else None
    try:
        _transport.dumps_function(fn)
    except Exception as exc:
        return unpicklable_advice(exc, n)
    from poolwise.advisor._probe import probe

    outcome, _ = probe(fn, items, budget=budget)
    return decide(outcome, n)


def unpicklable_advice(exc: BaseException, n: int | None) -> Advice:
    """A function that cannot be pickled can only run in this process: threads."""
    from poolwise._options import default_workers

    return Advice(
        "thread",
        default_workers("thread"),
        1,
        1.0,
        "low",
        (
            f"the function cannot be pickled ({exc}), so it cannot run in other processes; "
            "threads run it in this process (not probed)",
        ),
        {},
        {"items": n},
    )
