"""The manager of an ``Executor``: one thread that owns the backend and the dispatcher.

User threads hand it work (``JobRun``s) through a locked inbox and wake it; it adds them to the
dispatcher, fills the workers, and pumps outcomes into the runs' sinks: a future per
``submit`` (``FutureSink``), a queue per ``map`` (``QueueSink``). Stopping a run, cancelling
what has not started, shutting down and terminating are requests it carries out in its loop,
as CPython keeps ``_ExecutorManagerThread`` apart from ``ProcessPoolExecutor``.
"""

from __future__ import annotations

import concurrent.futures as cf
import queue
import threading
from collections.abc import Callable
from types import MethodType
from typing import Any

from poolwise._dispatch import Dispatcher, JobRun
from poolwise._errors import ShutdownError
from poolwise.backends._base import Backend, CallMode, Job, TaskError

_UNLIMITED = 1 << 62


class FutureSink:
    """The single task of a ``submit``: its future."""

    def __init__(self, future: cf.Future[Any]) -> None:
        self.future = future
        self.run: JobRun | None = None
        self.started = False

    def room(self) -> int:
        if not self.started:
            if not self.future.set_running_or_notify_cancel():
                assert self.run is not None
                self.run.stopped = True  # cancelled before it ran
                return 0
            self.started = True
        return 1

    def ok(self, index: int, value: Any) -> None:
        self.future.set_result(value)

    def ok_range(self, start: int, values: list[Any]) -> None:
        self.future.set_result(values[0])

    def fail(self, index: int, item: Any, error: TaskError) -> None:
        self.future.set_exception(error.exception)

    def abort(self, exc: BaseException) -> None:
        if self.future.done():
            return
        if isinstance(exc, cf.CancelledError) and not self.started:
            self.cancel()
            return
        if not self.started:
            self.started = True
            if not self.future.set_running_or_notify_cancel():
                return
        self.future.set_exception(exc)

    def cancel(self) -> None:
        """Cancel a future that never ran, and notify its waiters (``wait``,
        ``as_completed`` only see a cancellation once notified)."""
        self.future.cancel()
        if not self.started:
            self.started = True
            self.future.set_running_or_notify_cancel()


class QueueSink:
    """The tasks of an ``Executor.map``: results go to the consuming iterator."""

    def __init__(self) -> None:
        self.queue: queue.SimpleQueue[tuple[str, int, Any]] = queue.SimpleQueue()

    def room(self) -> int:
        return _UNLIMITED

    def ok(self, index: int, value: Any) -> None:
        self.queue.put(("ok", index, [value]))

    def ok_range(self, start: int, values: list[Any]) -> None:
        self.queue.put(("ok", start, values))

    def fail(self, index: int, item: Any, error: TaskError) -> None:
        self.queue.put(("err", index, error.exception))

    def abort(self, exc: BaseException) -> None:
        self.queue.put(("abort", -1, exc))

    def finish(self) -> None:
        """(manager thread) The run has ended: every result of it is on the queue."""
        self.queue.put(("end", -1, None))


class BufferedSink(QueueSink):
    """``Executor.map(buffersize=n)``: at most ``n`` items taken from the input whose results
    the consumer has not yet been handed (``handed`` is advanced by the consumer, who then
    wakes the manager to take more)."""

    def __init__(self, buffersize: int) -> None:
        super().__init__()
        self.buffersize = buffersize
        self.handed = 0
        self.run: JobRun | None = None
        self.cut = False  # the executor shut down: no more input is taken

    def handed_one(self, wake: Callable[[], None]) -> None:
        """(consumer) A result was handed out: if the buffer was full, the manager may take
        another item now."""
        self.handed += 1
        if self.room() == 1:
            wake()

    def room(self) -> int:
        taken = self.run.taken if self.run is not None else 0
        return self.buffersize - (taken - self.handed)


class Manager:
    """Runs an executor's work on ``backend``; thread-safe, except that ``launch`` is called
    with ``lock`` held."""

    def __init__(self, backend: Backend) -> None:
        self.backend = backend
        self.dispatcher = Dispatcher(backend, on_retire=self._retired)
        self.lock = threading.RLock()  # (a run that ends in the first fill retires under it)
        self._jobs: dict[tuple[Any, ...], Job] = {}  # the jobs of runs in flight, by function
        self._uses: dict[int, int] = {}  # job id -> its runs enqueued and not yet retired
        self._inbox: list[JobRun] = []
        self._stop: list[JobRun] = []
        self._thread: threading.Thread | None = None
        self._shutdown = False
        self._kill = False
        self._cancel_pending = False
        self._broken: BaseException | None = None
        self._launch_error: BaseException | None = None

    def start(self) -> None:
        """Start the workers and return when every one is ready."""
        with self.lock:
            if self._shutdown:
                raise ShutdownError("cannot start an executor after shutdown")
            if self._thread is None:
                self.backend.start(wait=True)
                self._launch()

    def _launch(self) -> None:
        # Workers are started from the calling thread first: if it is the main thread of a
        # single-threaded program, the process backend may fork (fast) before the manager
        # thread exists.
        self.backend.start(wait=False)
        # ...and the first work is handed out from here too: starting a thread waits until it
        # runs, which takes milliseconds while the new workers keep both cores busy
        inbox, self._inbox = self._inbox, []
        try:
            for run in inbox:
                self.dispatcher.add(run)
            self.dispatcher.fill()
        except BaseException as exc:  # the manager thread deals with it as with its own
            self._launch_error = exc
        self._thread = threading.Thread(target=self._manage, name="poolwise-manager", daemon=True)
        self._thread.start()
        if isinstance(self._launch_error, (KeyboardInterrupt, SystemExit)):
            raise self._launch_error  # Ctrl-C while handing out work reaches the caller too

    def job(
        self,
        fn: Callable[..., Any],
        mode: CallMode,
        timeout: float | None,
        check: Callable[[], None],
    ) -> Job:
        """The job of ``fn`` while runs of it are in flight, else a new one (``check`` first).
        Any thread."""
        key = _key(fn, mode)
        with self.lock:
            job = self._jobs.get(key)
            if job is not None and (job.fn is fn or job.fn == fn):
                return job
        check()
        return Job(fn, mode, timeout)  # (kept once a run of it is enqueued)

    def _retired(self, run: JobRun) -> None:
        """(manager thread) A run ended: the last of its job forgets it, here and in workers."""
        if isinstance(run.sink, FutureSink):
            run.sink.run = None  # (a cycle: the run and its fn would wait for the collector)
        elif isinstance(run.sink, BufferedSink) and run.sink.cut and not run.stopped:
            run.sink.abort(ShutdownError("cannot schedule new work after shutdown"))
        elif isinstance(run.sink, QueueSink) and not run.stopped:
            run.sink.finish()  # (a stopped run's consumer has gone, or is told why by abort)
        job = run.job
        with self.lock:
            left = self._uses.get(job.id, 1) - 1
            if left > 0:
                self._uses[job.id] = left
                return
            self._uses.pop(job.id, None)
            key = _key(job.fn, job.mode)
            if self._jobs.get(key) is job:
                del self._jobs[key]
        self.backend.forget(job)

    def enqueue(self, run: JobRun) -> None:
        self.backend.grow()  # (first: the batch it is for may be submitted before we return)
        with self.lock:
            if self._shutdown:
                raise ShutdownError("cannot schedule new work after shutdown")
            if self._broken is not None:
                raise self._broken
            job = run.job
            if job.id not in self._uses:
                self._jobs.setdefault(_key(job.fn, job.mode), job)
            self._uses[job.id] = self._uses.get(job.id, 0) + 1
            self._inbox.append(run)
            if self._thread is None:
                self._launch()
        self.backend.wake()

    @property
    def broken(self) -> BaseException | None:
        """What broke the backend (a failed initializer), once the manager has seen it."""
        return self._broken

    @property
    def thread(self) -> threading.Thread | None:
        return self._thread

    def touch(self) -> None:
        """Start the workers as a submit would, for a call that failed before it could be
        sent (the standard library starts its workers at every submit)."""
        with self.lock:
            if self._shutdown or self._broken is not None:
                return
            if self._thread is None:
                self._launch()
        self.backend.grow()
        self.backend.wake()

    def request_stop(self, run: JobRun) -> None:
        """Stop a run whose results are no longer wanted (its map iterator was dropped)."""
        with self.lock:
            self._stop.append(run)
        self.backend.wake()

    # -- the manager thread ----------------------------------------------------------------

    def _manage(self) -> None:
        dispatcher = self.dispatcher
        error: BaseException | None = None
        try:
            if self._launch_error is not None:
                raise self._launch_error
            while True:
                shutting, kill = self._take_requests()
                if kill:
                    break
                dispatcher.fill()
                if shutting and not dispatcher.runs:
                    break
                dispatcher.pump(None)
        except BaseException as exc:  # the backend broke (e.g. the initializer failed)
            error = exc
            with self.lock:
                self._broken = exc
                pending = list(dispatcher.runs) + self._inbox
                self._inbox = []
            for run in pending:
                run.sink.abort(exc)  # type: ignore[attr-defined]
        finally:
            self.backend.shutdown(wait=error is None and not self._kill, kill=self._kill)

    def _take_requests(self) -> tuple[bool, bool]:
        """New runs, stops, a kill and cancellations, carried out; (shutting down, killed).
        (A method of its own: no run stays referenced from its frame while the loop waits.)"""
        dispatcher = self.dispatcher
        with self.lock:
            inbox, self._inbox = self._inbox, []
            stops, self._stop = self._stop, []
            shutting, kill, cancel = self._shutdown, self._kill, self._cancel_pending
        for run in inbox:
            dispatcher.add(run)
        if shutting:  # a lazy map takes no more input (as the standard library's submits none)
            for run in dispatcher.runs:
                if isinstance(run.sink, BufferedSink) and not run.exhausted:
                    run.exhausted = run.sink.cut = True
        for run in stops:
            if run in dispatcher.runs:
                dispatcher.stop(run)
        if kill:
            for run in list(dispatcher.runs):
                dispatcher.stop(run)
                run.sink.abort(cf.CancelledError())  # type: ignore[attr-defined]
        elif cancel:
            self._cancel_unstarted()
        return shutting, kill

    def _cancel_unstarted(self) -> None:
        """cancel_futures: what has not started is cancelled; running tasks finish."""
        for run in list(self.dispatcher.runs):
            sink = run.sink
            if isinstance(sink, FutureSink):
                if not sink.started:
                    sink.cancel()
                    self.dispatcher.stop(run)
            elif isinstance(sink, QueueSink) and not run.stopped:
                self.dispatcher.stop(run)  # batches already with a worker are discarded
                sink.abort(cf.CancelledError())

    # -- stopping --------------------------------------------------------------------------

    def shutdown(self, wait: bool, cancel_futures: bool) -> None:
        with self.lock:
            self._shutdown = True
            self._cancel_pending = self._cancel_pending or cancel_futures
            thread = self._thread
        if thread is None:
            self.backend.shutdown(wait=wait)
            return
        self.backend.wake()
        if wait:
            try:
                thread.join()
            except BaseException:  # Ctrl-C while waiting (at a with block's exit): stop now
                self.terminate()
                raise

    def terminate(self) -> None:
        with self.lock:
            self._shutdown = True
            self._kill = True
            thread = self._thread
        if thread is None:
            self.backend.shutdown(wait=False, kill=True)
            return
        self.backend.wake()
        thread.join(5.0)


def _key(fn: Callable[..., Any], mode: CallMode) -> tuple[Any, ...]:
    """A function's key: a bound method is a new object at each access, so it is known by its
    object and its function."""
    if isinstance(fn, MethodType):
        return (id(fn.__self__), id(fn.__func__), mode)
    return (id(fn), mode)
