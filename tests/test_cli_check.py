"""`poolwise check races|deadlocks`: exit 1 when something is found, 0 when clean, 2 on misuse."""

from __future__ import annotations

import subprocess
import sys
import textwrap
from pathlib import Path

import pytest

from poolwise.cli import main

RACES = "tests.catalogue.races"


def test_races_found_exit_1_with_a_reproducing_command(capsys: pytest.CaptureFixture[str]) -> None:
    argv = ["check", "races", f"{RACES}:bump", "--range", "20"]
    argv += ["--setup", f"{RACES}:reset_counter", "--invariant", f"{RACES}:read_counter"]
    assert main(argv) == 1
    out = capsys.readouterr().out
    assert out.startswith("RACE in bump:")
    assert "the invariant failed" in out and "--seed" in out


def test_races_clean_exit_0(capsys: pytest.CaptureFixture[str]) -> None:
    argv = ["check", "races", f"{RACES}:square_via_scratch_locked", "--range", "10"]
    assert main([*argv, "--iterations", "3", "--threads", "4"]) == 0
    assert capsys.readouterr().out.startswith("no race found in square_via_scratch_locked")


@pytest.mark.parametrize(
    "argv",
    [
        ["check", "races", f"{RACES}:bump"],  # no items
        ["check", "races", f"{RACES}:bump", "--range", "3", "--threads", "1"],
        ["check", "races", f"{RACES}:nothing", "--range", "3"],
        ["check", "deadlocks"],
        ["check", "deadlocks", "--", "python", "no/such/script.py"],
    ],
)
def test_usage_errors_exit_2(argv: list[str], capsys: pytest.CaptureFixture[str]) -> None:
    assert main(argv) == 2
    assert capsys.readouterr().err.startswith("poolwise: error:")


def _script(tmp_path: Path, body: str) -> Path:
    path = tmp_path / "prog.py"
    path.write_text(textwrap.dedent(body))
    return path


def _run(*args: str) -> subprocess.CompletedProcess[str]:
    return subprocess.run(
        [sys.executable, "-m", "poolwise", "check", "deadlocks", "--", *args],
        capture_output=True,
        text=True,
        timeout=60,
    )


def test_deadlocks_found_in_a_script_run_in_a_child(tmp_path: Path) -> None:
    prog = _script(
        tmp_path,
        """
        import sys, threading
        a, b = threading.Lock(), threading.Lock()
        def one():
            with a, b:  # order one
                pass
        t = threading.Thread(target=one)
        t.start()
        t.join()
        with b, a:  # order two
            pass
        print("args", sys.argv[1:])
        """,
    )
    done = _run("python", str(prog), "x", "--flag")
    assert done.returncode == 1, done.stderr
    assert "args ['x', '--flag']" in done.stdout
    assert "lock-order cycle" in done.stdout
    assert "# order one" in done.stdout and "# order two" in done.stdout
    assert "_bootstrap" not in done.stdout


def test_deadlocks_clean_script_exit_0(tmp_path: Path) -> None:
    prog = _script(
        tmp_path,
        """
        import threading
        a, b = threading.Lock(), threading.RLock()
        for _ in range(3):
            with a, b:
                pass
        """,
    )
    done = _run(sys.executable, str(prog))
    assert done.returncode == 0, done.stdout + done.stderr
    assert "no lock-order cycle" in done.stdout


def test_deadlocks_passes_on_the_programs_own_failure(tmp_path: Path) -> None:
    prog = _script(tmp_path, "import sys\nsys.exit(3)\n")
    assert _run("python", str(prog)).returncode == 3


def test_deadlocks_runs_a_module(tmp_path: Path) -> None:
    done = _run("python", "-m", "json.tool", "--help")
    assert done.returncode == 0, done.stderr
    assert "no lock-order cycle" in done.stdout


def test_a_thread_retaking_its_own_lock_with_nobody_left_to_release_it(tmp_path: Path) -> None:
    # one thread, a plain lock taken twice: it has formed (no other thread could release it),
    # so it is reported with the stack, then interrupted, and the report says so
    prog = _script(
        tmp_path,
        """
        import threading
        lock = threading.Lock()
        lock.acquire()
        lock.acquire()  # second take
        """,
    )
    done = _run("python", str(prog))
    assert done.returncode == 1, done.stdout + done.stderr
    assert "thread 'MainThread' waits for Lock#1" in done.stdout
    assert "every thread was blocked" in done.stdout and "# second take" in done.stdout
    assert "poolwise interrupted the program" in done.stdout
    assert "1 deadlock(s) that formed, interrupted" in done.stdout
    assert "PotentialDeadlock" in done.stderr  # the program's own traceback


def test_a_deadlock_of_acquire_release_locks_while_main_joins(tmp_path: Path) -> None:
    # plain acquire()/release(): any thread could release them, so the cycle alone proves
    # nothing; it has formed once the only other thread is joining one of the two
    prog = _script(
        tmp_path,
        """
        import threading
        a, b = threading.Lock(), threading.Lock()
        both = threading.Barrier(2)
        def take(first, second):
            first.acquire()
            try:
                both.wait()
                second.acquire()  # the deadlock
                second.release()
            finally:
                first.release()
        pairs = (((a, b), "x"), ((b, a), "y"))
        ts = [threading.Thread(target=take, args=p, name=n) for p, n in pairs]
        for t in ts:
            t.start()
        for t in ts:
            t.join()
        print("ended")
        """,
    )
    done = _run("python", str(prog))
    assert done.returncode == 1, done.stdout + done.stderr
    assert "ended" in done.stdout  # one thread was interrupted, the other then finished
    assert "thread 'x' waits for" in done.stdout and "thread 'y' waits for" in done.stdout
    assert done.stdout.count("# the deadlock") == 2 + 2  # both stacks, and both edges
    assert "poolwise interrupted the program" in done.stdout


def test_a_lock_used_as_a_signal_runs_unchanged(tmp_path: Path) -> None:
    prog = _script(
        tmp_path,
        """
        import threading
        done = threading.Lock()
        done.acquire()
        go = threading.Event()
        def work():
            go.wait()
            done.release()
        t = threading.Thread(target=work)
        t.start()
        go.set()
        done.acquire()  # until work() releases it
        t.join()
        print("signalled")
        """,
    )
    done = _run("python", str(prog))
    assert done.returncode == 0, done.stdout + done.stderr
    assert "signalled" in done.stdout and "no lock-order cycle" in done.stdout
    assert not done.stderr


def test_deadlocks_timeout_shows_where_a_stuck_program_waits(tmp_path: Path) -> None:
    # a semaphore nobody releases: no lock-order cycle, no wait-for cycle, just a hang
    prog = _script(
        tmp_path,
        """
        import threading
        sem = threading.Semaphore(0)
        def stuck():
            sem.acquire()
        t = threading.Thread(target=stuck, name="stuck")
        t.start()
        t.join()
        """,
    )
    done = _run_with("--timeout", "1", "--", "python", str(prog))
    assert done.returncode == 1, done.stdout + done.stderr
    assert "still running after 1 s" in done.stdout
    assert "--- thread stuck" in done.stdout
    assert "blocked in Semaphore.acquire (threading.py)" in done.stdout


def _run_with(*args: str) -> subprocess.CompletedProcess[str]:
    return subprocess.run(
        [sys.executable, "-m", "poolwise", "check", "deadlocks", *args],
        capture_output=True,
        text=True,
        timeout=60,
    )
