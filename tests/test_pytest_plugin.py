"""The pytest plugin, as a user gets it: the installed package's entry point autoloads it into
a child pytest, which runs a small test file; every outcome and the exit status are checked."""

from __future__ import annotations

import importlib.metadata
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


def _entry_point() -> str | None:
    for ep in importlib.metadata.entry_points(group="pytest11"):
        if ep.value == "poolwise.checks.pytest_plugin":
            return f"{ep.dist.name}-{ep.dist.version}" if ep.dist else ep.name
    return None


def _run_pytest(tmp_path: Path, *extra: str) -> subprocess.CompletedProcess[str]:
    """pytest in a child, as a user runs it: the plugin comes from the installed package's
    ``pytest11`` entry point (autoload on, no ``-p``)."""
    env = {k: v for k, v in os.environ.items() if k != "PYTEST_DISABLE_PLUGIN_AUTOLOAD"}
    env.pop("PYTEST_ADDOPTS", None)
    argv = ["--strict-markers", "-rA", "-p", "no:cacheprovider", *extra, str(tmp_path)]
    return subprocess.run(
        [sys.executable, "-m", "pytest", *argv],
        capture_output=True,
        text=True,
        timeout=120,
        env=env,
        cwd=tmp_path,
    )


def _outcomes(out: str) -> dict[str, str]:
    return {
        line.split("::")[1].split()[0]: line.split()[0]
        for line in out.splitlines()
        if "::" in line and line.split()[0] in ("PASSED", "FAILED", "ERROR")
    }


def test_the_installed_package_declares_the_plugin_entry_point() -> None:
    assert _entry_point(), (
        "no pytest11 entry point for poolwise.checks.pytest_plugin: install the package "
        "(pip install -e .) in the environment that runs the tests"
    )


def test_plugin_autoloads_and_fails_the_buggy_tests_only(tmp_path: Path) -> None:
    dist = _entry_point()
    assert dist, "the package is not installed: see the test above"
    (tmp_path / "test_user.py").write_text(textwrap.dedent(TESTS))
    done = _run_pytest(tmp_path)
    out = done.stdout
    plugins = next((line for line in out.splitlines() if line.startswith("plugins:")), "")
    assert dist in plugins, out  # loaded through the entry point, not by name
    assert _outcomes(out) == {
        "test_marker_bug": "FAILED",
        "test_marker_twin": "PASSED",
        "test_marker_record_only": "PASSED",
        "test_fixture_bug": "ERROR",  # the fixture fails the test at teardown
        "test_fixture_twin": "PASSED",
        "test_races_bug": "FAILED",
        "test_races_twin": "PASSED",
    }, out
    assert done.returncode == 1, out  # pytest's status for "some tests failed"
    assert "lock-order cycle" in out and "# one order" in out and "RACE in bump" in out


def test_a_suite_the_plugin_finds_nothing_in_passes_with_status_0(tmp_path: Path) -> None:
    (tmp_path / "test_clean.py").write_text(
        textwrap.dedent(
            """
            import threading
            import pytest

            @pytest.mark.poolwise_lock_order
            def test_one_order():
                a, b = threading.Lock(), threading.Lock()
                for _ in range(2):
                    with a, b:
                        pass

            def test_fixture(lock_order):
                a, b = threading.Lock(), threading.Lock()
                with a, b:
                    pass
                assert len(lock_order.edges) == 1
            """
        )
    )
    done = _run_pytest(tmp_path)
    assert _outcomes(done.stdout) == {"test_one_order": "PASSED", "test_fixture": "PASSED"}, (
        done.stdout
    )
    assert done.returncode == 0, done.stdout + done.stderr
