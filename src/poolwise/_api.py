"""``poolwise.map`` and ``poolwise.imap``: run a function over many inputs, driven from the
calling thread (no helper thread, so the process backend may use the fast, safe fork path)."""

from __future__ import annotations

import sys
from collections.abc import Callable, Generator, Iterable, Iterator
from typing import Any

from poolwise._auto import run_auto
from poolwise._batching import Chunker
from poolwise._dispatch import Dispatcher, JobRun
from poolwise._errors import Failure
from poolwise._options import Options, check_function, resolve
from poolwise._progress import Progress
from poolwise.backends import create_backend
from poolwise.backends._base import Job, TaskError

# imap holds at most this many items taken from the input and not yet handed to the caller.
MAX_OUTSTANDING = 65_536


class _Collector:
    """Results of one run on their way to the caller, in input order or as they complete."""

    def __init__(self, run_total: int | None, ordered: bool, on_error: str, progress: Progress):
        self.ordered = ordered
        self.on_error = on_error
        self.progress = progress
        self.ready: dict[int, list[Any]] = {}  # first index -> consecutive results
        self.fifo: list[Any] = []
        self.next_index = 0
        self.handed = 0
        self.completed = 0
        self.error: tuple[int, Any, TaskError] | None = None
        self.run: JobRun | None = None

    def ok(self, index: int, value: Any) -> None:
        self.ok_range(index, [value])

    def ok_range(self, start: int, values: list[Any]) -> None:
        self.completed += len(values)
        if self.ordered:
            self.ready[start] = values
        else:
            self.fifo.extend(values)
        if self.progress.active:
            self.progress.advance(len(values))

    def fail(self, index: int, item: Any, error: TaskError) -> None:
        if self.on_error == "raise":
            if self.error is None:
                self.error = (index, item, error)
            return
        self.ok(index, Failure(index, item, error.exception, error.traceback))
        self.completed -= 1

    def room(self) -> int:
        taken = self.run._next if self.run is not None else 0
        return MAX_OUTSTANDING - (taken - self.handed)

    def take(self) -> Iterator[list[Any]]:
        """Lists of results ready to hand over, in order when ordered."""
        if self.ordered:
            ready = self.ready
            while self.next_index in ready:
                chunk = ready.pop(self.next_index)
                self.next_index += len(chunk)
                self.handed += len(chunk)
                yield chunk
        elif self.fifo:
            fifo, self.fifo = self.fifo, []
            self.handed += len(fifo)
            yield fifo


def _raise_failure(index: int, error: TaskError, completed: int, total: int | None) -> None:
    exc = error.exception
    if sys.version_info >= (3, 11):
        of = f" of {total}" if total is not None else ""
        exc.add_note(
            f"poolwise: item {index} failed; {completed}{of} tasks had succeeded. Pass "
            "on_error='return' to get every successful result, with a poolwise.Failure in "
            "place of each failed task."
        )
    raise exc


def _run(
    fn: Callable[..., Any],
    items: Iterable[Any],
    opts: Options,
    *,
    ordered: bool,
    progress: bool,
    start: int = 0,
    watchdog: float | None = None,
) -> Generator[list[Any], None, None]:
    """Yield lists of results as they become available (the caller flattens them)."""
    backend = create_backend(opts.backend, opts.workers, **opts.backend_options())
    wd = None
    if watchdog is not None:
        from poolwise.checks._watchdog import Watchdog  # (the checks load on demand)

        stacks = getattr(backend, "worker_stacks", None)
        if hasattr(backend, "enable_stack_dumps"):
            backend.enable_stack_dumps()
        wd = Watchdog(watchdog, worker_stacks=stacks).start()
    total = len(items) if isinstance(items, (list, tuple, range)) else None
    bar = Progress(total) if progress else _NO_PROGRESS
    collector = _Collector(total, ordered, opts.on_error, bar)
    collector.next_index = collector.handed = start
    job = Job(fn, timeout=opts.timeout)
    chunker = Chunker.for_backend(backend, opts.workers, fixed=opts.chunksize)
    run = JobRun(job, items, collector, chunker, retries=opts.retries, start=start)
    collector.run = run
    dispatcher = Dispatcher(backend)
    dispatcher.add(run)
    clean = False
    try:
        while True:
            # hand results over first: that frees room in the window of outstanding items,
            # which fill() needs to take more input (filling first could leave nothing in
            # flight and wait forever)
            yield from collector.take()
            dispatcher.fill()
            if collector.error is not None:
                index, _item, err = collector.error
                dispatcher.stop(run)
                _raise_failure(index, err, collector.completed, total)
            if run.done:
                break
            if backend.busy() == 0:
                raise RuntimeError(  # a bug in poolwise: say so rather than hang
                    f"poolwise: nothing in flight but the run is not finished ({run.state()})"
                )
            before = collector.completed
            dispatcher.pump(None)
            if wd is not None and collector.completed != before:
                wd.progress()
        clean = True
    finally:
        if wd is not None:
            wd.stop()
        bar.close()
        backend.shutdown(wait=clean, kill=not clean)


class _NoProgress(Progress):
    def __init__(self) -> None:
        self._bar = None


_NO_PROGRESS = _NoProgress()


def _flatten(chunks: Generator[list[Any], None, None]) -> Generator[Any, None, None]:
    """One result at a time; closing it (or dropping it) shuts the pool down at once."""
    try:
        for chunk in chunks:
            yield from chunk
    finally:
        chunks.close()


def _chunks(
    fn: Callable[..., Any],
    items: Iterable[Any],
    *,
    ordered: bool,
    progress: bool,
    watchdog: float | None,
    workers: int | None,
    **options: Any,
) -> Generator[list[Any], None, None]:
    """Validate every option (before any work), then the chunks of results of the run."""
    opts = resolve(workers=workers, **options)
    check_function(fn, opts.backend)
    if opts.backend == "auto":

        def run_rest(source: Iterable[Any], run_opts: Options, start: int) -> Iterator[list[Any]]:
            return _run(
                fn,
                source,
                run_opts,
                ordered=ordered,
                progress=progress,
                start=start,
                watchdog=watchdog,
            )

        return run_auto(
            fn, items, opts, user_workers=workers, run_rest=run_rest, raise_failure=_raise_failure
        )
    return _run(fn, items, opts, ordered=ordered, progress=progress, watchdog=watchdog)


def imap(
    fn: Callable[[Any], Any],
    items: Iterable[Any],
    *,
    backend: str = "auto",
    workers: int | None = None,
    chunksize: int | None = None,
    ordered: bool = True,
    timeout: float | None = None,
    on_error: str = "raise",
    retries: int = 0,
    initializer: Callable[..., Any] | None = None,
    initargs: tuple[Any, ...] = (),
    progress: bool = False,
    start_method: str | None = None,
    max_tasks_per_child: int | None = None,
    max_memory_per_child: int | str | None = None,
    client: Any = None,
    address: str | None = None,
    watchdog: float | None = None,
    rerun: bool = True,
    shared_memory: bool = True,
) -> Iterator[Any]:
    """Apply ``fn`` to every item, yielding results as an iterator.

    The input is taken lazily, with a bounded number of items in flight, so an endless
    generator runs in bounded memory. Options are those of :func:`map`; with
    ``ordered=False`` results are yielded as they complete.

    Raises:
        ValueError, TypeError, PicklingError: for bad options, at call time, before any work.
    """
    chunks = _chunks(
        fn,
        items,
        ordered=ordered,
        progress=progress,
        watchdog=watchdog,
        workers=workers,
        backend=backend,
        chunksize=chunksize,
        timeout=timeout,
        on_error=on_error,
        retries=retries,
        initializer=initializer,
        initargs=initargs,
        start_method=start_method,
        max_tasks_per_child=max_tasks_per_child,
        max_memory_per_child=max_memory_per_child,
        client=client,
        address=address,
        rerun=rerun,
        shared_memory=shared_memory,
    )
    return _flatten(chunks)


def map(
    fn: Callable[[Any], Any],
    items: Iterable[Any],
    *,
    backend: str = "auto",
    workers: int | None = None,
    chunksize: int | None = None,
    ordered: bool = True,
    timeout: float | None = None,
    on_error: str = "raise",
    retries: int = 0,
    initializer: Callable[..., Any] | None = None,
    initargs: tuple[Any, ...] = (),
    progress: bool = False,
    start_method: str | None = None,
    max_tasks_per_child: int | None = None,
    max_memory_per_child: int | str | None = None,
    client: Any = None,
    address: str | None = None,
    watchdog: float | None = None,
    rerun: bool = True,
    shared_memory: bool = True,
) -> list[Any]:
    """Apply ``fn`` to every item and return the results as a list.

    Args:
        fn: a function of one argument. Lambdas and closures work with every backend.
        items: any iterable.
        backend: ``"auto"`` (the default: the first items run in the calling thread, as a
            loop would run them, while they are timed; a short job ends there, a longer one
            goes on with the backend they point to, and what was measured is remembered),
            ``"process"``, ``"thread"``, ``"serial"`` or ``"dask"``.
        workers: how many workers; default: the usable CPUs for processes, CPUs + 4 (at most
            32) for threads.
        chunksize: tasks per batch; default adaptive (sized from measured task durations).
        ordered: results in input order (True) or in completion order (False).
        timeout: seconds each task may run; a longer one fails with TaskTimeout (processes:
            its worker is killed and replaced; threads: it is abandoned).
        on_error: ``"raise"`` the first failure, or ``"return"`` a :class:`Failure` in place of
            each failed task and every other result.
        retries: run a task that crashed its worker or timed out again, up to this many times.
        initializer, initargs: called once in every worker before its first task.
        progress: show a progress bar on a terminal.
        start_method: processes only: ``"fork"``, ``"forkserver"`` or ``"spawn"``; default fork
            while the program runs a single thread, forkserver otherwise.
        max_tasks_per_child, max_memory_per_child: processes only: replace a worker after that
            many tasks, or once its resident memory passes the size (``"500MB"``).
        client, address: dask only: an existing ``distributed.Client``, or a scheduler
            address ``"tcp://host:8786"``; neither: a local cluster started on first use.
        watchdog: seconds; when no task finishes for that long, the stacks of every thread
            (and of every worker process) are written to stderr, with what each waits on.
        rerun: auto only: with False, no item ever runs twice. Auto checks thread safety by
            running a few items again on threads; without that check it leaves threads out.
        shared_memory: processes only: arguments and results with large buffers (numpy
            arrays, bytes, bytearray, memoryview of 64 KiB or more) cross in shared memory
            instead of the pipe (numpy arguments arrive as read-only views). False: the pipe.

    Raises:
        The exception of the first failed task, as itself (with the worker's traceback as
        ``__cause__``), when ``on_error="raise"``; WorkerCrashed; TaskTimeout.
    """
    results: list[Any] = []
    for chunk in _chunks(
        fn,
        items,
        ordered=ordered,
        progress=progress,
        watchdog=watchdog,
        workers=workers,
        backend=backend,
        chunksize=chunksize,
        timeout=timeout,
        on_error=on_error,
        retries=retries,
        initializer=initializer,
        initargs=initargs,
        start_method=start_method,
        max_tasks_per_child=max_tasks_per_child,
        max_memory_per_child=max_memory_per_child,
        client=client,
        address=address,
        rerun=rerun,
        shared_memory=shared_memory,
    ):
        results.extend(chunk)
    return results
