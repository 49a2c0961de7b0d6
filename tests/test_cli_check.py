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
