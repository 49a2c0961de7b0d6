"""The process backend: a supervisor that knows which task every worker holds.

Data flow (one thread of the parent drives it; workers are plain processes)::

    dispatcher --submit(batch)--> pending --pickle once--> per-worker duplex pipe --> worker
                                                                                     |
    dispatcher <--poll()-- outcomes <--unpickle-- per-worker pipe  <-----------------+
                            ^
                            +-- sentinel of a dead worker + its shared-memory slot
                                (batch seq, phase or item position, start time) => which
                                task it held: that task fails (WorkerCrashed/TaskTimeout),
                                the others of its batches run again on a new worker

Finding the task that crashed a batch, or ran past its timeout, is ``_blame``'s: a job with a
timeout runs item by item and the slot names the item; other batches run at C speed and the
slot names only the batch, which is then bisected.

Why no lock can be left held by a dying worker (pebble issue 163, multiprocessing.Pool's hang):
there is no queue shared between workers. Each worker has its own pipe, read only by it and by
the parent; the parent chooses the worker for each batch. A worker that dies mid-message
leaves only its own pipe torn, and that pipe is discarded with it. The slot a worker writes its
progress into is one word per field, written only by that worker and read without a lock.

Why batches never deadlock the pipes: a batch goes to a worker that is ready and idle (it is
blocked reading), or, for a second "pipelined" batch, only when both messages (each counted
with the job's pickled function when that worker has not had it yet) are small enough to sit
in the socket buffer; the parent therefore never blocks on a write while a worker blocks on
writing its result back. In a fresh pool without an initializer, a worker that is still
starting may be sent one small batch, which it reads once ready (no round trip through the
parent before the first task); if it dies while starting (killed from outside, say), that batch
runs again, charged with nothing. Never otherwise: a batch written to a starting worker waits
for however long its start takes, while ready workers could run it.

Start method (``start_method=None``): ``fork`` while this process runs a single thread and we
are on the main thread (fast: about 7 ms to a fresh program's first result, and safe, since
no other thread can hold a lock at the moment of the fork); otherwise ``forkserver`` (the fork
happens in a clean, single-threaded server process). ``spawn`` off Linux.
"""

from __future__ import annotations

import atexit
import errno
import functools
import mmap
import multiprocessing as mp
import multiprocessing.connection as mpc
import os
import pickle
import signal
import tempfile
import threading
import time
import weakref
from collections import deque
from typing import Any, ClassVar

from poolwise import _transport
from poolwise._errors import (
    WorkerInitError,
    remote_traceback,
)
from poolwise.backends import _arena, _native, _oob
from poolwise.backends import _worker as W
from poolwise.backends._base import Backend, Batch, Job, Outcome
from poolwise.backends._blame import (
    Handle,
    UnpicklingError,
    describe_exit,
    due,
    outcomes_of,
    overdue,
    unloadable,
)
from poolwise.backends._core import fail_or_split, result_outcome, unpicklable_items
from poolwise.backends._start import check_start_method, choose_start_method

# Two small messages fit in a Unix socket's buffer together, so a second batch may be queued
# behind a running one without risk of a write blocking.
_PIPELINE_BYTES = 32 * 1024

# A batch whose buffers in shared memory pass this is halved (see submit).
_BATCH_BYTES = 8 << 20

_live: weakref.WeakSet[ProcessBackend] = weakref.WeakSet()


@atexit.register
def _kill_all_at_exit() -> None:
    for backend in list(_live):
        backend.shutdown(wait=False, kill=True)


class ProcessBackend(Backend):
    name: ClassVar[str] = "process"

    def __init__(
        self,
        workers: int,
        *,
        start_method: str | None = None,
        initializer: Any = None,
        initargs: tuple[Any, ...] = (),
        max_tasks_per_child: int | None = None,
        max_memory_per_child: int | None = None,
        shared_memory: bool = True,
    ) -> None:
        check_start_method(start_method)
        # buffers of this size or more cross in shared memory; None: everything by the pipe
        self._threshold: int | None = (
            _oob.THRESHOLD if shared_memory and _arena.supported() else None
        )
        self._hints: dict[int, str] = {}  # per job: how its arguments pickled (_oob.dump)
        self._fresh = _oob.Fresh()  # (where large results are copied to)
        self._fell_back = False  # (warned once)
        self.workers = workers
        self._start_method = start_method
        self._init: bytes | tuple[bytes, tuple[Any, ...]] | None = None
        if initializer is not None:
            try:
                self._init = _transport.dumps_function((initializer, tuple(initargs)))
            except Exception:  # (a Queue, a Lock: they travel as the process's own arguments)
                self._init = (_transport.dumps_function(initializer), tuple(initargs))
        self._max_tasks = max_tasks_per_child
        self._max_memory = max_memory_per_child
        self._pool: list[Handle] = []
        # (batch, message, the buffers that go into shared memory beside it)
        self._pending: deque[tuple[Batch, bytes, list[memoryview]]] = deque()
        self._outcomes: list[Outcome] = []
        self._job_blobs: dict[int, bytes] = {}
        self._unloadable: set[int] = set()  # jobs whose function killed a worker unpickling it
        self._spawning = threading.RLock()  # workers start from the driver and from grow()
        self._promised = 0  # workers grow() started for batches not yet submitted
        self._on_demand = False  # (set once started: workers start as work comes)
        self._wake_r, self._wake_w = os.pipe()
        os.set_blocking(self._wake_w, False)
        self._started = False
        self._closed = False
        self._broken: BaseException | None = None
        self._early_deaths = 0
        self._seen_ready = False  # a worker has been ready: the pool is no longer fresh
        self._stack_dir: str | None = None
        self.start_methods_used: set[str] = set()
        _live.add(self)

    # -- lifecycle -------------------------------------------------------------------------

    def _ensure_started(self) -> None:
        if self._closed:
            raise RuntimeError("the process backend has been shut down")
        if not self._started:
            self._started = True
            # fork starts the whole pool at once (a fork is cheap); forkserver and spawn start
            # workers as work comes and no idle one can take it, as the standard library does
            self._on_demand = choose_start_method(self._start_method) != "fork"
            if not self._on_demand:
                for _ in range(self.workers):
                    self._spawn()

    def _live(self) -> list[Handle]:
        return [w for w in self._pool if not (w.retiring or w.dead)]

    def _grow(self) -> bool:
        """Start a worker for batches waiting that no worker can take (on-demand starts);
        whether one started."""
        with self._spawning:
            if self._closed or self._broken is not None:
                return False
            live = self._live()
            starting = sum(not w.ready for w in live) + self._promised
            if len(live) >= self.workers or starting >= len(self._pending):
                return False
            self._spawn()
            return True

    def grow(self) -> None:
        """A task is coming (any thread: an Executor's ``submit``): with on-demand starts,
        start a worker for it now unless one is idle, as the standard library does."""
        with self._spawning:
            if self._closed or self._broken is not None or not self._on_demand:
                return  # (or the whole pool started at once)
            live = self._live()
            # idle: done with what it was given (as the standard library counts; one that has
            # just started is not idle yet)
            idle = any(w.ready and w.assigned and not w.inflight for w in live)
            if idle or len(live) >= self.workers:
                return
            self._spawn()
            self._promised += 1  # (the batch it is for will find it starting)

    def start(self, wait: bool = True) -> None:
        self._ensure_started()
        while wait and len(self._live()) < self.workers:
            self._spawn()
        while wait and not all(w.ready for w in self._pool):
            self._outcomes.extend(self._poll_once(None))
        self._dispatch()

    def _spawn(self) -> None:
        method = choose_start_method(self._start_method)
        ctx: Any = mp.get_context(method)
        if method == "forkserver":
            ctx.set_forkserver_preload(["poolwise.backends._worker"])
        self.start_methods_used.add(method)
        parent_conn, child_conn = ctx.Pipe(duplex=True)
        # shared memory read as int64 words: under fork an anonymous shared mapping the child
        # inherits; else a block of multiprocessing's heap, whose file travels to the child
        size = 8 * W.SLOT_WORDS
        if method == "fork":
            slot: Any = mmap.mmap(-1, size)
            # the child sets PR_SET_PDEATHSIG through _ctypes: loaded here, once, every forked
            # worker has it for free, instead of each loading it (with libffi) as it starts,
            # on the cores the parent needs for its first result
            try:
                import _ctypes  # noqa: F401
            except ImportError:
                pass
            # likewise threadpoolctl, when a library with a native pool is loaded: a forked
            # worker limits that pool to its share (see _native), and would import it itself
            if _native.loaded() and not _native.user_set():
                try:
                    import threadpoolctl  # noqa: F401
                except ImportError:
                    pass
        else:
            from multiprocessing.heap import BufferWrapper  # (not needed under fork)

            slot = BufferWrapper(size)
        stack_path = None
        if self._stack_dir is not None:
            fd, stack_path = tempfile.mkstemp(dir=self._stack_dir, suffix=".stack")
            os.close(fd)
        proc = ctx.Process(
            target=W.main,
            # under fork we are the parent, so the worker can tell if we died before its
            # PR_SET_PDEATHSIG took hold; under forkserver/spawn its parent is another process
            args=(
                child_conn,
                slot,
                self._init,
                self._max_memory,
                os.getpid() if method == "fork" else None,
                stack_path,
                os.getpid(),
                self._threshold,
                # each worker's share of the CPUs, for a pool inside a task and the native
                # pools (unless the user sized those)
                _native.for_workers(self.workers),
            ),
            name="poolwise-worker",
        )
        proc.start()
        child_conn.close()
        view = W.slot_view(slot)
        handle = Handle(proc, parent_conn, view, slot, stack_path=stack_path)
        handle.link = _arena.Link() if self._threshold is not None else None
        self._pool.append(handle)

    def shutdown(self, *, wait: bool = True, kill: bool = False) -> None:
        if self._closed:
            return
        self._closed = True
        _live.discard(self)
        if wait and not kill:
            for w in self._pool:
                try:
                    w.conn.send_bytes(bytes([W.STOP]))
                except OSError:
                    pass
            deadline = time.monotonic() + 5.0
            for w in self._pool:
                w.proc.join(max(0.0, deadline - time.monotonic()))
        for w in self._pool:
            if w.proc.exitcode is None:
                self._kill(w)
        for w in self._pool:
            w.proc.join(5.0)
            w.conn.close()
            if w.link is not None:
                w.link.close()
        self._pool.clear()
        self._pending.clear()
        self._fresh.clear()
        for fd in (self._wake_r, self._wake_w):
            try:
                os.close(fd)
            except OSError:
                pass
        if self._stack_dir is not None:
            import shutil  # (only when stack dumps were on)

            shutil.rmtree(self._stack_dir, ignore_errors=True)

    def _kill(self, w: Handle) -> None:
        """SIGKILL the worker's process group: the worker and whatever its task started."""
        pid = w.pid
        if not pid:
            return
        try:
            os.killpg(pid, signal.SIGKILL)
        except OSError:
            pass
        try:  # the group may not exist yet if the worker had not run setpgid
            os.kill(pid, signal.SIGKILL)
        except OSError:
            pass

    # -- submitting ------------------------------------------------------------------------

    def busy(self) -> int:
        return len(self._pending) + sum(len(w.inflight) for w in self._pool) + len(self._outcomes)

    def free_slots(self) -> int:
        if self._broken is not None:
            return 0
        if self._pending and self._threshold is not None and any(p[2] for p in self._pending):
            # a batch waiting with buffers in shared memory points into the caller's objects
            # (they are copied only as it is sent): taking more items now could change them
            # under it (a generator that refills one array), as the pipe, which pickles at
            # once, never lets happen
            return 0
        return max(0, 2 * self.workers - self.busy())

    def submit(self, batch: Batch) -> None:
        self._ensure_started()
        with self._spawning:
            self._promised = max(0, self._promised - 1)
        if batch.job.id in self._unloadable:  # (no more workers die unpickling it)
            self._outcomes.append(unloadable(batch))
            return
        try:
            packed = self._message(batch)
            if len(batch) > 1 and sum(b.nbytes for b in packed[2]) > _BATCH_BYTES:
                # (the batch sizes aimed at tiny tasks would give one worker most of the data
                # while the others wait, and grow its arena to match: halves instead)
                head, tail = _split(batch, len(batch) // 2)
                self.submit(head)
                self.submit(tail)
                return
            self._pending.append(packed)
        except Exception:
            self._outcomes.append(unpicklable_items(batch))
            return
        self._dispatch()

    def _message(self, batch: Batch) -> tuple[Batch, bytes, list[memoryview]]:
        """The batch's message, and the buffers that go into shared memory beside it."""
        return (batch, _repickle(batch), []) if self._threshold is None else self._pack(batch)

    def _pack(self, batch: Batch) -> tuple[Batch, bytes, list[memoryview]]:
        """The batch's message and the large buffers that go beside it (none: the message is
        the plain pickle, so a batch of small items costs what it did without shared memory)."""
        job = batch.job.id
        dump = functools.partial(
            _oob.dump,
            batch.items,
            batch.items,
            list,
            threshold=self._threshold or 0,
            hint=self._hints.get(job),
        )
        try:
            packed, hint = dump()
        except Exception:
            import cloudpickle  # (only for what the C pickler refused: it is not cheap)

            packed, hint = dump(dumps=cloudpickle.dumps)
        if hint is not None:
            self._hints[job] = hint
        if not packed.buffers:
            header = bytes([W.BATCH]) + W.BATCH_HEADER.pack(batch.job.id, batch.seq)
            return batch, header + packed.stream, []
        header = bytes([W.BATCH_OOB]) + W.BATCH_HEADER.pack(batch.job.id, batch.seq)
        places = _arena.pack_places(_arena.layout(packed.buffers), packed.kinds)
        return batch, header + places + packed.stream, packed.buffers

    def _job_blob(self, job: Job) -> bytes:
        blob = self._job_blobs.get(job.id)
        if blob is None:
            body = _transport.dumps_function((job.fn, job.mode, job.timeout is not None))
            blob = bytes([W.JOB]) + W.JOB_HEADER.pack(job.id) + body
            self._job_blobs[job.id] = blob
        return blob

    def _dispatch(self) -> None:
        while self._pending:
            batch, message, buffers = self._pending[0]
            # (the buffers count: a batch with any is never queued behind another, whose task
            # may still read the arena they are written into)
            worker = self._pick_worker(batch.job, len(message) + sum(b.nbytes for b in buffers))
            if worker is None:
                if self._grow():
                    continue
                return
            self._pending.popleft()
            room = None if self._max_tasks is None else self._max_tasks - worker.assigned
            if room is not None and room < len(batch):
                head, tail = _split(batch, room)
                self._pending.appendleft(self._message(tail))
                batch, message, buffers = self._message(head)
            self._send(worker, batch, message, buffers)

    def _pick_worker(self, job: Job, size: int) -> Handle | None:
        """A ready, idle worker; else, in a fresh pool without an initializer, one still
        starting, when what we would write (the job's function too, if that worker has not had
        it) fits in the socket buffer; else one running a single batch, on the same condition.
        """
        starting = second = None
        # only then: a batch written to a starting worker waits for its start, however long an
        # initializer or a replacement takes, while ready workers could run it
        early = self._init is None and not self._seen_ready
        blob = 0
        for w in self._pool:
            if w.retiring or w.dead:
                continue
            if job.id not in w.jobs and not blob:
                blob = len(self._job_blob(job))
            need = size if job.id in w.jobs else size + blob
            if not w.inflight:
                if w.ready:
                    return w
                # a starting worker reads its first batch as soon as it is ready, without a
                # round trip through us (a fresh pool's first result comes that much sooner);
                # if it dies starting, the batch runs again elsewhere, charged with nothing
                if early and starting is None and need <= _PIPELINE_BYTES:
                    starting = w
            elif (
                w.ready
                and second is None
                and len(w.inflight) == 1
                and need <= _PIPELINE_BYTES
                and w.inflight[0][1] <= _PIPELINE_BYTES
            ):
                second = w
        return starting or second

    def _send(self, w: Handle, batch: Batch, message: bytes, buffers: list[memoryview]) -> None:
        if buffers:
            message = self._ship(w, batch, message, buffers)
        size = len(message) + sum(b.nbytes for b in buffers)
        if batch.job.id not in w.jobs:
            size += len(self._job_blob(batch.job))
        w.inflight.append((batch, size))
        w.assigned += len(batch)
        try:
            if batch.job.id not in w.jobs:
                w.conn.send_bytes(self._job_blob(batch.job))
                w.jobs.add(batch.job.id)
            w.conn.send_bytes(message)
        except OSError:
            pass  # the worker is dead; its sentinel reports it and the batch is rerun
        if self._max_tasks is not None and w.assigned >= self._max_tasks:
            self._retire(w)

    def _ship(self, w: Handle, batch: Batch, message: bytes, buffers: list[memoryview]) -> bytes:
        """Copy the batch's large buffers into ``w``'s argument arena; the message to send.
        When shared memory cannot be had, the batch goes by the pipe (one warning per pool)."""
        assert w.link is not None
        try:
            w.link.ship(w.conn, buffers)
            return message
        except _arena.Unavailable as exc:
            self._fall_back(f"{sum(b.nbytes for b in buffers) / 1e6:.1f} MB of arguments: {exc}")
            return _repickle(batch)
        except OSError:  # (the worker is dead: its sentinel reports it, the batch runs again)
            return message

    def _fall_back(self, why: str) -> None:
        if self._fell_back:
            return
        self._fell_back = True
        import warnings  # (only on this rare path)

        warnings.warn(
            f"poolwise: shared memory could not be had ({why}); large buffers go through the "
            "pipe instead, more slowly (check the free memory, or pass shared_memory=False to "
            "silence this)",
            RuntimeWarning,
            stacklevel=2,
        )

    def _retire(self, w: Handle) -> None:
        """Let the worker finish what it holds, then exit; a replacement starts now."""
        if w.retiring:
            return
        w.retiring = True
        try:
            w.conn.send_bytes(bytes([W.STOP]))
        except OSError:
            pass
        if not self._closed:
            w.replaced = True
            self._spawn()

    def forget(self, job: Job) -> None:
        self._hints.pop(job.id, None)
        if self._job_blobs.pop(job.id, None) is None:
            return
        message = bytes([W.DROP]) + W.JOB_HEADER.pack(job.id)
        for w in self._pool:
            if job.id in w.jobs:
                w.jobs.discard(job.id)
                try:
                    w.conn.send_bytes(message)
                except OSError:
                    pass

    def cancel(self, owner: Any) -> list[Batch]:
        dropped = [p[0] for p in self._pending if p[0].owner is owner]
        self._pending = deque(p for p in self._pending if p[0].owner is not owner)
        return dropped

    def wake(self) -> None:
        try:
            os.write(self._wake_w, b"x")
        except OSError as exc:  # a full pipe already wakes; a closed one means shut down
            if exc.errno not in (errno.EAGAIN, errno.EBADF):
                raise

    def processes(self) -> dict[int, Any]:
        """The worker processes by pid (``multiprocessing`` Process objects)."""
        return {w.pid: w.proc for w in list(self._pool) if not w.dead}

    def worker_pids(self) -> list[int]:
        return [w.pid for w in list(self._pool) if not w.dead]

    def enable_stack_dumps(self) -> None:
        """Workers started from now on dump their stacks on SIGUSR1 (for the watchdog)."""
        if self._stack_dir is None:
            self._stack_dir = tempfile.mkdtemp(prefix="poolwise-stacks-")

    def worker_stacks(self, wait: float = 1.0) -> dict[int, str]:
        """Every worker's thread stacks, asked for with SIGUSR1 (faulthandler in the worker).
        Safe to call from another thread: it only signals and reads files."""
        asked = {}
        for w in list(self._pool):
            if w.stack_path and not w.dead:
                open(w.stack_path, "w").close()
                try:
                    os.kill(w.pid, signal.SIGUSR1)
                    asked[w.pid] = w.stack_path
                except OSError:
                    pass
        deadline = time.monotonic() + wait
        out: dict[int, str] = {}
        seen: dict[int, str] = {}
        while asked and time.monotonic() < deadline:
            for pid, path in list(asked.items()):
                with open(path) as fh:
                    text = fh.read()
                if "File " in text and text == seen.get(pid):  # (written, and no longer growing)
                    out[pid] = text
                    del asked[pid]
                seen[pid] = text
            time.sleep(0.02)
        for pid in asked:
            out[pid] = "(no answer)"
        return out

    # -- polling ---------------------------------------------------------------------------

    def poll(self, timeout: float | None) -> list[Outcome]:
        if self._broken is not None:
            raise self._broken
        if self._outcomes:
            timeout = 0.0
        out, self._outcomes = self._outcomes, []
        out.extend(self._poll_once(timeout))
        self._dispatch()
        if self._broken is not None:
            raise self._broken
        return out

    def _poll_once(self, timeout: float | None) -> list[Outcome]:
        outcomes: list[Outcome] = []
        deadline = self._next_deadline()
        if deadline is not None:
            left = max(0.0, deadline - time.monotonic())
            timeout = left if timeout is None else min(timeout, left)
        by_conn = {w.conn: w for w in self._pool}
        by_sentinel = {w.proc.sentinel: w for w in self._pool}
        waitables: list[Any] = [*by_conn, *by_sentinel, self._wake_r]
        ready = mpc.wait(waitables, timeout)
        dead: list[Handle] = []
        for obj in ready:
            if obj == self._wake_r:
                try:
                    os.read(self._wake_r, 4096)
                except OSError:
                    pass
            elif obj in by_conn:
                self._drain(by_conn[obj], outcomes)
            else:
                dead.append(by_sentinel[obj])  # type: ignore[index]
        dead.extend(self._enforce_timeouts())
        for w in dict.fromkeys(dead):
            self._drain(w, outcomes)
            self._bury(w, outcomes)
        return outcomes

    def _drain(self, w: Handle, outcomes: list[Outcome]) -> None:
        try:
            while w.conn.poll():
                self._handle(w, w.conn.recv_bytes(), outcomes)
        except (EOFError, OSError):
            pass

    def _handle(self, w: Handle, buf: bytes, outcomes: list[Outcome]) -> None:
        kind = buf[:1]
        if kind == W.RESULT:
            batch, _ = w.inflight.popleft()
            (seq,) = W.SEQ_HEADER.unpack_from(buf, 1)
            assert seq == batch.seq, (seq, batch.seq)
            payload = memoryview(buf)[1 + W.SEQ_HEADER.size :]
            outcomes.append(result_outcome(batch, payload, UnpicklingError))
        elif kind == W.RESULT_OOB:
            batch, _ = w.inflight.popleft()
            (seq,) = W.SEQ_HEADER.unpack_from(buf, 1)
            assert seq == batch.seq, (seq, batch.seq)
            assert w.link is not None
            view = memoryview(buf)
            arena = view[1 + W.SEQ_HEADER.size]
            places, kinds, at = _arena.unpack_places(view, 2 + W.SEQ_HEADER.size)
            # copied out now: the worker writes this arena again two batches on
            slices = w.link.readers[arena].slices(places)
            owned = [self._fresh.owned(v, k) for v, k in zip(slices, kinds)]
            _arena.release(slices)
            outcomes.append(result_outcome(batch, view[at:], UnpicklingError, owned))
        elif kind == _arena.NEW_SEGMENT:
            assert w.link is not None
            _arena.receive(w.conn, buf, w.link.readers)
        elif kind == _arena.PINNED:
            assert w.link is not None
            w.link.pinned = True
        elif kind == _arena.FELL_BACK:
            self._fall_back(f"a result: {bytes(buf[1:]).decode()}")
        elif kind == W.UNPICKLABLE:
            batch, _ = w.inflight.popleft()
            message = bytes(buf[1 + W.SEQ_HEADER.size :]).decode()
            outcomes.append(fail_or_split(batch, lambda: UnpicklingError(message)))
        elif kind == W.READY:
            w.ready = self._seen_ready = True
            self._early_deaths = 0
        elif kind == W.RETIRE:
            w.retiring = True
        elif kind == W.INIT_ERROR:
            exc, tb = pickle.loads(memoryview(buf)[1:])
            exc.__cause__ = remote_traceback(tb)
            err = WorkerInitError(f"the initializer failed in worker pid {w.pid}: {exc!r}")
            err.__cause__ = exc
            self._broken = err

    def _next_deadline(self) -> float | None:
        """When the next running task would time out."""
        now = time.monotonic()
        dues = [d for w in self._pool if w.inflight and not w.killed if (d := due(w, now))]
        return None if not dues else max(min(dues), now + 0.001)

    def _enforce_timeouts(self) -> list[Handle]:
        killed = []
        now_ns = time.monotonic_ns()
        for w in self._pool:
            if w.inflight and not w.killed and not w.dead and overdue(w, now_ns):
                self._kill(w)
                w.proc.join()
                killed.append(w)
        return killed

    def _bury(self, w: Handle, outcomes: list[Outcome]) -> None:
        """A worker exited: account for every batch it held, then replace it."""
        w.dead = True
        w.proc.join()
        exitcode = w.proc.exitcode
        w.conn.close()
        if w.link is not None:
            w.link.close()
        self._pool.remove(w)
        if w.inflight and w.slot[W.SLOT_POS] == W.PHASE_LOADING:  # its function kills workers
            self._unloadable.add(w.inflight[0][0].job.id)
        outcomes.extend(outcomes_of(w, exitcode))
        if not w.ready and exitcode != -signal.SIGKILL:
            # dying before ready on its own (not killed from outside, as SIGKILL would be)
            # means the worker cannot start, e.g. its initializer crashes the process
            self._early_deaths += 1
            if self._early_deaths > 10 * self.workers and self._broken is None:
                self._broken = WorkerInitError(
                    f"{self._early_deaths} workers in a row exited before they were ready "
                    "(the last "
                    f"{describe_exit(exitcode, killed_by_us=False)}); check the initializer "
                    "and that the worker processes can start"
                )
        if not (self._closed or self._broken or w.replaced):
            self._spawn()


def _split(batch: Batch, k: int) -> tuple[Batch, Batch]:
    """Two batches from one; the owner (a JobRun) now awaits an outcome for each."""
    idx = list(batch.indices)
    head = Batch(batch.job, idx[:k], batch.items[:k], batch.suspect, batch.owner)
    tail = Batch(batch.job, idx[k:], batch.items[k:], batch.suspect, batch.owner)
    if batch.owner is not None:
        batch.owner.replaced(batch, (head, tail))
    return head, tail


def _repickle(batch: Batch) -> bytes:
    header = bytes([W.BATCH]) + W.BATCH_HEADER.pack(batch.job.id, batch.seq)
    return header + _transport.dumps(batch.items)
