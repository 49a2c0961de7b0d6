"""Built-in workloads of the demo: each is importable by worker processes."""

from __future__ import annotations

import ctypes
import hashlib
import os
import threading
import time
from typing import Any


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


_buffers: dict[int, bytes] = {}


def native(n: int) -> str:
    """Hashing in C: hashlib releases the GIL for large inputs. The input is made once per
    process, so that the task is the hashing alone."""
    buf = _buffers.get(n)
    if buf is None:
        buf = _buffers.setdefault(n, b"\x01" * n)
    return hashlib.sha256(buf).hexdigest()


def echo(payload: Any) -> Any:
    return payload


def noop() -> None:
    return None


def wait_on(event: Any) -> None:
    event.wait()


def segfault_on(bad: int) -> Any:
    def task(x: int) -> int:
        if x == bad:
            ctypes.string_at(0)  # a real segmentation fault
        return x

    return task


class Counter:
    value = 0


shared = Counter()
tally: dict[str, int] = {}
lock = threading.Lock()


def bump(_: Any) -> None:
    shared.value += 1


def bump_locked(_: Any) -> None:
    with lock:
        shared.value += 1


def count_word(word: str) -> None:
    tally[word] = tally.get(word, 0) + 1


def count_word_locked(word: str) -> None:
    with lock:
        tally[word] = tally.get(word, 0) + 1


def reset() -> None:
    shared.value = 0
    tally.clear()


def bump_many_in_this_process(n: int) -> tuple[int, int]:
    """In a worker process: count on this process's own copy of the counter."""
    for _ in range(n):
        shared.value += 1
    return os.getpid(), shared.value


def calibrate(target: float) -> int:
    """Loop count for cpu_bound to take about ``target`` seconds here."""
    n = 20_000
    while True:
        t0 = time.perf_counter()
        cpu_bound(n)
        t = time.perf_counter() - t0
        if t > 0.005:
            break
        n *= 2
    # the fastest of three: one reading taken while the OS ran something else (a process
    # starting beside it) read 3x slow, and every workload built on it came out 3x short
    for _ in range(2):
        t0 = time.perf_counter()
        cpu_bound(n)
        t = min(t, time.perf_counter() - t0)
    return max(1, int(n * target / t))
