"""Ctrl-C in the parent stops everything; a parent killed outright takes its workers along.

Each test runs a real child Python that maps over tasks which announce themselves (a file per
worker pid) and then block; the test waits for those files (a gate, not a sleep), signals the
child, and checks what is left. The child catches KeyboardInterrupt, says so, and then stays
alive (reading its stdin) while the test checks its workers: they must be gone because the
interrupt stopped them, not because the interpreter exited.
"""

from __future__ import annotations

import os
import select
import signal
import subprocess
import sys
import time
from pathlib import Path

import psutil
import pytest

ROOT = Path(__file__).parent.parent

TASK = """
import os, sys, time
from pathlib import Path
def block(x, d=sys.argv[1]):
    Path(d, str(os.getpid())).touch()
    while True:
        time.sleep(0.05)
"""

RUNNERS = {
    "map": "pw.map(block, range(8), backend='process', workers=2, chunksize=1{opts})",
    "imap": "list(pw.imap(block, iter(range(8)), backend='process', workers=2, chunksize=1{opts}))",
    "executor": "run_executor()",
    "executor-exit": "run_executor_exit()",
    "executor-map": "run_executor_map()",
    # the default backend="auto": the first task runs in the caller's own thread (the pid
    # file it leaves is the child Python's), as a loop would run it
    "map-auto": "pw.map(block, range(8))",
}
WORKERS = {"map-auto": 1}

EXECUTOR = """
def run_executor():
    with pw.Executor(backend='process', workers=2) as ex:
        [f.result() for f in [ex.submit(block, i) for i in range(8)]]

def run_executor_exit():  # Ctrl-C while the with block waits for the work at its exit
    with pw.Executor(backend='process', workers=2) as ex:
        for i in range(8):
            ex.submit(block, i)

def run_executor_map():
    with pw.Executor(backend='process', workers=2) as ex:
        list(ex.map(block, range(8), chunksize=1))
"""


def child_script(runner: str, start_method: str | None = None) -> str:
    opts = f", start_method={start_method!r}" if start_method else ""
    call = RUNNERS[runner].format(opts=opts)
    return (
        TASK
        + "import poolwise as pw\n"
        + EXECUTOR
        + "if __name__ == '__main__':\n"
        + "    try:\n"
        + f"        {call}\n"
        + "    except KeyboardInterrupt:\n"
        + "        print('KeyboardInterrupt', flush=True)\n"
        + "        sys.stdin.read()  # stay alive until the test has looked at the workers\n"
    )


def start(script: str, gate_dir: Path) -> subprocess.Popen[str]:
    path = gate_dir.parent / "child.py"
    path.write_text(script)
    return subprocess.Popen(
        [sys.executable, str(path), str(gate_dir)],
        stdin=subprocess.PIPE,
        stdout=subprocess.PIPE,
        stderr=subprocess.PIPE,
        text=True,
        cwd=ROOT,
    )


def wait_for_workers(gate_dir: Path, n: int, proc: subprocess.Popen[str]) -> list[int]:
    deadline = time.monotonic() + 60
    while len(list(gate_dir.iterdir())) < n:
        assert proc.poll() is None, proc.communicate()
        assert time.monotonic() < deadline, "workers never started"
        time.sleep(0.01)
    return [int(p.name) for p in gate_dir.iterdir()]


def gone(pid: int) -> bool:
    try:
        return psutil.Process(pid).status() == psutil.STATUS_ZOMBIE
    except psutil.NoSuchProcess:
        return True


def wait_gone(pids: list[int], seconds: float) -> list[int]:
    deadline = time.monotonic() + seconds
    while time.monotonic() < deadline:
        if all(gone(p) for p in pids):
            return []
        time.sleep(0.01)
    return [p for p in pids if not gone(p)]


def read_line(proc: subprocess.Popen[str], seconds: float) -> str:
    """The child's next line of output, or "" if none comes within `seconds` (no hang)."""
    assert proc.stdout is not None
    ready, _, _ = select.select([proc.stdout], [], [], seconds)
    return proc.stdout.readline() if ready else ""


def exited(pid: int) -> bool:
    """Gone for good: not running and not a zombie (the child Python is still alive and
    would be the one to reap it, so a zombie here is a worker it never waited for)."""
    return not psutil.pid_exists(pid)


@pytest.mark.parametrize("runner", sorted(RUNNERS))
def test_ctrl_c_stops_every_worker_within_two_seconds(runner: str, tmp_path: Path) -> None:
    gate = tmp_path / "gate"
    gate.mkdir()
    proc = start(child_script(runner), gate)
    try:
        workers = wait_for_workers(gate, WORKERS.get(runner, 2), proc)
        workers = [p for p in workers if p != proc.pid]  # (auto: the caller is no worker)
        sent = time.monotonic()
        proc.send_signal(signal.SIGINT)
        # generous deadlines: the 2 s, plus room for a loaded 2-core machine
        line = read_line(proc, 2.0 + 3.0)
        assert line == "KeyboardInterrupt\n", (line, proc.poll())
        while not all(exited(p) for p in workers) and time.monotonic() < sent + 2.0 + 3.0:
            time.sleep(0.01)
        assert [p for p in workers if not exited(p)] == []
        assert psutil.Process(proc.pid).children() == [], "the child Python still has children"
    finally:
        out, err = proc.communicate(input="", timeout=30)
    assert "KeyboardInterrupt" not in out, (out, err)  # reached the caller once, not again
    assert "Traceback" not in err, err
    assert proc.returncode == 0


@pytest.mark.parametrize("method", ["fork", "forkserver"])
def test_parent_killed_with_sigkill_leaves_no_worker(method: str, tmp_path: Path) -> None:
    gate = tmp_path / "gate"
    gate.mkdir()
    proc = start(child_script("map", method), gate)
    workers = wait_for_workers(gate, 2, proc)
    os.kill(proc.pid, signal.SIGKILL)
    proc.communicate(timeout=30)
    assert wait_gone(workers, 10.0) == []
