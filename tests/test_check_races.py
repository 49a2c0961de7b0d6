"""check_races: every catalogue bug is found, no locked twin is flagged, reports explain."""

from __future__ import annotations

import threading
from typing import Any

import pytest

import poolwise
from tests.catalogue.races import RACE_CASES, RaceCase

RUNS = 20  # bench/checks.py measures 100; 20 detections in a row still fail a weak checker


@pytest.mark.parametrize("case", RACE_CASES, ids=lambda c: c.name)
def test_bug_found_every_run(case: RaceCase) -> None:
    found = sum(
        poolwise.check_races(case.bug, case.items, **case.options).found for _ in range(RUNS)
    )
    assert found == RUNS


@pytest.mark.parametrize("case", RACE_CASES, ids=lambda c: c.name)
def test_locked_twin_never_flagged(case: RaceCase) -> None:
    for _ in range(5):
        report = poolwise.check_races(case.twin, case.items, iterations=6, **case.options)
        assert not report.found, str(report)
        assert report.rounds == 6


def test_report_of_lost_update_says_what_and_how_to_reproduce() -> None:
    case = RACE_CASES[0]
    report = poolwise.check_races(case.bug, case.items, **case.options)
    assert report.found
    assert report.invariant_failures >= 1
    text = str(report)
    assert text.startswith("RACE in bump:")
    assert "the invariant failed" in text
    assert f"seed={report.seed}" in text
    with pytest.raises(poolwise.RaceDetected, match="RACE in bump"):
        report.raise_if_found()
    # the seed replays the same forced switches: the first round races again
    again = poolwise.check_races(
        case.bug, case.items, iterations=1, seed=report.seed, **case.options
    )
    assert again.found


def test_differing_results_are_listed() -> None:
    case = RACE_CASES[3]  # the scratch object: results differ, no invariant
    report = poolwise.check_races(case.bug, case.items)
    assert report.found and report.differing_count >= 1
    item, serial, concurrent = report.differing_results[0]
    assert serial == item * item and concurrent != serial
    assert "results differed" in str(report)


def test_exceptions_only_under_concurrency_are_counted() -> None:
    case = RACE_CASES[2]  # check-then-act: pop() of a key another thread took
    report = poolwise.check_races(case.bug, case.items, **case.options)
    assert report.found
    assert any(k.startswith("KeyError") for k in report.exceptions), report.exceptions
    assert "Traceback" in report.exception_example


def test_exceptions_the_serial_run_raises_too_are_not_races() -> None:
    def always_fails(x: int) -> int:
        raise ValueError(f"bad item {x}")

    report = poolwise.check_races(always_fails, range(3), iterations=2)
    assert not report.found
    assert "no race found in" in str(report)


def test_boolean_invariant() -> None:
    hits: list[int] = []

    def record(x: int) -> None:
        hits.append(x)

    report = poolwise.check_races(
        record,
        range(4),
        threads=4,
        iterations=2,
        setup=hits.clear,
        invariant=lambda: len(hits) == 16,
    )
    assert not report.found, str(report)


def test_hung_round_is_reported_not_waited_for(monkeypatch: pytest.MonkeyPatch) -> None:
    from poolwise.checks import _rounds

    monkeypatch.setattr(_rounds, "ROUND_TIMEOUT", 0.5)
    gate = threading.Event()
    calls: list[int] = []

    def stuck_when_concurrent(x: Any) -> None:
        calls.append(1)
        if len(calls) > 2:  # the serial run passes; the concurrent round blocks
            gate.wait()

    try:
        report = poolwise.check_races(stuck_when_concurrent, [0], threads=2)
    finally:
        gate.set()
    assert report.found and report.rounds == 1
    assert "had not finished" in str(report)


def test_arguments_are_checked() -> None:
    with pytest.raises(ValueError, match="at least 2"):
        poolwise.check_races(abs, [1], threads=1)
    with pytest.raises(ValueError, match="at least one item"):
        poolwise.check_races(abs, [])
    with pytest.raises(TypeError):
        poolwise.check_races(3, [1])  # type: ignore[arg-type]
