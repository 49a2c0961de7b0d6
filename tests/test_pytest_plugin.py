"""The pytest plugin, run on a small test file in a child pytest."""

from __future__ import annotations

import os
import subprocess
import sys
import textwrap
from pathlib import Path

TESTS = """
import threading
import pytest

def invert():
    a, b = threading.Lock(), threading.Lock()
    with a, b:  # one order
        pass
    with b, a:  # the other
        pass

def consistent():
    a, b = threading.Lock(), threading.Lock()
    for _ in range(2):
        with a, b:
            pass

@pytest.mark.poolwise_lock_order
def test_marker_bug():
    invert()

@pytest.mark.poolwise_lock_order
def test_marker_twin():
    consistent()

@pytest.mark.poolwise_lock_order(raise_on_exit=False)
def test_marker_record_only():
    invert()

def test_fixture_bug(lock_order):
    invert()

def test_fixture_twin(lock_order):
    consistent()
    assert len(lock_order.edges) == 1

class Counter:
    value = 0

counter = Counter()
lock = threading.Lock()

def bump(_):
    counter.value += 1

def bump_locked(_):
    with lock:
        counter.value += 1

def reset():
    counter.value = 0

def test_races_bug(check_races):
    check_races(bump, [0] * 50, setup=reset, invariant=lambda: counter.value)

def test_races_twin(check_races):
    report = check_races(bump_locked, [0] * 50, setup=reset, invariant=lambda: counter.value,
                         iterations=3)
    assert not report.found
"""


def test_plugin_fails_the_buggy_tests_only(tmp_path: Path) -> None:
    (tmp_path / "test_user.py").write_text(textwrap.dedent(TESTS))
    env = {**os.environ, "PYTEST_DISABLE_PLUGIN_AUTOLOAD": "1"}
    done = subprocess.run(
        [
            sys.executable,
            "-m",
            "pytest",
            "-p",
            "poolwise.checks.pytest_plugin",
            "--strict-markers",
            "-rA",
            "-q",
            "-p",
            "no:cacheprovider",
            str(tmp_path),
        ],
        capture_output=True,
        text=True,
        timeout=120,
        env=env,
        cwd=tmp_path,
    )
    out = done.stdout
    outcomes = {
        line.split("::")[1].split()[0]: line.split()[0]
        for line in out.splitlines()
        if "::" in line and line.split()[0] in ("PASSED", "FAILED", "ERROR")
    }
    assert (
        outcomes
        == {
            "test_marker_bug": "FAILED",
            "test_marker_twin": "PASSED",
            "test_marker_record_only": "PASSED",
            "test_fixture_bug": "ERROR",  # the fixture fails the test at teardown
            "test_fixture_twin": "PASSED",
            "test_races_bug": "FAILED",
            "test_races_twin": "PASSED",
        }
        or not outcomes
    ), out
    assert "lock-order cycle" in out and "# one order" in out and "RACE in bump" in out
