"""What every backend does with a batch, whatever carries it: the batch loops, error packing,
the pickled results and the outcome the parent makes of them, splitting a batch that failed as
a whole, and the cache of unpickled jobs.

The process worker (``_worker``), the Dask worker side (``_dask_worker``), the thread and serial
backends and the auto pilot all run their batches through ``run_fast`` or ``run_timed``. Every
worker process imports this module: only the standard library and ``_base`` at the top.
"""

from __future__ import annotations

import itertools
import pickle
import threading
import traceback
from collections import OrderedDict
from collections.abc import Callable
from typing import Any

from poolwise.backends._base import Batch, Outcome, TaskError, call

PROTOCOL = 5


# -- running a batch ----------------------------------------------------------------------------


def format_traceback(exc: BaseException) -> str:
    return "".join(traceback.format_exception(type(exc), exc, exc.__traceback__))


def task_error(exc: BaseException) -> TaskError:
    """An exception as a backend reports it from a worker in this process."""
    return TaskError(exc, format_traceback(exc))


def run_fast(
    fn: Callable[[Any], Any],
    items: list[Any],
    on_error: Callable[[BaseException], Any],
    catch: type[BaseException] = BaseException,
) -> tuple[list[Any], dict[int, Any]]:
    """``fn`` over ``items`` at C speed (``extend(map(...))``): the values, and
    ``on_error(exc)`` by position for the items that raised (their value is None).

    An exception stops ``extend`` with the results before it kept, so its position is exact,
    and the loop resumes after it; per-item bookkeeping would cost about as much as a tiny task.
    """
    values: list[Any] = []
    errors: dict[int, Any] = {}
    start = 0
    n = len(items)
    while start < n:
        try:
            values.extend(map(fn, itertools.islice(items, start, None) if start else items))
            break
        except catch as exc:
            k = len(values)
            values.append(None)
            errors[k] = on_error(exc)
            start = k + 1
    return values, errors


def run_timed(
    fn: Callable[[Any], Any],
    items: list[Any],
    values: list[Any],
    errors: dict[int, Any],
    on_error: Callable[[BaseException], Any],
    before: Callable[[int], bool],
    catch: type[BaseException] = BaseException,
) -> bool:
    """``fn`` over ``items`` one by one into ``values`` and ``errors`` (shared with whoever
    watches the batch), calling ``before(i)`` ahead of item ``i`` so that a watcher knows which
    task runs and since when. ``before`` returning False abandons the batch: returns False."""
    append = values.append
    for i, x in enumerate(items):
        if not before(i):
            return False
        try:
            append(fn(x))
        except catch as exc:
            append(None)
            errors[i] = on_error(exc)
    return True


# -- crossing to the parent ---------------------------------------------------------------------


def pack_error(exc: BaseException) -> tuple[BaseException, str]:
    """The exception and its formatted traceback, with a stand-in if it cannot be pickled."""
    tb = format_traceback(exc)
    exc.__traceback__ = None
    try:
        pickle.loads(pickle.dumps(exc, PROTOCOL))
    except Exception:
        from poolwise._errors import RemoteError  # (only on this rare path)

        name = f"{type(exc).__module__}.{type(exc).__qualname__}"
        exc = RemoteError(f"{name}: {exc} (the exception could not be pickled to the parent)")
    return exc, tb


def dump_results(values: list[Any], errors: dict[int, Any] | None, elapsed: float) -> bytes:
    """A batch's ``(values, errors, elapsed)`` pickled for the parent; what cannot be pickled,
    even by cloudpickle, becomes a PicklingError of its own task."""
    try:
        return pickle.dumps((values, errors, elapsed), PROTOCOL)
    except (Exception, SystemExit):  # (a result whose pickling exits is that task's error)
        pass
    # (cloudpickle and the messages load only when plain pickle failed: worker start-up time)
    import cloudpickle

    try:
        return cloudpickle.dumps((values, errors, elapsed), PROTOCOL)  # type: ignore[no-any-return]
    except (Exception, SystemExit):
        pass
    from poolwise._errors import PicklingError  # (this rare path only, as above)
    from poolwise._transport import pickling_message, unpicklable_positions

    errors = dict(errors or {})
    for pos, exc in unpicklable_positions(values).items():
        if isinstance(exc, SystemExit):  # (the task's own doing, reported as itself)
            errors[pos] = pack_error(exc)
        else:
            err = PicklingError(pickling_message("result", values[pos], exc, index=None))
            errors[pos] = pack_error(err)
        values[pos] = None
    for pos, (exc, _tb) in list(errors.items()):  # an exception whose args cannot be pickled
        try:
            cloudpickle.dumps(exc)
        except Exception:
            errors[pos] = pack_error(PicklingError(f"cannot pickle exception {exc!r}"))
    return cloudpickle.dumps((values, errors, elapsed), PROTOCOL)  # type: ignore[no-any-return]


def result_outcome(
    batch: Batch,
    payload: bytes | memoryview,
    error: type[Exception] | None = None,
    buffers: list[Any] | None = None,
) -> Outcome:
    """A worker's pickled ``(values, errors, elapsed)`` as an Outcome; remote tracebacks
    become each exception's ``__cause__``. A result that cannot be unpickled fails its task
    with ``error`` (a PicklingError by default). ``buffers``: those that came out of band."""
    from poolwise._errors import PicklingError, remote_traceback  # (parent side only)

    try:
        values, errors, elapsed = pickle.loads(payload, buffers=buffers)
    except (Exception, SystemExit) as exc:  # (an object whose unpickling exits, too)
        reason = f"{type(exc).__name__}: {exc}"
        kind = error or PicklingError
        return fail_or_split(
            batch, lambda: kind(f"cannot unpickle the result in the parent: {reason}")
        )
    task_errors = {}
    if errors:
        for pos, (raised, tb) in errors.items():
            raised.__cause__ = remote_traceback(tb)
            task_errors[pos] = TaskError(raised, tb)
    return Outcome(batch, values, task_errors, elapsed=elapsed)


def unpicklable_items(batch: Batch) -> Outcome:
    """A batch that could not be pickled: each item that cannot fails with PicklingError
    naming its type; the others run again."""
    from poolwise import _transport  # (parent side only)
    from poolwise._errors import PicklingError

    bad = _transport.unpicklable_positions(batch.items)
    errors = {}
    for pos, exc in bad.items():
        message = _transport.pickling_message(
            "argument", batch.items[pos], exc, index=batch.indices[pos]
        )
        errors[pos] = TaskError(PicklingError(message), "")
    rerun = [i for i in range(len(batch)) if i not in errors]
    return Outcome(batch, [None] * len(batch), errors, rerun)


def fail_or_split(batch: Batch, error: Callable[[], BaseException]) -> Outcome:
    """One task: it fails with ``error()``. Several: run them again one by one to find it."""
    n = len(batch)
    if n == 1:
        return Outcome(batch, [None], {0: TaskError(error(), "")})
    return Outcome(batch, [None] * n, rerun=list(range(n)), split=True)


# -- jobs in a worker ---------------------------------------------------------------------------


def raiser(exc: BaseException, hint: str = "") -> Callable[[Any], Any]:
    """Stands in for a function the worker could not unpickle: each task fails saying so."""
    message = f"cannot unpickle the function in the worker: {type(exc).__name__}: {exc}; " + (
        hint or "is its module importable in the worker processes?"
    )

    def fail(_: Any) -> None:
        from poolwise._errors import PicklingError  # (the worker's start-up stays light)

        raise PicklingError(message)

    return fail


def load_job(blob: bytes) -> tuple[Callable[[Any], Any], bool]:
    """A pickled ``(fn, mode, timed)`` as the one-argument callable and ``timed``; a function
    that cannot be unpickled fails each of its tasks instead."""
    try:
        fn, mode, timed = pickle.loads(blob)
        return call(fn, mode), bool(timed)
    except BaseException as exc:
        return raiser(exc), False


class JobCache:
    """Unpickled jobs a worker keeps by key: each is unpickled once per worker process.
    Thread-safe; with a ``limit``, the least recently used beyond it are dropped."""

    def __init__(
        self,
        limit: int | None = None,
        load: Callable[[bytes], tuple[Callable[[Any], Any], bool]] = load_job,
    ) -> None:
        self._limit = limit
        self._load = load
        self._lock = threading.Lock()
        self._jobs: OrderedDict[Any, tuple[Callable[[Any], Any], bool]] = OrderedDict()

    def get(self, key: Any, blob: bytes | None = None) -> tuple[Callable[[Any], Any], bool]:
        """The job under ``key``, unpickled from ``blob`` if not kept yet."""
        with self._lock:
            job = self._jobs.get(key)
            if job is not None:
                self._jobs.move_to_end(key)
                return job
        if blob is None:
            raise KeyError(key)
        job = self._load(blob)
        with self._lock:
            self._jobs[key] = job
            while self._limit is not None and len(self._jobs) > self._limit:
                self._jobs.popitem(last=False)
        return job

    def put(self, key: Any, blob: bytes) -> None:
        job = self._load(blob)
        with self._lock:
            self._jobs[key] = job

    def drop(self, key: Any) -> None:
        with self._lock:
            self._jobs.pop(key, None)
