"""The tracked locks that stand in for ``threading``'s inside ``lock_order``, and their hot path.

A tracked lock keeps the thread id of its holder. The locks held right now, by any thread,
are one module-level set (blocks do not nest), so an uncontended ``with lock:`` costs one
thread-id lookup, one set add and one discard; a held lock is some thread's when that thread
is its owner. ``_preds`` holds the locks already seen held when this one was taken: an edge is
recorded (with a stack) only the first time. The graph that receives edges and blocked waits
is ``_GRAPH``, the active block's (see ``_lockorder``); it clears ``_preds`` when its block
ends, so that the next block records its edges afresh.

How a lock is held matters to the wait-for check (``_waitfor``): an RLock only its holder can
release; a plain Lock any thread can (a lock used as a signal, or handed off). ``_loose`` says
the current holding came from ``acquire()`` rather than a ``with`` block; ``_signal`` says the
lock has been released by a thread that did not take it, and then its holding orders nothing.
"""

from __future__ import annotations

import _thread
from typing import TYPE_CHECKING, Any

if TYPE_CHECKING:
    from poolwise.checks._lockorder import LockOrderGraph

_get_ident = _thread.get_ident
_allocate = _thread.allocate_lock
_BRIEF = 0.002  # seconds a contended acquire waits before it registers in the wait-for graph

# The state of the active block, read by the hot path at global-lookup speed. Outside a block
# _LOCKED is a spare set that nobody reads.
_GRAPH: LockOrderGraph | None = None
_LOCKED: set[_Tracked] = set()
_locked_add = _LOCKED.add
_locked_discard = _LOCKED.discard


def switch(graph: LockOrderGraph | None) -> None:
    """Make ``graph`` the one that receives edges and waits (None: no block is active)."""
    global _GRAPH, _LOCKED, _locked_add, _locked_discard
    _LOCKED = set()
    _locked_add, _locked_discard = _LOCKED.add, _LOCKED.discard
    _GRAPH = graph


def active() -> LockOrderGraph | None:
    return _GRAPH


def _note_edges(lock: _Tracked, tid: int) -> None:
    """``lock`` is about to be taken by thread ``tid``: an edge from each lock it holds."""
    graph = _GRAPH
    if graph is None:
        return
    preds = lock._preds
    for h in tuple(_LOCKED):
        if h._owner == tid and h not in preds and h is not lock and not h._signal:
            graph._edge(h, lock)


def _wait(lock: _Tracked, tid: int, timeout: float) -> bool:
    graph = _GRAPH
    if graph is None:
        return bool(lock._inner.acquire(True, timeout))
    if 0 <= timeout <= _BRIEF:
        return bool(lock._inner.acquire(True, timeout))
    if lock._inner.acquire(True, _BRIEF):
        return True  # a brief wait, as untracked: most contention ends within it
    return graph._wait(lock, tid, timeout if timeout < 0 else timeout - _BRIEF)


class _Tracked:
    """Bookkeeping shared by the tracked lock types. The hot path is kept short on purpose:
    the goal is under 2x the cost of an untracked lock in a lock-heavy loop."""

    __slots__ = ("_inner", "_loose", "_owner", "_preds", "_signal", "name")

    def __init__(self, name: str, inner: Any = None) -> None:
        self._inner = _allocate() if inner is None else inner
        self._owner: int | None = None  # the thread id of the holder
        self._preds: set[_Tracked] = set()
        self._loose = False
        self._signal = False
        self.name = name

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

    @property
    def bound(self) -> bool:
        """Only the holder will release it (so a wait for it ends only if the holder moves)."""
        return not self._loose and not self._signal


class TrackedLock(_Tracked):
    """Stands in for ``threading.Lock`` during ``lock_order``."""

    __slots__ = ()

    def acquire(self, blocking: bool = True, timeout: float = -1) -> bool:
        if self._take(blocking, timeout):
            self._loose = True  # maybe a signal: another thread may release it
            return True
        return False

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
        owner = self._owner
        if owner is not None and owner != _get_ident():
            self._signal = True  # released by a thread that did not take it: a signal
        self._owner = None
        self._loose = False
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

    def __init__(self, name: str, inner: Any = None) -> None:
        super().__init__(name, inner)
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

    def locked(self) -> bool:
        return self._owner is not None

    def _is_owned(self) -> bool:
        return self._owner == _get_ident()

    def _release_save(self) -> tuple[int, int | None]:
        # Condition.wait: release fully, remembering the recursion depth (and, as CPython's
        # RLock does, the owner, which 3.14's Condition passes back)
        count, owner, self._count = self._count, self._owner, 0
        self._drop()
        self._inner.release()
        return count, owner

    def _acquire_restore(self, state: Any) -> None:
        self._take(True, -1)
        self._count = state[0] if isinstance(state, tuple) else state

    def _recursion_count(self) -> int:
        return self._count if self._owner == _get_ident() else 0

    def _at_fork_reinit(self) -> None:
        self._inner = _allocate()
        self._owner = None
        self._count = 0


class FreeLock:
    """The never-contended inner lock of a semaphore's graph node (the semaphore blocks)."""

    def acquire(self, blocking: bool = True, timeout: float = -1) -> bool:
        return True

    def release(self) -> None:
        pass

    def locked(self) -> bool:
        return False


class RLockAsLock:
    """An existing RLock used as the plain inner lock of a TrackedRLock (``instrument=``)."""

    def __init__(self, rlock: Any) -> None:
        self._rlock = rlock

    def acquire(self, blocking: bool = True, timeout: float = -1) -> bool:
        return bool(self._rlock.acquire(blocking, timeout))

    def release(self) -> None:
        self._rlock.release()

    def locked(self) -> bool:
        return bool(getattr(self._rlock, "locked", lambda: False)())
