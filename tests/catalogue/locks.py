"""Lock-order bugs: each program takes locks in an order that can deadlock when ``correct`` is
False, and in one consistent order when True. They never hang (the orders are taken one after
the other, in one thread or several): the lock-order graph must still find the cycle (the
lockdep idea). ``module_locks_inversion`` uses locks made the first time it runs, so every later
run (each in its own ``lock_order`` block) takes locks an earlier block has already seen."""

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


def inversion_across_threads(correct: bool) -> None:
    a, b = threading.Lock(), threading.Lock()
    first_done = threading.Event()

    def one() -> None:
        with a, b:
            pass
        first_done.set()

    def two() -> None:
        first_done.wait(30)  # one after the other: this run never hangs
        first, second = (a, b) if correct else (b, a)
        with first, second:
            pass

    ts = [threading.Thread(target=one), threading.Thread(target=two)]
    for t in ts:
        t.start()
    for t in ts:
        t.join(30)


def condition_wait_reacquires(correct: bool) -> None:
    # Condition.wait gives the condition's lock up and takes it back: taken back while another
    # lock is held, that is an order too (other -> cond), against cond -> other around it
    cond, other = threading.Condition(), threading.Lock()
    with cond:
        other.acquire()
        if correct:
            other.release()
            cond.wait(0)
        else:
            cond.wait(0)  # re-acquires cond while holding other
            other.release()


def semaphore_inversion(correct: bool) -> None:
    slots, lock = threading.BoundedSemaphore(1), threading.Lock()
    with slots, lock:
        pass
    first, second = (slots, lock) if correct else (lock, slots)
    with first, second:
        pass


_module_locks: list[Any] = []


def module_locks_inversion(correct: bool) -> None:
    if not _module_locks:
        _module_locks.extend((threading.Lock(), threading.RLock()))
    a, b = _module_locks
    with a, b:
        pass
    if not correct:
        with b, a:
            pass


LOCK_PROGRAMS = [
    ab_ba,
    rlock_inversion,
    condition_inversion,
    three_lock_cycle,
    lock_in_callback,
    inversion_across_threads,
    condition_wait_reacquires,
    semaphore_inversion,
    module_locks_inversion,
]
