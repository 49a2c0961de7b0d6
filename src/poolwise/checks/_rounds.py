"""The rounds of ``check_races``: how many items each takes, the serial reference, one round.

With a budget (the default), the budget is a deadline for everything, serial runs included.
The first round takes one item; each later round is sized from the time per call measured so
far to take about an eighth of the budget (at most four times the previous round, since the
first items may be cheap ones), or what is left of it. A round that cannot take every item
takes a random sample, chosen from its seed, so that a reported seed replays the same calls.
Workers look at the deadline between calls: a round still running then stops after the
calls in progress.
"""

from __future__ import annotations

import random
import threading
import time
import traceback
from collections.abc import Callable
from typing import Any

DEFAULT_BUDGET = 1.5  # seconds of checking, by default
MAX_ROUNDS = 50
ROUND_TIMEOUT = 30.0  # seconds a round may take before its threads count as hung
ROUND_SHARE = 1 / 8  # of the budget, for one round
_SEED_BITS = 30  # a reported seed: the round's seed, plus its sample size above these bits

Outcome = tuple[bool, Any, str]  # (returned, result or "Type: message", traceback)


class Plan:
    """Which round comes next: its seed and the indices of its items, or None to stop."""

    def __init__(
        self,
        total: int,
        threads: int,
        iterations: int | None,
        budget: float,
        seed: int | None,
        clock: Callable[[], float] = time.monotonic,
    ) -> None:
        self.total, self.threads, self.iterations, self.budget = total, threads, iterations, budget
        self._clock = clock
        self.deadline = None if iterations is not None else clock() + budget
        self._master = random.Random(seed)
        self._seed = seed
        self.rounds = 0
        self._n = total if iterations is not None else 1
        self._per_item: float | None = None  # seconds a round and its serial run take per item
        self.smallest, self.largest = total, 0

    @property
    def sampled(self) -> bool:
        return self.smallest < self.total

    def next_round(self) -> tuple[int, list[int]] | None:
        if self.iterations is not None:
            if self.rounds >= self.iterations:
                return None
        else:
            assert self.deadline is not None
            left = self.deadline - self._clock()
            if self.rounds >= MAX_ROUNDS or left <= 0:
                return None
            if self._per_item is not None:
                fit = int(min(self.budget * ROUND_SHARE, left) / self._per_item)
                if fit < 1:
                    return None  # not one more call of every thread fits in what is left
                self._n = min(self.total, fit, self._n * 4)
        n = self._n
        if self.rounds == 0 and self._seed is not None:
            base = self._seed & ((1 << _SEED_BITS) - 1)
            n = min(self.total, self._seed >> _SEED_BITS) or self.total
        else:
            base = self._master.randrange(1 << _SEED_BITS)
        self.rounds += 1
        self.smallest, self.largest = min(self.smallest, n), max(self.largest, n)
        if n >= self.total:
            return base, list(range(self.total))
        return base, sorted(random.Random(base).sample(range(self.total), n))

    def ran(self, n: int, calls: int, seconds: float, serial_per_call: float) -> None:
        """A round of ``n`` items made ``calls`` calls in ``seconds``: the measure for sizing
        the next ones (each thread makes one call per item; the serial run all of them)."""
        self._n = n
        self._per_item = self.threads * (seconds / max(calls, 1) + serial_per_call)

    def reported_seed(self, base: int, n: int) -> int:
        """The seed that replays a round: the sample size rides above the round's own seed."""
        return base if n >= self.total else base + (n << _SEED_BITS)


class Reference:
    """The serial run of a round's calls: the results and invariant to compare it with."""

    def __init__(
        self,
        fn: Callable[[Any], Any],
        items: list[Any],
        threads: int,
        setup: Callable[[], Any] | None,
        invariant: Callable[[], Any] | None,
    ) -> None:
        self._fn, self._all, self._threads = fn, items, threads
        self._setup, self._invariant = setup, invariant
        self.sample: list[int] | None = None
        self.items: list[Any] = []
        self.per_item: list[tuple[bool, Any]] = []
        self.baseline: Any = None
        self.seconds_per_call = 0.0

    def run(self, sample: list[int]) -> None:
        """The same calls as a round of ``sample``, one after another."""
        if self._setup:
            self._setup()
        chosen = [self._all[i] for i in sample]
        serial: list[tuple[bool, Any]] = []
        t0 = time.monotonic()
        for _ in range(self._threads):
            for x in chosen:
                try:
                    serial.append((True, self._fn(x)))
                except Exception as exc:
                    serial.append((False, f"{type(exc).__name__}: {exc}"))
        self.seconds_per_call = (time.monotonic() - t0) / len(serial)
        self.baseline = self._invariant() if self._invariant is not None else None
        self.sample, self.items, self.per_item = sample, chosen, serial[: len(chosen)]


def run_round(
    fn: Callable[[Any], Any],
    items: list[Any],
    threads: int,
    seed: int,
    include: str,
    deadline: float | None,
    clock: Callable[[], float] = time.monotonic,
) -> tuple[list[list[Outcome]], bool, bool]:
    """One concurrent round: every thread calls fn on every item, until the deadline.
    Returns (outcomes per thread, every thread finished, every call was made)."""
    from poolwise.checks._preempt import Preempter  # (loaded when a round runs)

    out: list[list[Outcome]] = [[] for _ in range(threads)]
    barrier = threading.Barrier(threads)

    def worker(k: int) -> None:
        pre = Preempter(seed * 1000 + k, include=include)
        results = out[k]
        barrier.wait()
        pre.install()
        try:
            for x in items:
                if deadline is not None and clock() > deadline:
                    break
                try:
                    results.append((True, fn(x), ""))
                except Exception as exc:
                    results.append((False, f"{type(exc).__name__}: {exc}", traceback.format_exc()))
        finally:
            pre.uninstall()

    ts = [
        threading.Thread(target=worker, args=(k,), name=f"poolwise-race-{k}", daemon=True)
        for k in range(threads)
    ]
    for t in ts:
        t.start()
    end = time.monotonic() + ROUND_TIMEOUT
    for t in ts:
        t.join(max(0.0, end - time.monotonic()))
    finished = not any(t.is_alive() for t in ts)
    # a hung round's lists may still grow: compare a copy
    copies = [list(r) for r in out]
    return copies, finished, finished and all(len(r) == len(items) for r in copies)
