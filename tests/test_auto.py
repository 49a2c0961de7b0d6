"""backend="auto": results, effects, thread safety measured, the memory, the Executor's auto."""

from __future__ import annotations

import os
import sys
import threading
import time
from collections.abc import Iterator
from pathlib import Path
from typing import Any

import pytest

import poolwise as pw
from poolwise.advisor._measure import GilSampler, same
from poolwise.advisor._pilot import SHORT, Pilot
from tests import helpers
from tests.catalogue.unsafe import (
    check_then_act,
    claims,
    noisy_wait,
    scratch_cpu,
    scratch_wait,
)


@pytest.fixture(autouse=True)
def _fresh_memory() -> Iterator[None]:
    pw.forget()
    yield
    pw.forget()


# -- functions correct serially and wrong on threads: tests/catalogue/unsafe.py -------------


@pytest.mark.parametrize(
    ("fn", "n"), [(scratch_cpu, 300), (scratch_wait, 120), (check_then_act, 150)]
)
def test_the_default_returns_what_the_function_returns_alone(fn: object, n: int) -> None:
    expected = [fn(x) for x in range(n)]  # type: ignore[operator]
    for _ in range(2):  # the first call measures, the second uses what was remembered
        pw.forget()
        assert pw.map(fn, range(n)) == expected  # type: ignore[arg-type]
    assert pw.map(fn, range(n)) == expected  # type: ignore[arg-type]


def test_a_race_rules_threads_out_and_the_reasons_point_to_check_races() -> None:
    advice = pw.advise(scratch_wait, range(200))
    assert advice.measured["thread_safety"] == "unsafe", str(advice)
    assert advice.backend != "thread"
    assert any("poolwise check races" in r for r in advice.reasons)


def test_results_that_vary_by_nature_are_not_taken_for_a_race() -> None:
    # a serial re-run of an item that differed differs too: the function varies, threads stay
    advice = pw.advise(noisy_wait, range(400))
    assert advice.measured["thread_safety"] == "varies", str(advice)
    assert advice.backend == "thread"
    assert any("vary by nature" in r for r in advice.reasons)


def fails_concurrently(x: int) -> int:
    if "busy" in claims:
        raise RuntimeError("slot taken")
    claims["busy"] = x
    time.sleep(0.002)
    del claims["busy"]
    return x


def test_an_exception_only_under_threads_rules_them_out() -> None:
    advice = pw.advise(fails_concurrently, range(200))
    assert advice.measured["thread_safety"] == "unsafe", str(advice)
    assert any("raised only concurrently (RuntimeError)" in r for r in advice.reasons)
    claims.clear()


# -- effects, re-runs ------------------------------------------------------------------------

_seen: list[int] = []
_seen_lock = threading.Lock()


def record(x: int) -> int:
    with _seen_lock:
        _seen.append(x)
    time.sleep(0.003)
    return x


def test_effects_land_in_the_caller_and_only_checked_items_run_twice() -> None:
    _seen.clear()
    assert pw.map(record, range(120)) == list(range(120))
    advice = pw.remembered()[-1]
    assert advice.decision.startswith("thread"), advice
    assert sorted(set(_seen)) == list(range(120))  # in this process: threads share memory
    twice = [x for x in set(_seen) if _seen.count(x) > 1]
    assert 0 < len(_seen) - 120 <= 8  # the trial re-ran a few loop items...
    assert all(x < 8 for x in twice)  # ...from the first ones, which ran in the loop


class Logged:
    """Waits 3 ms and appends a line per call to a file, from any process."""

    def __init__(self, path: str) -> None:
        self.path = path

    def __call__(self, x: int) -> int:
        time.sleep(0.003)
        with open(self.path, "a") as fh:
            fh.write(f"{x}\n")
        return x


def test_rerun_false_runs_every_item_exactly_once(tmp_path: Path) -> None:
    log = tmp_path / "calls"
    assert pw.map(Logged(str(log)), range(120), rerun=False) == list(range(120))
    assert sorted(int(x) for x in log.read_text().split()) == list(range(120))
    assert not pw.remembered()[-1].decision.startswith("thread")


def test_rerun_must_be_a_bool() -> None:
    with pytest.raises(TypeError, match="rerun must be True or False"):
        pw.map(helpers.double, [1], rerun="no")  # type: ignore[arg-type]


class Counted:
    """Appends a line per call to a file: how many times each item really ran."""

    def __init__(self, path: str) -> None:
        self.path = path

    def __call__(self, x: int) -> int:
        with open(self.path, "a") as fh:
            fh.write(f"{x} {os.getpid()}\n")
        return x * 3


def test_imap_over_a_generator_runs_each_item_once(tmp_path: Path) -> None:
    log = tmp_path / "calls"
    out = list(pw.imap(Counted(str(log)), (x for x in range(300)), rerun=False))
    assert out == [3 * x for x in range(300)]
    calls = [int(line.split()[0]) for line in log.read_text().split("\n") if line]
    assert sorted(calls) == list(range(300))


def test_a_short_job_runs_in_the_callers_thread() -> None:
    me = threading.current_thread().name
    assert pw.map(helpers.thread_name, range(50)) == [me] * 50
    # nothing to decide: the loop was done first (unless a machine busy enough to stretch
    # these microsecond items to milliseconds made the job long)
    remembered = pw.remembered()
    assert remembered == [] or remembered[0].profile.wall * 50 > SHORT, remembered


def test_failures_are_delivered_in_place_or_raised_as_a_loop_would() -> None:
    out = pw.map(helpers.fail_on(1), range(10), on_error="return")
    assert isinstance(out[1], pw.Failure) and isinstance(out[1].exception, ValueError)
    assert out[1].index == 1 and out[1].item == 1 and "item 1 is bad" in out[1].traceback
    assert [x for i, x in enumerate(out) if i != 1] == [x for x in range(10) if x != 1]
    with pytest.raises(ValueError, match="item 1 is bad"):
        pw.map(helpers.fail_on(1), range(10))


def test_the_initializer_runs_in_the_caller_first() -> None:
    helpers.set_initialized(None)
    out = pw.map(
        helpers.get_initialized, range(3), initializer=helpers.set_initialized, initargs=("ready",)
    )
    assert out == ["ready"] * 3


def test_a_timeout_makes_auto_use_processes() -> None:
    assert pw.map(helpers.pid_of, range(4), timeout=10)[0] != os.getpid()


# -- the memory ------------------------------------------------------------------------------


def spin_ms(ms: float) -> int:
    end = time.thread_time() + ms / 1000
    while time.thread_time() < end:
        pass
    return 1


def test_a_decision_is_remembered_listed_and_forgotten() -> None:
    pw.map(spin_ms, [1.0] * 200)
    entries = pw.remembered()
    assert len(entries) == 1
    entry = entries[0]
    assert entry.function.endswith("spin_ms") and entry.item_type == "float"
    # (CPU time, not wall time: a busy machine stretches the wall clock, not the spin's CPU)
    assert entry.profile.cpu == pytest.approx(0.001, rel=0.5) and entry.profile.wall >= 0.0009
    pilot = Pilot(spin_ms, [1.0] * 200)
    assert sum(len(c) for c in pilot.run()) >= 1
    assert pilot.remembered  # the second call used the profile
    assert pw.forget(spin_ms) == 1 and pw.remembered() == []


def test_work_that_changed_is_measured_afresh() -> None:
    pw.map(spin_ms, [0.05] * 2000)
    before = pw.remembered()[0].profile.wall
    pilot = Pilot(spin_ms, [2.0] * 100)  # forty times the work per item
    for _ in pilot.run():
        pass
    assert not pilot.remembered
    assert pw.remembered()[0].profile.wall > 10 * before


# -- the instruments -------------------------------------------------------------------------


def test_the_gil_sampler_tells_holding_from_releasing() -> None:
    def held_share(work: object) -> float:
        # a tenth of a second: on a busy machine one late wake-up of the OS weighs on a
        # few samples (a 20 ms sleep once read 32% held)
        sampler = GilSampler().start()
        t0 = time.perf_counter()
        while True:
            work()  # type: ignore[operator]
            share = sampler.share()
            if share is not None and time.perf_counter() - t0 >= 0.1:
                break
        sampler.stop()
        return share

    held = held_share(lambda: spin_ms(20))
    assert held > 0.6
    # a sleep reads near zero alone; beside the suite's leftovers on a busy machine it read
    # 0.31 once (3.13, full run): it must still read well apart from work that holds the GIL
    released = held_share(lambda: time.sleep(0.02))
    assert released < 0.5 and released < held / 2, (released, held)


def test_a_trial_whose_jobs_took_turns_proves_nothing(monkeypatch: pytest.MonkeyPatch) -> None:
    # on a busy machine a trial's threads can take turns: re-runs that ran alone match their
    # serial results whatever the function does, and must not pass it as thread-safe
    from poolwise.advisor import _pilot

    real = _pilot._on_threads

    def one_at_a_time(fn: Any, jobs: list[Any], workers: int, *rest: Any) -> Any:
        return real(fn, jobs, 1, *rest)

    monkeypatch.setattr(_pilot, "_on_threads", one_at_a_time)
    expected = [scratch_wait(x) for x in range(60)]
    pilot = Pilot(scratch_wait, range(60))
    out = [x for chunk in pilot.run() for x in chunk]
    assert pilot.profile is not None and pilot.advice is not None
    assert pilot.profile.safety == "unchecked", pilot.profile.safety_note
    assert "beside another job" in pilot.profile.safety_note
    assert pilot.advice.backend != "thread", pilot.advice.reasons
    assert out == expected[: len(out)]  # nothing the trial ran alone was kept unchecked
    assert pilot.consumed == len(out)


def test_a_trial_re_runs_each_loop_item_once(monkeypatch: pytest.MonkeyPatch) -> None:
    # copies of one item read each other's writes: a scratch object last written by a copy of
    # item 0 gave every copy its serial result while the new items beside them came out wrong
    from poolwise.advisor import _pilot

    real, seen = _pilot._on_threads, []

    def spy(fn: Any, jobs: list[Any], *rest: Any) -> Any:
        seen.append(list(jobs))
        return real(fn, jobs, *rest)

    monkeypatch.setattr(_pilot, "_on_threads", spy)
    pilot = Pilot(scratch_wait, range(100))  # 5 ms items: the loop runs one, then a trial
    out = [x for chunk in pilot.run() for x in chunk]
    assert seen, "no trial ran"
    for jobs in seen:
        assert len(jobs) == len(set(jobs)), jobs
    assert out == [scratch_wait(x) for x in range(len(out))]
    assert pilot.profile is not None and pilot.profile.safety != "safe"


def test_overlap_and_concurrency_of_a_trials_jobs() -> None:
    from poolwise.advisor._pilot import _concurrency, _overlapped, _role

    turns = [(0.0, 1.0), (1.0, 2.0), (2.0, 3.0)]
    assert not any(_overlapped(turns, j) for j in range(3))
    assert _concurrency(turns) == 1.0
    together = [(0.0, 2.0), (0.1, 2.0), (0.2, 2.1), (2.0, 4.0)]
    assert _overlapped(together, 0) and _overlapped(together, 3)
    assert _concurrency(together) == pytest.approx((2.0 + 1.9 + 1.9 + 2.0) / 4.0)
    assert _role(together, 0) == "interrupted"  # the others started while it ran
    assert _role(together, 1) == "both"
    assert _role(together, 3) == "interrupting"  # it started while job 2 ran


def test_a_trial_restores_the_switch_interval() -> None:
    before = sys.getswitchinterval()
    pw.advise(record, range(100))
    assert sys.getswitchinterval() == before


class ArrayLike:
    def __init__(self, data: list[int]) -> None:
        self.data = data

    def __eq__(self, other: object) -> object:  # elementwise, as numpy does
        return [a == b for a, b in zip(self.data, other.data)]  # type: ignore[attr-defined]


def test_same_compares_values_that_do_not_compare_plainly() -> None:
    assert same(float("nan"), float("nan"))
    assert not same(1.0, 2.0)
    assert same(ArrayLike([1, 2]), ArrayLike([1, 2]))
    assert not same(ArrayLike([1, 2]), ArrayLike([1, 3]))


# -- the Executor's auto ---------------------------------------------------------------------


def test_executor_decides_at_first_map(tmp_path: Path) -> None:
    log = tmp_path / "calls"
    with pw.Executor(rerun=False) as ex:
        assert ex.backend == "auto"
        assert list(ex.map(Counted(str(log)), range(200))) == [3 * x for x in range(200)]
        assert ex.backend in {"serial", "thread", "process"}
        assert ex.advice is not None
        assert ex.submit(helpers.double, 4).result() == 8
    assert len(log.read_text().split("\n")) - 1 == 200


def test_executor_decides_at_first_submit() -> None:
    with pw.Executor() as ex:
        assert ex.submit(helpers.add, 2, 3).result() == 5
        assert ex.backend != "auto"
        assert ex.submit(helpers.add, 1, 1).result() == 2


def test_a_big_buffer_is_sized_not_pickled_to_price_processes(
    monkeypatch: pytest.MonkeyPatch,
) -> None:
    from poolwise import _transport

    pickled: list[Any] = []
    real = _transport.dumps
    monkeypatch.setattr(_transport, "dumps", lambda obj: pickled.append(obj) or real(obj))
    advice = pw.advise(len, [bytes(2_000_000)] * 6)
    assert advice.measured["arg_bytes"] == 2_000_000
    assert not [x for x in pickled if isinstance(x, bytes) and len(x) >= 1 << 20]


def test_threads_are_measured_when_the_gil_was_not_sampled(
    monkeypatch: pytest.MonkeyPatch,
) -> None:
    # the loop stops at one slow item that mostly waits, before the GIL sampler has a
    # reading; the item paid for a set-up (a fifth of it computing), so the GIL was taken to
    # be held that long and processes were chosen. A thread trial measures instead.
    from poolwise.advisor import _pilot

    monkeypatch.setattr(_pilot.GilSampler, "share", lambda self: None)  # (no reading)
    helpers.forget_set_up()
    pilot = Pilot(helpers.connect_then_wait, range(100))
    out = [x for chunk in pilot.run() for x in chunk]
    assert pilot.profile is not None and pilot.advice is not None
    assert pilot.profile.gil is None
    assert pilot.profile.trial is not None, pilot.advice.reasons
    # the trial's warm jobs correct the loop's one item: the time per item is its 5 ms wait
    assert pilot.profile.wall < 0.008 and pilot.profile.cpu < 0.002, pilot.profile
    assert pilot.advice.backend == "thread", pilot.advice.reasons
    assert out == list(range(1, len(out) + 1))


def test_the_trial_runs_on_the_best_thread_count_when_processes_won_on_a_guess() -> None:
    import dataclasses

    from poolwise.advisor._advise import SAME, decide
    from poolwise.advisor._profile import Profile

    # one slow first item that computed 27% of its time: unsampled, the GIL is taken to be
    # held that long, and processes win on that guess
    guess = Profile(wall=0.02, cpu=0.0054, gil=None, spread=0.0, samples=1, picklable=True)
    pilot = Pilot(helpers.double, range(10))
    pilot.profile = guess
    advice = decide(guess, 1000, cpus=2)
    assert advice.backend == "process", advice.reasons
    threads = {
        int(k.partition(" x")[2]): v
        for k, v in advice.predictions.items()
        if k.startswith("thread x")
    }
    # the fewest threads predicted within SAME (10%) of the best
    fewest = min(k for k, v in threads.items() if v <= (1 + SAME) * min(threads.values()))
    assert pilot._trial_threads(advice) == fewest > 1
    # work that computes, sampled, or already checked: the model's choice stands (a trial of
    # 1 ms pure-Python items read 0.3-0.5 ms per item on 8 threads, and threads were advised)
    pilot.profile = dataclasses.replace(guess, cpu=guess.wall)
    assert pilot._trial_threads(decide(pilot.profile, 1000, cpus=2)) == 0
    pilot.profile = dataclasses.replace(guess, gil=0.3)
    assert pilot._trial_threads(decide(pilot.profile, 1000, cpus=2)) == 0
    pilot.profile = dataclasses.replace(guess, safety="safe", trial=(8, 0.004))
    assert pilot._trial_threads(decide(pilot.profile, 1000, cpus=2)) == 0


def test_the_short_switch_interval_lasts_until_the_re_runs_are_done() -> None:
    from poolwise.advisor._pilot import _on_threads

    before = sys.getswitchinterval()
    seen: list[float] = []

    def note(_: int) -> None:
        seen.append(sys.getswitchinterval())

    _on_threads(note, [0, 1, 2, 3], 1, 10.0, False, 1e-4, frozenset({0, 1}))
    assert seen[:2] == [pytest.approx(1e-4)] * 2  # the re-runs, interleaved at 0.1 ms
    assert seen[2:] == [before, before]  # the rest at the program's own interval
    assert sys.getswitchinterval() == before
    seen.clear()
    _on_threads(note, [0, 1], 1, 10.0, False, 2e-4)  # no re-runs: short all the way
    assert seen == [pytest.approx(2e-4)] * 2


def test_a_trial_that_found_a_race_does_not_time_the_items() -> None:
    # on threads a check-then-act's losers return at once: read as the time per item, its
    # 2 ms items looked like 29 us ones and the job was advised serial
    pilot = Pilot(check_then_act, range(150), mode="advise")
    for _ in pilot.run():
        pass
    assert pilot.profile is not None and pilot.advice is not None
    assert pilot.profile.safety == "unsafe", pilot.profile.safety_note
    assert pilot.profile.wall > 0.0015, pilot.profile
    assert pilot.advice.backend != "thread", pilot.advice.reasons


def test_a_trial_re_runs_two_loop_items_when_the_loop_ran_one(
    monkeypatch: pytest.MonkeyPatch,
) -> None:
    # slow items: the loop decides after one. A single re-run must be both interrupted and
    # interrupting, which on 2 threads depends on which job ends first: the loop runs a second
    # item so that two re-runs cover both places (on 3 threads or more, no need)
    from poolwise.advisor import _pilot

    real, seen = _pilot._on_threads, []

    def spy(fn: Any, jobs: list[Any], *rest: Any) -> Any:
        seen.append([x for x, _ in pilot._baseline])  # (the loop items a trial may re-run)
        return real(fn, jobs, *rest)

    monkeypatch.setattr(_pilot, "_on_threads", spy)
    monkeypatch.setattr(Pilot, "_trial_threads", lambda self, advice: 2)  # (2 threads)
    items = [0.008 + i * 1e-6 for i in range(40)]
    pilot = Pilot(helpers.sleep_and_return, items)
    out = [x for chunk in pilot.run() for x in chunk]
    assert seen, "no trial ran"
    assert seen[0][:2] == items[:2], seen[0]
    assert out == items[: len(out)]
