"""A first measurement: a CPU-bound and an I/O-bound workload, serially, on threads and on
processes, with a one-line verdict each. Pure functions returning records; the CLI prints."""

from __future__ import annotations

import time
from collections.abc import Callable
from dataclasses import dataclass
from typing import Any

import poolwise
from poolwise.demo._workloads import cpu_bound, io_bound


@dataclass(frozen=True)
class Timing:
    workload: str
    backend: str
    workers: int
    seconds: float
    speedup: float


@dataclass(frozen=True)
class WorkloadResult:
    name: str
    description: str
    timings: tuple[Timing, ...]
    verdict: str


def _time(fn: Callable[[], Any], repeat: int) -> float:
    best = float("inf")
    for _ in range(repeat):
        t0 = time.perf_counter()
        fn()
        best = min(best, time.perf_counter() - t0)
    return best


def _measure(
    name: str,
    description: str,
    fn: Callable[[Any], Any],
    items: list[Any],
    workers: int,
    repeat: int,
) -> WorkloadResult:
    serial = _time(lambda: poolwise.map(fn, items, backend="serial"), repeat)
    rows = [Timing(name, "serial", 1, serial, 1.0)]
    for backend in ("thread", "process"):

        def run(b: str = backend) -> None:
            poolwise.map(fn, items, backend=b, workers=workers)

        t = _time(run, repeat)
        rows.append(Timing(name, backend, workers, t, serial / t))
    best = min(rows, key=lambda r: r.seconds)
    thread, process = rows[1], rows[2]
    if best.backend == "serial":
        verdict = "neither threads nor processes paid off: keep it serial"
    elif best.backend == "process":
        verdict = (
            f"processes win ({process.speedup:.1f}x): the work holds the GIL, so threads "
            f"gave only {thread.speedup:.1f}x"
        )
    else:
        verdict = (
            f"threads win ({thread.speedup:.1f}x): the tasks wait, and waiting threads overlap "
            f"cheaply (processes gave {process.speedup:.1f}x, paying their start-up)"
        )
    return WorkloadResult(name, description, tuple(rows), verdict)


def run(quick: bool = False) -> list[WorkloadResult]:
    """Measure both workloads; ``quick`` uses fewer and smaller tasks."""
    cpus = poolwise.usable_cpus()
    repeat = 1 if quick else 3
    n_cpu = 8 * cpus if quick else 16 * cpus
    cpu_items = [1_000_000] * n_cpu
    io_items = [0.02] * (32 if quick else 64)
    return [
        _measure(
            "CPU-bound",
            f"{n_cpu} tasks of pure-Python arithmetic",
            cpu_bound,
            cpu_items,
            cpus,
            repeat,
        ),
        _measure(
            "I/O-bound",
            f"{len(io_items)} tasks that wait 20 ms",
            io_bound,
            io_items,
            16,
            repeat,
        ),
    ]
