"""Adaptive batch sizes, from injected durations (no clocks involved), and batch accounting."""

from __future__ import annotations

import logging
from typing import Any

import pytest

from poolwise._batching import Chunker
from poolwise._dispatch import JobRun
from poolwise.backends._base import Job, Outcome, TaskError


def test_first_batch_is_a_single_task() -> None:
    assert Chunker(2).size(100_000) == 1


def test_tiny_tasks_grow_into_large_batches_step_by_step() -> None:
    c = Chunker(2, target=0.02)
    c.observe(1, 1e-7)
    first = c.size(100_000)
    assert first == 64  # growth is capped at 64x what was measured
    c.observe(64, 64e-7)
    assert c.size(100_000) == 64 * 64
    c.observe(4096, 4096e-7)
    assert c.size(100_000) == 100_000 // 8  # the guided share
    assert c.size(1_000) == 4_000  # the floor: a fiftieth of the target (0.4 ms of work)
    c.observe(1, 1e-3)  # the tasks turn slow: the smoothed estimate is halfway, 0.5 ms
    assert c.size(100_000) == int(0.02 / (0.5e-7 + 0.5e-3))  # 39


def test_slow_tasks_stay_alone() -> None:
    c = Chunker(2, target=0.02)
    c.observe(1, 0.025)
    assert c.size(64) == 1


def test_guided_shrinks_towards_the_tail_but_not_below_the_floor() -> None:
    c = Chunker(2, target=0.02)
    for _ in range(4):
        c.observe(4096, 4096 * 1e-4)  # 0.1 ms per task: target is 200 tasks
    assert c.size(100_000) == 200
    assert c.size(400) == 50  # guided: 400 / (4 * 2)
    assert c.size(10) == 4  # floor: a fiftieth of the target duration


def test_fixed_chunksize_is_kept() -> None:
    c = Chunker(4, fixed=7)
    c.observe(7, 1.0)
    assert c.size(3) == 7


def test_unknown_length_uses_duration_only() -> None:
    c = Chunker(2, target=0.01)
    c.observe(1, 1e-3)
    assert c.size(None) == 10


def test_a_known_duration_from_an_earlier_run_skips_the_ramp() -> None:
    c = Chunker(2, target=0.02, per_item=1e-7)
    assert c.size(100_000) == 100_000 // 8


def test_the_floor_rounds_up_to_at_least_that_much_work() -> None:
    # dask's floor: no batch under 50 ms of work, so 25 ms tasks end in pairs, not singles
    c = Chunker(2, target=0.4, batches_per_worker=2, floor=0.05, per_item=0.025)
    assert c.size(64) == 16  # guided: 64 / (2 * 2), under the target's 16
    assert c.size(3) == 2
    assert Chunker(2, target=0.4, batches_per_worker=2, per_item=0.025).size(3) == 1


def test_for_backend_takes_the_backends_batching_constants() -> None:
    from poolwise.backends._dask import DaskBackend

    c = Chunker.for_backend(DaskBackend, 2, per_item=0.025)
    assert (c.target, c.per_worker, c.floor) == (0.2, 2, 0.05)
    assert c.size(None) == 8
    assert c.size(3) == 2  # the floor


def test_the_next_run_starts_from_the_mean_not_the_last_batches() -> None:
    # tasks sorted longest first: the smoothed estimate ends at the short tasks' time, and a
    # next run sized by it would put a dozen of the longest tasks into its first batch
    c = Chunker(2, target=0.02)
    for per_task in (0.010, 0.004, 0.001, 0.0002, 0.0001):
        c.observe(4, 4 * per_task)
    assert c.per_item == pytest.approx(0.0011)
    assert Chunker(2, target=0.02, per_item=c.per_item).size(1_000) == 18
    assert c.mean_per_item == pytest.approx(0.00306)
    assert Chunker(2, target=0.02, per_item=c.mean_per_item).size(1_000) == 6
    assert Chunker(2, target=0.02).mean_per_item is None


def _schedule(c: Chunker, n: int) -> list[int]:
    sizes = []
    while n:
        sizes.append(min(c.size(n), n))
        n -= sizes[-1]
    return sizes


def test_factoring_gives_equal_tasks_no_tail_of_small_batches() -> None:
    # 64 tasks of 25 ms on 2 Dask workers (200 ms target, 50 ms floor)
    dask = {"target": 0.2, "batches_per_worker": 2, "floor": 0.05, "per_item": 0.025}
    guided = Chunker(2, **dask)  # type: ignore[arg-type]
    assert _schedule(guided, 64) == [8, 8, 8, 8, 8, 6, 5, 4, 3, 2, 2, 2]
    # nearly equal tasks: rounds of one batch per worker, at twice the target (a batch's cost
    # is amortized better, and factoring still ends the tail even)
    assert _schedule(Chunker(2, **dask, factoring=True, spread=0.1), 64) == [16] * 4  # type: ignore[arg-type]
    # the more they vary, the more a round leaves for the next
    mild = _schedule(Chunker(2, **dask, factoring=True, spread=0.5), 64)  # type: ignore[arg-type]
    assert mild == [16, 16, 15, 15, 2]
    # unknown or wider spreads (a job's first run; lognormal durations): guided
    for spread in (None, 0.6, 2.0):
        factored = Chunker(2, **dask, factoring=True, spread=spread)  # type: ignore[arg-type]
        assert _schedule(factored, 64) == _schedule(Chunker(2, **dask), 64)  # type: ignore[arg-type]


def test_a_factoring_round_resumes_only_where_it_left_off() -> None:
    def chunker() -> Chunker:
        return Chunker(2, target=0.2, floor=1e-9, per_item=1e-4, factoring=True, spread=0.1)

    c = chunker()
    assert c.size(300) == 149  # the first batch of a round of two
    c._spread = 0.9  # the estimate crosses to guided for a batch...
    assert c.size(151) == 19
    c._spread = 0.1  # ...and back: a new round, not the old one's 149 items for all 132 left
    assert c.size(132) == 66
    retried = chunker()
    assert retried.size(300) == 149
    assert retried.size(120) == 60  # sizing the retries of 120 items: a round of their own
    assert retried.size(5_000) == 2_496  # fresh items again: a round from what is left


def test_the_spread_is_estimated_from_the_batches_means() -> None:
    c = Chunker(2, target=0.2, spread=0.5)
    for mean in (1.0, 3.0, 1.0):
        c.observe(4, 4 * mean)
    assert c.spread == 0.5  # too few batches yet: the earlier run's estimate
    c.observe(4, 4 * 3.0)
    # a batch of n tasks has 1/n of a task's variance: sum(n (m - 2)^2) / (4 - 1) = 16 / 3
    assert c.spread == pytest.approx((16 / 3) ** 0.5 / 2)
    equal = Chunker(2, target=0.2)
    for _ in range(5):
        equal.observe(8, 8 * 0.025)
    assert equal.spread == pytest.approx(0.0, abs=1e-6)
    assert Chunker(2).spread is None


def test_a_run_leaves_its_measured_spread_on_the_job_for_the_next() -> None:
    job = Job(abs)
    run = JobRun(job, range(8), _ListSink(), Chunker(2, fixed=2))
    for k, elapsed in enumerate((0.002, 0.006, 0.002, 0.006)):
        batch = run.next_batch()
        assert batch is not None
        run.handle(Outcome(batch, list(batch.indices), elapsed=elapsed))
        assert job.spread == (None if k < 3 else pytest.approx((8 / 3) ** 0.5 * 1e-3 / 0.002))
    assert job.per_item == pytest.approx(0.002)


def test_only_backends_whose_batches_cost_milliseconds_use_factoring() -> None:
    from poolwise.backends._dask import DaskBackend
    from poolwise.backends._process import ProcessBackend

    assert Chunker.for_backend(DaskBackend, 2, spread=0.1).factoring
    assert not Chunker.for_backend(ProcessBackend, 2, spread=0.1).factoring


class _ListSink:
    def __init__(self) -> None:
        self.results: dict[int, Any] = {}

    def ok(self, index: int, value: Any) -> None:
        self.results[index] = value

    def ok_range(self, start: int, values: list[Any]) -> None:
        self.results.update(enumerate(values, start))

    def fail(self, index: int, item: Any, error: TaskError) -> None:
        raise AssertionError(f"item {index} failed: {error.exception!r}")

    def room(self) -> int:
        return 1_000


def test_a_batch_reported_twice_is_counted_once(caplog: pytest.LogCaptureFixture) -> None:
    # A backend that reported one batch twice once ended a map with batches still out.
    sink = _ListSink()
    run = JobRun(Job(abs), range(4), sink, Chunker(2, fixed=2))
    first, second = run.next_batch(), run.next_batch()
    assert first is not None and second is not None and run.inflight == 2
    run.handle(Outcome(first, [0, 1]))
    with caplog.at_level(logging.WARNING, logger="poolwise"):
        run.handle(Outcome(first, [0, 1]))
    assert "reported twice" in caplog.text
    assert run.inflight == 1 and not run.done
    run.handle(Outcome(second, [2, 3]))
    assert run.done and sink.results == {0: 0, 1: 1, 2: 2, 3: 3}
