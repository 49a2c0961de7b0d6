"""Blame: which task a dead or overdue worker process held, and what becomes of its batches.

The pool (``_process``) keeps a ``Handle`` per worker; the worker writes its progress into the
handle's shared-memory slot (batch seq, phase or item position, start time: see ``_worker``).
When a worker dies, or runs a task past its timeout, these functions read the slot and turn
every batch it held into an outcome:

- the batch it was running: the task it held fails (``WorkerCrashed``, or ``TaskTimeout`` when
  we killed it), the others run again; in a fast batch the slot names only the batch, so its
  tasks run again as two halves, a half that crashes again splits again, down to the single
  task, which then fails alone (log2(n) rounds; a crash that does not repeat, such as a worker
  killed from outside, fails no task at all);
- a batch it had not started, or any batch of a worker that retired cleanly: runs again,
  charged with nothing.
"""

from __future__ import annotations

import signal
from collections import deque
from concurrent.futures.process import BrokenProcessPool
from multiprocessing.process import BaseProcess
from typing import Any

from poolwise import _errors
from poolwise._errors import TaskTimeout
from poolwise.backends import _worker as W
from poolwise.backends._base import Batch, Outcome, TaskError
from poolwise.backends._core import fail_or_split


class WorkerCrashed(_errors.WorkerCrashed, BrokenProcessPool):
    """``poolwise.WorkerCrashed`` from a worker process: also a ``BrokenProcessPool``, so code
    written for ``ProcessPoolExecutor`` that catches that still catches it (though here only
    the task the worker held fails, and the pool goes on)."""


class UnpicklingError(_errors.PicklingError, BrokenProcessPool):
    """``poolwise.PicklingError`` for an argument or result that could not be unpickled on
    the other side: also a ``BrokenProcessPool``, as the standard library raises then."""


def describe_exit(exitcode: int | None, *, killed_by_us: bool) -> str:
    if exitcode is None:
        return "stopped responding"
    if exitcode >= 0:
        return f"exited with code {exitcode}"
    try:
        name = signal.Signals(-exitcode).name
    except ValueError:
        name = f"signal {-exitcode}"
    hint = " (possibly out of memory)" if name == "SIGKILL" and not killed_by_us else ""
    return f"was killed by {name}{hint}"


class Handle:
    """One worker process as the parent sees it. (A plain class, not a dataclass: creating one
    at import costs time on the path of a fresh program's first result.)"""

    __slots__ = (
        "assigned",
        "conn",
        "dead",
        "inflight",
        "jobs",
        "killed",
        "link",
        "proc",
        "ready",
        "replaced",
        "retiring",
        "slot",
        "slot_memory",
        "stack_path",
    )

    def __init__(
        self,
        proc: BaseProcess,
        conn: Any,
        slot: memoryview,
        slot_memory: Any,  # owns the slot's memory: freed (and reused) once this is collected
        stack_path: str | None = None,
    ) -> None:
        self.proc = proc
        self.conn = conn
        self.slot = slot
        self.slot_memory = slot_memory
        self.stack_path = stack_path
        self.inflight: deque[tuple[Batch, int]] = deque()  # (batch, message size)
        self.jobs: set[int] = set()
        self.assigned = 0  # tasks sent to it, for max_tasks_per_child
        self.ready = False
        self.retiring = False
        self.replaced = False  # a replacement was already started
        self.dead = False  # its sentinel fired (checked without a waitpid syscall)
        self.killed: tuple[str, int, int] | None = None  # ("timeout", seq, pos) when we killed it
        self.link: Any = None  # its shared-memory arenas (an _arena.Link), when on

    @property
    def pid(self) -> int:
        return self.proc.pid or 0


def due(w: Handle, now: float) -> float | None:
    """When the task ``w`` runs would time out (time.monotonic is the worker's clock), or
    None when its batch has no timeout."""
    batch = w.inflight[0][0]
    limit = batch.job.timeout
    if limit is None:
        return None
    if w.slot[W.SLOT_SEQ] == batch.seq and w.slot[W.SLOT_POS] >= 0:
        return float(w.slot[W.SLOT_T0] / 1e9 + limit)
    return now + min(limit / 4, 0.05)  # not started yet: look again soon (it sends no message)


def overdue(w: Handle, now_ns: int) -> bool:
    """Whether ``w`` runs a task past its timeout; marks it ``killed`` if so."""
    batch = w.inflight[0][0]
    limit = batch.job.timeout
    if limit is None:
        return False
    seq, pos, t0 = w.slot[W.SLOT_SEQ], w.slot[W.SLOT_POS], w.slot[W.SLOT_T0]
    if seq != batch.seq or pos < 0 or now_ns - t0 <= limit * 1e9:
        return False
    if w.slot[W.SLOT_SEQ] != seq or w.slot[W.SLOT_POS] != pos:
        return False  # it moved on while we looked
    w.killed = ("timeout", seq, pos)
    return True


def outcomes_of(w: Handle, exitcode: int | None) -> list[Outcome]:
    """An outcome for every batch the exited worker ``w`` held."""
    outcomes = []
    clean = w.retiring and exitcode == 0 and w.killed is None
    first = True
    while w.inflight:
        batch, _ = w.inflight.popleft()
        if clean or not first or not w.ready:  # (not ready: it never read the batch)
            outcomes.append(Outcome(batch, [None] * len(batch), rerun=list(range(len(batch)))))
            continue
        first = False
        outcomes.append(_crashed(w, batch, exitcode))
    return outcomes


def unloadable(batch: Batch) -> Outcome:
    """A batch of a job whose function killed a worker as it was unpickled: every task fails
    at once."""
    lost = WorkerCrashed(
        f"a worker died while unpickling the function of item {batch.indices[0]}; no task of "
        "this function can run (is its module importable in the workers, and does unpickling "
        "it work there?)",
        index=batch.indices[0],
    )
    return Outcome(
        batch, [None] * len(batch), dict.fromkeys(range(len(batch)), TaskError(lost, ""))
    )


# signals that come from outside the task: another program, an operator, the OOM killer
_OUTSIDE = {-signal.SIGKILL, -signal.SIGTERM, -signal.SIGINT, -signal.SIGHUP}


def _crashed(w: Handle, batch: Batch, exitcode: int | None) -> Outcome:
    seq, pos = w.slot[W.SLOT_SEQ], w.slot[W.SLOT_POS]
    how = describe_exit(exitcode, killed_by_us=w.killed is not None)
    n = len(batch)
    if pos == W.PHASE_LOADING:  # unpickling the job's function killed it: every task fails
        lost = WorkerCrashed(
            f"worker pid {w.pid} {how} while unpickling the function of item "
            f"{batch.indices[0]}; no task of this function can run",
            index=batch.indices[0],
            pid=w.pid,
            exitcode=exitcode,
        )
        return Outcome(batch, [None] * n, dict.fromkeys(range(n), TaskError(lost, "")))
    if w.killed is None and exitcode in _OUTSIDE and not batch.suspect:
        # killed from outside: no task's fault yet; all run again, once, on a fresh worker
        # (the split marks them suspect: killed again, the task fails)
        return Outcome(batch, [None] * n, rerun=list(range(n)), split=True)
    if seq == batch.seq and pos == W.PHASE_RUNNING:
        if n > 1:  # somewhere in a fast batch: bisect (halves run again; a crash splits on)
            return Outcome(batch, [None] * n, rerun=list(range(n)), split=True)
        pos = 0
    if seq == batch.seq and 0 <= pos < n:
        index = batch.indices[pos]
        exc: BaseException
        if w.killed is not None:
            limit = batch.job.timeout
            exc = TaskTimeout(
                f"item {index} ran longer than the timeout of {limit:g} s; worker pid "
                f"{w.pid} and its child processes were killed and replaced",
                index=index,
                seconds=limit,
            )
        else:
            exc = WorkerCrashed(
                f"worker pid {w.pid} {how} while running item {index}",
                index=index,
                pid=w.pid,
                exitcode=exitcode,
            )
        rerun = [i for i in range(n) if i != pos]
        return Outcome(batch, [None] * n, {pos: TaskError(exc, "")}, rerun)
    phase = {
        W.PHASE_UNPICKLE: "while unpickling its arguments",
        W.PHASE_PICKLE: "while pickling its result",
    }.get(pos if seq == batch.seq else None, "before starting it")  # type: ignore[arg-type]

    def crash() -> BaseException:
        index = batch.indices[0]
        return WorkerCrashed(
            f"worker pid {w.pid} {how} {phase}: item {index}",
            index=index,
            pid=w.pid,
            exitcode=exitcode,
        )

    if phase == "before starting it" and not batch.suspect:
        return Outcome(batch, [None] * n, rerun=list(range(n)), split=True)
    return fail_or_split(batch, crash)
