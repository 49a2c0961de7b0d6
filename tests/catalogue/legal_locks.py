"""Legal lock patterns: each runs several threads through a correct use of the standard
library's locks (made inside the block, so tracked). ``lock_order`` must report nothing for
any of them, and must not change what they do: no exception, the same results.

Each case is ``run(carried)``; ``before()``, when given, runs in an earlier ``lock_order``
block and its return value is carried into the next (locks made in one block, used in the
next). Threads wait on gates (events, barriers, queues), never on sleeps.
"""

from __future__ import annotations

import concurrent.futures as cf
import queue
import threading
from collections.abc import Callable
from dataclasses import dataclass
from typing import Any

JOIN = 30.0  # seconds: a thread still alive after this is a hang, reported as a failure


def _start(*targets: Callable[[], Any]) -> list[threading.Thread]:
    ts = [threading.Thread(target=fn, name=f"legal-{i}") for i, fn in enumerate(targets)]
    for t in ts:
        t.start()
    return ts


def _join(ts: list[threading.Thread]) -> None:
    for t in ts:
        t.join(JOIN)
        if t.is_alive():
            raise AssertionError(f"thread {t.name} still running after {JOIN:g} s")


def _check(got: object, want: object) -> None:
    if got != want:
        raise AssertionError(f"expected {want!r}, got {got!r}")


# -- locks used as signals ---------------------------------------------------------------


def lock_as_signal(_: Any) -> None:
    """A thread waits on a lock it holds until another thread releases it."""
    done, waiting = threading.Lock(), threading.Event()
    done.acquire()
    result: list[int] = []

    def work() -> None:
        result.append(sum(range(100)))
        waiting.wait(JOIN)
        done.release()  # the signal

    ts = _start(work)
    waiting.set()
    done.acquire()  # waits for the signal: the holder itself blocks on its own lock
    done.release()
    _join(ts)
    _check(result, [4950])


def lock_handoff(_: Any) -> None:
    """A lock taken by one thread is handed to another, which releases it."""
    token = threading.Lock()
    handed: queue.Queue[threading.Lock] = queue.Queue()
    log: list[str] = []

    def receiver() -> None:
        lock = handed.get()
        log.append("received")
        lock.release()

    ts = _start(receiver)
    token.acquire()
    handed.put(token)
    with token:  # blocks until the receiver releases the handed-off lock
        log.append("back")
    _join(ts)
    _check(log, ["received", "back"])


def signal_inside_a_with_block(_: Any) -> None:
    """Inside ``with lock:``, wait on the same lock until a helper releases it (as
    ``lock.acquire()`` twice on a signal lock, with the outer hold in a with block)."""
    lock = threading.Lock()
    ready = threading.Event()
    with lock:
        helper = _start(lambda: (ready.wait(JOIN), lock.release()))
        ready.set()
        lock.acquire()  # the helper's release lets this through; __exit__ releases it
    _join(helper)
    _check(lock.locked(), False)


def signal_waited_for_under_another_lock(_: Any) -> None:
    """Holding a mutex while waiting for a signal that a thread gives without the mutex."""
    mutex, signal = threading.Lock(), threading.Lock()
    signal.acquire()
    ts = _start(signal.release)
    with mutex:
        signal.acquire()
    signal.release()
    _join(ts)


# -- conditions, semaphores, barriers, events, queues --------------------------------------


def condition_wait_notify(_: Any) -> None:
    """Producer and consumer on one Condition (its default RLock)."""
    cond = threading.Condition()
    items: list[int] = []
    got: list[int] = []

    def consume() -> None:
        for _ in range(20):
            with cond:
                cond.wait_for(lambda: bool(items))
                got.append(items.pop(0))
                cond.notify_all()

    ts = _start(consume)
    for i in range(20):
        with cond:
            cond.wait_for(lambda: len(items) < 2)
            items.append(i)
            cond.notify_all()
    _join(ts)
    _check(got, list(range(20)))


def condition_on_a_plain_lock_many_waiters(_: Any) -> None:
    """Three waiters on a Condition built on a plain Lock, all released by one notify_all."""
    cond = threading.Condition(threading.Lock())
    state = {"ready": 0, "go": False, "seen": 0}

    def waiter() -> None:
        with cond:
            state["ready"] += 1
            cond.notify_all()
            cond.wait_for(lambda: state["go"])
            state["seen"] += 1

    ts = _start(waiter, waiter, waiter)
    with cond:
        cond.wait_for(lambda: state["ready"] == 3)
        state["go"] = True
        cond.notify_all()
    _join(ts)
    _check(state["seen"], 3)


def semaphore_producer_consumer(_: Any) -> None:
    """The bounded buffer: two semaphores (free slots, filled slots) and a mutex."""
    free, filled, mutex = threading.Semaphore(2), threading.Semaphore(0), threading.Lock()
    buf: list[int] = []
    got: list[int] = []

    def produce() -> None:
        for i in range(30):
            free.acquire()
            with mutex:
                buf.append(i)
            filled.release()

    def consume() -> None:
        for _ in range(30):
            filled.acquire()
            with mutex:
                got.append(buf.pop(0))
            free.release()

    _join(_start(produce, consume))
    _check(got, list(range(30)))


def bounded_semaphore_limits_workers(_: Any) -> None:
    """At most two of six threads in a section, each updating shared state under a lock."""
    slots, lock = threading.BoundedSemaphore(2), threading.Lock()
    inside = {"now": 0, "most": 0}
    start = threading.Barrier(6)

    def work() -> None:
        start.wait()
        for _ in range(10):
            with slots:
                with lock:
                    inside["now"] += 1
                    inside["most"] = max(inside["most"], inside["now"])
                with lock:
                    inside["now"] -= 1

    _join(_start(*[work] * 6))
    _check(inside["most"] <= 2, True)


def rlock_reentry(_: Any) -> None:
    """A recursive function re-entering an RLock, from several threads."""
    rlock = threading.RLock()
    total: list[int] = []

    def depth(n: int) -> int:
        with rlock:
            return 0 if n == 0 else 1 + depth(n - 1)

    def work() -> None:
        for _ in range(5):
            with rlock:
                total.append(depth(5))

    _join(_start(work, work, work))
    _check(total, [5] * 15)


def consistent_order_many_threads(_: Any) -> None:
    """Four threads take three locks, always in the same order (RLock re-entered inside)."""
    a, b, c = threading.Lock(), threading.RLock(), threading.Lock()
    count = [0]
    go = threading.Barrier(4)

    def work() -> None:
        go.wait()
        for _ in range(25):
            with a, b, b, c:
                count[0] += 1
            with b, c:
                pass

    _join(_start(*[work] * 4))
    _check(count[0], 100)


def barrier_phases(_: Any) -> None:
    """Three threads through five phases of a Barrier, with a lock around shared state."""
    barrier, lock = threading.Barrier(3), threading.Lock()
    phases: list[int] = []

    def work() -> None:
        for phase in range(5):
            with lock:
                phases.append(phase)
            barrier.wait()

    _join(_start(work, work, work))
    _check(sorted(phases), sorted(list(range(5)) * 3))


def event_ping_pong(_: Any) -> None:
    """Two threads take turns through two Events."""
    ping, pong = threading.Event(), threading.Event()
    log: list[str] = []

    def ponger() -> None:
        for _ in range(10):
            ping.wait()
            ping.clear()
            log.append("pong")
            pong.set()

    ts = _start(ponger)
    for _ in range(10):
        log.append("ping")
        ping.set()
        pong.wait()
        pong.clear()
    _join(ts)
    _check(log, ["ping", "pong"] * 10)


def queue_pipeline(_: Any) -> None:
    """Producer, two stages and a consumer on bounded queues, with task_done and join."""
    q1: queue.Queue[int | None] = queue.Queue(maxsize=2)
    q2: queue.Queue[int | None] = queue.Queue(maxsize=2)
    out: list[int] = []

    def stage() -> None:
        while (x := q1.get()) is not None:
            q2.put(x * x)
            q1.task_done()
        q1.task_done()
        q2.put(None)

    def sink() -> None:
        while (x := q2.get()) is not None:
            out.append(x)

    ts = _start(stage, sink)
    for i in range(30):
        q1.put(i)
    q1.put(None)
    q1.join()
    _join(ts)
    _check(out, [i * i for i in range(30)])


def trylock_back_off(_: Any) -> None:
    """The opposite order only as a trylock, backing off when it fails: cannot deadlock."""
    a, b = threading.Lock(), threading.Lock()
    done = [0, 0]
    go = threading.Barrier(2)

    def forward() -> None:
        go.wait()
        for _ in range(50):
            with a, b:
                done[0] += 1

    def backward() -> None:
        go.wait()
        n = 0
        while n < 50:
            with b:
                if a.acquire(blocking=False):
                    try:
                        done[1] += 1
                        n += 1
                    finally:
                        a.release()

    _join(_start(forward, backward))
    _check(done, [50, 50])


def timed_waits(_: Any) -> None:
    """Acquisitions with timeouts, some of which time out, while another thread holds it."""
    lock = threading.Lock()
    held, leave = threading.Event(), threading.Event()

    def holder() -> None:
        with lock:
            held.set()
            leave.wait(JOIN)

    ts = _start(holder)
    held.wait(JOIN)
    timed_out = lock.acquire(timeout=0.01)
    leave.set()
    got = lock.acquire(timeout=JOIN)
    lock.release()
    _join(ts)
    _check((timed_out, got), (False, True))


def made_before(_: Any = None) -> tuple[threading.Lock, threading.RLock]:
    return threading.Lock(), threading.RLock()


def lock_made_in_one_block_used_in_the_next(carried: Any) -> None:
    """Locks made in an earlier block (``made_before``), taken in one order from two threads."""
    a, b = carried
    go = threading.Barrier(2)

    def work() -> None:
        go.wait()
        for _ in range(20):
            with a, b:
                pass

    _join(_start(work, work))


# -- the standard library's executors ------------------------------------------------------


def thread_pool_executor(_: Any) -> None:
    """ThreadPoolExecutor: submit, map, as_completed, wait, callbacks, shutdown."""
    lock = threading.Lock()
    seen: list[int] = []

    def square(x: int) -> int:
        with lock:
            seen.append(x)
        return x * x

    with cf.ThreadPoolExecutor(max_workers=3) as ex:
        futures = [ex.submit(square, i) for i in range(12)]
        for f in futures:
            f.add_done_callback(lambda f: seen.append(-1))
        firsts = sorted(f.result() for f in cf.as_completed(futures))
        cf.wait(futures, return_when=cf.ALL_COMPLETED)
        mapped = list(ex.map(square, range(12)))
    _check((firsts, mapped), ([i * i for i in range(12)], [i * i for i in range(12)]))
    _check(len(seen), 36)


def process_pool_executor(_: Any) -> None:
    """ProcessPoolExecutor: the parent's management thread, queues and locks (its workers run
    untracked code: the tracking lives in this process)."""
    with cf.ProcessPoolExecutor(max_workers=2) as ex:
        got = list(ex.map(abs, range(-8, 0)))
    _check(got, list(range(8, 0, -1)))


@dataclass(frozen=True)
class LegalCase:
    """A legal pattern; ``run_case`` runs it under ``lock_order`` and returns the graph."""

    run: Callable[[Any], None]
    before: Callable[[], Any] | None = None
    slow: bool = False  # starts processes: run fewer times in the unit tests

    @property
    def name(self) -> str:
        return self.run.__name__


LEGAL_CASES = [
    LegalCase(lock_as_signal),
    LegalCase(lock_handoff),
    LegalCase(signal_inside_a_with_block),
    LegalCase(signal_waited_for_under_another_lock),
    LegalCase(condition_wait_notify),
    LegalCase(condition_on_a_plain_lock_many_waiters),
    LegalCase(semaphore_producer_consumer),
    LegalCase(bounded_semaphore_limits_workers),
    LegalCase(rlock_reentry),
    LegalCase(consistent_order_many_threads),
    LegalCase(barrier_phases),
    LegalCase(event_ping_pong),
    LegalCase(queue_pipeline),
    LegalCase(trylock_back_off),
    LegalCase(timed_waits),
    LegalCase(lock_made_in_one_block_used_in_the_next, before=made_before),
    LegalCase(thread_pool_executor),
    LegalCase(process_pool_executor, slow=True),
]


def run_case(case: LegalCase) -> Any:
    """Run ``case`` in its own ``lock_order`` block (after ``before`` in an earlier one);
    return the LockOrderGraph. An exception of the program, in any thread, is raised."""
    from poolwise import lock_order

    errors: list[BaseException | None] = []
    hook = threading.excepthook
    threading.excepthook = lambda args: errors.append(args.exc_value)
    try:
        carried = None
        if case.before is not None:
            with lock_order(raise_on_exit=False):
                carried = case.before()
        with lock_order(raise_on_exit=False) as graph:
            case.run(carried)
    finally:
        threading.excepthook = hook
    if errors:
        raise AssertionError(f"a thread of {case.name} raised {errors[0]!r}")
    return graph
