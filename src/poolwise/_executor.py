"""``poolwise.Executor``: a real ``concurrent.futures.Executor`` on any backend.

The facade: options, the auto decision at the first work, and the ``submit``/``map`` API. The
work itself runs in a ``_manager.Manager``, whose thread owns the backend and the dispatcher.
Futures are standard ``concurrent.futures.Future`` objects.
"""

from __future__ import annotations

import concurrent.futures as cf
import contextlib
import dataclasses
import functools
import itertools
import queue
import sys
import threading
import time
import weakref
from collections.abc import Callable, Generator, Iterable, Iterator
from typing import Any

from poolwise._auto import probe, workers_for
from poolwise._batching import Chunker
from poolwise._dispatch import JobRun
from poolwise._errors import PicklingError, ShutdownError
from poolwise._manager import BufferedSink, FutureSink, Manager, QueueSink
from poolwise._options import check_function, default_workers, resolve
from poolwise.backends import create_backend
from poolwise.backends._base import Backend, CallMode, Job


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
        thread_name_prefix, client, address, rerun, shared_memory: as in :func:`poolwise.map`.
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
        shared_memory: bool = True,
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
            shared_memory=shared_memory,
        )
        self._dropin = False  # a drop-in class: behave as the standard library where it differs
        self._auto = self._opts.backend == "auto"
        self._user_workers = workers
        self.advice: Any = None  # with backend="auto": the advisor's answer, once decided
        self._manager: Manager | None = None
        if not self._auto:
            self._set_backend(self._opts.backend, self._opts.workers)
        self._lock = threading.Lock()  # the auto decision, and shutdown before it
        self._shutdown = False

    def _set_backend(self, name: str, workers: int) -> None:
        self._opts = dataclasses.replace(self._opts, backend=name, workers=workers)
        manager = Manager(create_backend(name, workers, **self._opts.backend_options()))
        self._manager = manager
        # an executor dropped without shutdown: its work finishes, then its workers exit (a map
        # iterator still being read holds the manager, not the executor)
        weakref.finalize(self, manager.shutdown, False, False)

    @property
    def _backend(self) -> Backend:
        assert self._manager is not None, "the backend is chosen at the first map or submit"
        return self._manager.backend

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

    # -- what code written for concurrent.futures reads --------------------------------------

    @property
    def _max_workers(self) -> int:
        return self._opts.workers

    @property
    def _threads(self) -> set[Any]:
        """The worker threads (thread backend; else empty)."""
        threads = None if self._auto else getattr(self._backend, "threads", None)
        return set() if threads is None else set(threads())

    @property
    def _processes(self) -> dict[int, Any]:
        """The worker processes by pid (process backend; else empty)."""
        processes = None if self._auto else getattr(self._backend, "processes", None)
        return {} if processes is None else dict(processes())

    @property
    def _executor_manager_thread(self) -> threading.Thread | None:
        """The manager thread, once started."""
        return None if self._manager is None else self._manager.thread

    @property
    def _broken(self) -> BaseException | bool:
        """The error that broke the executor (a failed initializer), else False."""
        return False if self._manager is None else (self._manager.broken or False)

    def start(self) -> None:
        """Start the workers now and return when every one is ready (else: on first use)."""
        with self._lock:
            if self._shutdown:
                raise ShutdownError("cannot start an executor after shutdown")
            if self._auto:
                return  # the advisor chooses the backend at the first map or submit
        assert self._manager is not None
        self._manager.start()

    def _enqueue(self, run: JobRun) -> None:
        assert self._manager is not None
        self._manager.enqueue(run)

    def _job(self, fn: Callable[..., Any], mode: CallMode) -> Job:
        """The job for ``fn``: shared by the runs of it in flight (its function is pickled
        once for them), forgotten when the last ends (nothing that ran stays referenced)."""
        if self._manager is None:  # (auto, before any work: nothing will run)
            return Job(fn, mode, self._opts.timeout)
        return self._manager.job(
            fn, mode, self._opts.timeout, check=lambda: check_function(fn, self._opts.backend)
        )

    def submit(self, fn: Callable[..., Any], /, *args: Any, **kwargs: Any) -> cf.Future[Any]:
        """Schedule ``fn(*args, **kwargs)``; return its Future."""
        if self._auto:
            done = self._submit_auto(fn, args, kwargs)
            if done is not None:
                return done
        future: cf.Future[Any] = cf.Future()
        try:
            if kwargs:
                job, item = self._job(fn, "full"), (args, kwargs)
            else:
                job, item = self._job(fn, "star"), args
        except PicklingError as exc:
            if not self._dropin:
                raise
            # the standard library reports a call that cannot cross through its future
            if self._manager is not None:
                self._manager.touch()
            future.set_running_or_notify_cancel()
            future.set_exception(exc)
            return future
        sink = FutureSink(future)
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
        buffersize: int | None = None,
    ) -> Iterator[Any]:
        """Like ``concurrent.futures.Executor.map``, batching adaptively by default.

        Every input is taken at once (as the standard library does) and the work starts now;
        results come in order. ``timeout`` bounds the whole iteration (``TimeoutError``); a
        failed task raises its exception when its result is reached. ``buffersize`` (as in
        Python 3.14, here on every version): take the input lazily, with at most that many
        items taken whose results have not been yielded. For streaming input with poolwise's
        own options use :func:`poolwise.imap`.
        """
        if chunksize is not None and (isinstance(chunksize, bool) or chunksize < 1):
            raise ValueError(f"chunksize must be at least 1, got {chunksize!r}")
        if buffersize is not None and (
            isinstance(buffersize, bool) or not isinstance(buffersize, int)
        ):
            raise TypeError("buffersize must be an integer or None")  # (the stdlib's words)
        if buffersize is not None and buffersize < 1:
            raise ValueError("buffersize must be None or > 0")
        deadline = None if timeout is None else time.monotonic() + timeout
        mode: CallMode = "one" if len(iterables) == 1 else "star"
        source: Iterator[Any] = iter(iterables[0]) if mode == "one" else zip(*iterables)
        sink = QueueSink() if buffersize is None else BufferedSink(buffersize)
        # the items the advisor may probe: all of them, or the first buffer's worth
        head = list(source if buffersize is None else itertools.islice(source, buffersize))
        if buffersize is not None and len(head) < buffersize:
            buffersize = None  # the whole input fit in the buffer: a map of a sequence, then
            sink = QueueSink()
        start = 0
        if self._auto:
            with self._lock:
                if self._auto and head:
                    probe_fn = fn if mode == "one" else functools.partial(_call_star, fn)
                    outcomes, start = self._decide(probe_fn, head)
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
        # a sequence is sliced from ``start``; an iterator is taken to be advanced to it
        items: Iterable[Any] = head if buffersize is None else itertools.chain(head[start:], source)
        run = JobRun(
            job, items, sink, chunker, retries=self._opts.retries, owns_job=False, start=start
        )
        total = len(head) if buffersize is None else None
        if isinstance(sink, BufferedSink):
            sink.run = run
        if total is None or start < total:
            self._enqueue(run)
        if self._manager is None:  # (auto, and nothing to run: no backend was chosen)
            return iter(())
        return self._results(_chunks(self._manager, run, sink, total, deadline))

    @staticmethod
    def _results(chunks: Generator[Iterator[Any], None, None]) -> Generator[Any, None, None]:
        """A generator, as the standard library's map returns: closing it (or dropping it)
        stops the run; chain hands out the items at C speed."""
        try:
            yield from itertools.chain.from_iterable(chunks)
        finally:
            chunks.close()

    def shutdown(self, wait: bool = True, *, cancel_futures: bool = False) -> None:
        """Stop taking work. Running and queued tasks finish unless ``cancel_futures``."""
        with self._lock:
            self._shutdown = True
            if self._auto:  # never used: there is no backend to stop
                return
        assert self._manager is not None
        self._manager.shutdown(wait, cancel_futures)

    def terminate(self) -> None:
        """Stop at once: cancel everything, kill process workers, abandon running threads."""
        with self._lock:
            self._shutdown = True
            if self._auto:
                return
        assert self._manager is not None
        self._manager.terminate()

    def terminate_workers(self) -> None:
        """As Python 3.14's ``ProcessPoolExecutor.terminate_workers``: terminate every worker
        process (SIGTERM), then stop as :meth:`terminate` does (what has not finished is
        cancelled; the executor takes no more work). Threads and interpreters cannot be
        signalled: they are abandoned."""
        self._force_shutdown(operation="terminate")

    def kill_workers(self) -> None:
        """As Python 3.14's ``ProcessPoolExecutor.kill_workers``: SIGKILL, then as
        :meth:`terminate_workers`."""
        self._force_shutdown(operation="kill")

    def _force_shutdown(self, operation: str) -> None:
        """(the standard library's name, which its tests replace)"""
        if operation not in ("terminate", "kill"):
            raise ValueError(f"Unsupported operation: {operation!r}")
        for proc in self._processes.values():
            with contextlib.suppress(ProcessLookupError, ValueError):  # (it has just ended)
                if proc.is_alive():
                    getattr(proc, operation)()
        self.terminate()

    @property
    def _thread_name_prefix(self) -> str:
        """The prefix of the worker threads' names (the standard library's attribute)."""
        return self._opts.thread_name_prefix

    def __exit__(self, exc_type: Any, exc: Any, tb: Any) -> None:
        if exc_type is not None and not issubclass(exc_type, Exception):
            self.terminate()  # Ctrl-C (KeyboardInterrupt) or SystemExit: stop now
        else:
            self.shutdown(wait=True)


def _call_full(fn: Callable[..., Any], item: tuple[tuple[Any, ...], dict[str, Any]]) -> Any:
    return fn(*item[0], **item[1])


def _call_star(fn: Callable[..., Any], item: tuple[Any, ...]) -> Any:
    return fn(*item)


_pools = itertools.count()


def _chunks(
    manager: Manager, run: JobRun, sink: QueueSink, total: int | None, deadline: float | None
) -> Generator[Iterator[Any], None, None]:
    """The results of a map's run, chunk by chunk, in order (a function, not a method: the
    iterator must not keep the executor alive). ``total`` None: until the run has ended."""
    ready: dict[int, Any] = {}
    failed: dict[int, BaseException] = {}
    position = 0
    ended = False
    try:
        while total is None or position < total:
            if position in failed:
                raise failed.pop(position)
            if position in ready:
                chunk = ready.pop(position)
                position += len(chunk)
                if isinstance(sink, BufferedSink):
                    yield _handing_out_one_by_one(chunk, sink, manager.backend.wake)
                else:
                    yield _handing_out(chunk)
                del chunk
                continue
            if ended:
                return
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
            elif kind == "end":
                ended = total is None  # (every result of the run came before this)
            else:
                raise payload
    finally:
        if total is None or position < total:
            run.stopped = True  # (at once: a worker about to start one of its batches skips it)
            manager.request_stop(run)


def _handing_out_one_by_one(
    chunk: list[Any], sink: BufferedSink, wake: Callable[[], None]
) -> Iterator[Any]:
    """map(buffersize=): each result counted as it is handed out, so that no more than the
    buffer's worth of items are ever taken ahead of the consumer."""
    chunk.reverse()
    while chunk:
        sink.handed_one(wake)
        yield chunk.pop()


def _handing_out(chunk: list[Any]) -> Iterator[Any]:
    """The chunk's items in order, at C speed, none kept once handed out (as the standard
    library's map keeps no result it has yielded). (Not ``iter(pop, sentinel)``: that compares
    every result with the sentinel, and a numpy array's ``==`` cannot be a truth value.)"""
    rest = chunk[::-1]
    chunk.clear()
    return itertools.starmap(rest.pop, itertools.repeat((), len(rest)))


def _check_max_workers(max_workers: int | None) -> None:
    """The standard library's check and message, for the drop-in classes."""
    if max_workers is not None and not isinstance(max_workers, bool) and max_workers <= 0:
        raise ValueError("max_workers must be greater than 0")


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
        _check_max_workers(max_workers)
        super().__init__(
            "thread",
            max_workers,
            initializer=initializer,
            initargs=initargs,
            # the standard library's default names, ThreadPoolExecutor-N_i
            thread_name_prefix=thread_name_prefix or f"ThreadPoolExecutor-{next(_pools)}",
            **options,
        )
        self._dropin = True


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
        _check_max_workers(max_workers)
        start_method = mp_context.get_start_method() if mp_context is not None else None
        if max_tasks_per_child is not None:  # (the standard library's rules)
            if start_method == "fork":
                raise ValueError(
                    "max_tasks_per_child is incompatible with the 'fork' multiprocessing start "
                    "method; supply a different mp_context"
                )
            start_method = start_method or "spawn"
        elif mp_context is None:
            start_method = _python_start_method()
        super().__init__(
            "process",
            max_workers,
            initializer=initializer,
            initargs=initargs,
            start_method=start_method,
            max_tasks_per_child=max_tasks_per_child,
            **options,
        )
        self._dropin = True

    @property
    def _mp_context(self) -> Any:
        """The ``multiprocessing`` context of the start method new workers use."""
        import multiprocessing  # (loaded already, with the process backend)

        from poolwise.backends._start import choose_start_method  # (light; on use)

        return multiprocessing.get_context(choose_start_method(self._opts.start_method))


def _python_start_method() -> str | None:
    """The drop-in's start method when no ``mp_context`` is given: from Python 3.14, the
    running Python's (forkserver on Linux, spawn on macOS, or what the program set with
    ``multiprocessing.set_start_method``). Before 3.14 the default is fork, which
    multiprocessing also reports once anything has asked it, so only another method set by the
    program is followed; else None: poolwise's own choice, fork while the program is
    single-threaded, else forkserver (see ``backends._start``)."""
    import multiprocessing  # (the process backend loads it anyway)

    if sys.version_info >= (3, 14):
        return multiprocessing.get_context().get_start_method()
    chosen = multiprocessing.get_start_method(allow_none=True)
    return None if chosen == "fork" else chosen


class InterpreterPoolExecutor(ThreadPoolExecutor):
    """Drop-in for ``concurrent.futures.InterpreterPoolExecutor`` (Python 3.14+): each worker
    thread runs its own interpreter; functions and arguments cross pickled (cloudpickle for
    the function, so lambdas and closures work), with poolwise's batching in ``map``.

    Raises:
        ValueError: before Python 3.14.
    """

    def __init__(
        self,
        max_workers: int | None = None,
        thread_name_prefix: str = "",
        initializer: Callable[..., Any] | None = None,
        initargs: tuple[Any, ...] = (),
        **options: Any,
    ) -> None:
        _check_max_workers(max_workers)
        # a ThreadPoolExecutor, as the standard library's is (asyncio's default executor must be)
        Executor.__init__(
            self,
            "interpreter",
            # the standard library's default, its ThreadPoolExecutor's (tasks that wait need
            # workers beyond the CPUs); Executor(backend="interpreter") takes one per CPU
            max_workers or default_workers("thread"),
            initializer=initializer,
            initargs=initargs,
            thread_name_prefix=thread_name_prefix or f"InterpreterPoolExecutor-{next(_pools)}",
            **options,
        )
        self._dropin = True
