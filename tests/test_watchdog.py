"""watchdog: a stall is reported once, with every thread's stack and what it waits on."""

from __future__ import annotations

import io
import threading

import pytest

import poolwise
from poolwise.checks._lockorder import active_graph
from poolwise.checks._watchdog import Watchdog


class FakeClock:
    def __init__(self) -> None:
        self.now = 1000.0

    def __call__(self) -> float:
        return self.now


class SignallingFile(io.StringIO):
    """A file whose first write opens a gate, so a test waits for the report, not a time."""

    def __init__(self) -> None:
        super().__init__()
        self.written = threading.Event()

    def write(self, s: str) -> int:
        n = super().write(s)
        self.written.set()
        return n


def test_fires_once_per_stall_and_again_after_progress() -> None:
    clock, out = FakeClock(), io.StringIO()
    wd = Watchdog(10, file=out, clock=clock)
    clock.now += 9.9
    assert wd.check() is None
    clock.now += 0.2
    report = wd.check()
    assert report is not None and wd.hangs == [report]
    clock.now += 100
    assert wd.check() is None  # the same stall is reported once
    wd.progress()
    clock.now += 10
    assert wd.check() is not None and len(wd.hangs) == 2
    assert out.getvalue().count("poolwise watchdog: no task finished for") == 2


def test_report_shows_a_blocked_thread_and_worker_stacks() -> None:
    clock, out = FakeClock(), io.StringIO()
    gate, inside = threading.Event(), threading.Event()

    def stuck_task() -> None:
        inside.set()
        gate.wait()

    wd = Watchdog(5, file=out, clock=clock, worker_stacks=lambda: {4242: "File 'w.py'\n"})
    t = threading.Thread(target=stuck_task, name="stuck-task")
    t.start()
    inside.wait()
    try:
        clock.now += 5
        report = wd.check()
    finally:
        gate.set()
        t.join()
    assert report is not None
    (name,) = [n for n in report.threads if n.startswith("stuck-task")]
    assert "in stuck_task" in report.threads[name]
    assert (
        "blocked in Event.wait (threading.py), called at test_watchdog.py" in report.waiting[name]
    )
    text = out.getvalue()
    assert "--- thread stuck-task" in text and "--- worker process 4242" in text


def test_inside_lock_order_the_lock_and_its_owner_are_named() -> None:
    clock, out = FakeClock(), io.StringIO()
    wd = Watchdog(1, file=out, clock=clock)
    with poolwise.lock_order():
        lock = threading.Lock()
        lock.acquire()
        blocked = threading.Thread(target=lambda: lock.acquire(timeout=60), name="blocked")
        blocked.start()
        graph = active_graph()
        assert graph is not None
        while not graph.waiting:  # the thread registers before it blocks
            threading.Event().wait(0.001)
        clock.now += 1
        report = wd.check()
        lock.release()
        blocked.join()
    assert report is not None
    (name,) = [n for n in report.waiting if n.startswith("blocked")]
    assert "waiting for Lock#" in report.waiting[name]
    assert "held by thread 'MainThread'" in report.waiting[name]


def test_the_watching_thread_fires_by_itself() -> None:
    clock, out = FakeClock(), SignallingFile()
    with Watchdog(0.01, file=out, clock=clock) as wd:
        clock.now += 1  # the stall: the thread sees it at its next check
        assert out.written.wait(30)
    assert len(wd.hangs) == 1
    assert wd._thread is None


def test_worker_stacks_failure_is_reported_not_raised() -> None:
    def broken() -> dict[int, str]:
        raise OSError("no such process")

    clock = FakeClock()
    wd = poolwise.watchdog(1, file=io.StringIO(), worker_stacks=broken)
    wd._clock = clock
    clock.now += wd._last + 5
    report = wd.check()
    assert report is not None and "could not get worker stacks" in report.workers[0]


def test_seconds_must_be_positive() -> None:
    with pytest.raises(ValueError, match="positive"):
        poolwise.watchdog(0)
