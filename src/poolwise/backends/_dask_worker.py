"""What runs on the Dask workers: one Dask task per batch, as ``_worker`` is to ``_process``.

``DaskBackend`` (the parent side, ``_dask``) sends each batch as a call of :func:`run_batch`
with the job (inline, or the future of a task that holds it), the initializer, the pickled items
and the batch's sequence number. The task answers in the process worker's words: ``b"O"`` and
the pickled ``(values, errors, elapsed)``, ``b"U"`` and a message when the items cannot be
unpickled, ``b"I"`` and the pickled initializer error.
"""

from __future__ import annotations

import io
import pickle
import threading
import time
import uuid
from dataclasses import dataclass
from typing import Any

from poolwise.backends._core import (
    PROTOCOL,
    JobCache,
    dump_results,
    pack_error,
    run_fast,
    run_timed,
)

RESULTS = "-results"  # the suffix of the topic that small results come back on
# A batch's result up to this size also comes back through the scheduler as an event, so the
# parent need not fetch it from the worker. The scheduler keeps a topic's last 1,000 events
# (``distributed.admin.low-level-log-length``): at most 16 MB, dropped at shutdown.
PUSH_MAX = 16 * 1024

_jobs = JobCache(limit=64)  # unpickled functions a worker process keeps


class RemoteJob:
    """A cloudpickled ``(fn, mode, timed)``, unpickled once in each worker process.

    Each job gets a fresh ``key``; a worker process keeps the unpickled function under that key,
    so a job that travels inline with every batch is still unpickled only once per worker."""

    def __init__(self, blob: bytes) -> None:
        self.blob = blob
        self.key = uuid.uuid4().hex

    def get(self) -> tuple[Any, bool]:
        return _jobs.get(self.key, self.blob)


@dataclass
class RemoteInit:
    token: str
    blob: bytes


_init_lock = threading.Lock()
_init_done: dict[str, tuple[BaseException, str] | None] = {}


def _initialize(init: RemoteInit | None) -> tuple[BaseException, str] | None:
    """Run the initializer once per worker process; its packed error if it failed."""
    if init is None:
        return None
    with _init_lock:
        if init.token not in _init_done:
            try:
                f, args = pickle.loads(init.blob)
                f(*args)
                _init_done[init.token] = None
            except BaseException as exc:
                _init_done[init.token] = pack_error(exc)
        return _init_done[init.token]


def run_batch(
    job: RemoteJob,
    init: RemoteInit | None,
    payload: bytes,
    seq: int,
    topic: str,
    shared: dict[str, Any] | None = None,
) -> bytes:
    """The Dask task: apply the job's function to every item of one batch. ``shared``: the
    large objects the pickled items name (Dask hands them over as the task's dependencies).

    A small result is also pushed to the parent as an event, on the ``topic + RESULTS`` topic,
    with the task's key."""
    blob = _compute_batch(job, init, payload, seq, topic, shared)
    if len(blob) <= PUSH_MAX:
        from distributed import get_worker  # (the module loads without distributed)

        try:
            worker = get_worker()
            worker.log_event(topic + RESULTS, [worker.get_current_task(), blob])
        except Exception:  # (not in a worker thread: the parent fetches the result)
            pass
    return blob


def _compute_batch(
    job: RemoteJob,
    init: RemoteInit | None,
    payload: bytes,
    seq: int,
    topic: str,
    shared: dict[str, Any] | None = None,
) -> bytes:
    failed = _initialize(init)
    if failed is not None:
        return b"I" + pickle.dumps(failed, PROTOCOL)
    fn, timed = job.get()
    try:
        items = _load(payload, shared) if shared else pickle.loads(payload)
    except BaseException as exc:
        return b"U" + f"cannot unpickle the arguments in the worker: {exc!r}".encode()
    del payload
    t0 = time.perf_counter()
    if timed:  # each item's start is an event: the parent cancels a task past its timeout
        from distributed import get_worker  # (the module loads without distributed)

        worker = get_worker()
        log, address = worker.log_event, worker.address

        def before(i: int) -> bool:
            log(topic, [seq, i, address])
            return True

        values: list[Any] = []
        errors: dict[int, tuple[BaseException, str]] = {}
        run_timed(fn, items, values, errors, pack_error, before)
    else:
        values, errors = run_fast(fn, items, pack_error)
    elapsed = time.perf_counter() - t0
    return b"O" + dump_results(values, errors or None, elapsed)


def identity(x: Any) -> Any:
    return x


def _load(payload: bytes, shared: dict[str, Any]) -> Any:
    """Items pickled with the names of shared objects in them (see ``_dask_stage``)."""

    class Named(pickle.Unpickler):
        def persistent_load(self, pid: Any) -> Any:
            return shared[pid]

    return Named(io.BytesIO(payload)).load()


def truncate(topics: list[str], dask_scheduler: Any = None) -> None:
    """Run on the scheduler: forget the events of ``topics`` (it keeps the last 1,000)."""
    for topic in topics:
        dask_scheduler._broker.truncate(topic)
