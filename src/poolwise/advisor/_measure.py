"""What the advisor measures while the first items run for real in the calling thread.

Nothing here leaves the caller's process: the items run where a plain loop would run them, so
their results and their effects are the loop's own. Three instruments:

- clocks: wall time, and the CPU time of the calling thread plus that of the child processes it
  has waited for (a task that runs a subprocess computes; it does not wait);
- ``GilSampler``: a helper thread that wakes every half millisecond and notes how long it then
  waits for the GIL. While the caller's code holds the GIL the wait lasts a switch interval
  (5 ms by default) or until the holder lets go; while it waits or runs native code that
  releases the GIL, microseconds. The share of its time spent waiting is the share of time the
  work holds the GIL, measured without running anything twice;
- ``SystemLoad``: how many threads of other programs were runnable meanwhile (``/proc/stat``),
  so a busy machine is seen as one.
"""

from __future__ import annotations

import os
import pickle
import threading
import time
from typing import Any

WAKE = 0.0005  # the sampler's sleep between samples
OS_LATENCY = 0.0005  # a sleeper woken this late by the OS alone is not waiting for the GIL

# Thread safety of a function, as measured by running items again on threads
UNCHECKED = "unchecked"
SAFE = "safe"  # re-run concurrently, every result matched its serial run
UNSAFE = "unsafe"  # a result differed, or an exception happened only concurrently
VARIES = "varies"  # results differ between two serial runs: only exceptions could be checked


def cpu_clock() -> float:
    """CPU seconds of the calling thread and of the child processes it has waited for."""
    t = os.times()
    return time.thread_time() + t.children_user + t.children_system


class GilSampler:
    """Estimates the share of time other threads of this process hold the GIL: the share of
    its own time the sampler spends waiting for it. (Counting late wake-ups instead is biased:
    while the GIL is free the sampler wakes every half millisecond, while it is held once per
    hold, so a task that sleeps half its time and computes the other half looked 10% held.)"""

    def __init__(self) -> None:
        self._stop = threading.Event()
        self._lock = threading.Lock()
        self.samples = 0
        self._waited = 0.0
        self._elapsed = 0.0
        self._thread: threading.Thread | None = None

    def start(self) -> GilSampler:
        self._thread = threading.Thread(target=self._loop, name="poolwise-gil-sampler", daemon=True)
        self._thread.start()
        return self

    def _loop(self) -> None:
        stop = self._stop
        perf = time.perf_counter
        began = perf()
        while not stop.is_set():
            t0 = perf()
            time.sleep(WAKE)
            now = perf()
            # beyond the OS's own wake-up latency (tens of microseconds) it waited for the GIL,
            # whose holder took it, on average, half a sleep before the wake-up
            late = now - t0 - WAKE
            waited = late + WAKE / 2 if late > OS_LATENCY else 0.0
            with self._lock:
                self.samples += 1
                self._waited += waited
                self._elapsed = now - began

    def share(self) -> float | None:
        """The estimate so far, or None before three samples."""
        with self._lock:
            if self.samples < 3 or self._elapsed <= 0:
                return None
            return min(1.0, self._waited / self._elapsed)

    def stop(self) -> None:
        """Stop and join (a process about to fork must be single-threaded again)."""
        self._stop.set()
        if self._thread is not None:
            self._thread.join()
            self._thread = None


class SystemLoad:
    """How many CPUs other programs keep busy, from the kernel's count of runnable threads
    (``procs_running`` in ``/proc/stat``), sampled while the pilot runs: the count is
    instantaneous, where CPU-time ticks (10 ms) say nothing over a pilot of a few milliseconds."""

    def __init__(self) -> None:
        self._counts: list[int] = []
        self._next = 0.0
        self.sample()

    def sample(self, now: float | None = None) -> None:
        """Take a sample, at most one per 5 ms: the read releases the GIL, and the GIL sampler
        must not see that as the work's doing."""
        now = time.perf_counter() if now is None else now
        if now < self._next:
            return
        self._next = now + 0.005
        count = _procs_running()
        if count is not None:
            self._counts.append(count)

    def busy_others(self) -> float | None:
        """The mean count of runnable threads besides the one reading it, or None when the
        kernel does not say (not Linux). Takes one more sample."""
        self.sample(self._next)
        return self.so_far()

    def so_far(self) -> float | None:
        """``busy_others`` from the samples taken so far, without taking one."""
        if not self._counts:
            return None
        return max(0.0, sum(self._counts) / len(self._counts) - 1)


def _procs_running() -> int | None:
    try:
        with open("/proc/stat", "rb") as fh:
            for line in fh:
                if line.startswith(b"procs_running"):
                    return int(line.split()[1])
    except (OSError, ValueError, IndexError):
        return None
    return None


def same(a: Any, b: Any) -> bool:
    """Whether two results of the same call are equal: ``==`` when it gives a plain bool and the
    values are equal to themselves (NaN is not), else their pickles; values that neither
    compares nor pickles count as equal (no evidence either way)."""
    if a is b:
        return True
    try:
        eq = a == b
        if isinstance(eq, bool) and (eq or (a == a and b == b)) is True:
            return eq
    except Exception:
        pass
    try:
        return pickle.dumps(a, 5) == pickle.dumps(b, 5)
    except Exception:
        return True
