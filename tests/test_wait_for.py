"""lock_order's wait-for graph: a deadlock that formed is reported with every stack, then
interrupted; a wait that another thread may still end is left alone.

(A deadlock that only "every thread blocked" proves is tested in a child process, in
tests/test_cli_check.py: this process may hold other tests' threads.)"""

from __future__ import annotations

import threading
from typing import Any

import pytest

import poolwise
from poolwise.checks import _waitfor


def _deadlock(first_pair: tuple[Any, Any], second_pair: tuple[Any, Any]) -> list[BaseException]:
    """Two threads each take one lock, meet at a barrier, then take the other's."""
    errors: list[BaseException] = []
    both_hold_one = threading.Barrier(2)

    def take(first: Any, second: Any) -> None:
        try:
            with first:
                both_hold_one.wait()
                with second:  # the deadlock forms here
                    pass
        except poolwise.PotentialDeadlock as exc:
            errors.append(exc)

    ts = [
        threading.Thread(target=take, args=pair, name=name)
        for pair, name in ((first_pair, "one"), (second_pair, "two"))
    ]
    for t in ts:
        t.start()
    for t in ts:
        t.join()
    return errors


def test_formed_deadlock_is_reported_with_both_stacks_then_interrupted() -> None:
    with poolwise.lock_order(raise_on_exit=False) as graph:
        a, b = threading.Lock(), threading.Lock()
        errors = _deadlock((a, b), (b, a))
    # exactly one thread was interrupted; the other then went on
    assert len(errors) == 1 and graph.deadlocks == [str(errors[0])]
    text = graph.deadlocks[0]
    assert "thread 'one' waits for" in text and "thread 'two' waits for" in text
    assert text.count("in take") == 2  # each thread's stack
    assert text.count("with second:  # the deadlock forms here") == 2
    assert "It has formed" in text and "poolwise interrupted the program" in text
    assert "raised PotentialDeadlock" in text
    # and the lock-order cycle behind it is reported too
    assert len(graph.cycles()) == 1


def test_formed_deadlock_through_an_rlock_and_a_condition() -> None:
    with poolwise.lock_order(raise_on_exit=False) as graph:
        r, cond = threading.RLock(), threading.Condition()
        errors = _deadlock((r, cond), (cond, r))
    assert len(errors) == 1, errors
    assert "RLock#" in str(errors[0]) and "Condition#" in str(errors[0])
    assert len(graph.cycles()) == 1


def test_owner_waiting_on_its_own_lock_until_another_thread_releases_it() -> None:
    # a lock used as a signal: legal, and the program runs as it would untracked
    with poolwise.lock_order() as graph:
        lock = threading.Lock()
        lock.acquire()
        waiting = threading.Event()

        def release_when_waited_for() -> None:
            waiting.wait()
            lock.release()

        t = threading.Thread(target=release_when_waited_for)
        t.start()
        waiting.set()
        lock.acquire()  # blocks until the other thread's release
        lock.release()
        t.join()
    assert not graph.found and not graph.deadlocks


def test_a_cycle_another_thread_may_still_end_is_not_interrupted(
    monkeypatch: pytest.MonkeyPatch,
) -> None:
    # the main thread waits on a signal lock it holds; a helper, busy elsewhere (on an untracked
    # gate), releases it later. Several checks of the cycle pass first, none interrupts.
    monkeypatch.setattr(_waitfor, "_POLL", 0.001)
    checks = threading.Semaphore(0)
    formed = _waitfor.WaitFor._formed

    def counting(self: _waitfor.WaitFor, tid: int) -> str | None:
        text = formed(self, tid)
        checks.release()
        return text

    monkeypatch.setattr(_waitfor.WaitFor, "_formed", counting)
    gate = threading.Event()  # made before the block: untracked
    with poolwise.lock_order() as graph:
        signal = threading.Lock()
        signal.acquire()

        def helper() -> None:
            for _ in range(5):  # five checks of the main thread's cycle
                checks.acquire()
            gate.wait()
            signal.release()

        t = threading.Thread(target=helper)
        t.start()
        gate.set()
        signal.acquire()  # its own lock: a one-thread wait-for cycle, until the helper releases
        signal.release()
        t.join()
    assert not graph.deadlocks


def test_a_timed_wait_is_never_interrupted() -> None:
    with poolwise.lock_order(raise_on_exit=False) as graph:
        lock = threading.Lock()
        with lock:
            assert not lock.acquire(timeout=0.01)
    assert not graph.deadlocks


def test_the_watchdog_reads_who_waits_for_what() -> None:
    with poolwise.lock_order() as graph:
        lock = threading.Lock()
        lock.acquire()
        t = threading.Thread(target=lambda: lock.acquire(timeout=60), name="blocked")
        t.start()
        while not graph.waiting:
            threading.Event().wait(0.001)
        (why,) = graph.waits().values()
        lock.release()
        t.join()
        lock.release()
    assert why.startswith("waiting for Lock#") and "held by thread 'MainThread'" in why
