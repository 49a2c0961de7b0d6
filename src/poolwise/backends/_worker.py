"""The loop a worker process runs. Kept small and light to import: it is the child's only code.

Protocol (one message per ``send_bytes``; first byte is the kind, then a struct header):

parent -> worker                        worker -> parent
  J job_id  cloudpickled (fn, mode)       R                 ready (initializer done)
  B job_id seq  pickled list of items     I                 initializer failed: (exc, tb)
  D job_id  forget the job                O seq  pickled (values, errors, elapsed)
  S         stop                          U seq  the items could not be unpickled: message
  P job_id seq  places  stream            X                 retiring after this batch: reason
  M arena gen size  + descriptor          Q seq arena  places  stream
                                          M arena gen size  + descriptor
                                          K                 a task kept an argument's memory
                                          W                 a result took the pipe: why

``P`` and ``Q`` are a batch and a result whose large buffers are in shared memory (``_arena``,
``_oob``): the message has each buffer's place and kind, then the pickle stream; ``M``
announces a new segment for an arena, its descriptor following on the socket. Arguments are
read through read-only views of the parent's arena (numpy arrays arrive as zero-copy views);
once the batch is done the views are released, and if a task kept one (``K``) the parent
writes the next batch into a new segment. Results go into two arenas in turn: the parent
holds at most two batches at a worker and copies a result out as it reads it, so the arena a
result is written into is always free.

Before unpickling batch ``seq`` the worker writes ``slot[0] = seq, slot[1] = -1``; before
pickling the results ``slot[1] = -2``; while unpickling a job's function ``slot[1] = -5``.
The slot is shared memory that only this worker writes and that needs no lock, so when the
worker dies the parent reads which batch it held and in which phase. Inside the batch there
are two ways to run:

- a job with a timeout runs item by item, writing ``slot[2]`` = the monotonic clock in ns and
  then ``slot[1] = i`` before item ``i`` (:func:`mark`): the parent knows which task runs and
  since when;
- otherwise the batch runs at C speed, ``values.extend(map(fn, items))``, with
  ``slot[1] = -4`` (somewhere in the batch). An exception stops ``extend`` with the results
  so far kept, so its position is still exact; only a crash leaves the position unknown, and
  the parent then bisects (see ``_process``). The per-item bookkeeping would cost about as much
  as a tiny task itself.
"""

from __future__ import annotations

import os
import pickle
import signal
import struct
import sys
import time
from typing import Any

from poolwise.backends import _arena, _native, _oob
from poolwise.backends._core import (
    PROTOCOL,
    JobCache,
    dump_results,
    pack_error,
    run_fast,
    run_timed,
)

JOB = b"J"[0]
BATCH = b"B"[0]
BATCH_OOB = b"P"[0]
SEGMENT = _arena.NEW_SEGMENT[0]
DROP = b"D"[0]
STOP = b"S"[0]
READY = b"R"
INIT_ERROR = b"I"
RESULT = b"O"
RESULT_OOB = b"Q"
UNPICKLABLE = b"U"
RETIRE = b"X"

JOB_HEADER = struct.Struct("<I")
BATCH_HEADER = struct.Struct("<IQ")
SEQ_HEADER = struct.Struct("<Q")

PHASE_UNPICKLE = -1
PHASE_PICKLE = -2
PHASE_IDLE = -3
PHASE_RUNNING = -4
PHASE_LOADING = -5
SLOT_SEQ, SLOT_POS, SLOT_T0 = 0, 1, 2
SLOT_WORDS = 4


def _watch_owner(owner_pid: int) -> None:
    """Under forkserver or spawn our parent is not the pool's owner, and multiprocessing hands
    every worker a copy of the forkserver's liveness pipe, so the forkserver outlives a killed
    owner and PR_SET_PDEATHSIG never fires. A daemon thread waits on a pidfd of the owner
    instead (no CPU while waiting) and takes the worker's process group down with it."""
    import threading  # (only under forkserver or spawn)

    def watch() -> None:
        try:
            import select  # (the worker's start-up stays light)

            fd = os.pidfd_open(owner_pid)
            select.select([fd], [], [])
        except ProcessLookupError:
            pass
        except (AttributeError, OSError):  # no pidfd: poll
            while True:
                time.sleep(0.5)
                try:
                    os.kill(owner_pid, 0)
                except ProcessLookupError:
                    break
                except OSError:
                    continue
        os.killpg(0, signal.SIGKILL)

    threading.Thread(target=watch, name="poolwise-owner-watch", daemon=True).start()


def _set_parent_death_signal(sig: int) -> None:
    """prctl(PR_SET_PDEATHSIG, sig): the kernel kills us when the parent dies.

    Through ``_ctypes``, the C core of ctypes: importing the ``ctypes`` package costs about a
    millisecond and a half, on the path of a fresh pool's first result (under fork the parent
    has loaded ``_ctypes`` before forking, so it costs the worker nothing). ``ctypes`` is the
    fallback should those functions ever change."""
    try:
        import _ctypes  # (see the docstring)

        main_program = _ctypes.dlopen(None, os.RTLD_NOW)  # type: ignore[arg-type]
        _ctypes.call_function(_ctypes.dlsym(main_program, "prctl"), (1, int(sig)))
        return
    except (ImportError, AttributeError, OSError, TypeError):
        pass
    try:
        import ctypes  # (the fallback)

        ctypes.CDLL(None, use_errno=True).prctl(1, int(sig))
    except (OSError, AttributeError):
        pass


def _harden(parent_pid: int | None, owner_pid: int) -> None:
    """Die with the parent, stay out of the terminal's Ctrl-C, lead our own process group."""
    signal.signal(signal.SIGINT, signal.SIG_IGN)
    try:
        os.setpgid(0, 0)  # the parent kills the group: the worker and what its tasks started
    except OSError:
        pass
    if sys.platform == "linux":
        _set_parent_death_signal(signal.SIGKILL)
        if parent_pid is not None and os.getppid() != parent_pid:  # died before prctl
            os._exit(1)
    if parent_pid is None:
        _watch_owner(owner_pid)


def _rss_bytes() -> int:
    try:
        with open("/proc/self/statm", "rb") as fh:
            return int(fh.read().split()[1]) * os.sysconf("SC_PAGE_SIZE")
    except (OSError, ValueError, IndexError):
        import psutil  # (a fallback off Linux: the worker's start-up stays light)

        return int(psutil.Process().memory_info().rss)


def slot_view(slot: Any) -> memoryview:
    """A worker's slot (an anonymous shared ``mmap``, or a ``multiprocessing.heap``
    ``BufferWrapper``) as int64 words."""
    raw = slot.create_memoryview() if hasattr(slot, "create_memoryview") else memoryview(slot)
    view: memoryview = raw.cast("q")
    return view


def main(
    conn: Any,
    slot: Any,
    initializer: Any,
    max_memory: int | None,
    parent_pid: int | None,
    stack_path: str | None,
    owner_pid: int = 0,
    threshold: int | None = None,
    native: tuple[int, dict[str, str], int | None] | None = None,
) -> None:
    """Entry point of a worker process. Exits with os._exit: the parent's atexit hooks and
    buffered files inherited through fork must not run here."""
    try:
        _harden(parent_pid, owner_pid)
        if native is not None:
            _native.enter_worker(*native)
        if stack_path:
            import faulthandler  # (only for the watchdog)

            # appending: the parent empties the file before each request, and a write at the
            # old offset would pad the new dump with NUL bytes
            faulthandler.register(signal.SIGUSR1, file=open(stack_path, "a"), all_threads=True)  # noqa: SIM115
        _serve(conn, slot_view(slot), initializer, max_memory, threshold)
    finally:
        try:
            sys.stdout.flush()
            sys.stderr.flush()
        finally:
            os._exit(0)


def mark(slot: Any, i: int, clock: Any) -> None:
    """Item ``i`` starts now. The start time is written before the position: a parent reading
    between the two sees the previous item starting late (it waits a little longer), never
    item ``i`` with the previous item's start (it would kill a healthy task)."""
    slot[SLOT_T0] = clock()
    slot[SLOT_POS] = i


class _Results:
    """A worker's way back for results: large buffers into its two result arenas in turn
    (``threshold`` None: always the pipe)."""

    def __init__(self, conn: Any, threshold: int | None) -> None:
        self.conn = conn
        self.threshold = threshold
        self.writers = [_arena.Writer(1), _arena.Writer(2)]
        self.turn = 0
        self.hints: dict[int, str] = {}  # per job: how its results pickled (_oob.dump)
        self.broken = False  # an arena could not be had: the pipe from now on

    def message(
        self,
        job_id: int,
        seq: int,
        values: list[Any],
        errors: Any,
        elapsed: float,
        arguments: Any = None,
    ) -> bytes:
        """The result message for a batch, its large buffers already in an arena.
        ``arguments``: the mapping the batch's arguments were read from, if any."""
        writer = self.writers[self.turn]
        self.turn ^= 1  # (the batch after next may write this arena again)
        packed = None
        if arguments is not None:
            # (an argument returned as it came is read-only: as through the pipe, the caller
            # gets a writable array)
            values = _oob.own_arguments(values, arguments)
        if self.threshold is not None and not self.broken:
            try:
                packed, hint = _oob.dump(
                    (values, errors, elapsed),
                    values,
                    lambda v: (v, errors, elapsed),
                    threshold=self.threshold,
                    hint=self.hints.get(job_id),
                )
            except (Exception, SystemExit):  # (dump_results reports it, task by task)
                packed = None
            else:
                if hint is not None:
                    self.hints[job_id] = hint
        if packed is not None and packed.buffers:
            try:
                if writer.reserve(_arena.room(packed.buffers)):
                    _arena.announce(self.conn, writer)
                writer.write(packed.buffers)
            except _arena.Unavailable as exc:
                self.broken = True
                self.conn.send_bytes(_arena.FELL_BACK + str(exc).encode())
            else:
                head = RESULT_OOB + SEQ_HEADER.pack(seq) + bytes([writer.index])
                places = _arena.pack_places(_arena.layout(packed.buffers), packed.kinds)
                return head + places + packed.stream
        if packed is not None and not packed.buffers:
            payload = packed.stream  # (no buffer large enough: the plain stream)
        else:
            payload = dump_results(values, errors, elapsed)
        return RESULT + SEQ_HEADER.pack(seq) + payload


def _serve(
    conn: Any,
    slot: memoryview,
    initializer: Any,
    max_memory: int | None,
    threshold: int | None = None,
) -> None:
    slot[SLOT_POS] = PHASE_IDLE
    if initializer is not None:
        try:
            # pickled (fn, args); or the pickled fn and args that came as the process's own
            # arguments (a multiprocessing Queue can only travel that way)
            if isinstance(initializer, bytes):
                init, initargs = pickle.loads(initializer)
            else:
                init, initargs = pickle.loads(initializer[0]), initializer[1]
            init(*initargs)
        except BaseException as exc:
            import logging  # (only on this path: the worker's start-up stays light)

            # as the standard library's workers do (code written for it listens there)
            logging.getLogger("concurrent.futures").critical(
                "Exception in initializer:", exc_info=True
            )
            # the initializer's own resources (a Queue the log went to) are flushed as at a
            # normal exit, before the parent hears of the failure: main() ends with os._exit
            from multiprocessing import util

            util._run_finalizers()  # type: ignore[attr-defined]
            conn.send_bytes(INIT_ERROR + pickle.dumps(pack_error(exc), PROTOCOL))
            return
    conn.send_bytes(READY)
    results = _Results(conn, threshold)
    arguments = [_arena.Reader()]  # (the parent's argument arena)
    jobs = JobCache()  # (dropped one by one as the parent ends jobs: no limit)
    monotonic_ns = time.monotonic_ns
    perf = time.perf_counter

    def before(i: int) -> bool:
        mark(slot, i, monotonic_ns)
        return True

    while True:
        try:
            buf = conn.recv_bytes()
        except (EOFError, OSError):
            return
        kind = buf[0]
        if kind in (BATCH, BATCH_OOB):
            job_id, seq = BATCH_HEADER.unpack_from(buf, 1)
            slot[SLOT_SEQ] = seq
            slot[SLOT_POS] = PHASE_UNPICKLE
            views: list[memoryview] = []
            try:
                if kind == BATCH:
                    items = pickle.loads(memoryview(buf)[1 + BATCH_HEADER.size :])
                else:
                    places, _, at = _arena.unpack_places(memoryview(buf), 1 + BATCH_HEADER.size)
                    views = arguments[0].slices(places)
                    items = _oob.loads(memoryview(buf)[at:], views)
            except BaseException as exc:
                _arena.release(views)
                msg = f"cannot unpickle the arguments in the worker: {type(exc).__name__}: {exc}"
                conn.send_bytes(UNPICKLABLE + SEQ_HEADER.pack(seq) + msg.encode())
                results.turn ^= 1
                continue
            del buf
            fn, timed = jobs.get(job_id)
            t0 = perf()
            if timed:
                values: list[Any] = []
                errors: dict[int, tuple[BaseException, str]] = {}
                run_timed(fn, items, values, errors, pack_error, before)
            else:
                slot[SLOT_POS] = PHASE_RUNNING
                values, errors = run_fast(fn, items, pack_error)
            elapsed = perf() - t0
            retire = next(
                (
                    f"the task raised {type(e).__name__}"
                    for e, _ in errors.values()
                    if isinstance(e, (SystemExit, KeyboardInterrupt))
                ),
                "",
            )
            slot[SLOT_POS] = PHASE_PICKLE
            del items
            message = results.message(
                job_id,
                seq,
                values,
                errors or None,
                elapsed,
                arguments[0].mapping if views else None,
            )
            del values, errors
            # (before the result: once the parent has it, it may write this worker's arena)
            if views:
                _arena.release(views)
                del views
                if arguments[0].in_use():
                    conn.send_bytes(_arena.PINNED)
            conn.send_bytes(message)
            del message
            slot[SLOT_POS] = PHASE_IDLE
            if max_memory is not None and not retire:
                rss = _rss_bytes()
                if rss > max_memory:
                    retire = f"resident memory {rss / 1e6:.0f} MB passed max_memory_per_child"
            if retire:
                conn.send_bytes(RETIRE + retire.encode())
                return
        elif kind == SEGMENT:
            _arena.receive(conn, buf, arguments)
        elif kind == JOB:
            (job_id,) = JOB_HEADER.unpack_from(buf, 1)
            slot[SLOT_POS] = PHASE_LOADING  # (a function whose unpickling kills the process)
            jobs.put(job_id, bytes(memoryview(buf)[1 + JOB_HEADER.size :]))
            slot[SLOT_POS] = PHASE_IDLE
        elif kind == DROP:
            (job_id,) = JOB_HEADER.unpack_from(buf, 1)
            jobs.drop(job_id)
            results.hints.pop(job_id, None)
        elif kind == STOP:
            return
