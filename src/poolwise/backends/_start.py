"""Which start method new worker processes use: fork while it is safe, else forkserver.

Kept apart from ``_process`` (which loads ``multiprocessing``) so that the advisor can ask
without paying for that import.
"""

from __future__ import annotations

import os
import sys
import threading
import time

START_METHODS = ("fork", "forkserver", "spawn")


def check_start_method(method: str | None) -> None:
    """A ValueError naming the choices for a start method that is not one of them."""
    if method is not None and method not in START_METHODS:
        raise ValueError(f"unknown start_method {method!r}; use 'fork', 'forkserver' or 'spawn'")


def _os_thread_count() -> int:
    try:
        return len(os.listdir("/proc/self/task"))
    except OSError:
        return threading.active_count()


def choose_start_method(requested: str | None) -> str:
    if requested is not None:
        return requested
    if sys.platform != "linux":
        return "spawn"
    if threading.current_thread() is threading.main_thread() and _single_threaded():
        return "fork"
    return "forkserver"


def _single_threaded() -> bool:
    """True when the OS sees one thread. A thread just joined (an executor's manager, say) can
    linger in /proc for a moment after Python forgets it: wait up to 20 ms for it to go."""
    if _os_thread_count() == 1:
        return True
    if threading.active_count() != 1:
        return False
    deadline = time.monotonic() + 0.02
    while time.monotonic() < deadline:
        time.sleep(0.0005)
        if _os_thread_count() == 1:
            return True
    return False
