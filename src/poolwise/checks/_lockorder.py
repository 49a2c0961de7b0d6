"""``lock_order``: the lock-order graph (lockdep's idea) and a wait-for graph, for threads.

While the block runs, ``threading.Lock``, ``RLock``, ``Condition``, ``Semaphore`` and
``BoundedSemaphore`` make tracked locks. Each blocking acquisition records an edge from every
lock the thread already holds to the lock it takes, with the stack where that edge first
appeared. A cycle in that graph (A then B in one place, B then A in another) is a deadlock
waiting for the wrong interleaving, reported even if this run did not hang. A thread that
blocks also registers what it waits for: when the wait-for graph closes a cycle (it waits for a
lock whose owner waits, through others, for a lock it holds), the acquisition raises
PotentialDeadlock at once instead of hanging.

Covered: locks made by calling the ``threading`` attributes during this block or an earlier
``lock_order`` block (by any thread, including library code that calls ``threading.Lock()`` at
run time, such as ``queue.Queue`` and ``threading.Event``), and existing Lock and RLock
attributes of the objects and modules passed as ``instrument=``. Not covered: other locks made
before the block, ``from threading import Lock`` names bound before it, ``_thread`` locks and
locks in C extensions. Locks are nodes by identity (not by class as in Linux's lockdep), and
trylocks (``blocking=False``) add no edge, since they cannot wait. A semaphore is one node,
held from acquire to release by its latest acquirer; it takes part in the lock-order graph but
not in the wait-for graph (it has no single owner to wait for). Edges whose locks are always
taken under one common outer lock (a gate) are still reported, as lockdep does.

Cost: an uncontended ``with lock:`` takes about 1.4-1.8x as long as untracked (bench/checks.py);
the work is one thread-id lookup and one set insert and removal per acquisition, and a stack
capture only the first time an edge is seen.
"""

from __future__ import annotations

import _thread
import sys
import threading
import traceback
from collections.abc import Iterable, Iterator
from contextlib import contextmanager
from dataclasses import dataclass
from typing import Any

from poolwise._errors import PotentialDeadlock

_get_ident = _thread.get_ident
_allocate = _thread.allocate_lock
_REAL = {
    name: getattr(threading, name)
    for name in ("Lock", "RLock", "Condition", "Semaphore", "BoundedSemaphore")
}
_RealCondition: Any = _REAL["Condition"]
_RealSemaphore: Any = _REAL["Semaphore"]
_HERE = __file__
_BOOTSTRAP = __file__.replace("_lockorder.py", "_bootstrap.py")
_POLL = 0.05  # seconds between wait-for checks of a blocked acquisition (a backstop)


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


# The state of the active block. Blocks do not nest, so module globals serve, and the hot
# path reads them at global-lookup speed. _LOCKED holds every tracked lock some thread holds
# now (each knows its owner); a thread's held locks are those whose owner it is. Outside a
# block the set is a spare one that nobody reads.
_GRAPH: LockOrderGraph | None = None
_LOCKED: set[_Tracked] = set()
_locked_add = _LOCKED.add
_locked_discard = _LOCKED.discard


def _switch(graph: LockOrderGraph | None) -> None:
    global _GRAPH, _LOCKED, _locked_add, _locked_discard
    _LOCKED = set()
    _locked_add, _locked_discard = _LOCKED.add, _LOCKED.discard
    _GRAPH = graph


def _note_edges(lock: _Tracked, tid: int) -> None:
    """``lock`` is about to be taken by thread ``tid``: an edge from each lock it holds."""
    graph = _GRAPH
    if graph is None:
        return
    preds = lock._preds
    for h in tuple(_LOCKED):
        if h._owner == tid and h not in preds and h is not lock:
            graph._edge(h, lock)


def _wait(lock: _Tracked, tid: int, timeout: float) -> bool:
    graph = _GRAPH
    if graph is None:
        return bool(lock._inner.acquire(True, timeout))
    return graph._wait(lock, tid, timeout)


class _Tracked:
    """Bookkeeping shared by the tracked lock types. The hot path is kept short on purpose:
    the goal is under 2x the cost of an untracked lock in a lock-heavy loop."""

    __slots__ = ("_inner", "_owner", "_preds", "name")

    def __init__(self, graph: LockOrderGraph, kind: str, inner: Any = None) -> None:
        self._inner = _allocate() if inner is None else inner
        self._owner: int | None = None  # the thread id of the holder
        self._preds: set[_Tracked] = set()  # locks already seen held when this one was taken
        self.name = graph._name(kind)

    def __repr__(self) -> str:
        return f"<tracked {self.name}>"

    def _take(self, blocking: bool, timeout: float) -> bool:
        tid = _get_ident()
        if _LOCKED and blocking and not self._preds.issuperset(_LOCKED):
            _note_edges(self, tid)
        if not self._inner.acquire(False) and (not blocking or not _wait(self, tid, timeout)):
            return False
        self._owner = tid
        _locked_add(self)
        return True

    def _drop(self) -> None:
        # bookkeeping before the real release: then another thread may take it and own it
        self._owner = None
        _locked_discard(self)


class TrackedLock(_Tracked):
    """Stands in for ``threading.Lock`` during ``lock_order``."""

    __slots__ = ()

    def acquire(self, blocking: bool = True, timeout: float = -1) -> bool:
        return self._take(blocking, timeout)

    # __enter__ and __exit__ repeat _take and _drop inline: a call less each way
    def __enter__(self) -> bool:
        tid = _get_ident()
        if _LOCKED and not self._preds.issuperset(_LOCKED):
            # some lock is held that was never seen held before this one: maybe a new edge
            _note_edges(self, tid)
        if not self._inner.acquire(False):
            _wait(self, tid, -1)
        self._owner = tid
        _locked_add(self)
        return True

    def release(self) -> None:
        self._owner = None
        _locked_discard(self)
        self._inner.release()

    def __exit__(self, t: object, v: object, tb: object) -> None:
        self._owner = None
        _locked_discard(self)
        self._inner.release()

    def locked(self) -> bool:
        return bool(self._inner.locked())

    def _at_fork_reinit(self) -> None:
        self._inner = _allocate()
        self._owner = None


class TrackedRLock(_Tracked):
    """Stands in for ``threading.RLock`` (and a Condition's default lock) during ``lock_order``."""

    __slots__ = ("_count",)

    def __init__(self, graph: LockOrderGraph, kind: str = "RLock", inner: Any = None) -> None:
        super().__init__(graph, kind, inner)
        self._count = 0

    def acquire(self, blocking: bool = True, timeout: float = -1) -> bool:
        if self._owner == _get_ident():
            self._count += 1
            return True
        if self._take(blocking, timeout):
            self._count = 1
            return True
        return False

    __enter__ = acquire

    def release(self) -> None:
        if self._owner != _get_ident():
            raise RuntimeError("cannot release un-acquired lock")
        self._count -= 1
        if not self._count:
            self._drop()
            self._inner.release()

    def __exit__(self, t: object, v: object, tb: object) -> None:
        self.release()

    def _is_owned(self) -> bool:
        return self._owner == _get_ident()

    def _release_save(self) -> int:
        # Condition.wait: release fully, remembering the recursion depth
        count, self._count = self._count, 0
        self._drop()
        self._inner.release()
        return count

    def _acquire_restore(self, count: int) -> None:
        self._take(True, -1)
        self._count = count

    def _at_fork_reinit(self) -> None:
        self._inner = _allocate()
        self._owner = None
        self._count = 0


class LockOrderGraph:
    """What ``lock_order`` recorded: the lock-order edges, their cycles, and actual deadlocks.

    Attributes:
        edges: every (first, second) lock pair seen, with the stack where it first appeared.
        deadlocks: descriptions of wait-for cycles caught as they formed (each raised
            PotentialDeadlock in the thread that closed it).
    """

    def __init__(self) -> None:
        self.active = False
        self.waiting: dict[int, _Tracked] = {}
        self._edges: dict[tuple[_Tracked, _Tracked], Edge] = {}
        self.deadlocks: list[str] = []
        self._guard = _allocate()
        self._counter = 0

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
            return  # re-taking a held plain lock: the wait-for check reports that one
        stack = _stack_text()
        with self._guard:
            self._edges.setdefault(
                (first, second),
                Edge(first.name, second.name, threading.current_thread().name, stack),
            )
            second._preds.add(first)

    def _wait(self, lock: _Tracked, tid: int, timeout: float) -> bool:
        """Block for ``lock``; raise PotentialDeadlock if waiting would close a wait-for cycle."""
        self.waiting[tid] = lock
        try:
            if timeout is not None and timeout >= 0:
                # a timed wait ends by itself: it is visible to the watchdog, never refused
                return bool(lock._inner.acquire(True, timeout))
            while True:
                # the thread that closes a cycle finds it here at once (each thread registers
                # before it looks); the poll is a backstop for owners that change meanwhile
                cycle = self._wait_cycle(tid)
                if cycle is not None:
                    text = "deadlock: " + "; ".join(cycle) + " (raised instead of hanging)"
                    self.deadlocks.append(text)
                    raise PotentialDeadlock(text)
                if lock._inner.acquire(True, _POLL):
                    return True
        finally:
            del self.waiting[tid]

    def _wait_cycle(self, tid: int) -> list[str] | None:
        names = {t.ident: t.name for t in threading.enumerate()}
        steps: list[str] = []
        t: int | None = tid
        seen: set[int] = set()
        while t is not None and t not in seen:
            seen.add(t)
            lock = self.waiting.get(t)
            if lock is None:
                return None
            owner = lock._owner
            steps.append(
                f"thread {names.get(t, t)!r} waits for {lock.name}, "
                f"held by thread {names.get(owner, owner)!r}"
            )
            if owner == tid:
                return steps
            t = owner
        return None

    # -- results --------------------------------------------------------------------------

    @property
    def edges(self) -> list[Edge]:
        return list(self._edges.values())

    def cycles(self) -> list[Cycle]:
        """Every elementary cycle of the lock-order graph (at most 100), shortest first."""
        with self._guard:
            pairs = dict(self._edges)
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
        """Plain text: every cycle with its edges' stacks, and every deadlock caught."""
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
        names = {t.ident: t.name for t in threading.enumerate()}
        out = {}
        for tid, lock in list(self.waiting.items()):
            owner = lock._owner
            out[tid] = f"waiting for {lock.name}, held by thread {names.get(owner, owner)!r}"
        return out


# -- the factories patched into threading ----------------------------------------------------


def active_graph() -> LockOrderGraph | None:
    """The graph of the ``lock_order`` block running now, if any (the watchdog asks it)."""
    return _GRAPH


def _factories(graph: LockOrderGraph) -> dict[str, Any]:
    def lock() -> TrackedLock:
        return TrackedLock(graph, "Lock")

    def rlock(*args: Any, **kwargs: Any) -> TrackedRLock:
        return TrackedRLock(graph, "RLock")

    class Condition(_RealCondition):  # type: ignore[misc]
        def __init__(self, lock: Any = None) -> None:
            super().__init__(TrackedRLock(graph, "Condition") if lock is None else lock)

    class Semaphore(_RealSemaphore):  # type: ignore[misc]
        # held from acquire to release, like a lock; its internals are plain locks, which add
        # nothing to the graph (and the real __init__ would make tracked ones)
        _kind = "Semaphore"

        def __init__(self, value: int = 1) -> None:
            if value < 0:
                raise ValueError("semaphore initial value must be >= 0")
            self._cond = _RealCondition(_allocate())
            self._value = value
            self._track = TrackedLock(graph, self._kind, _FreeLock())

        def acquire(self, blocking: bool = True, timeout: float | None = None) -> bool:
            # one graph node per semaphore, owned by its latest acquirer (no wait-for check:
            # a semaphore has no single owner to wait for)
            tid = _get_ident()
            if _LOCKED and blocking:
                _note_edges(self._track, tid)
            if not super().acquire(blocking, timeout):
                return False
            self._track._owner = tid
            _locked_add(self._track)
            return True

        def __enter__(self) -> bool:
            return self.acquire()

        def release(self, n: int = 1) -> None:
            super().release(n)
            self._untrack()

        def _untrack(self) -> None:
            # a signalling semaphore is released by another thread: that ends the holding too
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
            self._untrack()

    return {
        "Lock": lock,
        "RLock": rlock,
        "Condition": Condition,
        "Semaphore": Semaphore,
        "BoundedSemaphore": BoundedSemaphore,
    }


class _FreeLock:
    """The never-contended inner lock of a semaphore's graph node (the semaphore blocks)."""

    def acquire(self, blocking: bool = True, timeout: float = -1) -> bool:
        return True

    def release(self) -> None:
        pass


def _instrument(graph: LockOrderGraph, targets: Iterable[Any]) -> list[tuple[Any, str, Any]]:
    """Wrap existing Lock and RLock attributes of ``targets``; return what to restore."""
    lock_type = type(_allocate())
    rlock_type = type(_REAL["RLock"]())
    undo = []
    for obj in targets:
        for attr, value in list(vars(obj).items()):
            if isinstance(value, lock_type):
                wrapper: _Tracked = TrackedLock(graph, f"Lock {attr}", value)
            elif isinstance(value, rlock_type):
                # the wrapper's own count; the existing RLock is taken once per outer acquire
                wrapper = TrackedRLock(graph, f"RLock {attr}", _RLockAsLock(value))
            else:
                continue
            undo.append((obj, attr, value))
            setattr(obj, attr, wrapper)
    return undo


class _RLockAsLock:
    """An existing RLock used as the plain inner lock of a TrackedRLock."""

    def __init__(self, rlock: Any) -> None:
        self._rlock = rlock

    def acquire(self, blocking: bool = True, timeout: float = -1) -> bool:
        return bool(self._rlock.acquire(blocking, timeout))

    def release(self) -> None:
        self._rlock.release()


@contextmanager
def lock_order(
    *, raise_on_exit: bool = True, instrument: Iterable[Any] = ()
) -> Iterator[LockOrderGraph]:
    """Record the order in which threads take locks; report cycles as potential deadlocks.

    Inside the block, ``threading.Lock``, ``RLock``, ``Condition``, ``Semaphore`` and
    ``BoundedSemaphore`` create tracked locks. An acquisition that would complete a wait-for
    cycle (an actual deadlock) raises PotentialDeadlock in the thread that closes it.

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
    if _GRAPH is not None:
        raise RuntimeError("lock_order blocks do not nest")
    graph = LockOrderGraph()
    saved = {name: getattr(threading, name) for name in _REAL}
    undo = _instrument(graph, instrument)
    _switch(graph)
    graph.active = True
    for name, factory in _factories(graph).items():
        setattr(threading, name, factory)
    try:
        yield graph
    finally:
        for name, value in saved.items():
            setattr(threading, name, value)
        for obj, attr, value in undo:
            setattr(obj, attr, value)
        graph.active = False
        _switch(None)
    if raise_on_exit:
        graph.raise_if_found()


# -- stacks -----------------------------------------------------------------------------------


def _caller_site() -> str:
    f = sys._getframe(1)
    while f is not None and (
        f.f_code.co_filename == _HERE or f.f_code.co_filename.endswith(("threading.py", "queue.py"))
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
        filename in (_HERE, _BOOTSTRAP)
        or filename.startswith("<frozen")
        or (filename.endswith("threading.py") and name in ("_bootstrap", "_bootstrap_inner", "run"))
    )
