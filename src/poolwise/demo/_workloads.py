"""Built-in workloads of the demo: each is importable by worker processes."""

from __future__ import annotations

import time


def cpu_bound(n: int) -> int:
    """Pure Python arithmetic: holds the GIL the whole time."""
    total = 0
    for i in range(n):
        total += i * i % 7
    return total


def io_bound(seconds: float) -> float:
    """Waiting (as on a network or a disk): releases the GIL."""
    time.sleep(seconds)
    return seconds
