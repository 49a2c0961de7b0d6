"""``poolwise.Executor``: a real ``concurrent.futures.Executor`` on any backend.

A manager thread owns the backend and the dispatcher; user threads hand it work through a
locked inbox and wake it. Futures are standard ``concurrent.futures.Future`` objects.
"""

from __future__ import annotations

import concurrent.futures as cf
import dataclasses
import functools
import itertools
import queue
import threading
import time
from collections.abc import Callable, Iterable, Iterator
from typing import Any

from poolwise._auto import probe, workers_for
from poolwise._batching import Chunker
from poolwise._dispatch import Dispatcher, JobRun
from poolwise._errors import ShutdownError
from poolwise._options import check_function, resolve
from poolwise.backends import create_backend
from poolwise.backends._base import Backend, CallMode, Job, TaskError

_UNLIMITED = 1 << 62


class _FutureSink:
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


class _QueueSink:
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


class Executor(cf.Executor):
    """Run callables on the serial, thread or process backend (or Dask), with futures.

    Args:
        backend: ``"auto"`` (default: chosen by the advisor at the first ``map`` or
            ``submit``; see ``.advice``), ``"process"``, ``"thread"``, ``"serial"``, ``"dask"``.
        workers: how many workers (default as in :func:`poolwise.map`).
        chunksize: default tasks per batch for :meth:`map` (None: adaptive).
        timeout: seconds each task may run (TaskTimeout beyond; see :func:`poolwise.map`).
        retries: runs again a task that crashed its worker or timed out.
        initializer, initargs, start_method, max_tasks_per_child, max_memory_per_child,
        thread_name_prefix, client, address, rerun: as in :func:`poolwise.map`.
    """

    def __init__(
        self,
        backend: str = "auto",
        workers: int | None = None,
        *,
        chunksize: int | None = None,
        timeout: float | None = None,
        retries: int = 0,
        initializer: Callable[..., Any] | None = None,
        initargs: tuple[Any, ...] = (),
        start_method: str | None = None,
        max_tasks_per_child: int | None = None,
        max_memory_per_child: int | str | None = None,
        thread_name_prefix: str = "",
        client: Any = None,
        address: str | None = None,
        rerun: bool = True,
    ) -> None:
        self._opts = resolve(
            backend=backend,
            workers=workers,
            chunksize=chunksize,
            timeout=timeout,
            retries=retries,
            initializer=initializer,
            initargs=initargs,
            start_method=start_method,
            max_tasks_per_child=max_tasks_per_child,
            max_memory_per_child=max_memory_per_child,
            thread_name_prefix=thread_name_prefix,
            client=client,
            address=address,
            rerun=rerun,
        )
        self._auto = self._opts.backend == "auto"
        self._user_workers = workers
        self.advice: Any = None  # with backend="auto": the advisor's answer, once decided
        if not self._auto:
            self._set_backend(self._opts.backend, self._opts.workers)
        self._lock = threading.Lock()
        self._inbox: list[JobRun] = []
        self._stop: list[JobRun] = []
        self._jobs: dict[tuple[int, str], Job] = {}
        self._thread: threading.Thread | None = None
        self._shutdown = False
        self._kill = False
        self._cancel_pending = False
        self._broken: BaseException | None = None
        self._launch_error: BaseException | None = None

    def _set_backend(self, name: str, workers: int) -> None:
        self._opts = dataclasses.replace(self._opts, backend=name, workers=workers)
        self._backend = create_backend(name, workers, **self._opts.backend_options())
        self._dispatcher = Dispatcher(self._backend)

    def _decide(
        self, fn: Callable[..., Any], items: list[Any]
    ) -> tuple[list[tuple[bool, Any]], int]:
        """backend="auto": run the first items in the caller, choose, return their outcomes."""
        advice, outcomes, consumed = probe(fn, items, self._opts)
        self.advice = advice
        self._set_backend(advice.backend, workers_for(advice, self._user_workers))
        self._auto = False  # (after: other threads read _backend once this is False)
        return outcomes, consumed

    @property
    def backend(self) -> str:
        """The backend in use ("auto" until the advisor has chosen)."""
        return self._opts.backend

    @property
    def workers(self) -> int:
        return self._opts.workers

    @property
    def client(self) -> Any:
        """backend="dask": the ``distributed.Client`` in use, once started (else None)."""
        return None if self._auto else getattr(self._backend, "client", None)

    @property
    def dashboard_link(self) -> str | None:
        """The Dask dashboard's link (backend="dask", once started: see :meth:`start`)."""
        return None if self._auto else getattr(self._backend, "dashboard_link", None)

    def worker_pids(self) -> list[int]:
        """Process ids of the workers (empty for the serial and thread backends)."""
        return [] if self._auto else self._backend.worker_pids()

    def start(self) -> None:
        """Start the workers now and return when every one is ready (else: on first use)."""
        with self._lock:
            if self._shutdown:
                raise ShutdownError("cannot start an executor after shutdown")
            if self._auto:
                return  # the advisor chooses the backend at the first map or submit
            if self._thread is None:
                self._backend.start(wait=True)
                self._launch()

    def _launch(self) -> None:
        # Workers are started from the calling thread first: if it is the main thread of a
        # single-threaded program, the process backend may fork (fast) before the manager
        # thread exists.
        self._backend.start(wait=False)
        # ...and the first work is handed out from here too: starting a thread waits until it
        # runs, which takes milliseconds while the new workers keep both cores busy
        inbox, self._inbox = self._inbox, []
        try:
            for run in inbox:
                self._dispatcher.add(run)
            self._dispatcher.fill()
        except BaseException as exc:  # the manager thread deals with it as with its own
            self._launch_error = exc
        self._thread = threading.Thread(target=self._manage, name="poolwise-manager", daemon=True)
        self._thread.start()
        if isinstance(self._launch_error, (KeyboardInterrupt, SystemExit)):
            raise self._launch_error  # Ctrl-C while handing out work reaches the caller too

    def _enqueue(self, run: JobRun) -> None:
        with self._lock:
            if self._shutdown:
                raise ShutdownError("cannot schedule new work after shutdown")
            if self._broken is not None:
                raise self._broken
            self._inbox.append(run)
            if self._thread is None:
                self._launch()
        self._backend.wake()

    def _job(self, fn: Callable[..., Any], mode: CallMode) -> Job:
        key = (id(fn), mode)
        job = self._jobs.get(key)
        if job is None or job.fn is not fn:
            check_function(fn, self._opts.backend)
            job = Job(fn, mode, self._opts.timeout)
            if len(self._jobs) > 256:
                self._jobs.clear()
            self._jobs[key] = job
        return job

    def submit(self, fn: Callable[..., Any], /, *args: Any, **kwargs: Any) -> cf.Future[Any]:
        """Schedule ``fn(*args, **kwargs)``; return its Future."""
        if self._auto:
            done = self._submit_auto(fn, args, kwargs)
            if done is not None:
                return done
        if kwargs:
            job, item = self._job(fn, "full"), (args, kwargs)
        else:
            job, item = self._job(fn, "star"), args
        future: cf.Future[Any] = cf.Future()
        sink = _FutureSink(future)
        run = JobRun(
            job, [item], sink, Chunker(1, fixed=1), retries=self._opts.retries, owns_job=False
        )
        sink.run = run
        self._enqueue(run)
        return future

    def _submit_auto(
        self, fn: Callable[..., Any], args: tuple[Any, ...], kwargs: dict[str, Any]
    ) -> cf.Future[Any] | None:
        """The first submit of an auto executor: probe with this very call, keep its result."""
        with self._lock:
            if not self._auto:
                return None
            if self._shutdown:
                raise ShutdownError("cannot schedule new work after shutdown")
            call = functools.partial(_call_full, fn)
            outcomes, consumed = self._decide(call, [(args, kwargs)])
        if not consumed:
            return None
        future: cf.Future[Any] = cf.Future()
        future.set_running_or_notify_cancel()
        ok, value = outcomes[0]
        if ok:
            future.set_result(value)
        else:
            future.set_exception(value)
        return future

    def map(
        self,
        fn: Callable[..., Any],
        *iterables: Iterable[Any],
        timeout: float | None = None,
        chunksize: int | None = None,
    ) -> Iterator[Any]:
        """Like ``concurrent.futures.Executor.map``, batching adaptively by default.

        Every input is taken at once (as the standard library does) and the work starts now;
        results come in order. ``timeout`` bounds the whole iteration (``TimeoutError``); a
        failed task raises its exception when its result is reached. For streaming input in
        bounded memory use :func:`poolwise.imap`.
        """
        if not iterables:
            raise TypeError("map() needs at least one iterable")
        if chunksize is not None and (isinstance(chunksize, bool) or chunksize < 1):
            raise ValueError(f"chunksize must be at least 1, got {chunksize!r}")
        deadline = None if timeout is None else time.monotonic() + timeout
        mode: CallMode = "one" if len(iterables) == 1 else "star"
        items = list(iterables[0]) if mode == "one" else list(zip(*iterables))
        sink = _QueueSink()
        start = 0
        if self._auto:
            with self._lock:
                if self._auto and items:
                    probe_fn = fn if mode == "one" else functools.partial(_call_star, fn)
                    outcomes, start = self._decide(probe_fn, items)
                    for i, (ok, value) in enumerate(outcomes):
                        if ok:
                            sink.ok(i, value)
                        else:
                            sink.queue.put(("err", i, value))
        job = self._job(fn, mode)
        chunker = Chunker.for_backend(
            Backend if self._auto else self._backend,  # (auto with no items: the defaults)
            self._opts.workers,
            fixed=chunksize or self._opts.chunksize,
            per_item=job.per_item,
            spread=job.spread,
        )
        run = JobRun(
            job, items, sink, chunker, retries=self._opts.retries, owns_job=False, start=start
        )
        if start < len(items):
            self._enqueue(run)
        # chain hands out items at C speed; the chunk generator it holds stops the run if the
        # caller drops the iterator early (the generator is closed when collected)
        return itertools.chain.from_iterable(self._chunks(run, sink, len(items), deadline))

    def _chunks(
        self, run: JobRun, sink: _QueueSink, total: int, deadline: float | None
    ) -> Iterator[list[Any]]:
        ready: dict[int, Any] = {}
        failed: dict[int, BaseException] = {}
        position = 0
        try:
            while position < total:
                if position in failed:
                    raise failed.pop(position)
                if position in ready:
                    chunk = ready.pop(position)
                    position += len(chunk)
                    yield chunk
                    continue
                wait = None if deadline is None else deadline - time.monotonic()
                if wait is not None and wait <= 0:
                    raise cf.TimeoutError()
                try:
                    kind, index, payload = sink.queue.get(timeout=wait)
                except queue.Empty:
                    raise cf.TimeoutError() from None
                if kind == "ok":
                    ready[index] = payload
                elif kind == "err":
                    failed[index] = payload
                else:
                    raise payload
        finally:
            if position < total:
                self._request_stop(run)

    def _request_stop(self, run: JobRun) -> None:
        with self._lock:
            self._stop.append(run)
        self._backend.wake()

    # -- the manager thread ----------------------------------------------------------------

    def _manage(self) -> None:
        dispatcher = self._dispatcher
        error: BaseException | None = None
        try:
            if self._launch_error is not None:
                raise self._launch_error
            while True:
                with self._lock:
                    inbox, self._inbox = self._inbox, []
                    stops, self._stop = self._stop, []
                    shutting, kill, cancel = self._shutdown, self._kill, self._cancel_pending
                for run in inbox:
                    dispatcher.add(run)
                for run in stops:
                    if run in dispatcher.runs:
                        dispatcher.stop(run)
                if kill:
                    for run in list(dispatcher.runs):
                        dispatcher.stop(run)
                        run.sink.abort(cf.CancelledError())  # type: ignore[attr-defined]
                    break
                if cancel:
                    self._cancel_unstarted()
                dispatcher.fill()
                if shutting and not dispatcher.runs:
                    break
                dispatcher.pump(None)
        except BaseException as exc:  # the backend broke (e.g. the initializer failed)
            error = exc
            with self._lock:
                self._broken = exc
                pending = list(dispatcher.runs) + self._inbox
                self._inbox = []
            for run in pending:
                run.sink.abort(exc)  # type: ignore[attr-defined]
        finally:
            self._backend.shutdown(wait=error is None and not self._kill, kill=self._kill)

    def _cancel_unstarted(self) -> None:
        """cancel_futures: what has not started is cancelled; running tasks finish."""
        for run in list(self._dispatcher.runs):
            sink = run.sink
            if isinstance(sink, _FutureSink):
                if not sink.started:
                    sink.cancel()
                    self._dispatcher.stop(run)
            elif isinstance(sink, _QueueSink) and not run.stopped:
                self._dispatcher.stop(run)  # batches already with a worker are discarded
                sink.abort(cf.CancelledError())

    def shutdown(self, wait: bool = True, *, cancel_futures: bool = False) -> None:
        """Stop taking work. Running and queued tasks finish unless ``cancel_futures``."""
        with self._lock:
            if self._auto:  # never used: there is no backend to stop
                self._shutdown = True
                return
            self._shutdown = True
            self._cancel_pending = self._cancel_pending or cancel_futures
            thread = self._thread
        if thread is None:
            self._backend.shutdown(wait=wait)
            return
        self._backend.wake()
        if wait:
            try:
                thread.join()
            except BaseException:  # Ctrl-C while waiting (at a with block's exit): stop now
                self.terminate()
                raise

    def terminate(self) -> None:
        """Stop at once: cancel everything, kill process workers, abandon running threads."""
        with self._lock:
            self._shutdown = True
            self._kill = True
            thread = self._thread
            if self._auto:
                return
        if thread is None:
            self._backend.shutdown(wait=False, kill=True)
            return
        self._backend.wake()
        thread.join(5.0)

    def __exit__(self, exc_type: Any, exc: Any, tb: Any) -> None:
        if exc_type is not None and not issubclass(exc_type, Exception):
            self.terminate()  # Ctrl-C (KeyboardInterrupt) or SystemExit: stop now
        else:
            self.shutdown(wait=True)


def _call_full(fn: Callable[..., Any], item: tuple[tuple[Any, ...], dict[str, Any]]) -> Any:
    return fn(*item[0], **item[1])


def _call_star(fn: Callable[..., Any], item: tuple[Any, ...]) -> Any:
    return fn(*item)


class ThreadPoolExecutor(Executor):
    """Drop-in for ``concurrent.futures.ThreadPoolExecutor`` with poolwise's additions
    (adaptive batching in ``map``, per-task ``timeout``, ``retries``...)."""

    def __init__(
        self,
        max_workers: int | None = None,
        thread_name_prefix: str = "",
        initializer: Callable[..., Any] | None = None,
        initargs: tuple[Any, ...] = (),
        **options: Any,
    ) -> None:
        super().__init__(
            "thread",
            max_workers,
            initializer=initializer,
            initargs=initargs,
            thread_name_prefix=thread_name_prefix,
            **options,
        )


class ProcessPoolExecutor(Executor):
    """Drop-in for ``concurrent.futures.ProcessPoolExecutor`` that survives its workers:
    a crashed worker fails only its task instead of breaking the pool."""

    def __init__(
        self,
        max_workers: int | None = None,
        mp_context: Any = None,
        initializer: Callable[..., Any] | None = None,
        initargs: tuple[Any, ...] = (),
        *,
        max_tasks_per_child: int | None = None,
        **options: Any,
    ) -> None:
        start_method = mp_context.get_start_method() if mp_context is not None else None
        super().__init__(
            "process",
            max_workers,
            initializer=initializer,
            initargs=initargs,
            start_method=start_method,
            max_tasks_per_child=max_tasks_per_child,
            **options,
        )
