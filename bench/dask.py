"""Issue 9's speed goals: poolwise's dask backend on a warm LocalCluster of 2 workers.

- 100,000 tiny tasks through poolwise (batched) against one Dask task per item
  (``client.map``, on 5,000 items: it is that slow); goal: at least 100x the throughput;
- 64 pure-Python tasks of 25 ms: parallel efficiency (serial time / (2 x time)); goal >= 0.9;
  beside it the cluster's ceiling: the same work as one task of 32 items per worker;
- the process backend's figures beside them, measured in the same run.

The cluster is the one poolwise starts by itself (its workers run without Dask's profiler,
see ``poolwise.backends._dask.local_cluster``); ``client.map`` runs on it too.
"""

from __future__ import annotations

import functools
import statistics
from collections.abc import Callable
from typing import Any

import poolwise as pw
from bench.core import calibrate, efficiencies, interleaved_times, median_time

TITLE = "dask: poolwise's dask backend vs one Dask task per item, beside the process backend"
W = 2


def tiny(x: int) -> int:
    return x * 2


def spin_n(n: int, _: int) -> int:
    total = 0
    for i in range(n):
        total += i * i
    return total


def run_all(fn: Callable[[int], int], xs: list[int]) -> list[int]:
    return [fn(x) for x in xs]


def run(quick: bool) -> list[dict[str, Any]]:

    repeat = 2 if quick else 5
    rows: list[dict[str, Any]] = []

    def row(bench: str, runner: str, seconds: float, count: int, **extra: Any) -> None:
        rows.append(
            {
                "benchmark": bench,
                "runner": runner,
                "seconds": seconds,
                "tasks_per_s": count / seconds,
                "ratio": extra.get("ratio"),
                "efficiency": extra.get("efficiency"),
            }
        )

    spin = functools.partial(spin_n, calibrate())
    cpu_items = list(range(64))
    halves = [cpu_items[:32], cpu_items[32:]]
    n, n_per_item = 100_000, 5_000
    items, few = list(range(n)), list(range(n_per_item))

    # the LocalCluster poolwise starts by itself (backend="dask" with neither client nor
    # address); Dask's own client.map runs on the same cluster, through the same client
    with (
        pw.Executor(backend="dask", workers=W) as ex,
        pw.Executor(backend="process", workers=W) as pex,
    ):
        ex.start()
        pex.start()
        client = ex.client
        client.gather(client.map(tiny, range(10), pure=False))  # warm: imports, connections
        list(ex.map(tiny, range(1000)))
        list(pex.map(tiny, range(1000)))

        def per_item(xs: list[int]) -> None:
            client.gather(client.map(tiny, xs, pure=False))

        t_item = median_time(lambda: per_item(few), max(1, repeat // 2))
        base = n_per_item / t_item
        row("100k tiny tasks", "dask client.map, one task per item (5k)", t_item, n_per_item)
        t = median_time(lambda: list(ex.map(tiny, items)), repeat)
        row("100k tiny tasks", "poolwise Executor.map (dask)", t, n, ratio=n / t / base)
        t = median_time(lambda: pw.map(tiny, items, backend="dask", client=client), repeat)
        row("100k tiny tasks", "poolwise.map (dask)", t, n, ratio=n / t / base)
        t = median_time(lambda: list(pex.map(tiny, items)), repeat)
        row("100k tiny tasks", "poolwise Executor.map (process)", t, n, ratio=n / t / base)

        # the CPU-bound runners take turns, round after round, with the serial loop among
        # them: a machine whose speed drifts (shared hosts do) moves every figure alike
        runners: dict[str, Callable[[], Any]] = {
            "serial loop (1 CPU)": lambda: [spin(x) for x in cpu_items],
            "dask client.map": lambda: client.gather(client.map(spin, cpu_items, pure=False)),
            "poolwise Executor.map (dask)": lambda: list(ex.map(spin, cpu_items)),
            # one task per worker, nothing to schedule: what this cluster can reach at best
            "dask, one task of 32 per worker (ceiling)": lambda: client.gather(
                [client.submit(run_all, spin, half, pure=False) for half in halves]
            ),
            "poolwise Executor.map (process)": lambda: list(pex.map(spin, cpu_items)),
        }
        times = interleaved_times(runners, 2 * repeat - 1)
    for name, (t, eff) in efficiencies(times, "serial loop (1 CPU)").items():
        row("64 x 25 ms", name, t, 64, efficiency=eff)
    row("64 x 25 ms", "serial loop (1 CPU)", statistics.median(times["serial loop (1 CPU)"]), 64)
    return rows
