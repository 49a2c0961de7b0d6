"""Lock-order bugs: each program takes locks in an order that can deadlock when ``correct`` is
False, and in one consistent order when True. They run in one thread and never hang: the
lock-order graph must still find the cycle (the lockdep idea)."""

from __future__ import annotations

import threading
from typing import Any


def ab_ba(correct: bool) -> None:
    a, b = threading.Lock(), threading.Lock()
    with a, b:
        pass
    first, second = (a, b) if correct else (b, a)
    with first, second:
        pass


def rlock_inversion(correct: bool) -> None:
    a, b = threading.RLock(), threading.RLock()
    with a, a, b:  # re-entrant on a, then b
        pass
    first, second = (a, b) if correct else (b, a)
    with first, second:
        pass


def condition_inversion(correct: bool) -> None:
    cond = threading.Condition()
    other = threading.Lock()
    with cond, other:
        cond.notify_all()
    first, second = (cond, other) if correct else (other, cond)
    with first, second:
        pass


def three_lock_cycle(correct: bool) -> None:
    a, b, c = threading.Lock(), threading.Lock(), threading.Lock()
    with a, b:
        pass
    with b, c:
        pass
    if correct:
        with a, c:
            pass
    else:
        with c, a:
            pass


def lock_in_callback(correct: bool) -> None:
    registry_lock, state_lock = threading.Lock(), threading.Lock()
    callbacks: list[Any] = []

    def on_event() -> None:
        with state_lock:
            pass

    callbacks.append(on_event)
    with registry_lock:  # callbacks run while the registry is locked: registry -> state
        for cb in callbacks:
            cb()
    if correct:
        with registry_lock, state_lock:
            pass
    else:
        with state_lock, registry_lock:  # state -> registry: the inversion
            pass


LOCK_PROGRAMS = [ab_ba, rlock_inversion, condition_inversion, three_lock_cycle, lock_in_callback]
