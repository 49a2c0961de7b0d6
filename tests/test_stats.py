"""Statistics on made-up timings: deterministic."""

from __future__ import annotations

import pytest

from poolwise.measure._stats import (
    checks,
    differ,
    mann_whitney_p,
    summarize,
    without_outliers,
)


def test_summary_median_mad_and_outliers() -> None:
    s = summarize([1.0, 1.1, 0.9, 1.0, 5.0])
    assert s.median == 1.0 and s.minimum == 0.9 and s.maximum == 5.0
    assert s.mad == pytest.approx(0.1)
    assert s.outliers == 1
    assert s.noisy is False


def test_noisy_sample() -> None:
    assert summarize([1.0, 1.5, 0.6, 1.2]).noisy


def test_identical_samples_do_not_differ() -> None:
    assert not differ([1.0, 1.01, 0.99], [1.0, 1.02, 0.98])


def test_small_effects_are_a_tie_however_consistent() -> None:
    assert not differ([1.00, 1.00, 1.00], [1.02, 1.02, 1.02])


def test_three_against_three_apart_and_beyond_the_spread_differ() -> None:
    assert mann_whitney_p([1.0, 1.01, 0.99], [0.5, 0.51, 0.49]) > 0.05  # the test alone cannot
    assert differ([1.0, 1.01, 0.99], [0.5, 0.51, 0.49])


def test_overlapping_noisy_samples_are_a_tie() -> None:
    assert not differ([1.0, 1.4, 0.7], [0.9, 1.3, 0.8])


def test_many_samples_use_mann_whitney() -> None:
    a = [1.0 + 0.01 * i for i in range(10)]
    b = [1.1 + 0.01 * i for i in range(10)]
    assert mann_whitney_p(a, b) < 0.01
    assert differ(a, b)


def test_single_values_need_a_large_difference() -> None:
    assert not differ([1.0], [1.1])
    assert differ([1.0], [2.0])


def test_empty_sample_is_an_error() -> None:
    with pytest.raises(ValueError, match="no timings"):
        summarize([])


def test_checks_name_noise_and_outliers() -> None:
    assert checks("serial", summarize([1.0, 1.01, 0.99])) == []
    lines = checks("thread x2", summarize([1.0, 1.5, 0.6, 1.2]))
    assert len(lines) == 1 and lines[0].startswith("thread x2: the spread (MAD) is")
    lines = checks("process x2", summarize([1.0, 1.1, 0.9, 1.0, 5.0]))
    assert lines == ["process x2: 1 of 5 timings are outliers (more than 3.5 MADs from the median)"]


def test_an_outlier_does_not_hide_a_clear_difference() -> None:
    slow = [0.76, 0.788, 0.82]
    fast = [0.384, 0.41, 0.434, 0.45, 0.775]  # one run disturbed by another program
    assert mann_whitney_p(slow, fast) > 0.05
    assert without_outliers(fast) == [0.384, 0.41, 0.434, 0.45]
    assert differ(slow, fast)


def test_three_timings_have_no_outliers_to_leave_out() -> None:
    # compare once ranked processes over threads on these (ms), each side's "outlier" dropped
    threads, processes = [27.3, 29.5, 29.6], [28.1, 28.3, 31.4]
    assert without_outliers(threads) == threads and summarize(processes).outliers == 0
    assert not differ(threads, processes)
    assert summarize([1.0, 1.01, 0.99, 1.0, 5.0]).outliers == 1


def test_without_outliers_keeps_a_tight_sample() -> None:
    assert without_outliers([1.0, 1.0, 1.0]) == [1.0, 1.0, 1.0]
