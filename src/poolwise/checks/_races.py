"""``check_races``: run a function from many threads at once and compare with a serial run."""

from __future__ import annotations

import sys
import time
from collections import Counter
from collections.abc import Callable, Iterable
from dataclasses import dataclass, field
from typing import Any

from poolwise._errors import RaceDetected
from poolwise.checks import _rounds
from poolwise.checks._rounds import (
    DEFAULT_BUDGET,
    Outcome,
    Plan,
    Reference,
    run_round,
)


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
            return "\n".join(
                (
                    f"no race found in {self.fn_name}: {self.rounds} rounds of {self.threads} "
                    f"threads ({self.calls} calls) matched the serial run",
                    *self.notes,
                )
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


class _Tally:
    """What the rounds found so far."""

    def __init__(self) -> None:
        self.rounds = self.raced = self.calls = self.ndiff = self.inv_fail = 0
        self.diffs: list[tuple[Any, Any, Any]] = []
        self.excs: Counter[str] = Counter()
        self.exc_example = self.inv_example = ""
        self.first_seed: int | None = None
        self.hung = self.bad_round = False
        self.cut = 0

    def add(
        self,
        out: list[list[Outcome]],
        finished: bool,
        complete: bool,
        reference: Reference,
        invariant: Callable[[], Any] | None,
        compare_results: bool,
    ) -> None:
        self.rounds += 1
        self.calls += sum(len(r) for r in out)
        bad = not finished
        self.hung = self.hung or not finished
        self.cut += finished and not complete
        for results in out:
            for (ok, value, tb), (want_ok, want), x in zip(
                results, reference.per_item, reference.items
            ):
                if not ok and want_ok:
                    self.excs[value] += 1
                    self.exc_example = self.exc_example or tb
                    bad = True
                elif compare_results and ok and want_ok and value != want:
                    self.ndiff += 1
                    if len(self.diffs) < 5:
                        self.diffs.append((x, want, value))
                    bad = True
        if invariant is not None and complete:
            why = _check_invariant(invariant, reference.baseline)
            if why:
                self.inv_fail += 1
                self.inv_example = self.inv_example or why
                bad = True
        self.bad_round = bad
        self.raced += bad

    def report(self, name: str, threads: int, plan: Plan) -> RaceReport:
        notes: tuple[str, ...] = ()
        if not getattr(sys, "_is_gil_enabled", lambda: True)():
            notes = ("(free-threaded Python: threads also ran truly in parallel)",)
        if plan.sampled:
            notes = (
                *notes,
                f"(rounds ran random samples of the {plan.total} items, {plan.smallest}-"
                f"{plan.largest} at a time, to keep the {plan.budget:g} s budget)",
            )
        if self.cut:
            notes = (*notes, "(the last round stopped at the deadline: its invariant unchecked)")
        if self.hung:
            notes = (
                *notes,
                f"- some threads had not finished after {_rounds.ROUND_TIMEOUT:g} s: a deadlock "
                "or a livelock under concurrency (they were left running as daemon threads)",
            )
        return RaceReport(
            found=self.raced > 0,
            threads=threads,
            rounds=self.rounds,
            rounds_with_race=self.raced,
            calls=self.calls,
            differing_results=tuple(self.diffs),
            differing_count=self.ndiff,
            exceptions=dict(self.excs),
            exception_example=self.exc_example,
            invariant_failures=self.inv_fail,
            invariant_example=self.inv_example,
            seed=self.first_seed,
            fn_name=name,
            notes=notes,
        )


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
    together at a barrier, each call ``fn`` on every item of the round, with thread switches
    forced at random bytecode instructions of your code. The round is compared with a serial
    run of the same calls: results that differ (unless ``compare_results=False``, for functions
    whose results vary anyway), exceptions raised only concurrently, and ``invariant()``: a
    callable evaluated after each run; returning False fails it, and any other value must equal
    its value after the serial run (e.g. ``invariant=lambda: counter.value`` with ``setup``
    resetting it).

    Why force switches: CPython switches threads only at calls and backward jumps, so an
    unlocked ``counter.value += 1`` is almost never interrupted between its read and its write
    (measured: no update lost in 160,000 with the switch interval at 1 us), yet it does lose
    updates in production, and always on free-threaded builds. Yielding the GIL at chosen
    instructions inside the code under test (an opcode-level ``sys.settrace``, only in the
    checking threads and only in your code, not the standard library) finds such lost updates
    in every one of 100 runs (bench/checks.py). Free-threaded builds run the threads truly in
    parallel as well; the report notes it.

    The budget is a deadline: the rounds are sized from the time the first ones took (a
    random sample of the items when all of them would not fit a round of about an eighth of
    the budget), no round starts that would not fit, and a round still running at the
    deadline stops after the calls in progress (it then compares the results it has, not
    the invariant). A single call longer than the budget still overruns it.

    Args:
        fn: called as ``fn(item)``; keep it small, since every instruction of your code may
            yield (a round costs roughly a microsecond per instruction executed).
        items: the inputs; in each round every thread calls ``fn`` on each of the round's
            items (all of them, or a sample), in order.
        threads: threads per round, at least 2.
        iterations: rounds to run, each on every item, with no deadline; default: rounds
            until ``budget`` seconds have passed (at most 50), stopping early once a race has
            been seen in 3 rounds.
        invariant: see above.
        setup: called before each serial run and before each round, to reset shared state.
        compare_results: compare each concurrent result with the serial one.
        seed: replays the forced switches (and the sample of items) of a reported round (the
            OS scheduler still varies, so a replay is likely, not certain, to interleave the
            same way).
        budget: seconds for the default rounds, serial runs included.

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
    include = _source_file(fn)
    plan = Plan(len(items), threads, iterations, budget, seed)
    reference = Reference(fn, items, threads, setup, invariant)
    tally = _Tally()
    while (step := plan.next_round()) is not None:
        round_seed, sample = step
        if reference.sample != sample:
            reference.run(sample)
        if setup:
            setup()
        chosen = [items[i] for i in sample]
        t0 = time.monotonic()
        out, finished, complete = run_round(fn, chosen, threads, round_seed, include, plan.deadline)
        seconds = time.monotonic() - t0
        plan.ran(len(sample), sum(map(len, out)), seconds, reference.seconds_per_call)
        tally.add(out, finished, complete, reference, invariant, compare_results)
        if tally.bad_round and tally.first_seed is None:
            tally.first_seed = plan.reported_seed(round_seed, len(sample))
        if tally.raced >= 3 and iterations is None:
            break
        if not finished:
            break  # its threads still hold whatever they hold: another round would only pile up
    return tally.report(name, threads, plan)


def _source_file(fn: Any) -> str:
    """The file defining fn: preempted even when it lives in site-packages."""
    import inspect  # (only when a check runs)

    target = inspect.unwrap(getattr(fn, "__func__", fn))
    code = getattr(target, "__code__", None)
    return code.co_filename if code is not None else ""
