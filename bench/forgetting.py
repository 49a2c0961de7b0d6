"""An Executor forgets what it ran (issue 17): 100,000 ``submit``s of distinct closures and of
bound methods of distinct objects, results read as they come, on threads and on processes.
The parent's and the workers' resident memory are read after the first 10,000 and at the end;
the goal is at most 10 MB of growth in each, and no submitted object still alive at the end.
"""

from __future__ import annotations

import gc
import sys
import weakref
from collections import deque
from typing import Any

import psutil

import poolwise as pw

TITLE = "forgetting: memory after 100,000 submits of distinct closures and bound methods"
WINDOW = 256  # futures in flight


class Thing:
    def __init__(self, n: int) -> None:
        self.n = n
        self.payload = bytes(200)

    def method(self, x: int) -> int:
        return self.n + x


def _closure(n: int) -> Any:
    payload = bytes(200)

    def task(x: int) -> int:
        return n + x + len(payload) - 200

    return task


def _rss(pids: list[int]) -> int:
    total = 0
    for pid in pids:
        try:
            total += psutil.Process(pid).memory_info().rss
        except psutil.Error:
            pass
    return total


def _run(backend: str, kind: str, count: int) -> dict[str, Any]:
    alive: list[weakref.ref[Any]] = []
    with pw.Executor(backend, 2) as ex:
        inflight: deque[Any] = deque()
        base_parent = base_workers = 0
        for i in range(count):
            fn = _closure(i) if kind == "closures" else Thing(i).method
            if i % 10_000 == 0:
                alive.append(weakref.ref(fn.__self__ if kind == "bound methods" else fn))
            inflight.append(ex.submit(fn, 1))
            del fn
            if len(inflight) >= WINDOW:
                inflight.popleft().result()
            if i == 10_000:
                while inflight:
                    inflight.popleft().result()
                gc.collect()
                base_parent = _rss([psutil.Process().pid])
                base_workers = _rss(ex.worker_pids())
        while inflight:
            inflight.popleft().result()
        gc.collect()
        parent = _rss([psutil.Process().pid]) - base_parent
        workers = _rss(ex.worker_pids()) - base_workers
    gc.collect()
    return {
        "backend": backend,
        "callables": kind,
        "submits": count,
        "parent_growth_mb": round(parent / 1e6, 2),
        "workers_growth_mb": round(workers / 1e6, 2),
        "still_alive": sum(r() is not None for r in alive),
        "goal_met": parent <= 10e6 and workers <= 10e6 and not any(r() for r in alive),
    }


def run(quick: bool) -> list[dict[str, Any]]:
    count = 20_000 if quick else 100_000
    return [
        _run(backend, kind, count)
        for backend in ("thread", "process")
        for kind in ("closures", "bound methods")
    ]


if __name__ == "__main__":
    from bench.__main__ import print_table

    print_table(TITLE, run(quick="--quick" in sys.argv))
