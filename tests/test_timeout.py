"""timeout=: a task that runs too long fails with TaskTimeout; the others go on."""

from __future__ import annotations

import threading
from pathlib import Path

import psutil
import pytest

import poolwise as pw
from tests.crashers import HangOn, HangOnceOn
from tests.outcomes import assert_exactly_once


@pytest.mark.parametrize("chunksize", [1, 4, None])
def test_process_timeout_kills_the_worker_and_its_children(
    tmp_path: Path, chunksize: int | None
) -> None:
    pidfile = tmp_path / "grandchild.pid"
    out = pw.map(
        HangOn(5, str(pidfile)),
        range(12),
        backend="process",
        workers=2,
        timeout=0.5,
        chunksize=chunksize,
        on_error="return",
    )
    assert_exactly_once(out, 12, {5: pw.TaskTimeout})
    err = out[5].exception
    assert "item 5 ran longer than the timeout of 0.5 s" in str(err)
    assert "killed and replaced" in str(err)
    grandchild = int(pidfile.read_text())
    try:
        proc = psutil.Process(grandchild)
        proc.wait(5)  # killed with the worker's process group; reaped by init
    except psutil.NoSuchProcess:
        pass
    assert not psutil.pid_exists(grandchild) or psutil.Process(grandchild).status() == "zombie"


def test_process_timeout_with_an_executor_replaces_the_worker() -> None:
    with pw.Executor(backend="process", workers=1, timeout=0.3) as ex:
        before = ex.submit(HangOn(-1), 0).result()
        fut = ex.submit(HangOn(1), 1)
        assert isinstance(fut.exception(), pw.TaskTimeout)
        assert ex.submit(HangOn(-1), 2).result() == 2
        assert before == 0


@pytest.mark.parametrize(("backend", "workers"), [("thread", 2), ("serial", 1)])
def test_in_process_timeout_abandons_the_task_and_says_so(backend: str, workers: int) -> None:
    gate = threading.Event()

    def task(x: int) -> int:
        if x == 3:
            gate.wait(60)
        return x

    try:
        out = pw.map(
            task, range(8), backend=backend, workers=workers, timeout=0.3, on_error="return"
        )
    finally:
        gate.set()  # let the abandoned thread finish
    assert_exactly_once(out, 8, {3: pw.TaskTimeout})
    assert "cannot be killed" in str(out[3].exception)
    assert "abandoned" in str(out[3].exception)


def test_retries_after_a_timeout(tmp_path: Path) -> None:
    marker = str(tmp_path / "hung-once")
    out = pw.map(
        HangOnceOn(2, marker), range(6), backend="process", workers=2, timeout=0.5, retries=1
    )
    assert out == list(range(6))


def test_raise_mode_raises_task_timeout() -> None:
    with pytest.raises(pw.TaskTimeout, match="item 0"):
        pw.map(HangOn(0), range(3), backend="process", workers=1, timeout=0.3)


@pytest.mark.parametrize(("backend", "workers"), [("thread", 2), ("serial", 1)])
def test_in_process_timeout_with_retries_runs_the_task_again(
    tmp_path: Path, backend: str, workers: int
) -> None:
    marker = str(tmp_path / "hung-once")
    gate = threading.Event()

    def task(x: int) -> int:
        if x == 2 and not Path(marker).exists():
            Path(marker).touch()
            gate.wait(60)
        return x

    try:
        out = pw.map(task, range(6), backend=backend, workers=workers, timeout=0.3, retries=1)
    finally:
        gate.set()
    assert out == list(range(6))


def test_process_timeout_in_a_batch_on_one_worker() -> None:
    with pw.Executor(backend="process", workers=1, timeout=0.4) as ex:
        it = ex.map(HangOn(6), range(10), chunksize=5)
        assert [next(it) for _ in range(6)] == list(range(6))
        with pytest.raises(pw.TaskTimeout, match="item 6"):
            next(it)
        assert list(ex.map(HangOn(-1), range(10), chunksize=5)) == list(range(10))
