"""The repeat-until-stable loop, driven by a scripted clock: no real time passes."""

from __future__ import annotations

from collections.abc import Sequence

import pytest

from poolwise.measure._repeat import repeat_until_stable


class ScriptedRuns:
    """A clock, and a run that advances it by the next scripted duration."""

    def __init__(self, durations: Sequence[float]) -> None:
        self.durations = list(durations)
        self.now = 100.0
        self.calls = 0

    def clock(self) -> float:
        return self.now

    def run(self) -> None:
        self.now += self.durations[self.calls]
        self.calls += 1


def test_cheap_warm_up_is_discarded_then_stops_when_stable() -> None:
    s = ScriptedRuns([0.5, 0.10, 0.101, 0.099, 9.0])
    r = repeat_until_stable(s.run, budget=10.0, clock=s.clock)
    assert r.warmups == 1 and r.times == pytest.approx((0.10, 0.101, 0.099))
    assert r.stopped == "stable" and r.spent == pytest.approx(0.8)


def test_expensive_first_run_is_kept() -> None:
    s = ScriptedRuns([2.0, 2.0, 2.0, 2.0])
    r = repeat_until_stable(s.run, budget=10.0, clock=s.clock)
    assert r.warmups == 0 and len(r.times) == 3 and r.stopped == "stable"


def test_noisy_runs_repeat_until_the_budget_is_spent() -> None:
    s = ScriptedRuns([1.0, 1.5, 0.6, 1.2, 0.7, 1.4, 0.9, 1.3, 1.1, 1.0])
    r = repeat_until_stable(s.run, budget=4.0, warmup=False, clock=s.clock)
    assert r.times == pytest.approx((1.0, 1.5, 0.6, 1.2)) and r.stopped == "budget"


def test_noisy_cheap_runs_stop_at_max_repeats() -> None:
    s = ScriptedRuns([0.01, 0.02, 0.03] * 4)
    r = repeat_until_stable(s.run, budget=100.0, warmup=False, max_repeats=6, clock=s.clock)
    assert len(r.times) == 6 and r.stopped == "max repeats"


def test_a_run_twice_as_slow_as_the_best_is_out_of_the_race() -> None:
    s = ScriptedRuns([1.0, 3.0, 3.0])
    r = repeat_until_stable(s.run, budget=100.0, slower_than=1.0, clock=s.clock)
    assert r.warmups == 1  # the first run, cheap against the budget
    assert r.times == (3.0,) and r.stopped == "out of the race"


def test_fixed_repeat_ignores_budget_and_stability() -> None:
    s = ScriptedRuns([0.01, 5.0, 5.0, 5.0, 5.0, 5.0])
    r = repeat_until_stable(s.run, budget=1.0, repeat=5, clock=s.clock)
    assert r.warmups == 1 and len(r.times) == 5 and r.stopped == "repeat"


def test_at_least_one_timing_even_over_budget() -> None:
    s = ScriptedRuns([50.0])
    r = repeat_until_stable(s.run, budget=1.0, clock=s.clock)
    assert r.times == (50.0,) and r.stopped == "budget"


def test_repeat_must_be_positive() -> None:
    with pytest.raises(ValueError, match="repeat must be at least 1"):
        repeat_until_stable(lambda: None, budget=1.0, repeat=0)
