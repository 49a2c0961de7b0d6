"""The thread backend: worker threads pull batches from one queue and report outcomes.

Threads share memory, so a result needs no pickling and a batch needs no copying. A thread
cannot be killed: a task that passes its timeout is *abandoned* (reported as TaskTimeout, its
thread left to finish in the background with its result discarded) and a new thread takes its
place, so the pool keeps its size.
"""

from __future__ import annotations

import itertools
import logging
import queue
import threading
import time
from dataclasses import dataclass, field
from typing import Any, ClassVar

from poolwise._errors import TaskTimeout, WorkerInitError
from poolwise.backends import _native
from poolwise.backends._base import Backend, Batch, Outcome, TaskError, call
from poolwise.backends._core import run_fast, run_timed, task_error

_WAKE = object()
_counter = itertools.count()


@dataclass(eq=False)
class _Slot:
    """What a timed task's thread is doing; guarded by ``lock``."""

    lock: threading.Lock = field(default_factory=threading.Lock)
    batch: Batch | None = None
    pos: int = -1
    t0: float = 0.0
    values: list[Any] | None = None
    errors: dict[int, TaskError] | None = None
    abandoned: bool = False


class ThreadBackend(Backend):
    name: ClassVar[str] = "thread"

    def __init__(
        self,
        workers: int,
        *,
        initializer: Any = None,
        initargs: tuple[Any, ...] = (),
        thread_name_prefix: str = "",
    ) -> None:
        self.workers = workers
        self._initializer = initializer
        self._initargs = tuple(initargs)
        self._prefix = thread_name_prefix or f"poolwise-thread-{next(_counter)}"
        self._tasks: queue.SimpleQueue[Batch | None] = queue.SimpleQueue()
        self._results: queue.SimpleQueue[Any] = queue.SimpleQueue()
        self._threads: list[threading.Thread] = []
        self._slots: dict[threading.Thread, _Slot] = {}
        self._ready = threading.Semaphore(0)
        self._idle = threading.Semaphore(0)  # released by a thread each time it goes idle
        self._grow = threading.Lock()  # threads start from the driver and from grow()
        self._promised = 0  # grow() calls whose batch has not been submitted yet
        self._busy = 0
        self._timed = 0  # batches of jobs with a timeout, submitted and not reported
        self._started = False
        self._closed = False
        self._broken: BaseException | None = None
        # the native pools (BLAS, OpenMP) are limited to each thread's share while we run,
        # when a library with one is loaded and the user did not size them (see _native);
        # not once shut down
        self._native_lock = threading.Lock()
        self._native_ready = threading.Event()  # set by the first thread once it has limited

    def start(self, wait: bool = True) -> None:
        """Threads otherwise start on demand, as tasks come (see :meth:`grow`); ``wait``
        starts all of them now and waits until each is ready."""
        self._ensure_started()
        if not wait:
            return
        with self._grow:
            while len(self._slots) < self.workers:
                self._add_thread()
        # every thread releases once when ready: take them all, then give them back (a later
        # start() waits for none)
        for _ in range(self.workers):
            self._ready.acquire()
        for _ in range(self.workers):
            self._ready.release()
        if self._broken is not None:
            raise self._broken

    def _ensure_started(self) -> None:
        if self._closed:
            raise RuntimeError("the thread backend has been shut down")
        self._started = True

    def grow(self) -> None:
        """A task is coming: start a thread for it unless one is idle or the pool is full.
        Safe to call from any thread (an Executor calls it in ``submit``, as the standard
        library starts its threads); the next :meth:`submit` then starts none."""
        with self._grow:
            self._promised += 1
        self._adjust()

    def _adjust(self) -> None:
        if self._idle.acquire(timeout=0):
            return
        with self._grow:
            if not self._closed and len(self._slots) < self.workers:
                self._add_thread()

    def _add_thread(self) -> None:
        slot = _Slot()
        t = threading.Thread(
            target=self._run,
            args=(slot,),
            name=f"{self._prefix}_{len(self._threads)}",
            daemon=True,  # an abandoned, hung task must not keep the interpreter alive
        )
        self._threads.append(t)
        self._slots[t] = slot
        t.start()

    def _run(self, slot: _Slot) -> None:
        """A thread's life. The first thread limits the native pools for the pool's life, off
        the caller's path (threadpoolctl takes a millisecond or two, ten the first time it is
        imported), and restores them as it exits: OpenBLAS takes the restoring call only from
        the thread that made the limiting one."""
        limits = None
        if self._threads[0] is not threading.current_thread():
            self._native_ready.wait()  # (no task runs on an unlimited pool)
        elif self.workers > 1 and _native.loaded() and not _native.user_set():
            try:
                with self._native_lock:
                    if not self._closed:
                        limits = _native.hold(_native.share(self.workers))
            finally:
                self._native_ready.set()
        else:
            self._native_ready.set()
        try:
            self._serve(slot)
        finally:
            _native.let_go(limits)

    def _serve(self, slot: _Slot) -> None:
        if self._initializer is not None:
            try:
                self._initializer(*self._initargs)
            except BaseException as exc:
                # as the standard library's workers do (code written for it listens there)
                logging.getLogger("concurrent.futures").critical(
                    "Exception in initializer:", exc_info=True
                )
                err = WorkerInitError(f"the initializer failed in a worker thread: {exc!r}")
                err.__cause__ = exc
                self._broken = err
                self._ready.release()
                self._results.put(_WAKE)
                return
        self._ready.release()
        while True:
            batch = self._tasks.get()
            if batch is None:
                return
            if getattr(batch.owner, "stopped", False):  # its results are no longer wanted
                n = len(batch)
                self._results.put(Outcome(batch, [None] * n, rerun=list(range(n))))
                self._idle.release()
                continue
            outcome = self._execute(batch, slot)
            if outcome is None:  # abandoned after a timeout: the poller reported it
                return
            self._results.put(outcome)
            del batch, outcome  # (nothing that ran stays referenced while this thread waits)
            self._idle.release()

    def _execute(self, batch: Batch, slot: _Slot) -> Outcome | None:
        fn = call(batch.job.fn, batch.job.mode)
        t0 = time.perf_counter()
        if batch.job.timeout is None:
            values, errors = run_fast(fn, batch.items, task_error)
            return Outcome(batch, values, errors, elapsed=time.perf_counter() - t0)
        done: list[Any] = []
        failed: dict[int, TaskError] = {}
        with slot.lock:
            slot.batch, slot.values, slot.errors = batch, done, failed

        def before(i: int) -> bool:  # the poller sees which task runs, and since when
            with slot.lock:
                if slot.abandoned:
                    return False
                slot.pos, slot.t0 = i, time.monotonic()
            return True

        if not run_timed(fn, batch.items, done, failed, task_error, before):
            return None
        elapsed = time.perf_counter() - t0
        with slot.lock:
            if slot.abandoned:
                return None
            slot.batch, slot.pos = None, -1
        return Outcome(batch, done, failed, elapsed=elapsed)

    def _done(self, batch: Batch) -> None:
        self._busy -= 1
        if batch.job.timeout is not None:
            self._timed -= 1

    def busy(self) -> int:
        return self._busy

    def free_slots(self) -> int:
        return 0 if self._broken else max(0, 2 * self.workers - self._busy)

    def submit(self, batch: Batch) -> None:
        self._ensure_started()
        self._busy += 1
        if batch.job.timeout is not None:
            self._timed += 1
        self._tasks.put(batch)
        with self._grow:
            promised = self._promised > 0
            self._promised -= promised
        if not promised:
            self._adjust()

    def threads(self) -> set[threading.Thread]:
        """The worker threads (not those abandoned after a timeout)."""
        return set(self._slots)

    def wake(self) -> None:
        self._results.put(_WAKE)

    def poll(self, timeout: float | None) -> list[Outcome]:
        if self._broken is not None:
            raise self._broken
        out: list[Outcome] = []
        deadline = self._next_deadline()
        if deadline is not None:
            left = max(0.0, deadline - time.monotonic())
            timeout = left if timeout is None else min(timeout, left)
        items: list[Any] = []
        try:
            items.append(
                self._results.get(timeout=timeout) if timeout != 0 else self._results.get_nowait()
            )
            while True:
                items.append(self._results.get_nowait())
        except queue.Empty:
            pass
        for item in items:
            if item is not _WAKE:
                self._done(item.batch)
                out.append(item)
        out.extend(self._enforce_timeouts())
        if self._broken is not None:
            raise self._broken
        return out

    def _next_deadline(self) -> float | None:
        dues = []
        running = 0
        for slot in list(self._slots.values()):  # (grow() may add one meanwhile)
            b = slot.batch
            if b is not None and not slot.abandoned and b.job.timeout is not None:
                running += 1
                dues.append(slot.t0 + b.job.timeout if slot.pos >= 0 else time.monotonic() + 0.05)
        if self._timed > running:  # a timed batch not yet picked up: look again soon
            dues.append(time.monotonic() + 0.05)
        return min(dues) if dues else None

    def _enforce_timeouts(self) -> list[Outcome]:
        out = []
        now = time.monotonic()
        for thread, slot in list(self._slots.items()):
            with slot.lock:
                b = slot.batch
                if b is None or slot.abandoned or b.job.timeout is None or slot.pos < 0:
                    continue
                if now - slot.t0 <= b.job.timeout:
                    continue
                slot.abandoned = True
                pos, limit = slot.pos, b.job.timeout
                values = list(slot.values or []) + [None] * (len(b) - len(slot.values or []))
                errors = dict(slot.errors or {})
            index = b.indices[pos]
            exc = TaskTimeout(
                f"item {index} ran longer than the timeout of {limit:g} s; a thread cannot be "
                f"killed, so thread {thread.name} was abandoned (it runs on in the background, "
                "its result discarded) and a new thread took its place",
                index=index,
                seconds=limit,
            )
            errors[pos] = TaskError(exc, "")
            with self._grow:
                del self._slots[thread]
                if not self._closed:
                    self._add_thread()  # the pool keeps its size
            self._done(b)
            out.append(Outcome(b, values, errors, rerun=list(range(pos + 1, len(b)))))
        return out

    def cancel(self, owner: Any) -> list[Batch]:
        kept: list[Batch | None] = []
        dropped: list[Batch] = []
        try:
            while True:
                b = self._tasks.get_nowait()
                if b is not None and b.owner is owner:
                    dropped.append(b)
                else:
                    kept.append(b)
        except queue.Empty:
            pass
        for b in kept:
            self._tasks.put(b)
        for b in dropped:
            self._done(b)
        return dropped

    def shutdown(self, *, wait: bool = True, kill: bool = False) -> None:
        if self._closed:
            return
        with self._native_lock:
            self._closed = True
        if kill:  # threads cannot be killed: drop what has not started
            try:
                while True:
                    b = self._tasks.get_nowait()
                    if b is not None:
                        self._done(b)
            except queue.Empty:
                pass
        for _ in self._threads:
            self._tasks.put(None)
        if wait and not kill:
            for t in self._threads:
                if t in self._slots:  # abandoned threads are not waited for
                    t.join()
