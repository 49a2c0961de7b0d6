"""Issue 9's speed goals: poolwise's dask backend on a warm LocalCluster of 2 workers.

- 100,000 tiny tasks through poolwise (batched) against one Dask task per item
  (``client.map``, on 5,000 items: it is that slow); goal: at least 100x the throughput;
- 64 pure-Python tasks of 25 ms: parallel efficiency (serial time / (2 x time)); goal >= 0.9;
- the process backend's figures beside them, measured in the same run.
"""

from __future__ import annotations

import functools
import logging
from typing import Any

import poolwise as pw
from bench.core import calibrate, median_time

TITLE = "dask: poolwise's dask backend vs one Dask task per item, beside the process backend"
W = 2


def tiny(x: int) -> int:
    return x * 2


def spin_n(n: int, _: int) -> int:
    total = 0
    for i in range(n):
        total += i * i
    return total


def run(quick: bool) -> list[dict[str, Any]]:
    import distributed

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
    serial = median_time(lambda: [spin(x) for x in cpu_items], max(1, repeat // 2))
    n, n_per_item = 100_000, 5_000
    items, few = list(range(n)), list(range(n_per_item))

    with (
        distributed.LocalCluster(
            n_workers=W,
            threads_per_worker=1,
            processes=True,
            dashboard_address=":0",
            silence_logs=logging.ERROR,
        ) as cluster,
        distributed.Client(cluster, set_as_default=False) as client,
        pw.Executor(backend="dask", client=client) as ex,
    ):
        client.gather(client.map(tiny, range(10), pure=False))  # warm: imports, connections
        list(ex.map(tiny, range(1000)))

        def per_item(xs: list[int]) -> None:
            client.gather(client.map(tiny, xs, pure=False))

        t_item = median_time(lambda: per_item(few), max(1, repeat // 2))
        base = n_per_item / t_item
        row("100k tiny tasks", "dask client.map, one task per item (5k)", t_item, n_per_item)
        t = median_time(lambda: list(ex.map(tiny, items)), repeat)
        row("100k tiny tasks", "poolwise Executor.map (dask)", t, n, ratio=n / t / base)
        t = median_time(lambda: pw.map(tiny, items, backend="dask", client=client), repeat)
        row("100k tiny tasks", "poolwise.map (dask)", t, n, ratio=n / t / base)

        t = median_time(lambda: per_item_cpu(client, spin, cpu_items), repeat)
        row("64 x 25 ms", "dask client.map", t, 64, efficiency=serial / (W * t))
        t = median_time(lambda: list(ex.map(spin, cpu_items)), repeat)
        row("64 x 25 ms", "poolwise Executor.map (dask)", t, 64, efficiency=serial / (W * t))

    with pw.Executor(backend="process", workers=W) as pex:
        pex.start()
        list(pex.map(tiny, range(1000)))
        t = median_time(lambda: list(pex.map(tiny, items)), repeat)
        row("100k tiny tasks", "poolwise Executor.map (process)", t, n, ratio=n / t / base)
        t = median_time(lambda: list(pex.map(spin, cpu_items)), repeat)
        row("64 x 25 ms", "poolwise Executor.map (process)", t, 64, efficiency=serial / (W * t))
    row("64 x 25 ms", "serial loop (1 CPU)", serial, 64)
    return rows


def per_item_cpu(client: Any, fn: Any, items: list[int]) -> None:
    client.gather(client.map(fn, items, pure=False))
