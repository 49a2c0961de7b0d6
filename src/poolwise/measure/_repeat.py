"""Repeat a run until its timings are stable, it is out of the race, or its budget is spent.

After pyperf and hyperfine: a warm-up run is discarded (imports, caches, a pool's first pickling
of the function) when it is cheap enough to afford; then runs repeat until the relative MAD of
at least ``min_repeats`` timings falls below ``stable``, or ``max_repeats`` is reached, or the
budget is spent. The clock is injected so that tests can script it.
"""

from __future__ import annotations

import time
from collections.abc import Callable
from dataclasses import dataclass

from poolwise.measure._stats import summarize

MIN_REPEATS = 3
MAX_REPEATS = 10
STABLE = 0.03  # stop repeating once the relative MAD is below this
WARMUP_SHARE = 0.1  # a warm-up is run when the first run costs less than this share of budget


@dataclass(frozen=True)
class Repeats:
    """The timings kept (warm-up excluded) and why the loop stopped."""

    times: tuple[float, ...]
    warmups: int
    spent: float  # seconds of every run, warm-up included
    stopped: str  # "repeat", "stable", "max repeats", "budget", "out of the race"


def repeat_until_stable(
    run: Callable[[], object],
    *,
    budget: float,
    repeat: int | None = None,
    warmup: bool = True,
    slower_than: float | None = None,
    min_repeats: int = MIN_REPEATS,
    max_repeats: int = MAX_REPEATS,
    stable: float = STABLE,
    clock: Callable[[], float] = time.perf_counter,
) -> Repeats:
    """Time ``run()`` repeatedly; at least one timing is always kept.

    Args:
        budget: seconds this loop may spend; the run that crosses it is the last.
        repeat: exactly this many kept timings (the budget and stability are then ignored).
        warmup: discard the first run when it costs less than a tenth of the budget.
        slower_than: a time to beat; a run more than twice as slow ends the loop at once, as
            more repeats of a configuration clearly out of the race change no verdict.
        clock: seconds, monotonic (``time.perf_counter``; tests pass a scripted one).
    """
    if repeat is not None and repeat < 1:
        raise ValueError(f"repeat must be at least 1, got {repeat}")
    times: list[float] = []
    warmups = 0
    spent = 0.0
    while True:
        t0 = clock()
        run()
        elapsed = clock() - t0
        spent += elapsed
        if warmup and warmups == 0 and not times and elapsed < WARMUP_SHARE * budget:
            warmups = 1
            continue
        times.append(elapsed)
        if repeat is not None:
            if len(times) >= repeat:
                return Repeats(tuple(times), warmups, spent, "repeat")
            continue
        if slower_than is not None and elapsed > 2 * slower_than:
            return Repeats(tuple(times), warmups, spent, "out of the race")
        if len(times) >= max_repeats:
            return Repeats(tuple(times), warmups, spent, "max repeats")
        if len(times) >= min_repeats and summarize(times).spread < stable:
            return Repeats(tuple(times), warmups, spent, "stable")
        if spent >= budget:
            return Repeats(tuple(times), warmups, spent, "budget")
