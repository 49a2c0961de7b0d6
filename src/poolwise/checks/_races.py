"""``check_races``: run a function from many threads at once and compare with a serial run."""

from __future__ import annotations

import sys
import threading
import time
import traceback
from collections import Counter
from collections.abc import Callable, Iterable
from dataclasses import dataclass, field
from typing import Any

from poolwise._errors import RaceDetected

DEFAULT_BUDGET = 1.5  # seconds of checking, by default
MAX_ROUNDS = 50
ROUND_TIMEOUT = 30.0  # seconds a round may take before its threads count as hung

Outcome = tuple[bool, Any, str]  # (returned, result or "Type: message", traceback)


@dataclass(frozen=True)
class RaceReport:
    """What a race check found.

    Attributes:
        found: whether anything differed under concurrency.
        rounds: concurrent rounds run; each round, every thread calls fn on every item.
        rounds_with_race: in how many of them something differed.
        differing_results: (item, serial result, concurrent result) examples.
        exceptions: "Type: message" of exceptions seen only concurrently, with counts.
        invariant_failures: rounds whose invariant failed or differed from the serial run.
        seed: the seed of the first round that found a race (pass it back to reproduce).
    """

    found: bool
    threads: int
    rounds: int
    rounds_with_race: int
    calls: int
    differing_results: tuple[tuple[Any, Any, Any], ...]
    differing_count: int
    exceptions: dict[str, int]
    exception_example: str
    invariant_failures: int
    invariant_example: str
    seed: int | None
    fn_name: str = ""
    notes: tuple[str, ...] = field(default=())

    def __str__(self) -> str:
        if not self.found:
            return (
                f"no race found in {self.fn_name}: {self.rounds} rounds of {self.threads} threads "
                f"({self.calls} calls) matched the serial run"
            )
        lines = [
            f"RACE in {self.fn_name}: {self.rounds_with_race} of {self.rounds} rounds of "
            f"{self.threads} threads differed from the serial run"
        ]
        if self.differing_count:
            lines.append(f"- {self.differing_count} results differed, e.g.:")
            for item, want, got in self.differing_results[:3]:
                lines.append(f"    item {item!r}: serial {want!r}, concurrent {got!r}")
        for what, n in self.exceptions.items():
            lines.append(f"- raised only concurrently, {n} times: {what}")
        if self.exception_example:
            lines.append("  " + self.exception_example.strip().replace("\n", "\n  "))
        if self.invariant_failures:
            lines.append(
                f"- the invariant failed in {self.invariant_failures} rounds: "
                f"{self.invariant_example}"
            )
        lines.append(
            f"reproduce: check_races({self.fn_name}, items, threads={self.threads}, "
            f"seed={self.seed})"
        )
        lines.extend(self.notes)
        return "\n".join(lines)

    def raise_if_found(self) -> None:
        """Raise RaceDetected with this report as the message when a race was found."""
        if self.found:
            raise RaceDetected(str(self))


def _check_invariant(invariant: Callable[[], Any], baseline: Any) -> str:
    value = invariant()
    if isinstance(value, bool):
        return "" if value else "it returned False"
    if value != baseline:
        return f"serial run gave {baseline!r}, concurrent run {value!r}"
    return ""


def check_races(
    fn: Callable[[Any], Any],
    items: Iterable[Any],
    *,
    threads: int = 8,
    iterations: int | None = None,
    invariant: Callable[[], Any] | None = None,
    setup: Callable[[], Any] | None = None,
    compare_results: bool = True,
    seed: int | None = None,
    budget: float = DEFAULT_BUDGET,
) -> RaceReport:
    """Look for races in ``fn`` by calling it from many threads at once.

    Each round, ``setup()`` (if given) resets shared state; ``threads`` threads, released
    together at a barrier, each call ``fn`` on every item, with thread switches forced at random
    bytecode instructions of your code. The round is compared with a serial run of the same
    calls: results that differ (unless ``compare_results=False``, for functions whose results
    vary anyway), exceptions raised only concurrently, and ``invariant()``: a callable evaluated
    after each run; returning False fails it, and any other value must equal its value after
    the serial run (e.g. ``invariant=lambda: counter.value`` with ``setup`` resetting it).

    Why force switches: CPython switches threads only at calls and backward jumps, so an
    unlocked ``counter.value += 1`` is almost never interrupted between its read and its write
    (measured: no update lost in 160,000 with the switch interval at 1 us), yet it does lose
    updates in production, and always on free-threaded builds. Yielding the GIL at chosen
    instructions inside the code under test (an opcode-level ``sys.settrace``, only in the
    checking threads and only in your code, not the standard library) finds such lost updates
    in every one of 100 runs (bench/checks.py). Free-threaded builds run the threads truly in
    parallel as well; the report notes it.

    Args:
        fn: called as ``fn(item)``; keep it small, since every instruction of your code may
            yield (a round costs roughly a microsecond per instruction executed).
        items: the inputs; every thread calls ``fn`` on each of them, in order.
        threads: threads per round, at least 2.
        iterations: rounds to run; default: until ``budget`` seconds have passed (at most 50),
            stopping early once a race has been seen in 3 rounds.
        invariant: see above.
        setup: called before the serial run and before each round, to reset shared state.
        compare_results: compare each concurrent result with the serial one.
        seed: replays the forced switches of a reported round (the OS scheduler still varies,
            so a replay is likely, not certain, to interleave the same way).
        budget: seconds for the default number of rounds (checked between rounds).

    Returns:
        A RaceReport; ``report.raise_if_found()`` raises RaceDetected. A round whose threads
        have not finished after 30 s counts as a race (a deadlock under concurrency).
    """
    if not callable(fn):
        raise TypeError(f"fn must be callable, got {type(fn).__name__}")
    if threads < 2:
        raise ValueError(f"threads must be at least 2 to race, got {threads}")
    items = list(items)
    if not items:
        raise ValueError("check_races needs at least one item")
    name = getattr(fn, "__qualname__", repr(fn))
    # the serial reference: the same calls, one after another
    if setup:
        setup()
    serial: list[tuple[bool, Any]] = []
    for _ in range(threads):
        for x in items:
            try:
                serial.append((True, fn(x)))
            except Exception as exc:
                serial.append((False, f"{type(exc).__name__}: {exc}"))
    baseline = invariant() if invariant is not None else None
    per_item = serial[: len(items)]
    import random

    master = random.Random(seed)
    include = _source_file(fn)
    deadline = time.monotonic() + budget
    rounds = raced = calls = 0
    diffs: list[tuple[Any, Any, Any]] = []
    ndiff = 0
    excs: Counter[str] = Counter()
    exc_example = ""
    inv_fail = 0
    inv_example = ""
    first_seed: int | None = None
    hung = False
    while True:
        if iterations is not None and rounds >= iterations:
            break
        if iterations is None and (
            rounds >= MAX_ROUNDS or (rounds and time.monotonic() > deadline) or raced >= 3
        ):
            break
        round_seed = master.randrange(1 << 30) if seed is None or rounds else seed
        if setup:
            setup()
        out, finished = _round(fn, items, threads, round_seed, include)
        rounds += 1
        calls += threads * len(items)
        bad = not finished
        hung = hung or not finished
        for results in out:
            for (ok, value, tb), (want_ok, want), x in zip(results, per_item, items):
                if not ok and want_ok:
                    excs[value] += 1
                    exc_example = exc_example or tb
                    bad = True
                elif compare_results and ok and want_ok and value != want:
                    ndiff += 1
                    if len(diffs) < 5:
                        diffs.append((x, want, value))
                    bad = True
        if invariant is not None and finished:
            why = _check_invariant(invariant, baseline)
            if why:
                inv_fail += 1
                inv_example = inv_example or why
                bad = True
        if bad:
            raced += 1
            if first_seed is None:
                first_seed = round_seed
        if hung:
            break  # its threads still hold whatever they hold: another round would only pile up
    notes: tuple[str, ...] = ()
    if not getattr(sys, "_is_gil_enabled", lambda: True)():
        notes = ("(free-threaded Python: threads also ran truly in parallel)",)
    if hung:
        notes = (
            *notes,
            f"- some threads had not finished after {ROUND_TIMEOUT:g} s: a deadlock or a "
            "livelock under concurrency (they were left running as daemon threads)",
        )
    return RaceReport(
        found=raced > 0,
        threads=threads,
        rounds=rounds,
        rounds_with_race=raced,
        calls=calls,
        differing_results=tuple(diffs),
        differing_count=ndiff,
        exceptions=dict(excs),
        exception_example=exc_example,
        invariant_failures=inv_fail,
        invariant_example=inv_example,
        seed=first_seed,
        fn_name=name,
        notes=notes,
    )


def _round(
    fn: Callable[[Any], Any], items: list[Any], threads: int, seed: int, include: str
) -> tuple[list[list[Outcome]], bool]:
    """One concurrent round: every thread calls fn on every item; (outcomes, all finished)."""
    from poolwise.checks._preempt import Preempter

    out: list[list[Outcome]] = [[] for _ in range(threads)]
    barrier = threading.Barrier(threads)

    def worker(k: int) -> None:
        pre = Preempter(seed * 1000 + k, include=include)
        results = out[k]
        barrier.wait()
        pre.install()
        try:
            for x in items:
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
    return [list(r) for r in out], finished


def _source_file(fn: Any) -> str:
    """The file defining fn: preempted even when it lives in site-packages."""
    import inspect

    target = inspect.unwrap(getattr(fn, "__func__", fn))
    code = getattr(target, "__code__", None)
    return code.co_filename if code is not None else ""
