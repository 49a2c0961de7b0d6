"""``lock_order``: the lock-order graph (lockdep's idea) and a wait-for graph, for threads.

While the block runs, ``threading.Lock``, ``RLock``, ``Condition``, ``Semaphore`` and
``BoundedSemaphore`` make tracked locks (``_tracked``). Each blocking acquisition records an
edge from every lock the thread already holds to the lock it takes, with the stack where that
edge first appeared. A cycle in that graph (A then B in one place, B then A in another) is a
deadlock waiting for the wrong interleaving, reported even if this run did not hang. A thread
that blocks also registers what it waits for (``_waitfor``): a deadlock that has actually
formed is reported with the stack of every thread in it, and only then interrupted.

Covered: locks made by calling the ``threading`` attributes during this block or an earlier
``lock_order`` block (by any thread, including library code that calls ``threading.Lock()`` at
run time, such as ``queue.Queue`` and ``threading.Event``), and existing Lock and RLock
attributes of the objects and modules passed as ``instrument=``. Not covered: other locks made
before the block, ``from threading import Lock`` names bound before it, ``_thread`` locks and
locks in C extensions. Locks are nodes by identity (not by class as in Linux's lockdep), and
trylocks (``blocking=False``) add no edge, since they cannot wait. Each block records its own
graph: a lock made in one block and used in the next starts the next with no edges.

A lock or semaphore released by a thread that did not take it is a signal (a hand-off, a
producer waking a consumer), not a critical section: holding it orders nothing, so no edge
leads from it. A semaphore is one node, held from acquire to release by its latest acquirer;
it takes part in the lock-order graph but not in the wait-for graph (it has no single owner to
wait for). Edges whose locks are always taken under one common outer lock (a gate) are still
reported, as lockdep does.

Cost: an uncontended ``with lock:`` around a dict update takes about 1.9x as long as untracked,
an empty one 2x (bench/checks.py);
the work is one thread-id lookup and one set insert and removal per acquisition, and a stack
capture only the first time an edge is seen.
"""

from __future__ import annotations

import sys
import threading
import traceback
from collections.abc import Iterable, Iterator
from contextlib import contextmanager
from dataclasses import dataclass
from typing import Any

from poolwise._errors import PotentialDeadlock
from poolwise.checks import _tracked
from poolwise.checks._tracked import (
    FreeLock,
    RLockAsLock,
    TrackedLock,
    TrackedRLock,
    _allocate,
    _get_ident,
    _note_edges,
    _Tracked,
)
from poolwise.checks._waitfor import WaitFor

_REAL = {
    name: getattr(threading, name)
    for name in ("Lock", "RLock", "Condition", "Semaphore", "BoundedSemaphore")
}
_RealCondition: Any = _REAL["Condition"]
_RealSemaphore: Any = _REAL["Semaphore"]
_HERE = __file__.rsplit("/", 1)[0]  # poolwise's checks: their frames say nothing about order


@dataclass(frozen=True)
class Edge:
    """``second`` was taken while ``first`` was held, first seen in ``thread`` at ``stack``."""

    first: str
    second: str
    thread: str
    stack: str


@dataclass(frozen=True)
class Cycle:
    """Locks taken in orders that form a cycle; ``edges[i]`` leads from lock i to lock i+1."""

    locks: tuple[str, ...]
    edges: tuple[Edge, ...]

    def __str__(self) -> str:
        names = " -> ".join((*self.locks, self.locks[0]))
        lines = [f"potential deadlock: lock-order cycle {names}"]
        for e in self.edges:
            lines.append(f"  {e.second} taken while holding {e.first}, in thread {e.thread!r}:")
            lines.append("    " + e.stack.rstrip().replace("\n", "\n    "))
        return "\n".join(lines)


class LockOrderGraph:
    """What ``lock_order`` recorded: the lock-order edges, their cycles, and actual deadlocks.

    Attributes:
        edges: every (first, second) lock pair seen, with the stack where it first appeared.
        deadlocks: reports of deadlocks that formed, each with every thread's stack; poolwise
            interrupted each one (PotentialDeadlock raised in one of its threads).
    """

    def __init__(self) -> None:
        self.active = False
        self._waits = WaitFor()
        self._edges: dict[tuple[_Tracked, _Tracked], Edge] = {}
        self._guard = _allocate()
        self._counter = 0

    @property
    def deadlocks(self) -> list[str]:
        return self._waits.deadlocks

    @property
    def waiting(self) -> dict[int, _Tracked]:
        """Thread id -> the tracked lock it is blocked on now."""
        return self._waits.waiting

    # -- recording ------------------------------------------------------------------------

    def _name(self, kind: str) -> str:
        with self._guard:
            self._counter += 1
            n = self._counter
        where = _caller_site()
        return f"{kind}#{n} ({where})" if where else f"{kind}#{n}"

    def _edge(self, first: _Tracked, second: _Tracked) -> None:
        """A new edge: ``second`` taken while ``first`` is held."""
        if first is second:
            return  # re-taking a held plain lock: the wait-for graph judges that one
        stack = _stack_text()
        with self._guard:
            if not self.active:
                return  # the block has ended: its locks' memory is being cleared
            self._edges.setdefault(
                (first, second),
                Edge(first.name, second.name, threading.current_thread().name, stack),
            )
            second._preds.add(first)

    def _wait(self, lock: _Tracked, tid: int, timeout: float) -> bool:
        return self._waits.wait(lock, tid, timeout)

    def _close(self) -> None:
        """The block ended: stop recording, and let each lock forget the edges it led to, so
        that a later block records them again (in its own graph)."""
        with self._guard:
            self.active = False
            for _, second in self._edges:
                second._preds.clear()

    # -- results --------------------------------------------------------------------------

    @property
    def edges(self) -> list[Edge]:
        return list(self._edges.values())

    def cycles(self) -> list[Cycle]:
        """Every elementary cycle of the lock-order graph (at most 100), shortest first.
        Edges from a lock that turned out to be a signal (released by another thread) are
        left out: holding such a lock orders nothing."""
        with self._guard:
            pairs = {k: v for k, v in self._edges.items() if not k[0]._signal}
        nodes = sorted({lock for pair in pairs for lock in pair}, key=lambda lk: lk.name)
        order = {lock: i for i, lock in enumerate(nodes)}
        succ: dict[_Tracked, list[_Tracked]] = {}
        for a, b in pairs:
            succ.setdefault(a, []).append(b)
        found: list[list[_Tracked]] = []

        def walk(start: _Tracked, path: list[_Tracked], on_path: set[_Tracked]) -> None:
            for nxt in succ.get(path[-1], ()):
                if len(found) >= 100:
                    return
                if nxt is start:
                    found.append(list(path))
                elif order[nxt] > order[start] and nxt not in on_path:
                    on_path.add(nxt)
                    path.append(nxt)
                    walk(start, path, on_path)
                    path.pop()
                    on_path.discard(nxt)

        for start in nodes:
            walk(start, [start], {start})
        found.sort(key=len)
        return [
            Cycle(
                tuple(lk.name for lk in c),
                tuple(pairs[(c[i], c[(i + 1) % len(c)])] for i in range(len(c))),
            )
            for c in found
        ]

    def report(self) -> str:
        """Plain text: every cycle with its edges' stacks, and every deadlock that formed."""
        cycles = self.cycles()
        if not cycles and not self.deadlocks:
            return f"no lock-order cycle among {len(self._edges)} lock-order edges"
        parts = [str(c) for c in cycles] + self.deadlocks
        return "\n\n".join(parts)

    @property
    def found(self) -> bool:
        return bool(self.deadlocks) or bool(self.cycles())

    def raise_if_found(self) -> None:
        """Raise PotentialDeadlock, with the report as its message, if there is a cycle."""
        if self.found:
            raise PotentialDeadlock(self.report())

    def waits(self) -> dict[int, str]:
        """Thread id -> the tracked lock it is blocked on, and its owner, right now."""
        return self._waits.waits()


# -- the factories patched into threading ----------------------------------------------------


def active_graph() -> LockOrderGraph | None:
    """The graph of the ``lock_order`` block running now, if any (the watchdog asks it)."""
    return _tracked.active()


def _factories(graph: LockOrderGraph) -> dict[str, Any]:
    def lock() -> TrackedLock:
        return TrackedLock(graph._name("Lock"))

    def rlock(*args: Any, **kwargs: Any) -> TrackedRLock:
        return TrackedRLock(graph._name("RLock"))

    class Condition(_RealCondition):  # type: ignore[misc]
        def __init__(self, lock: Any = None) -> None:
            super().__init__(TrackedRLock(graph._name("Condition")) if lock is None else lock)

    class Semaphore(_RealSemaphore):  # type: ignore[misc]
        # held from acquire to release, like a lock; its internals are plain locks, which add
        # nothing to the graph (and the real __init__ would make tracked ones)
        _kind = "Semaphore"

        def __init__(self, value: int = 1) -> None:
            if value < 0:
                raise ValueError("semaphore initial value must be >= 0")
            self._cond = _RealCondition(_allocate())
            self._value = value
            self._track = TrackedLock(graph._name(self._kind), FreeLock())
            self._holders: dict[int, int] = {}  # thread id -> acquisitions not yet released

        def acquire(self, blocking: bool = True, timeout: float | None = None) -> bool:
            # one graph node per semaphore, owned by its latest acquirer (no wait-for check:
            # a semaphore has no single owner to wait for)
            tid = _get_ident()
            track = self._track
            if _tracked._LOCKED and blocking:
                _note_edges(track, tid)
            if not super().acquire(blocking, timeout):
                return False
            with self._cond:
                self._holders[tid] = self._holders.get(tid, 0) + 1
            track._owner = tid
            _tracked._locked_add(track)
            return True

        def __enter__(self) -> bool:
            return self.acquire()

        def release(self, n: int = 1) -> None:
            super().release(n)
            self._untrack(n)

        def _untrack(self, n: int) -> None:
            tid = _get_ident()
            with self._cond:
                held = self._holders.get(tid, 0)
                if held < n:
                    # released by a thread that did not take it: a signal, ordering nothing
                    self._track._signal = True
                if held > n:
                    self._holders[tid] = held - n
                    return
                self._holders.pop(tid, None)
            if self._track._owner == tid:
                self._track._drop()

    class BoundedSemaphore(Semaphore):
        _kind = "BoundedSemaphore"

        def __init__(self, value: int = 1) -> None:
            super().__init__(value)
            self._initial_value = value

        def release(self, n: int = 1) -> None:
            if n < 1:
                raise ValueError("n must be one or more")
            with self._cond:
                if self._value + n > self._initial_value:
                    raise ValueError("Semaphore released too many times")
                self._value += n
                self._cond.notify(n)
            self._untrack(n)

    return {
        "Lock": lock,
        "RLock": rlock,
        "Condition": Condition,
        "Semaphore": Semaphore,
        "BoundedSemaphore": BoundedSemaphore,
    }


def _instrument(graph: LockOrderGraph, targets: Iterable[Any]) -> list[tuple[Any, str, Any]]:
    """Wrap existing Lock and RLock attributes of ``targets``; return what to restore."""
    lock_type = type(_allocate())
    rlock_type = type(_REAL["RLock"]())
    undo = []
    for obj in targets:
        for attr, value in list(vars(obj).items()):
            if isinstance(value, lock_type):
                wrapper: _Tracked = TrackedLock(graph._name(f"Lock {attr}"), value)
            elif isinstance(value, rlock_type):
                # the wrapper's own count; the existing RLock is taken once per outer acquire
                wrapper = TrackedRLock(graph._name(f"RLock {attr}"), RLockAsLock(value))
            else:
                continue
            undo.append((obj, attr, value))
            setattr(obj, attr, wrapper)
    return undo


@contextmanager
def lock_order(
    *, raise_on_exit: bool = True, instrument: Iterable[Any] = ()
) -> Iterator[LockOrderGraph]:
    """Record the order in which threads take locks; report cycles as potential deadlocks.

    Inside the block, ``threading.Lock``, ``RLock``, ``Condition``, ``Semaphore`` and
    ``BoundedSemaphore`` create tracked locks. A deadlock that has formed (threads waiting for
    each other, none able to move) is recorded with every thread's stack, and the acquisition
    of one of its threads raises PotentialDeadlock, which ends it.

    Args:
        raise_on_exit: when the block ends (without an exception of its own) and the
            lock-order graph has a cycle, raise PotentialDeadlock with every cycle and the
            stacks of its edges. False: only record; read ``graph.cycles()``.
        instrument: objects or modules whose existing Lock/RLock attributes are tracked
            for the duration of the block (they are swapped for wrappers, then restored).

    Yields:
        The LockOrderGraph being recorded.

    Raises:
        PotentialDeadlock: see ``raise_on_exit``.
        RuntimeError: when another ``lock_order`` block is already active.
    """
    if _tracked.active() is not None:
        raise RuntimeError("lock_order blocks do not nest")
    graph = LockOrderGraph()
    saved = {name: getattr(threading, name) for name in _REAL}
    undo = _instrument(graph, instrument)
    graph.active = True
    _tracked.switch(graph)
    for name, factory in _factories(graph).items():
        setattr(threading, name, factory)
    try:
        yield graph
    finally:
        for name, value in saved.items():
            setattr(threading, name, value)
        for obj, attr, value in undo:
            setattr(obj, attr, value)
        _tracked.switch(None)
        graph._close()
    if raise_on_exit:
        graph.raise_if_found()


# -- stacks -----------------------------------------------------------------------------------


def _caller_site() -> str:
    f = sys._getframe(1)
    while f is not None and (
        f.f_code.co_filename.startswith(_HERE)
        or f.f_code.co_filename.endswith(("threading.py", "queue.py"))
    ):
        f = f.f_back  # type: ignore[assignment]
    if f is None:
        return ""
    return f"{f.f_code.co_filename.rsplit('/', 1)[-1]}:{f.f_lineno} in {f.f_code.co_name}"


def _stack_text() -> str:
    frames = [
        fr
        for fr in traceback.extract_stack(sys._getframe(2), limit=16)
        if not _plumbing(fr.filename, fr.name)
    ]
    return "".join(traceback.format_list(frames[-8:]))


def _plumbing(filename: str, name: str) -> bool:
    """Frames of thread start-up, runpy and poolwise itself, which say nothing about order."""
    return (
        filename.startswith(_HERE)
        or filename.startswith("<frozen")
        or (filename.endswith("threading.py") and name in ("_bootstrap", "_bootstrap_inner", "run"))
    )
