from __future__ import annotations

import subprocess
import sys

from poolwise.cli import main
from poolwise.demo import _quick


def test_demo_records_have_a_verdict_per_workload() -> None:
    results = _quick.run(quick=True)
    assert [r.name for r in results] == ["CPU-bound", "I/O-bound"]
    for r in results:
        assert [t.backend for t in r.timings] == ["serial", "thread", "process"]
        assert all(t.seconds > 0 for t in r.timings)
        assert r.verdict
    # waiting overlaps on threads: that is not a matter of noise at 16 threads
    io = results[1]
    assert io.timings[1].speedup > 2


def test_demo_command_prints_tables(capsys: object) -> None:
    assert main(["demo", "--quick"]) == 0


def test_python_dash_m_poolwise_runs() -> None:
    out = subprocess.run(
        [sys.executable, "-m", "poolwise", "--version"], capture_output=True, text=True, check=True
    )
    assert out.stdout.startswith("poolwise ")


def test_no_command_prints_help_and_exits_2() -> None:
    assert main([]) == 2
