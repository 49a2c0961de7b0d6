"""What runs inside each worker interpreter of the interpreter backend (Python 3.14+).

A subinterpreter shares no objects with the one that made it: everything crosses as ``bytes``
(copied), so the function, the items and the results travel pickled, as to a process, but
without a pipe or a second process. Each interpreter has its own modules, so this module's
``_jobs`` is a cache of its own: a function is unpickled once per worker interpreter.

Imported inside subinterpreters: only the standard library and ``_base``/``_core`` at the top.
"""

from __future__ import annotations

import pickle
import time
from collections.abc import Callable
from typing import Any

from poolwise.backends._base import call
from poolwise.backends._core import JobCache, dump_results, pack_error, raiser, run_fast

HINT = (
    "an extension module that does not support subinterpreters (numpy, for one) cannot be "
    'imported in a worker interpreter: use backend="process" for this function'
)


def explain(exc: BaseException) -> str:
    """The exception as text, with the fix when it is an extension refusing subinterpreters."""
    text = f"{type(exc).__name__}: {exc}"
    if isinstance(exc, ImportError) and "subinterpreter" in str(exc):
        return f"{text} ({HINT})"
    return text


def _load(blob: bytes) -> tuple[Callable[[Any], Any], bool]:
    try:
        fn, mode, timed = pickle.loads(blob)
        return call(fn, mode), bool(timed)
    except BaseException as exc:
        return raiser(exc, hint=HINT if "subinterpreter" in str(exc) else ""), False


# a few jobs at most are in flight at once; the least recently used beyond that are dropped
_jobs = JobCache(limit=16, load=_load)


def initialize(blob: bytes) -> bytes | None:
    """Run the pickled ``(initializer, initargs)``: None, or the pickled ``(exception,
    traceback)`` it raised."""
    try:
        fn, args = pickle.loads(blob)
        fn(*args)
    except BaseException as exc:
        return pickle.dumps(pack_error(exc))
    return None


def run_batch(key: int, job: bytes | None, items: bytes | memoryview, count: int) -> memoryview:
    """The batch's ``(values, errors, elapsed)`` pickled for the parent (see ``_core``), as a
    memoryview: it crosses without a copy (the parent releases it once it has unpickled it).

    ``job`` is the pickled ``(fn, mode, timed)`` the first time this interpreter sees ``key``;
    ``items`` the batch's ``count`` items, pickled. A function or items that cannot be
    unpickled here fail every task of the batch, saying why.
    """
    fn, _timed = _jobs.get(key, job)
    try:
        batch: list[Any] = pickle.loads(items)
    except BaseException as exc:
        from poolwise._errors import PicklingError  # (this rare path only: start-up time)

        err = PicklingError(f"cannot unpickle the items in a worker interpreter: {explain(exc)}")
        packed = pack_error(err)
        return memoryview(dump_results([None] * count, dict.fromkeys(range(count), packed), 0.0))
    t0 = time.perf_counter()
    values, errors = run_fast(fn, batch, pack_error)
    return memoryview(dump_results(values, errors, time.perf_counter() - t0))


def drop(keys: tuple[int, ...]) -> None:
    """Forget finished jobs."""
    for key in keys:
        _jobs.drop(key)
