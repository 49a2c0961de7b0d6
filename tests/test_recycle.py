"""Workers replaced after N tasks or past a memory limit, between tasks, failing none."""

from __future__ import annotations

from collections import Counter

import poolwise as pw
from tests import crashers


def test_max_tasks_per_child() -> None:
    out = pw.map(
        crashers.pid_and_value, range(30), backend="process", workers=2, max_tasks_per_child=5
    )
    assert [v for _, v in out] == list(range(30))
    per_worker = Counter(pid for pid, _ in out)
    assert max(per_worker.values()) <= 5
    assert len(per_worker) >= 6


def test_max_tasks_per_child_with_batches() -> None:
    out = pw.map(
        crashers.pid_and_value,
        range(1000),
        backend="process",
        workers=2,
        max_tasks_per_child=100,
        chunksize=64,
    )
    assert [v for _, v in out] == list(range(1000))
    assert max(Counter(pid for pid, _ in out).values()) <= 100


def test_max_memory_per_child_recycles_a_leaking_worker() -> None:
    pids = pw.map(
        crashers.hold_memory,
        range(6),
        backend="process",
        workers=1,
        chunksize=1,
        max_memory_per_child="50MB",
    )
    assert len(pids) == 6
    # each task leaves 100 MB behind: the worker is replaced after every task
    assert len(set(pids)) == 6
