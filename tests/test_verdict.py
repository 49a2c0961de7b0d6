"""The verdict from made-up measurements: deterministic, no run, no clock."""

from __future__ import annotations

from poolwise.comparison._record import Measurement
from poolwise.comparison._verdict import decide
from poolwise.measure._stats import summarize


def m(
    backend: str,
    workers: int,
    times: list[float],
    *,
    serial: float = 1.0,
    startup: float = 0.0,
    busy: float = 1.0,
) -> Measurement:
    """A measurement; ``busy`` is the share of one CPU its runs kept busy."""
    s = summarize(times)
    return Measurement(
        backend=backend,
        workers=workers,
        times=tuple(times),
        summary=s,
        startup=startup,
        speedup=serial / s.median,
        efficiency=serial / s.median / workers,
        cpu_seconds=busy * s.median,
        cpu_utilisation=busy * s.median / 2,
        peak_rss=0,
        peak_pss=None,
        transfer_seconds=0.0,
        errors=0,
    )


def test_clear_winner_with_the_reason_and_the_code() -> None:
    ms = [
        m("serial", 1, [1.0, 1.01, 0.99]),
        m("thread", 2, [1.0, 1.02, 0.98]),
        m("process", 2, [0.52, 0.51, 0.53], startup=0.04),
    ]
    best, ties, verdict, code = decide(ms, 100, "work")
    assert best == "process x2" and ties == ()
    assert verdict.startswith("process x2 is 1.9x faster than serial")
    assert "the function holds the GIL: threads gave 1.0x at best" in verdict
    # 0.04 s of start-up against 4.9 ms saved per item
    assert "starting the pool costs 40 ms, which pays off above about 9 items" in verdict
    assert code == 'poolwise.map(work, items, backend="process", workers=2)'


def test_no_gil_claim_for_a_function_that_does_not_keep_a_cpu_busy() -> None:
    ms = [
        m("serial", 1, [1.0, 1.01, 0.99], busy=0.05),
        m("thread", 2, [1.0, 1.02, 0.98]),
    ]
    _, _, verdict, _ = decide(ms, 100)
    assert "GIL" not in verdict and "threads gave 1.0x at best" in verdict


def test_no_gil_claim_on_a_free_threaded_interpreter() -> None:
    ms = [m("serial", 1, [1.0, 1.01, 0.99]), m("thread", 2, [1.0, 1.02, 0.98])]
    _, _, verdict, _ = decide(ms, 100, gil_enabled=False)
    assert "holds the GIL" not in verdict
    assert verdict.startswith("the GIL is off (a free-threaded build): threads run Python")


def test_threads_winning_on_a_waiting_function() -> None:
    ms = [
        m("serial", 1, [1.0, 1.01, 0.99], busy=0.02),
        m("thread", 8, [0.13, 0.131, 0.129]),
        m("process", 2, [0.5, 0.51, 0.49], startup=0.05),
    ]
    best, _, verdict, code = decide(ms, 100, "fetch")
    assert best == "thread x8"
    assert "threads gave 7.7x (thread x8): the function releases the GIL or waits" in verdict
    assert "processes gave 2.0x (process x2) and cost 50 ms to start" in verdict
    assert code == 'poolwise.map(fetch, items, backend="thread", workers=8)'


def test_a_tie_goes_to_the_simplest() -> None:
    ms = [
        m("serial", 1, [1.0, 1.01, 0.99]),
        m("thread", 8, [0.30, 0.31, 0.29]),
        m("process", 8, [0.29, 0.295, 0.30]),
    ]
    best, ties, verdict, _ = decide(ms, 100)
    assert best == "thread x8" and ties == ("process x8",)
    assert "process x8 measured faster but not significantly" in verdict


def test_a_tie_between_worker_counts_goes_to_fewer_workers() -> None:
    ms = [
        m("serial", 1, [1.0, 1.01, 0.99]),
        m("thread", 8, [0.300, 0.301, 0.299]),
        m("thread", 16, [0.298, 0.302, 0.300]),
    ]
    best, _, _, _ = decide(ms, 100)
    assert best == "thread x8"


def test_no_significant_gain_keeps_serial() -> None:
    ms = [m("serial", 1, [1.0, 1.05, 0.97]), m("thread", 2, [0.99, 1.04, 0.96])]
    best, _, verdict, code = decide(ms, 100, "f")
    assert best == "serial" and "serial is the right choice" in verdict
    assert code == 'poolwise.map(f, items, backend="serial")'


def test_too_noisy_to_decide_rather_than_a_false_winner() -> None:
    ms = [
        m("serial", 1, [1.0, 1.6, 0.6]),
        m("thread", 2, [0.9, 1.5, 0.5]),
        m("process", 2, [0.8, 1.4, 0.55]),
    ]
    best, ties, verdict, _ = decide(ms, 100)
    assert best == "" and verdict.startswith("too noisy to decide")
    assert set(ties) == {"serial", "thread x2", "process x2"}


def test_too_little_work_is_serial() -> None:
    ms = [
        m("serial", 1, [0.0002, 0.0003, 0.0002]),
        m("thread", 2, [0.0001, 0.00011, 0.0001]),
    ]
    best, _, verdict, _ = decide(ms, 30)
    assert best == "serial" and "too little work for a pool to pay off" in verdict


def test_interpreters_winning_say_what_starting_them_costs() -> None:
    ms = [
        m("serial", 1, [1.0, 1.01, 0.99]),
        m("thread", 2, [1.0, 1.02, 0.98]),
        m("process", 2, [0.60, 0.61, 0.59], startup=0.08),
        m("interpreter", 2, [0.52, 0.51, 0.53], startup=0.04),
    ]
    best, _, verdict, code = decide(ms, 100, "work")
    assert best == "interpreter x2"
    assert "starting the interpreters costs 40 ms, which pays off above about 9 items" in verdict
    assert "processes gave 1.7x (process x2) and cost 80 ms to start" in verdict
    assert code == 'poolwise.map(work, items, backend="interpreter", workers=2)'


def test_a_tie_between_processes_and_interpreters_goes_to_processes() -> None:
    ms = [
        m("serial", 1, [1.0, 1.01, 0.99]),
        m("process", 2, [0.52, 0.53, 0.51]),
        m("interpreter", 2, [0.515, 0.525, 0.52]),
    ]
    best, ties, verdict, _ = decide(ms, 100)
    assert best == "process x2" and ties == ("interpreter x2",)
    assert "interpreters gave" in verdict


def test_every_verdict_says_when_the_gil_is_off() -> None:
    little = [m("serial", 1, [0.0002, 0.0003, 0.0002]), m("thread", 2, [0.0001] * 3)]
    noisy = [
        m("serial", 1, [1.0, 1.6, 0.6]),
        m("thread", 2, [0.9, 1.5, 0.5]),
        m("process", 2, [0.8, 1.4, 0.55]),
    ]
    parallel = [m("serial", 1, [1.0, 1.01, 0.99]), m("thread", 2, [0.51, 0.5, 0.52])]
    for ms in (little, noisy, parallel):
        _, _, on, _ = decide(ms, 100, gil_enabled=True)
        _, _, off, _ = decide(ms, 100, gil_enabled=False)
        assert "GIL is off" not in on
        assert off.startswith("the GIL is off (a free-threaded build): threads run Python")
    _, _, off, _ = decide(parallel, 100, gil_enabled=False)
    assert "threads gave 2.0x (thread x2): with the GIL off they run its Python in parallel" in off
