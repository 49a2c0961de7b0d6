"""Native thread pools (BLAS, OpenMP...) that do not fight the workers for the CPUs.

numpy, SciPy and friends start a thread pool the size of the machine. Two worker processes,
each with such a pool, run twice as many threads as there are CPUs, and a matrix product then
waits on threads that wait on each other. So, as loky and Dask's nanny do:

- a worker process starts with ``OMP_NUM_THREADS``, ``OPENBLAS_NUM_THREADS`` and the rest of
  the family set to its share of the usable CPUs (``usable // workers``, at least 1), unless the
  user set any of them (their choice stands); a library the worker inherited already loaded
  (under fork) is limited through ``threadpoolctl`` instead, since it read the variables long
  ago;
- the thread backend limits the pools it finds loaded to each thread's share, for as long as
  it runs (the pools are the process's: one limit for all its threads);
- a worker's share is also ``POOLWISE_CPUS`` in its environment, which ``usable_cpus`` honours:
  a ``poolwise.map`` inside a task uses the CPUs its worker was given, not the whole machine.

Worker processes import this module: only the standard library at the top.
"""

from __future__ import annotations

import os
import sys
import threading
from collections.abc import Mapping
from typing import Any

from poolwise._cpus import CPUS_VARIABLE, usable_cpus

VARIABLES = (
    "OMP_NUM_THREADS",
    "OPENBLAS_NUM_THREADS",
    "MKL_NUM_THREADS",
    "BLIS_NUM_THREADS",
    "VECLIB_MAXIMUM_THREADS",
    "NUMEXPR_NUM_THREADS",
)
# modules whose import starts a native pool: when one is loaded, threadpoolctl is worth asking
NATIVE_MODULES = ("numpy", "scipy", "numexpr", "sklearn")


def share(workers: int) -> int:
    """The CPUs each of ``workers`` workers gets."""
    return max(1, usable_cpus() // max(1, workers))


def user_set(environ: Mapping[str, str] | None = None) -> bool:
    """Whether the user chose the native pools' size (any of ``VARIABLES`` set)."""
    env = os.environ if environ is None else environ
    return any(v in env for v in VARIABLES)


def loaded() -> bool:
    """Whether a library with a native pool is loaded in this process."""
    return any(m in sys.modules for m in NATIVE_MODULES)


def limit(threads: int) -> Any:
    """Limit the native pools loaded in this process to ``threads`` each (threadpoolctl's
    ``threadpool_limits``, whose ``restore_original_limits`` undoes it); None when threadpoolctl
    is missing or no such library is loaded (nothing to limit: importing it costs
    milliseconds)."""
    if not loaded():
        return None
    try:
        from threadpoolctl import threadpool_limits  # (only when a native pool is loaded)
    except ImportError:
        return None
    try:
        return threadpool_limits(limits=threads)
    except Exception:  # (a library threadpoolctl cannot drive: it runs unlimited, as before)
        return None


# the limits the thread pool that holds them now made (one at a time: see ``hold``)
_held: Any = None
_held_lock = threading.Lock()


def hold(threads: int) -> Any:
    """``limit(threads)`` for a thread pool, unless another pool of this process holds a limit
    now (then None: it runs within that one). A second pool that limited too would take the
    first's limit for the original and restore it last, leaving the process's native pools
    at the limit for good. Give it back with ``let_go`` from the same thread (OpenBLAS takes
    the restoring call only from the thread that made the limiting one)."""
    global _held
    with _held_lock:
        if _held is not None:
            return None
        _held = limit(threads)
        return _held


def let_go(limits: Any) -> None:
    """Restore what ``hold`` limited (nothing for None)."""
    global _held
    if limits is None:
        return
    with _held_lock:
        if _held is limits:
            _held = None
        limits.restore_original_limits()


def for_workers(workers: int) -> tuple[int, dict[str, str], int | None]:
    """What a new worker process gets (see ``enter_worker``): its share of the CPUs; the
    variables to set, which are the user's own when they set any (a worker started by a
    forkserver has the environment the server had when it started, not ours now), else every
    one at the share; and the size to limit pools already loaded to (None: the user's choice)."""
    cpus = share(workers)
    if user_set():
        return cpus, {v: os.environ[v] for v in VARIABLES if v in os.environ}, None
    return cpus, dict.fromkeys(VARIABLES, str(cpus)), cpus


def enter_worker(cpus: int, env: dict[str, str], threads: int | None) -> None:
    """In a new worker process, before its first task: its CPUs, the variables that size the
    native pools of libraries it will load, and a limit on those it inherited loaded."""
    os.environ[CPUS_VARIABLE] = str(cpus)
    os.environ.update(env)
    if threads is not None:
        limit(threads)  # (libraries a forked worker inherited loaded: the variables come too late)
