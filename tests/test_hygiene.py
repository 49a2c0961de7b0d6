"""What the drop-in suite only touches and users hit: ordering in the slot, stack files, a
function that kills the worker that unpickles it, kills from outside, shutdown joining all."""

from __future__ import annotations

import os
import signal
import threading
from pathlib import Path
from typing import Any

import pytest

import poolwise as pw
from poolwise.backends import _worker as W
from poolwise.backends._base import Batch, Job
from poolwise.backends._process import ProcessBackend
from tests import helpers
from tests.crashers import DiesWhenUnpickled, WaitUnlessMarked
from tests.helpers import wait_for_file


class RecordingSlot(dict[int, int]):
    def __init__(self) -> None:
        super().__init__()
        self.order: list[int] = []

    def __setitem__(self, key: int, value: int) -> None:
        self.order.append(key)
        super().__setitem__(key, value)


def test_a_start_time_is_written_before_its_position() -> None:
    # a parent reading between the two writes must never see item i with the start time of
    # the item before it: it would kill a healthy task for a timeout
    slot = RecordingSlot()
    W.mark(slot, 7, lambda: 123)
    assert slot.order == [W.SLOT_T0, W.SLOT_POS] and slot[W.SLOT_POS] == 7


def test_worker_stacks_twice_from_real_workers_have_no_padding(tmp_path: Path) -> None:
    pidfile, gate, marker = (str(tmp_path / n) for n in ("pid", "gate", "marker"))
    backend = ProcessBackend(1)
    backend.enable_stack_dumps()
    try:
        backend.start(wait=True)
        backend.submit(Batch(Job(WaitUnlessMarked(pidfile, gate, marker)), range(1), [0]))
        wait_for_file(pidfile)  # (the task runs: its frame is in the dumps)
        first = backend.worker_stacks(wait=10)
        second = backend.worker_stacks(wait=10)
    finally:
        Path(gate).touch()
        backend.shutdown(wait=False, kill=True)
    for stacks in (first, second):
        (text,) = stacks.values()
        assert "crashers.py" in text and "\x00" not in text


def test_a_function_that_kills_its_unpickler_fails_every_task_without_bisecting() -> None:
    out = pw.map(
        DiesWhenUnpickled(),
        range(20),
        backend="process",
        workers=2,
        chunksize=5,
        on_error="return",
    )
    assert all(isinstance(r, pw.Failure) for r in out)
    assert all(isinstance(r.exception, pw.WorkerCrashed) for r in out)
    assert "while unpickling the function" in str(out[0].exception)


@pytest.mark.parametrize("timeout", [None, 30.0])
def test_a_worker_killed_from_outside_fails_no_task(tmp_path: Path, timeout: Any) -> None:
    pidfile, gate, marker = (str(tmp_path / n) for n in ("pid", "gate", "marker"))
    task = WaitUnlessMarked(pidfile, gate, marker)
    with pw.Executor("process", 1, timeout=timeout) as ex:
        future = ex.submit(task, 5)
        os.kill(int(Path(wait_for_file(pidfile)).read_text() or 0), signal.SIGTERM)
        assert future.result(timeout=60) == 5  # run again, once, on a fresh worker
    Path(gate).touch()


@pytest.mark.parametrize("backend", ["serial", "thread", "process"])
def test_shutdown_joins_the_manager_and_every_worker(backend: str) -> None:
    ex = pw.Executor(backend, 1 if backend == "serial" else 2)
    assert [ex.submit(helpers.double, i).result() for i in range(4)] == [0, 2, 4, 6]
    manager = ex._executor_manager_thread
    threads, processes = ex._threads, ex._processes
    ex.shutdown(wait=True)
    assert manager is not None and not manager.is_alive()
    assert not any(t.is_alive() for t in threads)
    assert all(p.exitcode is not None for p in processes.values())
    assert threading.active_count() >= 1
