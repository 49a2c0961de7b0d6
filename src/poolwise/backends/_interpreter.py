"""The interpreter backend (Python 3.14+): each worker is a thread running its own
subinterpreter (PEP 734, on PEP 684's per-interpreter GIL), so pure Python runs in parallel as
on processes, inside one process.

```
 driver (poll/submit)                 worker thread k                 interpreter k
 --------------------                 ---------------                 -------------
 submit: pickle items  --tasks-->     take a batch
                                      interp.call(run_batch,    -->  unpickle fn (once) and
                                        key, fn?, items)              items, run them, pickle
 poll: result_outcome  <--results--   bytes back                <--  (values, errors, elapsed)
```

What crosses between interpreters is ``bytes``, copied: the function (cloudpickled, so lambdas
and closures work), the items and the results, as to a process but without a pipe. The safety
nets are a thread's, not a process's: a crash in native code takes the whole process down, and
a running interpreter cannot be stopped, so this backend never runs a job with a timeout
(``_options`` moves such work to processes, saying so).
"""

from __future__ import annotations

import atexit
import importlib
import itertools
import logging
import pickle
import queue
import sys
import threading
import weakref
from typing import Any, ClassVar

from poolwise import _transport
from poolwise._errors import PicklingError, RemoteError, WorkerInitError, remote_traceback
from poolwise.backends._base import Backend, Batch, Job, Outcome, TaskError
from poolwise.backends._core import fail_or_split, result_outcome, unpicklable_items

_WAKE = object()
_counter = itertools.count()
MINIMUM = (3, 14)
# every pool not yet joined: at exit each is shut down and its threads joined, before the
# interpreter finalizes (a worker interpreter still open then, or closing in a daemon thread
# frozen by finalization, hangs the exit: the standard library's executors join theirs too)
_live: weakref.WeakSet[InterpreterBackend] = weakref.WeakSet()
_exit_registered = False


def _join_at_exit() -> None:
    for backend in list(_live):
        backend.shutdown(wait=True)
        for t in list(backend._threads):
            t.join()


def _register(backend: InterpreterBackend) -> None:
    global _exit_registered
    _live.add(backend)
    if not _exit_registered:
        # (threading's hook runs before the interpreter joins its threads and finalizes, as
        # concurrent.futures' does; plain atexit as a fallback)
        register = getattr(threading, "_register_atexit", None)
        try:
            (register or atexit.register)(_join_at_exit)
        except RuntimeError:  # (already shutting down)
            return
        _exit_registered = True


def available() -> bool:
    """Whether this Python can run the interpreter backend."""
    return sys.version_info >= MINIMUM


def unavailable_message() -> str:
    version = ".".join(map(str, sys.version_info[:3]))
    return (
        f'backend="interpreter" needs Python 3.14 or newer (this is {version}): it runs each '
        'worker in a subinterpreter (concurrent.interpreters); use backend="process" for '
        "parallel Python here"
    )


def _interpreters() -> Any:
    # (3.14+ only, and typed here for 3.10: imported by name)
    return importlib.import_module("concurrent.interpreters")


class _Sent:
    """A batch with what its worker needs: the job's key and pickle, the pickled items."""

    __slots__ = ("batch", "blob", "items")

    def __init__(self, batch: Batch, blob: bytes, items: bytes) -> None:
        self.batch, self.blob, self.items = batch, blob, items


class InterpreterBackend(Backend):
    name: ClassVar[str] = "interpreter"

    def __init__(
        self,
        workers: int,
        *,
        initializer: Any = None,
        initargs: tuple[Any, ...] = (),
        thread_name_prefix: str = "",
    ) -> None:
        if not available():
            raise RuntimeError(unavailable_message())
        self.workers = workers
        self._init_blob = (
            None
            if initializer is None
            else _transport.dumps_function((initializer, tuple(initargs)))
        )
        self._prefix = thread_name_prefix or f"poolwise-interpreter-{next(_counter)}"
        self._tasks: queue.SimpleQueue[_Sent | None] = queue.SimpleQueue()
        self._results: queue.SimpleQueue[Any] = queue.SimpleQueue()
        self._threads: list[threading.Thread] = []
        self._blobs: dict[int, bytes] = {}  # job id -> pickled job (driver thread only)
        self._forgotten: list[int] = []  # job ids every interpreter may drop (under _lock)
        self._lock = threading.Lock()
        self._started = threading.Condition(self._lock)  # an interpreter is ready, or failed
        self._ready = 0  # interpreters ready (under _lock)
        self._idle = 0  # threads waiting for a batch (under _lock)
        self._promised = 0
        self._busy = 0
        self._closed = False
        self._broken: BaseException | None = None
        _register(self)

    # -- workers ------------------------------------------------------------------------------

    def start(self, wait: bool = True) -> None:
        """Threads (and their interpreters) otherwise start on demand; ``wait`` starts all of
        them now and returns when each interpreter is ready."""
        if self._closed:
            raise RuntimeError("the interpreter backend has been shut down")
        if not wait:
            return
        with self._lock:
            while len(self._threads) < self.workers:
                self._add_thread()
            self._started.wait_for(lambda: self._ready >= self.workers or self._broken)
        if self._broken is not None:
            raise self._broken

    def grow(self) -> None:
        with self._lock:
            self._promised += 1
        self._adjust()

    def _adjust(self) -> None:
        with self._lock:
            if self._idle > 0:
                self._idle -= 1
                return
            if not self._closed and len(self._threads) < self.workers:
                self._add_thread()

    def _add_thread(self) -> None:
        t = threading.Thread(
            target=self._run,
            name=f"{self._prefix}_{len(self._threads)}",
            daemon=True,
        )
        self._threads.append(t)
        t.start()

    def threads(self) -> set[threading.Thread]:
        return set(self._threads)

    def _run(self) -> None:
        interpreters = _interpreters()
        try:
            interp = interpreters.create()
        except BaseException as exc:
            self._fail_start(f"a worker interpreter could not be created: {exc!r}", exc)
            return
        try:
            self._serve(interp)
        finally:
            interp.close()

    def _fail_start(self, message: str, cause: BaseException | None) -> None:
        logging.getLogger("concurrent.futures").critical("Exception in initializer: %s", message)
        err = WorkerInitError(message)
        err.__cause__ = cause
        with self._lock:
            self._broken = err
            self._started.notify_all()
        self._results.put(_WAKE)

    def _serve(self, interp: Any) -> None:
        from poolwise.backends import _interp_worker as w  # (pickled by name: both sides)

        try:
            # the interpreter imports poolwise and the user's modules from where this one does
            interp.prepare_main(path=tuple(sys.path))
            interp.exec("import sys; sys.path[:] = path; del path")
            failed = None if self._init_blob is None else interp.call(w.initialize, self._init_blob)
        except Exception as exc:
            self._fail_start(f"a worker interpreter could not be prepared: {exc!r}", exc)
            return
        if failed is not None:
            raised, tb = pickle.loads(failed)
            raised.__cause__ = remote_traceback(tb)
            self._fail_start(
                f"the initializer failed in a worker interpreter: {w.explain(raised)}", raised
            )
            return
        with self._lock:
            self._ready += 1
            self._started.notify_all()
        known: set[int] = set()
        dropped = 0
        while True:
            sent = self._tasks.get()
            if sent is None:
                return
            batch = sent.batch
            if getattr(batch.owner, "stopped", False):  # its results are no longer wanted
                n = len(batch)
                self._results.put(Outcome(batch, [None] * n, rerun=list(range(n))))
            else:
                with self._lock:
                    forget = tuple(self._forgotten[dropped:])
                    dropped = len(self._forgotten)
                if forget:
                    interp.call(w.drop, forget)
                    known.difference_update(forget)
                self._results.put(self._execute(interp, sent, known))
            del sent, batch  # (nothing that ran stays referenced while this thread waits)
            with self._lock:
                self._idle += 1

    @staticmethod
    def _execute(interp: Any, sent: _Sent, known: set[int]) -> Outcome:
        from poolwise.backends import _interp_worker as w  # (light, and loaded already)

        batch = sent.batch
        key = batch.job.id
        blob = None if key in known else sent.blob
        try:
            # a memoryview crosses without a copy (bytes would be copied into the interpreter)
            payload = interp.call(w.run_batch, key, blob, memoryview(sent.items), len(batch))
        except Exception as exc:  # (poolwise's own side failed: say so, run the rest)
            reason = f"{type(exc).__name__}: {exc}"
            return fail_or_split(batch, lambda: RemoteError(f"worker interpreter: {reason}"))
        known.add(key)
        try:
            return result_outcome(batch, payload)
        finally:
            payload.release()  # (the buffer is the interpreter's: let it go before it closes)

    # -- the driver's side --------------------------------------------------------------------

    def busy(self) -> int:
        return self._busy

    def free_slots(self) -> int:
        return 0 if self._broken else max(0, 2 * self.workers - self._busy)

    def submit(self, batch: Batch) -> None:
        if self._closed:
            raise RuntimeError("the interpreter backend has been shut down")
        if batch.job.timeout is not None:  # (_options moves such jobs to processes)
            raise ValueError("the interpreter backend cannot stop a task: no timeout")
        self._busy += 1
        try:
            items = _transport.dumps(batch.items)
            blob = self._blob(batch.job)
        except Exception:
            self._results.put(self._unpicklable(batch))
            return
        self._tasks.put(_Sent(batch, blob, items))
        with self._lock:
            promised = self._promised > 0
            self._promised -= promised
        if not promised:
            self._adjust()

    def _blob(self, job: Job) -> bytes:
        blob = self._blobs.get(job.id)
        if blob is None:
            blob = self._blobs[job.id] = _transport.dumps_function((job.fn, job.mode, False))
        return blob

    def _unpicklable(self, batch: Batch) -> Outcome:
        try:
            self._blob(batch.job)
        except Exception as exc:
            fn = batch.job.fn
            err = PicklingError(
                f"cannot pickle the function {fn!r} for the interpreter backend: {exc}"
            )
            n = len(batch)
            return Outcome(batch, [None] * n, dict.fromkeys(range(n), TaskError(err, "")))
        return unpicklable_items(batch)

    def forget(self, job: Job) -> None:
        if self._blobs.pop(job.id, None) is not None:
            with self._lock:
                self._forgotten.append(job.id)

    def wake(self) -> None:
        self._results.put(_WAKE)

    def poll(self, timeout: float | None) -> list[Outcome]:
        if self._broken is not None:
            raise self._broken
        items: list[Any] = []
        try:
            items.append(
                self._results.get(timeout=timeout) if timeout != 0 else self._results.get_nowait()
            )
            while True:
                items.append(self._results.get_nowait())
        except queue.Empty:
            pass
        out = [item for item in items if item is not _WAKE]
        self._busy -= len(out)
        if self._broken is not None:
            raise self._broken
        return out

    def cancel(self, owner: Any) -> list[Batch]:
        kept: list[_Sent | None] = []
        dropped: list[Batch] = []
        try:
            while True:
                s = self._tasks.get_nowait()
                if s is not None and s.batch.owner is owner:
                    dropped.append(s.batch)
                else:
                    kept.append(s)
        except queue.Empty:
            pass
        for s in kept:
            self._tasks.put(s)
        self._busy -= len(dropped)
        return dropped

    def shutdown(self, *, wait: bool = True, kill: bool = False) -> None:
        """A running interpreter cannot be stopped: ``kill`` drops what has not started and
        leaves running batches to finish in the background."""
        if self._closed:
            return
        self._closed = True
        if kill:
            try:
                while True:
                    s = self._tasks.get_nowait()
                    if s is not None:
                        self._busy -= 1
            except queue.Empty:
                pass
        for _ in self._threads:
            self._tasks.put(None)
        if wait and not kill:
            for t in self._threads:
                t.join()
