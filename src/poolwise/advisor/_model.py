"""The cost model: predicted wall time of each configuration from the probe's measurements.

Bottleneck analysis. Per task: ``t`` seconds of wall time, ``c`` of CPU, of which a fraction
``h`` holds the GIL; ``s`` seconds of pickling in the parent and ``s'`` in the worker. Over ``n``
tasks on ``w`` workers and ``P`` usable CPUs:

- serial:    n * t
- threads:   start + n * (max(h*c, c / min(w, P), t / w) + d)  (one GIL: h*c is serialized;
                                                                 d: dispatch cost per task)
- processes: start(w) + n * max((c + s') / min(w, P), (c + s' + s) / P, t / w, s)
             (a GIL each; the parent pickles every argument and result itself)

``h`` comes from the thread test: two threads took ``e2`` per task where one took ``t``. Without
a GIL they would take ``l = max(c / min(2, P), t / 2)``, with the GIL held throughout
``u = max(c, t / 2)`` (waits overlap either way), so ``h = (e2 - l) / (u - l)``. On a build
without the GIL ``h = 0``; when the thread test covered under 10 ms of work (it then measures
thread start-up) ``h = 1``, the cautious guess.
"""

from __future__ import annotations

import math
import statistics
import sys
from dataclasses import dataclass

from poolwise.advisor._probe import ProbeOutcome

THREAD_START = 0.0002  # seconds to start one thread, generous
THREAD_PER_TASK = 1e-7  # the thread backend's own cost per task, batched
TRANSFER = 2e9  # bytes per second through a pipe, both copies included
WAIT_FLOOR = 0.15  # a gap between wall and CPU time below this share is not waiting


def gil_enabled() -> bool:
    check = getattr(sys, "_is_gil_enabled", None)
    return True if check is None else bool(check())


@dataclass(frozen=True)
class Task:
    """A task as the model sees it."""

    wall: float
    cpu: float
    gil: float  # fraction of the CPU time that holds the GIL
    parent_serialize: float
    worker_serialize: float
    spread: float  # coefficient of variation of the per-task wall time
    thread_speedup: float | None  # 2 threads against 1, as measured


def task_from(p: ProbeOutcome, cpus: int) -> Task:
    count = sum(p.serial_sizes)
    t = sum(w * k for w, k in zip(p.serial_wall, p.serial_sizes)) / count
    c = min(sum(x * k for x, k in zip(p.serial_cpu, p.serial_sizes)) / count, t * max(1, cpus))
    # spread over the groups of the final size (the first, small groups carry clock overhead)
    last = [w for w, k in zip(p.serial_wall, p.serial_sizes) if k == p.serial_sizes[-1]]
    if len(last) < 2:
        last = list(p.serial_wall)
    spread = statistics.pstdev(last) / t if t > 0 and len(last) > 1 else 0.0
    # a thread test over less than 10 ms of work measures thread start-up, not the GIL
    trusted = p.thread_items and p.thread_items * t >= 0.01
    e2 = p.thread_wall / p.thread_items if trusted else None
    speedup = t / e2 if e2 else None
    if not gil_enabled() or c < 0.05 * t:
        h = 0.0
    elif e2 is None:
        h = 1.0
    else:
        # two threads' time per task lies between what no GIL allows (CPU spread over two
        # cores, waits overlapped) and what a GIL held throughout allows (CPU one task at a
        # time, waits still overlapped); h is where it fell
        lower = max(c / min(2, cpus), t / 2)
        upper = max(c, t / 2)
        h = 1.0 if upper - lower <= 1e-12 else min(1.0, max(0.0, (e2 - lower) / (upper - lower)))
    transfer = (p.arg_bytes + p.result_bytes) / TRANSFER
    busy_not_waiting = speedup is not None and speedup < 1.3 and c > 0.5 * t
    if t - c < WAIT_FLOOR * t or busy_not_waiting:
        # wall a little above CPU is a busy machine, not waiting (so is a task that two threads
        # could not speed up while it mostly computes): do not count the gap as waiting, or
        # the model would "overlap" it with more workers than CPUs
        t = c if c > 0 else t
    return Task(t, c, h, p.parent_serialize + transfer, p.worker_serialize, spread, speedup)


def predict(task: Task, backend: str, workers: int, n: int, cpus: int, startup: float) -> float:
    t, c = task.wall, task.cpu
    if backend == "serial":
        return n * t
    w = workers
    if backend == "thread":
        per = max(task.gil * c, c / min(w, cpus), t / w) + THREAD_PER_TASK
        return THREAD_START * w + n * per
    cw = c + task.worker_serialize
    s = task.parent_serialize
    per = max(cw / min(w, cpus), (cw + s) / cpus, t / w, s)
    return startup * w + n * per


def ladder(backend: str, cpus: int) -> list[int]:
    if backend == "serial":
        return [1]
    top = 64 if backend == "thread" else 4 * cpus
    out = {1, cpus}
    k = 2
    while k <= top:
        out.add(k)
        k *= 2
    return sorted(x for x in out if x <= top)


def chunksize_for(task: Task, workers: int, n: int | None, target: float = 0.02) -> int:
    by_time = int(target / task.wall) if task.wall > 0 else 1_000_000
    if n is not None:
        by_time = min(by_time, math.ceil(n / (4 * workers)))
    return max(1, by_time)
