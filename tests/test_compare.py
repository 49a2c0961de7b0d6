"""compare: real measured runs on this machine (the verdict itself: test_verdict.py)."""

from __future__ import annotations

import json
import threading
import time
from pathlib import Path

import pytest

import poolwise as pw


def spin(_: int) -> int:
    total = 0
    for i in range(400_000):
        total += i
    return total


def nap(x: int) -> int:
    time.sleep(0.005)
    return x


def speedup(c: pw.Comparison, label: str) -> float:
    return next(m.speedup for m in c.measurements if m.label == label)


# Real timings: the asserts hold with room to spare on a machine where another program keeps a
# CPU busy (processes x2 then get about 1.3 CPUs, threads still overlap their sleeps), so they
# need no retries.


def others_busy() -> float:
    """CPUs other programs keep busy now (runnable threads besides this one)."""
    from poolwise.advisor._measure import SystemLoad

    load = SystemLoad()
    for _ in range(10):
        time.sleep(0.02)
        load.sample()
    return load.busy_others() or 0.0


@pytest.mark.slow
def test_real_cpu_bound_runs_faster_on_processes() -> None:
    if pw.usable_cpus() < 2:
        pytest.skip("one usable CPU: processes cannot win")
    busy = others_busy()
    if busy > pw.usable_cpus() - 1.5:  # (no CPU to spare: parallelism cannot show)
        pytest.skip(f"other programs keep {busy:.1f} CPUs busy")
    # a wall-clock reading on a shared machine: the host can take CPU time from this one in
    # bursts (a serial run once read 59% of a CPU), so the best of three tries is judged
    tries = []
    for _ in range(3):
        c = pw.compare(spin, range(24), backends=("serial", "process"), workers=[2], repeat=5)
        tries.append(c)
        if speedup(c, "process x2") > 1.1:
            break
    assert max(speedup(c, "process x2") for c in tries) > 1.1, "\n".join(map(str, tries))


@pytest.mark.slow
def test_real_sleeping_function_runs_faster_on_threads(tmp_path: Path) -> None:
    c = pw.compare(nap, range(40), backends=("serial", "thread", "process"), workers=[8], repeat=3)
    assert speedup(c, "thread x8") > 2.5, str(c)
    data = json.loads(c.to_json())
    assert data["machine"]["usable_cpus"] == pw.usable_cpus()
    assert {"gil_enabled", "start_method", "poolwise"} <= set(data["machine"])
    assert "<table" in c._repr_html_()
    page = c.to_html(tmp_path / "c.html").read_text()
    assert page.count("<svg") == 3 and "<script" not in page


def test_bad_input() -> None:
    with pytest.raises(ValueError, match="at least one item"):
        pw.compare(nap, [])
    with pytest.raises(ValueError, match="unknown backend"):
        pw.compare(nap, [1], backends=("gpu",))
    with pytest.raises(ValueError, match="worker counts must be at least 1"):
        pw.compare(nap, [1], workers=[0])


def unpicklable_result(_: int) -> object:
    return threading.Lock()


def test_a_configuration_that_cannot_run_is_left_out_with_the_reason() -> None:
    c = pw.compare(
        unpicklable_result, range(4), backends=("serial", "process"), workers=[1], repeat=1
    )
    assert [m.label for m in c.measurements] == ["serial"]
    assert c.warnings[0].startswith("process x1 could not run: PicklingError")
    assert c.best == "serial"


def test_errors_are_counted_not_raised() -> None:
    c = pw.compare(fails_on_three, range(10), backends=("serial", "thread"), workers=[2], repeat=1)
    assert [m.errors for m in c.measurements] == [1, 1]
    assert "serial: 1 of 10 items failed" in c.warnings


def fails_on_three(x: int) -> int:
    if x == 3:
        raise ValueError(x)
    return x


def test_progress_is_reported_for_each_configuration() -> None:
    seen: list[tuple[str, int, int]] = []
    pw.compare(
        nap,
        range(3),
        backends=("thread",),
        workers=[1, 2],
        repeat=1,
        progress=lambda *a: seen.append(a),
    )
    assert seen == [("serial", 0, 3), ("thread x1", 1, 3), ("thread x2", 2, 3), ("done", 3, 3)]


def first_byte(b: bytes) -> int:
    return b[0]


def test_bytes_moved_and_the_transport_are_counted() -> None:
    from poolwise.backends import _arena, _oob
    from poolwise.comparison._run import measure_transfer

    if not _arena.supported():
        pytest.skip("no shared memory here")
    big = measure_transfer(first_byte, [bytes([i]) * (1 << 20) for i in range(3)])
    assert big.transport == "shared memory"
    assert big.shared_bytes == 1 << 20 and big.arg_bytes > 1 << 20 and big.result_bytes < 100
    small = measure_transfer(first_byte, [bytes([i]) * (_oob.THRESHOLD - 100) for i in range(3)])
    assert small.transport == "pipe" and small.shared_bytes == 0
    c = pw.compare(first_byte, [bytes(1 << 20)] * 4, backends=["serial"], repeat=1)
    assert c.transport == "shared memory" and c.to_dict()["shared_bytes"] == 1 << 20
    assert f"{1 << 20} B of them in shared memory, the rest by the pipe" in str(c)
