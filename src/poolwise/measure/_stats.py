"""Statistics for timings, after pyperf and hyperfine: median and MAD, outliers, and a test of
whether two configurations really differ. Pure functions of lists of seconds."""

from __future__ import annotations

import math
import statistics
from collections.abc import Sequence
from dataclasses import dataclass

NOISY_SPREAD = 0.10  # a relative MAD above this makes a sample "noisy"


@dataclass(frozen=True)
class Summary:
    """A sample of timings."""

    median: float
    minimum: float
    maximum: float
    mad: float  # median absolute deviation
    n: int
    outliers: int  # values more than 3.5 robust z-scores from the median

    @property
    def spread(self) -> float:
        """MAD relative to the median."""
        return self.mad / self.median if self.median > 0 else 0.0

    @property
    def noisy(self) -> bool:
        return self.spread > NOISY_SPREAD


OUTLIER_Z = 3.5  # robust z-score (MAD scaled to a standard deviation) beyond which a value is
# an outlier, as in Iglewicz and Hoaglin's modified z-score
OUTLIER_MIN_N = 5  # fewer values cannot tell an outlier from the spread: the MAD of three is
# the gap between the closest two, so any third value looked like an outlier


def _is_outlier(v: float, med: float, mad: float) -> bool:
    scale = 1.4826 * mad
    return scale > 0 and abs(v - med) / scale > OUTLIER_Z


def summarize(values: Sequence[float]) -> Summary:
    if not values:
        raise ValueError("no timings to summarize")
    med = statistics.median(values)
    mad = statistics.median(abs(v - med) for v in values)
    outliers = len(values) - len(_kept(values, med, mad))
    return Summary(med, min(values), max(values), mad, len(values), outliers)


def without_outliers(values: Sequence[float]) -> list[float]:
    """``values`` less its outliers (a run disturbed by another program, say)."""
    med = statistics.median(values)
    return _kept(values, med, statistics.median(abs(v - med) for v in values))


def _kept(values: Sequence[float], med: float, mad: float) -> list[float]:
    if len(values) < OUTLIER_MIN_N:
        return list(values)
    return [v for v in values if not _is_outlier(v, med, mad)]


def mann_whitney_p(a: Sequence[float], b: Sequence[float]) -> float:
    """Two-sided p-value of the Mann-Whitney U test (normal approximation, ties averaged).

    With very small samples the test cannot reach significance: with 3 and 3 values the
    smallest possible p is 0.08 (exact). That is the point: too few repeats are a tie.
    """
    n1, n2 = len(a), len(b)
    if n1 == 0 or n2 == 0:
        return 1.0
    ranked = sorted([(v, 0) for v in a] + [(v, 1) for v in b])
    ranks = [0.0] * len(ranked)
    i = 0
    while i < len(ranked):
        j = i
        while j + 1 < len(ranked) and ranked[j + 1][0] == ranked[i][0]:
            j += 1
        for k in range(i, j + 1):
            ranks[k] = (i + j) / 2 + 1
        i = j + 1
    r1 = sum(r for r, (_, g) in zip(ranks, ranked) if g == 0)
    u1 = r1 - n1 * (n1 + 1) / 2
    mu = n1 * n2 / 2
    sigma = math.sqrt(n1 * n2 * (n1 + n2 + 1) / 12)
    if sigma == 0:
        return 1.0
    z = (abs(u1 - mu) - 0.5) / sigma
    return max(0.0, min(1.0, math.erfc(z / math.sqrt(2))))


def differ(
    a: Sequence[float], b: Sequence[float], *, alpha: float = 0.05, min_effect: float = 0.03
) -> bool:
    """Whether samples ``a`` and ``b`` really differ.

    The medians must differ by more than ``min_effect``, and either the Mann-Whitney test
    rejects at ``alpha``, or (for the few repeats a benchmark can afford, where that test
    cannot reject: 3 against 3 values give p >= 0.1) the two ranges, outliers left out, do not
    overlap and the difference is more than three times the larger relative spread (MAD). A
    single value on either side only counts when the difference exceeds 25%.
    """
    sa, sb = summarize(a), summarize(b)
    lo = min(sa.median, sb.median)
    effect = abs(sa.median - sb.median) / lo if lo > 0 else 0.0
    if effect < min_effect:
        return False
    if min(len(a), len(b)) < 2:
        return effect > 0.25
    if mann_whitney_p(a, b) < alpha:
        return True
    ta, tb = without_outliers(a), without_outliers(b)
    apart = max(ta) < min(tb) or max(tb) < min(ta)
    return apart and effect > 3 * max(sa.spread, sb.spread)


def checks(label: str, s: Summary) -> list[str]:
    """Warnings about a sample, as pyperf's ``format_checks``: lines, not printed."""
    out = []
    if s.noisy:
        out.append(
            f"{label}: the spread (MAD) is {s.spread:.0%} of the median; other programs may "
            "be using the CPUs"
        )
    if s.outliers:
        out.append(
            f"{label}: {s.outliers} of {s.n} timings are outliers (more than 3.5 MADs from the "
            "median)"
        )
    return out
