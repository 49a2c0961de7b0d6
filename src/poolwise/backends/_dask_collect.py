"""Collecting for the dask backend: from finished Dask tasks to outcomes.

Dask's threads report through callbacks (a task done, an item started, a small result pushed as
an event); the backend's thread takes them in :meth:`Collector.take`, which waits for them,
times out tasks past their limit, and turns each finished task into its batch's outcome:
its result, or a crash to blame (``KilledWorker``), or, for a result lost with its worker,
nothing yet (Dask computes it again).
"""

from __future__ import annotations

import pickle
import queue
import threading
import time
from collections import deque
from collections.abc import Callable, Iterator
from dataclasses import dataclass
from typing import Any

from poolwise._errors import (
    PicklingError,
    TaskTimeout,
    WorkerCrashed,
    WorkerInitError,
    remote_traceback,
)
from poolwise.backends._base import Batch, Job, Outcome, TaskError
from poolwise.backends._core import fail_or_split, result_outcome
from poolwise.backends._dask_client import DaskClient
from poolwise.backends._dask_worker import RESULTS

ALONE = "-alone"  # the key suffix of a task that runs with nothing else of ours in flight
_LOST_POLL = 0.05  # seconds between looks at tasks whose result was lost with a worker
_WAKE = object()


@dataclass(eq=False)
class Task:
    batch: Batch
    future: Any


class Collector:
    """The tasks in flight, what Dask's callbacks report about them, and their outcomes.

    ``forget(job)`` is called for a job whose task failed in Dask itself (not in the user's
    code): the job is sent afresh next time."""

    def __init__(self, forget: Callable[[Job], None]) -> None:
        self._forget = forget
        self._client: DaskClient | None = None
        self._topic = ""
        self._tasks: dict[str, Task] = {}  # Dask key -> what it runs
        self._lost: set[str] = set()  # keys of tasks whose result Dask is computing again
        # single items Dask blamed for dead workers, each to run again with nothing else of
        # ours in flight (Dask also blames the tasks queued on a worker that dies)
        self._isolate: deque[Batch] = deque()
        self.alone: str | None = None  # the key of the task running alone (ends in ALONE)
        self._done: queue.SimpleQueue[Any] = queue.SimpleQueue()
        self._starts: dict[int, tuple[int, float, str]] = {}  # seq -> (pos, when, worker)
        self._starts_lock = threading.Lock()
        self._pushed: dict[str, bytes] = {}  # Dask key -> its result, pushed as an event
        self._pushed_lock = threading.Lock()
        self._outcomes: list[Outcome] = []  # known before any task ran (unpicklable items)
        self.broken: BaseException | None = None

    # -- lifecycle -------------------------------------------------------------------------

    def connect(self, client: DaskClient, topic: str) -> None:
        """Listen to the events our tasks send on ``topic`` (item starts) and its results."""
        self._client, self._topic = client, topic
        client.subscribe_topic(topic, self._on_event)
        client.subscribe_topic(topic + RESULTS, self._on_result)

    @property
    def client(self) -> DaskClient:
        assert self._client is not None, "the collector is not connected"
        return self._client

    def disconnect(self) -> None:
        self.client.unsubscribe_topic(self._topic)
        self.client.unsubscribe_topic(self._topic + RESULTS)
        with self._pushed_lock:
            self._pushed.clear()

    def drop(self) -> list[Any]:
        """Forget every task (at shutdown): their futures."""
        futures = [t.future for t in self._tasks.values()]
        self._tasks.clear()
        self._lost.clear()
        self._isolate.clear()
        return futures

    # -- what the backend hands over -------------------------------------------------------

    def track(self, key: str, batch: Batch, future: Any) -> None:
        """A batch sent as the task ``key``."""
        self._tasks[key] = Task(batch, future)
        future.add_done_callback(self._on_done)

    def ready(self, outcome: Outcome) -> None:
        """An outcome known without a task: returned by the next :meth:`take`."""
        self._outcomes.append(outcome)

    def batches(self) -> Iterator[Batch]:
        return (t.batch for t in self._tasks.values())

    def sent(self) -> int:
        """Tasks in flight."""
        return len(self._tasks)

    def busy(self) -> int:
        return len(self._tasks) + len(self._isolate) + len(self._outcomes)

    def blocked(self) -> bool:
        """Whether no batch may be sent: the backend is broken, or an item runs alone."""
        return self.broken is not None or bool(self._isolate) or self.alone in self._tasks

    def next_alone(self) -> Batch | None:
        """The next item to run alone, once nothing else of ours is in flight."""
        if self._isolate and not self._tasks and self.broken is None:
            return self._isolate.popleft()
        return None

    def cancel(self, owner: Any) -> list[Batch]:
        # Dask does not say which tasks have started; dropping running ones too is harmless
        # (their results would be ignored) and frees the cluster of the queued ones at once.
        keys = [k for k, t in self._tasks.items() if t.batch.owner is owner]
        dropped = [self._tasks.pop(k) for k in keys]
        self._lost.difference_update(keys)
        if dropped:
            self.client.cancel([t.future for t in dropped])
        waiting = [b for b in self._isolate if b.owner is owner]
        self._isolate = deque(b for b in self._isolate if b.owner is not owner)
        return [t.batch for t in dropped] + waiting

    def wake(self) -> None:
        self._done.put(_WAKE)

    # -- callbacks (Dask's threads) ----------------------------------------------------------

    def _on_done(self, future: Any) -> None:
        self._done.put(future.key)

    def _on_result(self, event: tuple[float, Any]) -> None:
        key, blob = event[1]
        with self._pushed_lock:
            self._pushed[key] = blob

    def _on_event(self, event: tuple[float, Any]) -> None:
        seq, pos, address = event[1]
        with self._starts_lock:
            self._starts[seq] = (pos, time.monotonic(), address)
        self._done.put(_WAKE)  # a blocked poll recomputes its deadline

    # -- collecting --------------------------------------------------------------------------

    def take(self, timeout: float | None) -> list[Outcome]:
        """The outcomes of the tasks that finished or timed out, waiting up to ``timeout``
        seconds (None: until something happens) for a first one."""
        out, self._outcomes = self._outcomes, []
        if out:
            timeout = 0.0
        deadline = self._next_deadline()
        if deadline is not None:
            left = max(0.0, deadline - time.monotonic())
            timeout = left if timeout is None else min(timeout, left)
        if self._lost:  # no callback tells when a lost task is computed again: look
            timeout = _LOST_POLL if timeout is None else min(timeout, _LOST_POLL)
        keys: list[Any] = []
        try:
            keys.append(
                self._done.get(timeout=timeout) if timeout != 0 else self._done.get_nowait()
            )
            while True:
                keys.append(self._done.get_nowait())
        except queue.Empty:
            pass
        for key in list(self._lost):
            task = self._tasks.get(key)
            if task is None or task.future.status not in ("lost", "pending"):
                self._lost.discard(key)
                keys.append(key)
        finished = [t for k in keys if k is not _WAKE and (t := self._tasks.pop(k, None))]
        if finished:
            out.extend(self._collect(finished))
        out.extend(self._enforce_timeouts())
        return out

    def _collect(self, tasks: list[Task]) -> list[Outcome]:
        with self._starts_lock:  # (a task computed again reports its starts afresh)
            for t in tasks:
                self._starts.pop(t.batch.seq, None)
        # A small result came with the event the task sent as it ended (before Dask's own
        # message that it finished): no need to fetch it from the worker. It stands even if
        # Dask has since lost it with its worker.
        with self._pushed_lock:
            pushed = {t: self._pushed.pop(t.future.key, None) for t in tasks}
            # events of tasks no longer ours (a task Dask ran again after we had its result)
            for key in [k for k in self._pushed if k not in self._tasks]:
                del self._pushed[key]
        out: list[Outcome | None] = [self._result(t, b) for t, b in pushed.items() if b is not None]
        # A finished task whose worker died before we gathered its result is "lost": Dask
        # computes it again. Wait for that (take looks every _LOST_POLL seconds: a done
        # callback on a lost future fires at once) rather than call the batch crashed.
        # Read each status once: a worker's death can turn "finished" into "lost" at any
        # moment, and a task read as both would yield two outcomes for one batch.
        status = [(t, t.future.status) for t, b in pushed.items() if b is None]
        again = [t for t, s in status if s in ("lost", "pending")]
        ok = [t for t, s in status if s == "finished"]
        failed = [t for t, s in status if s not in ("lost", "pending", "finished")]
        if ok:
            try:
                blobs = self.client.gather([t.future for t in ok])
            except Exception:  # e.g. a result lost with its worker: one by one
                blobs = None
            for i, t in enumerate(ok):
                if blobs is not None:
                    out.append(self._result(t, blobs[i]))
                elif t.future.status in ("lost", "pending"):
                    again.append(t)
                else:
                    out.append(self._result(t, None))
        out.extend(self._failed(t) for t in failed)
        for t in again:
            self._tasks[t.future.key] = t
            self._lost.add(t.future.key)
        for t in tasks:
            if t not in again:
                t.future.release()
        return [o for o in out if o is not None]

    def _result(self, task: Task, blob: bytes | None) -> Outcome | None:
        batch = task.batch
        if blob is None:
            try:
                blob = task.future.result()
            except Exception:
                return self._failed(task)
        assert blob is not None
        kind, payload = blob[:1], memoryview(blob)[1:]
        if kind == b"U":
            message = bytes(payload).decode()
            return fail_or_split(batch, lambda: PicklingError(message))
        if kind == b"I":
            exc, tb = pickle.loads(payload)
            exc.__cause__ = remote_traceback(tb)
            err = WorkerInitError(f"the initializer failed in a Dask worker: {exc!r}")
            err.__cause__ = exc
            self.broken = err
            return Outcome(batch, [None] * len(batch), rerun=list(range(len(batch))))
        return result_outcome(batch, payload)

    def _failed(self, task: Task) -> Outcome | None:
        """The Dask task itself failed: its worker died too often, or Dask cancelled it.

        None: the outcome is not known yet (the item is to run again, alone)."""
        batch = task.batch
        status = task.future.status
        try:
            exc = task.future.exception(timeout=5) if status == "error" else None
        except Exception as e:
            exc = e
        killed = exc is not None and type(exc).__name__ == "KilledWorker"
        if exc is not None and not killed:
            # not the user's code (the task catches that): send the job afresh to be safe
            self._forget(batch.job)

        def crash() -> BaseException:
            index = batch.indices[0]
            if killed:
                last = getattr(getattr(exc, "last_worker", None), "address", "?")
                failures = getattr(exc, "allowed_failures", "?")
                how = (
                    f"every Dask worker that ran item {index} died ({failures} retries "
                    f"exhausted; the last was {last})"
                )
            elif exc is not None:
                how = f"Dask could not run item {index}: {type(exc).__name__}: {exc}"
            else:
                how = f"Dask cancelled the task of item {index} (status {status!r})"
            err = WorkerCrashed(how, index=index)
            err.__cause__ = exc
            return err

        if killed and not batch.suspect:
            # Dask counts every task a dead worker held, queued ones too: give each task of
            # the batch a second chance in a task of its own before blaming it
            return Outcome(batch, [None] * len(batch), rerun=list(range(len(batch))), split=True)
        if killed and len(batch) == 1 and not task.future.key.endswith(ALONE):
            # Even alone, an item may have waited behind the guilty one on both workers that
            # died: the last chance runs it with nothing else of ours on the cluster.
            self._isolate.append(batch)
            return None
        return fail_or_split(batch, crash)

    # -- timeouts ----------------------------------------------------------------------------

    def _next_deadline(self) -> float | None:
        soonest = None
        with self._starts_lock:
            starts = list(self._starts.items())
        for seq, (_pos, when, _addr) in starts:
            task = self._task_by_seq(seq)
            if task is None or task.batch.job.timeout is None:
                continue
            due = when + task.batch.job.timeout
            soonest = due if soonest is None else min(soonest, due)
        return soonest

    def _task_by_seq(self, seq: int) -> Task | None:
        for task in self._tasks.values():
            if task.batch.seq == seq:
                return task
        return None

    def _enforce_timeouts(self) -> list[Outcome]:
        with self._starts_lock:
            if not self._starts:
                return []
            starts = dict(self._starts)
        out = []
        now = time.monotonic()
        by_seq = {t.batch.seq: (k, t) for k, t in self._tasks.items()}
        for seq, (pos, when, address) in starts.items():
            if seq not in by_seq:
                with self._starts_lock:
                    self._starts.pop(seq, None)
                continue
            key, task = by_seq[seq]
            batch, limit = task.batch, task.batch.job.timeout
            if limit is None or now - when <= limit:
                continue
            del self._tasks[key]
            self._lost.discard(key)
            with self._starts_lock:
                self._starts.pop(seq, None)
            self.client.cancel([task.future])
            index = batch.indices[pos]
            exc = TaskTimeout(
                f"item {index} ran longer than the timeout of {limit:g} s; its Dask task was "
                f"cancelled, but Dask cannot interrupt a running function: it runs on in "
                f"worker {address} until it returns, its result discarded",
                index=index,
                seconds=limit,
            )
            rerun = [i for i in range(len(batch)) if i != pos]
            out.append(Outcome(batch, [None] * len(batch), {pos: TaskError(exc, "")}, rerun))
        return out
