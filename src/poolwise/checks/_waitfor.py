"""The wait-for graph of ``lock_order``: deadlocks that have formed, reported, then broken.

A thread that blocks on a tracked lock registers what it waits for. Following each waited
lock to its holder, and what that holder waits for, may lead back to the thread: a wait-for
cycle. A cycle is not always a deadlock: a plain ``Lock`` may be released by a thread that
does not hold it (a lock used as a signal, or handed off), so a thread may wait for a lock it
holds itself, legally, until another thread lets it go. poolwise interrupts a program only
when the deadlock has formed for certain:

- every lock in the cycle is one only its holder releases (an ``RLock``, a Condition's default
  lock, a plain ``Lock`` held by a ``with`` block and never released by another thread), and
  the cycle has two threads or more; or
- no other thread could release anything: every other live thread is blocked, without a
  timeout, on a held tracked lock, or joins a thread that is.

Then the cycle is reported with the stack of every thread in it, and the acquisition of the
thread that found it raises ``PotentialDeadlock``; the report says so. Otherwise the threads
wait as they would untracked, and the watchdog shows what each waits for. A blocked thread
looks again every ``_POLL`` seconds, since holders change while it waits.

Not covered: a lock released from a signal handler, or by a thread with no Python frame.
"""

from __future__ import annotations

import itertools
import sys
import threading
import traceback
from types import FrameType
from typing import TYPE_CHECKING

from poolwise._errors import PotentialDeadlock
from poolwise.checks._tracked import TrackedRLock, _allocate

if TYPE_CHECKING:
    from poolwise.checks._tracked import _Tracked

_POLL = 0.05  # seconds between wait-for checks of a blocked acquisition
# poolwise's own watching threads, which never release the program's locks
HELPERS = ("poolwise-watchdog", "poolwise-check-timeout")
_THREADING = threading.__file__


class WaitFor:
    """Who waits for which tracked lock now, and the deadlocks that formed."""

    def __init__(self) -> None:
        self.waiting: dict[int, _Tracked] = {}
        self.timed: set[int] = set()
        self.deadlocks: list[str] = []
        self._guard = _allocate()
        # a new number at every change of ``waiting``: a scan that saw the same number before
        # and after saw one state (registering takes no lock: contended acquires stay cheap)
        self._ticks = itertools.count()
        self._stamp = next(self._ticks)

    def wait(self, lock: _Tracked, tid: int, timeout: float) -> bool:
        """Block for ``lock``; raise PotentialDeadlock once a deadlock has formed around it."""
        timed = timeout >= 0
        self.waiting[tid] = lock
        if timed:
            self.timed.add(tid)
        self._stamp = next(self._ticks)
        try:
            if timed:
                # a timed wait ends by itself: it is visible to the watchdog, never interrupted
                return bool(lock._inner.acquire(True, timeout))
            while True:
                # the thread that closes a cycle finds it here at once (each thread registers
                # before it looks); the poll catches cycles that become certain later
                if self._cycle(tid) is not None:
                    text = self._formed(tid)
                    if text is not None:
                        raise PotentialDeadlock(text)
                if lock._inner.acquire(True, _POLL):
                    return True
        finally:
            self.waiting.pop(tid, None)
            self.timed.discard(tid)
            self._stamp = next(self._ticks)

    def _formed(self, tid: int) -> str | None:
        """The report of a deadlock through ``tid`` that has formed for certain, if any. The
        thread that finds it leaves the wait-for graph at once (under the guard), so the others
        in the cycle see it broken and only one thread is interrupted."""
        with self._guard:
            stamp = self._stamp
            path = self._cycle(tid)
            if path is None:
                return None
            owners = [lock._owner for _, lock in path]
            threads = [t for t, _ in path]
            if len(threads) >= 2 and all(lock.bound for _, lock in path):
                why = (
                    "every lock in it is released only by its holder (an RLock, or a Lock "
                    "held by a with block)"
                )
            elif self._everyone_stuck(set(threads)):
                why = "no other thread could release any of its locks: every thread was blocked"
            else:
                return None
            if self._stamp != stamp or owners != [lock._owner for _, lock in path]:
                return None  # something moved while we looked: look again at the next poll
            text = _describe(path, why)
            self.deadlocks.append(text)
            self.waiting.pop(tid, None)
            self._stamp = next(self._ticks)
            return text

    def _cycle(self, tid: int) -> list[tuple[int, _Tracked]] | None:
        """(thread, lock it waits for) around a wait-for cycle through ``tid``, or None."""
        path: list[tuple[int, _Tracked]] = []
        seen: set[int] = set()
        t = tid
        while t not in seen:
            seen.add(t)
            lock = self.waiting.get(t)
            if lock is None or t in self.timed:
                return None
            owner = lock._owner
            if owner is None:
                return None  # just released: the waiter takes it at its next try
            path.append((t, lock))
            if owner == tid:
                return path
            t = owner
        return None  # a cycle that does not pass through tid: its own threads report it

    def _everyone_stuck(self, stuck: set[int]) -> bool:
        """Every live thread, but poolwise's helpers, is blocked for good."""
        frames = sys._current_frames()
        names = {th.ident: th.name for th in threading.enumerate()}
        others = {i for i in frames if i not in stuck and names.get(i) not in HELPERS}
        blocked = {
            i
            for i in others
            if i in self.waiting and i not in self.timed and self.waiting[i]._owner is not None
        }
        stuck |= blocked
        others -= blocked
        joins = {i: _joined(frames[i]) for i in others}
        grew = True
        while others and grew:  # joiners of stuck threads are stuck too
            grew = False
            for i in list(others):
                if joins[i] in stuck:
                    stuck.add(i)
                    others.discard(i)
                    grew = True
        return not others

    def waits(self) -> dict[int, str]:
        """Thread id -> the tracked lock it is blocked on, and its owner, right now."""
        names = {t.ident: t.name for t in threading.enumerate()}
        out = {}
        for tid, lock in list(self.waiting.items()):
            owner = lock._owner
            out[tid] = f"waiting for {lock.name}, held by thread {names.get(owner, owner)!r}"
        return out


def _joined(frame: FrameType | None) -> int | None:
    """The ident of the thread this stack waits for in ``Thread.join()`` without a timeout."""
    while frame is not None:
        code = frame.f_code
        if code.co_name == "join" and code.co_filename == _THREADING:
            target = frame.f_locals.get("self")
            if frame.f_locals.get("timeout") is None and isinstance(target, threading.Thread):
                return target.ident
            return None
        frame = frame.f_back
    return None


def _describe(path: list[tuple[int, _Tracked]], why: str) -> str:
    names = {t.ident: t.name for t in threading.enumerate()}
    frames = sys._current_frames()
    me = threading.get_ident()
    steps = [
        f"thread {names.get(t, t)!r} waits for {lock.name}, held by thread "
        f"{names.get(lock._owner, lock._owner)!r}"
        for t, lock in path
    ]
    lines = ["deadlock: " + "; ".join(steps), f"  It has formed: {why}."]
    for t, lock in path:
        frame = sys._getframe(1) if t == me else frames.get(t)
        kind = "RLock" if isinstance(lock, TrackedRLock) else "lock"
        lines.append(f"  thread {names.get(t, t)!r}, waiting for the {kind} {lock.name}:")
        lines.append("    " + _stack(frame).rstrip().replace("\n", "\n    "))
    me_name = names.get(me, me)
    lines.append(
        f"  poolwise interrupted the program: the acquisition in thread {me_name!r} raised "
        "PotentialDeadlock, so that the deadlock ends instead of hanging."
    )
    return "\n".join(lines)


def _stack(frame: FrameType | None) -> str:
    if frame is None:
        return "(no stack: the thread has no Python frame)"
    here = __file__.rsplit("/", 1)[0]
    frames = [
        fr
        for fr in traceback.extract_stack(frame, limit=24)
        if not fr.filename.startswith(here)
        and not (fr.filename == _THREADING and fr.name in ("_bootstrap", "_bootstrap_inner", "run"))
        and not fr.filename.startswith("<frozen")
    ]
    return "".join(traceback.format_list(frames[-8:]))
