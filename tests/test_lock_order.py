"""lock_order: cycles in the lock-order graph, blocks that follow blocks, what is covered.
(Deadlocks that form are tests/test_wait_for.py; legal patterns tests/test_lock_order_legal.py.)"""

from __future__ import annotations

import queue
import threading
import types
from collections.abc import Callable

import pytest

import poolwise
from tests.catalogue.locks import LOCK_PROGRAMS, module_locks_inversion, three_lock_cycle


@pytest.mark.parametrize("program", LOCK_PROGRAMS, ids=lambda p: p.__name__)
def test_bug_is_found_though_the_run_did_not_hang(program: Callable[[bool], None]) -> None:
    with pytest.raises(poolwise.PotentialDeadlock, match="lock-order cycle"), poolwise.lock_order():
        program(False)


@pytest.mark.parametrize("program", LOCK_PROGRAMS, ids=lambda p: p.__name__)
def test_correct_twin_is_not_flagged(program: Callable[[bool], None]) -> None:
    with poolwise.lock_order() as graph:
        program(True)
    assert graph.edges and not graph.cycles(), graph.report()


def test_module_locks_inversion_is_found_in_every_later_block() -> None:
    for correct in (True, False, True, False):  # the locks are made in the first block only
        with poolwise.lock_order(raise_on_exit=False) as graph:
            module_locks_inversion(correct)
        assert len(graph.cycles()) == (0 if correct else 1), graph.report()


def test_report_gives_the_stack_of_each_edge() -> None:
    with poolwise.lock_order(raise_on_exit=False) as graph:
        a, b = threading.Lock(), threading.Lock()
        with a, b:  # first order
            pass
        with b, a:  # second order
            pass
    (cycle,) = graph.cycles()
    assert len(cycle.locks) == 2 and len(cycle.edges) == 2
    text = graph.report()
    assert "# first order" in text and "# second order" in text
    assert text.count("taken while holding") == 2
    assert "test_lock_order.py" in cycle.locks[0]  # where the lock was created


def test_three_lock_cycle_is_one_cycle_of_three() -> None:
    with poolwise.lock_order(raise_on_exit=False) as graph:
        three_lock_cycle(False)
    (cycle,) = graph.cycles()
    assert len(cycle.locks) == 3


def test_inversion_on_locks_an_earlier_block_saw_is_found() -> None:
    # the case: A->B in one block, then A->B and B->A in the next
    with poolwise.lock_order():
        a, b = threading.Lock(), threading.Lock()
        with a, b:
            pass
    with poolwise.lock_order(raise_on_exit=False) as graph:
        with a, b:
            pass
        with b, a:
            pass
    assert len(graph.cycles()) == 1, graph.report()
    assert len(graph.edges) == 2


def test_each_block_reports_only_its_own_edges() -> None:
    with poolwise.lock_order(raise_on_exit=False) as first:
        a, b = threading.Lock(), threading.Lock()
        with a, b:
            pass
    with poolwise.lock_order(raise_on_exit=False) as second, b, a:
        pass  # the other order, but the first is not in this block
    assert not first.cycles() and not second.cycles()
    assert [(e.first, e.second) for e in second.edges] == [(b.name, a.name)]  # type: ignore[attr-defined]


def test_a_lock_used_as_a_signal_orders_nothing() -> None:
    # the consumer "holds" the signal lock until the producer releases it: holding it while
    # taking the mutex is no order, so mutex -> signal elsewhere makes no cycle
    with poolwise.lock_order() as graph:
        signal, mutex = threading.Lock(), threading.Lock()
        signal.acquire()
        with mutex:  # signal -> mutex, recorded before the signal is known as one
            pass
        t = threading.Thread(target=signal.release)
        t.start()
        t.join()
        with mutex:
            signal.acquire()  # mutex -> signal
        signal.release()
    pairs = {(e.first, e.second) for e in graph.edges}
    names = signal.name, mutex.name  # type: ignore[attr-defined]
    assert {names, names[::-1]} <= pairs and not graph.cycles()


def test_a_semaphore_used_as_a_signal_orders_nothing() -> None:
    with poolwise.lock_order() as graph:
        ready, mutex = threading.Semaphore(0), threading.Lock()
        t = threading.Thread(target=ready.release)
        t.start()
        ready.acquire()  # the consumer now "holds" it; the producer released it
        t.join()
        with mutex:
            pass
        with mutex:
            t = threading.Thread(target=ready.release)
            t.start()
            ready.acquire()
            t.join()
    assert not graph.cycles(), graph.report()


def test_raise_on_exit_false_only_records() -> None:
    with poolwise.lock_order(raise_on_exit=False) as graph:
        LOCK_PROGRAMS[0](False)
    assert graph.found
    with pytest.raises(poolwise.PotentialDeadlock):
        graph.raise_if_found()


def test_own_exception_of_the_block_is_not_masked() -> None:
    with pytest.raises(KeyError), poolwise.lock_order():
        LOCK_PROGRAMS[0](False)
        raise KeyError("mine")


def test_semaphore_inversion() -> None:
    with poolwise.lock_order(raise_on_exit=False) as graph:
        sem, lock = threading.BoundedSemaphore(2), threading.Lock()
        with sem, lock:
            pass
        with lock, sem:
            pass
    assert len(graph.cycles()) == 1
    assert "BoundedSemaphore" in graph.report()


def test_condition_event_queue_handoffs_raise_nothing() -> None:
    # producer/consumer through stdlib objects made inside the block: no false cycle
    with poolwise.lock_order() as graph:
        q: queue.Queue[int] = queue.Queue(maxsize=2)
        done = threading.Event()
        cond = threading.Condition()
        seen: list[int] = []

        def consume() -> None:
            for _ in range(20):
                item = q.get()
                with cond:
                    seen.append(item)
                    cond.notify()
            done.set()

        t = threading.Thread(target=consume)
        t.start()
        for i in range(20):
            q.put(i)
        with cond:
            cond.wait_for(lambda: len(seen) == 20)
        done.wait()
        t.join()
    assert seen == list(range(20))
    assert not graph.cycles()


def test_timeouts_and_trylocks_behave_as_plain_locks() -> None:
    with poolwise.lock_order() as graph:
        a, b = threading.Lock(), threading.RLock()
        with a:
            assert not a.acquire(False)
            assert not a.acquire(timeout=0.01)
        with b, b:
            assert b._is_owned()  # type: ignore[attr-defined]
        # a trylock in the opposite order cannot wait, so it adds no edge
        with b, a:
            pass
        with a:
            assert b.acquire(blocking=False)
            b.release()
    assert not graph.cycles()


def test_lock_released_by_another_thread_works_as_untracked() -> None:
    with poolwise.lock_order() as graph:
        lock = threading.Lock()
        lock.acquire()
        t = threading.Thread(target=lock.release)
        t.start()
        t.join()
        assert not lock.locked()
        with lock:
            pass
    assert not graph.found


def test_threading_is_restored_and_locks_keep_working_after_the_block() -> None:
    real = threading.Lock, threading.RLock, threading.Condition, threading.Semaphore
    with poolwise.lock_order():
        kept = threading.Lock()
        assert threading.Lock is not real[0]
    assert (threading.Lock, threading.RLock, threading.Condition, threading.Semaphore) == real
    with kept:
        assert kept.locked()


def test_locks_made_before_the_block_need_instrument() -> None:
    mod = types.SimpleNamespace(a=threading.Lock(), b=threading.RLock())
    original = mod.a, mod.b

    def invert() -> None:
        with mod.a, mod.b:
            pass
        with mod.b, mod.a:
            pass

    with poolwise.lock_order() as graph:
        invert()  # not covered: created before the block
    assert not graph.edges
    with poolwise.lock_order(raise_on_exit=False, instrument=[mod]) as graph:
        invert()
        assert mod.a is not original[0]
    assert (mod.a, mod.b) == original
    assert len(graph.cycles()) == 1 and "Lock a" in graph.report()
    assert not original[0].locked()


def test_blocks_do_not_nest() -> None:
    with poolwise.lock_order(), pytest.raises(RuntimeError, match="nest"), poolwise.lock_order():
        pass
