"""check_races' rounds: sized to the budget from measured times (a fake clock here), large
inputs sampled, a deadline that stops a round between calls, seeds that replay a sample."""

from __future__ import annotations

import itertools
import threading
from typing import Any

import poolwise
from poolwise.checks import _rounds
from poolwise.checks._rounds import Plan, run_round


class FakeClock:
    def __init__(self) -> None:
        self.now = 0.0

    def __call__(self) -> float:
        return self.now


def test_first_round_takes_one_item_then_rounds_fit_an_eighth_of_the_budget() -> None:
    clock = FakeClock()
    plan = Plan(10_000, 8, None, 1.6, None, clock)
    _, sample = plan.next_round()  # type: ignore[misc]
    assert len(sample) == 1
    # a round spends 8 ms per item (its 8 calls); the serial run nothing
    plan.ran(1, 8, 0.008, 0.0)
    sizes = []
    for _ in range(4):
        _, sample = plan.next_round()  # type: ignore[misc]
        sizes.append(len(sample))
        plan.ran(len(sample), 8 * len(sample), 0.008 * len(sample), 0.0)
    # an eighth of 1.6 s is 0.2 s: 25 items at 8 ms an item; growth at most 4x a round
    assert sizes == [4, 16, 25, 25]
    assert plan.sampled and plan.largest == 25


def test_no_round_starts_that_would_not_fit_what_is_left() -> None:
    clock = FakeClock()
    plan = Plan(100, 8, None, 1.0, None, clock)
    plan.next_round()
    plan.ran(1, 8, 0.2, 0.0)  # 1.6 s per item: more than the budget
    assert plan.next_round() is None
    plan = Plan(100, 8, None, 1.0, None, clock)
    clock.now = 1.0  # the deadline itself
    assert plan.next_round() is None


def test_small_inputs_run_whole_and_iterations_run_every_item() -> None:
    plan = Plan(20, 8, None, 1.5, None, FakeClock())
    plan.next_round()
    plan.ran(1, 8, 1e-5, 1e-6)
    _, sample = plan.next_round()  # type: ignore[misc]
    assert len(sample) == 4  # growth capped...
    plan.ran(4, 32, 4e-5, 1e-6)
    plan.next_round()
    plan.ran(16, 128, 16e-5, 1e-6)
    _, sample = plan.next_round()  # type: ignore[misc]
    assert sample == list(range(20))  # ...then all of them
    plan = Plan(20, 8, 3, 1.5, None, FakeClock())
    rounds = [plan.next_round() for _ in range(4)]
    assert [r[1] if r else None for r in rounds] == [list(range(20))] * 3 + [None]


def test_a_reported_seed_replays_the_same_sample() -> None:
    plan = Plan(5000, 8, None, 1.5, 7, FakeClock())
    plan.next_round()
    plan.ran(1, 8, 1e-4, 0.0)
    base, sample = plan.next_round()  # type: ignore[misc]
    seed = plan.reported_seed(base, len(sample))
    again = Plan(5000, 8, None, 1.5, seed, FakeClock())
    assert again.next_round() == (base, sample)
    # a seed of a round that took every item replays every item
    assert Plan(10, 8, None, 1.5, base, FakeClock()).next_round() == (base, list(range(10)))


def test_the_deadline_stops_a_round_between_calls() -> None:
    ticks = itertools.count()
    calls: list[int] = []
    lock = threading.Lock()

    def record(x: int) -> int:
        with lock:
            calls.append(x)
        return x

    # the clock passes the deadline (10) after a few looks: the round ends early
    out, finished, complete = run_round(
        record, list(range(1000)), 2, 1, "", 10.0, clock=lambda: float(next(ticks))
    )
    assert finished and not complete
    assert 0 < sum(map(len, out)) < 2000 and len(calls) == sum(map(len, out))


def test_a_round_cut_by_the_deadline_does_not_check_the_invariant(monkeypatch: Any) -> None:
    # a counter the locked function keeps exactly: a cut round leaves it short of the serial
    # run's, which must not read as a race
    state = {"n": 0}
    lock = threading.Lock()

    def bump(_: Any) -> None:
        with lock:
            state["n"] += 1

    real = _rounds.run_round

    def cut_round(*args: Any, **kwargs: Any) -> Any:
        ticks = itertools.count()
        deadline = 5.0  # after a few looks at the clock
        return real(*args[:5], deadline, clock=lambda: float(next(ticks)))

    monkeypatch.setattr("poolwise.checks._races.run_round", cut_round)
    report = poolwise.check_races(
        bump,
        [0] * 200,
        setup=lambda: state.update(n=0),
        invariant=lambda: state["n"],
        budget=60,
    )
    assert not report.found, str(report)
    assert "stopped at the deadline" in str(report)


def test_large_inputs_are_sampled_and_the_report_says_so() -> None:
    report = poolwise.check_races(abs, range(200_000), threads=2, budget=0.3)
    assert not report.found
    assert report.calls < 2 * 200_000
    assert "random samples of the 200000 items" in str(report)
