"""Shutting an executor down: waiting, cancelling, refusing new work, leaving nothing."""

from __future__ import annotations

import concurrent.futures as cf
import subprocess
import sys
import textwrap
from pathlib import Path

import psutil
import pytest

import poolwise as pw
from tests import crashers


@pytest.mark.parametrize("backend", ["thread", "process"])
def test_cancel_futures_cancels_what_has_not_started(backend: str, tmp_path: Path) -> None:
    gate, started = tmp_path / "gate", tmp_path / "started"
    ex = pw.Executor(backend=backend, workers=1)
    running = ex.submit(crashers.announce_then_wait, str(started), str(gate))
    crashers.wait_for(str(started))
    queued = [ex.submit(crashers.identity, i) for i in range(5)]
    ex.shutdown(wait=False, cancel_futures=True)
    gate.touch()
    assert running.result(timeout=30) == str(gate)
    cf.wait(queued, timeout=30)
    # a worker holds at most one task besides the one it runs; everything else is cancelled
    ran = [i for i, f in enumerate(queued) if not f.cancelled()]
    assert len(ran) <= 1
    assert all(queued[i].result() == i for i in ran)
    ex.shutdown(wait=True)


def test_context_manager_waits_for_queued_work() -> None:
    with pw.Executor(backend="process", workers=2) as ex:
        futures = [ex.submit(crashers.identity, i) for i in range(50)]
    assert [f.result(timeout=0) for f in futures] == list(range(50))


def test_map_iterator_after_cancel_raises_cancelled(tmp_path: Path) -> None:
    gate, started = tmp_path / "gate", tmp_path / "started"
    ex = pw.Executor(backend="thread", workers=1)
    blocker = ex.submit(crashers.announce_then_wait, str(started), str(gate))
    crashers.wait_for(str(started))
    results = ex.map(crashers.identity, range(10), chunksize=1)
    ex.shutdown(wait=False, cancel_futures=True)
    gate.touch()
    blocker.result(timeout=30)
    with pytest.raises(cf.CancelledError):
        list(results)
    ex.shutdown()


def test_shutdown_without_wait_leaves_nothing_after_exit(tmp_path: Path) -> None:
    script = textwrap.dedent(
        """
        import poolwise as pw, sys
        from tests.crashers import wait_for
        ex = pw.Executor(backend="process", workers=2)
        ex.start()
        print(*ex.worker_pids(), flush=True)
        ex.submit(wait_for, sys.argv[1])  # never released
        ex.shutdown(wait=False)
        print("returned", flush=True)
        """
    )
    proc = subprocess.run(
        [sys.executable, "-c", script, str(tmp_path / "never")],
        capture_output=True,
        text=True,
        timeout=60,
        cwd=Path(__file__).parent.parent,
    )
    assert proc.returncode == 0, proc.stderr
    lines = proc.stdout.split("\n")
    pids = [int(p) for p in lines[0].split()]
    assert lines[1] == "returned"
    for pid in pids:
        try:
            psutil.Process(pid).wait(5)
        except psutil.NoSuchProcess:
            pass
        assert not psutil.pid_exists(pid) or psutil.Process(pid).status() == "zombie"


def test_terminate_stops_at_once(tmp_path: Path) -> None:
    ex = pw.Executor(backend="process", workers=2)
    futures = [ex.submit(crashers.wait_for, str(tmp_path / "never")) for _ in range(4)]
    pids = ex.worker_pids()
    ex.terminate()
    assert all(f.done() for f in futures)
    for pid in pids:
        assert not psutil.pid_exists(pid) or psutil.Process(pid).status() == "zombie"


@pytest.mark.parametrize("backend", ["serial", "thread", "process"])
def test_submit_after_shutdown_raises(backend: str) -> None:
    ex = pw.Executor(backend=backend, workers=1)
    assert ex.submit(crashers.identity, 1).result() == 1
    ex.shutdown()
    with pytest.raises(pw.ShutdownError):
        ex.submit(crashers.identity, 2)
    with pytest.raises(pw.ShutdownError):
        ex.map(crashers.identity, range(3))
