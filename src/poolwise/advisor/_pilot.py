"""The pilot: run the first items for real in the calling thread, measure, and decide.

``backend="auto"`` starts as the loop it replaces: items run one after another in the caller's
thread, their results are kept and handed on at once, and their effects land where a loop's
would. Meanwhile the clocks and the GIL sampler (``_measure``) time them. The pilot stops to
decide as soon as the numbers say enough (a few milliseconds of work; one item when items are
slow), and only when the rest of the job is long enough for any other configuration to pay:
a short job simply finishes here, at the loop's own speed.

When the model picks threads, thread safety is measured before any result computed on threads
is kept: the trial runs a few items the loop already ran again on the chosen threads, beside new
items, with a short GIL switch interval. A re-run whose result differs from its serial one
(confirmed by one more serial run, which tells a race from results that vary by nature), or
that raises only concurrently, rules threads out and the trial's new items run again elsewhere.

What was measured is remembered (``_profile``): the next call with the same function runs its
first item, checks the time per item against the profile, and decides in microseconds.
"""

from __future__ import annotations

import dataclasses
import itertools
import math
import sys
import threading
import time
from collections.abc import Callable, Generator, Iterable, Iterator
from typing import TYPE_CHECKING, Any

from poolwise import _transport
from poolwise._cpus import usable_cpus
from poolwise.advisor._measure import (
    SAFE,
    UNCHECKED,
    UNSAFE,
    VARIES,
    GilSampler,
    SystemLoad,
    cpu_clock,
    same,
)
from poolwise.advisor._memory import DRIFT, drop, key_of, recall, remember
from poolwise.backends._core import run_fast

if TYPE_CHECKING:  # the model loads when a decision is due: a short job never needs it
    from poolwise.advisor._advice import Advice
    from poolwise.advisor._profile import Profile

GROUP_WALL = 0.002  # a timed group of fast items grows (doubling) until it takes this long
GROUP_MAX = 4096  # ...or holds this many: imap hands results on group by group
MIN_HEAD = 0.002  # never decide on less work than this
SAMPLE_AFTER = 0.001  # the GIL sampler starts once the loop has run this long
GIL_HEAD = 0.012  # work that computes runs this long first, so the sampler sees the GIL
MAX_HEAD = 0.05  # decide by then whatever the sampler saw (default budget)
SHORT = 0.004  # predicted work left below this: just finish the loop
TRIAL_WALL = 0.01  # a thread trial aims at this much wall time (one round of slow items)
# the GIL switch interval during a trial: races show up at once. At most a tenth of an item's
# CPU time (a switch lands inside every item) but no shorter than TRIAL_SWITCH: 16 threads
# handing the GIL over every 0.1 ms on a busy machine took 10.7 ms per item of 5 ms sleep +
# 5 ms computing, slower than the loop, and the trial's time sent the work to processes
TRIAL_SWITCH = 1e-4
SWITCHES_PER_ITEM = 10
PIPE = 0.6e9  # bytes per second through a pipe to a worker process
COPY = 2e9  # bytes per second a buffer pickles (and unpickles) at: a memory copy
BIG_ITEM = 1 << 20  # bytes: a buffer this large is sized, not pickled, and sampled at once
# bytes per second a buffer crosses in shared memory (one copy into the worker's arena; a numpy
# argument is read there in place): bench/transfer.py measures 5-10 GB/s warm on 2 cores, and
# results, copied out into the parent's new memory, at the COPY rate
SHARED = 4e9
BASELINE = 8  # items of the loop kept to re-run in a trial
THREAD_START = 1e-4  # seconds between two threads' starts
TRIAL_LONGEST = 0.25  # seconds: a trial of work that waits hands out jobs at most this long
RERUN_CPU = 0.01  # CPU seconds a trial spends on re-runs, when two are already more


class Raised:
    """An item's exception, in the place of its result."""

    __slots__ = ("exception", "item")

    def __init__(self, exception: BaseException, item: Any) -> None:
        self.exception = exception
        self.item = item


def _run_group(fn: Callable[[Any], Any], group: list[Any]) -> tuple[list[Any], int]:
    """``fn`` over a group at C speed (``_core.run_fast``), and how many raised; an exception
    takes its item's place as ``Raised`` and the loop goes on after it."""
    out, errors = run_fast(fn, group, _identity, Exception)
    for pos, exc in errors.items():
        out[pos] = Raised(exc, group[pos])
    return out, len(errors)


def _identity(exc: BaseException) -> BaseException:
    return exc


class Pilot:
    """Runs the first items of a job in the caller and decides how to run the rest.

    ``mode``: ``"run"`` (map and imap: a job too short to pay for anything else is finished
    here, and ``advice`` stays None when the input ran out first), ``"probe"`` (an Executor:
    stop at the decision, for an input of unknown length) or ``"advise"`` (results are not
    wanted; decide even on a short input). ``reruns`` False: no item runs twice, so threads,
    whose safety only a re-run can check, are left out unless a profile already showed them safe.

    After ``run()`` is exhausted: ``advice``, ``profile``, ``consumed`` (items whose outcomes
    it yielded), ``rest`` (an iterator of the items not yet run).
    """

    def __init__(
        self,
        fn: Callable[[Any], Any],
        items: Iterable[Any],
        *,
        mode: str = "run",
        reruns: bool = True,
        budget: float | None = None,
        shared_memory: bool = True,
    ) -> None:
        self.fn = fn
        self.mode = mode
        self.reruns = reruns
        self.shared_memory = shared_memory  # (the process backend's option: which transport)
        self.max_head = MAX_HEAD if budget is None else max(MIN_HEAD, budget / 2)
        self.n = len(items) if isinstance(items, (list, tuple, range)) else None
        self._items = items
        self.advice: Advice | None = None
        self.profile: Profile | None = None
        self.consumed = 0
        self.rest: Iterator[Any] = iter(())
        self.remembered = False
        self.raised = 0  # outcomes yielded so far that are exceptions
        # timed groups: (items, wall, cpu)
        self._groups: list[tuple[int, float, float]] = []
        self._baseline: list[tuple[Any, Any]] = []  # (item, outcome) from the loop
        self._last: tuple[Any, Any] | None = None  # the last item that succeeded, with its value
        self._unproven = False  # a trial's re-runs ran alone: threads are not kept this time

    # -- the loop ---------------------------------------------------------------------------

    def _head(self, it: Iterator[Any], k: int) -> tuple[list[Any], list[Any]]:
        """Run the next group of up to ``k`` items, timed."""
        group = list(itertools.islice(it, k))
        if not group:
            return group, []
        w0, c0 = time.perf_counter(), cpu_clock()
        out, raised = _run_group(self.fn, group)
        self.raised += raised
        wall, cpu = time.perf_counter() - w0, cpu_clock() - c0
        self._groups.append((len(group), wall, cpu))
        self.consumed += len(group)
        if len(self._baseline) < BASELINE:
            self._baseline.extend(zip(group[: BASELINE - len(self._baseline)], out))
        for item, value in zip(reversed(group), reversed(out)):
            if not isinstance(value, Raised):
                self._last = (item, value)
                break
        return group, out

    def _rates(self) -> tuple[float, float, float]:
        """(wall, cpu, elapsed): seconds per item, leaving out the first item's warm-up when
        later groups exist, and the time spent so far."""
        groups = self._groups
        elapsed = sum(g[1] for g in groups)
        body = groups[1:] if len(groups) > 2 else groups
        count = sum(g[0] for g in body)
        return sum(g[1] for g in body) / count, sum(g[2] for g in body) / count, elapsed

    def _spread(self) -> float:
        per = [g[1] / g[0] for g in self._groups[1:]] or [g[1] / g[0] for g in self._groups]
        mean = sum(per) / len(per)
        if len(per) < 2 or mean <= 0:
            return 0.0
        return math.sqrt(sum((x - mean) ** 2 for x in per) / len(per)) / mean

    def _left(self) -> int | None:
        return None if self.n is None else self.n - self.consumed

    def _short(self, wall: float) -> bool:
        left = self._left()
        return left is not None and left * wall < SHORT

    def run(self) -> Iterator[list[Any]]:
        """Yield lists of outcomes (values, or ``Raised``) in input order, as they are made."""
        it = iter(self._items)
        first = list(itertools.islice(it, 1))
        if not first:
            return
        it = itertools.chain(first, it)
        key = key_of(self.fn, first[0])
        entry = recall(key)
        sampler: GilSampler | None = None
        load: SystemLoad | None = None
        try:
            k = 1
            if entry is not None:
                # a profile from an earlier call: run the first items, check the time per item
                while True:
                    _group, out = self._head(it, k)
                    if not out:
                        if self.mode == "run":
                            return
                        break
                    yield out
                    wall, _cpu, elapsed = self._rates()
                    if elapsed >= min(0.0005, 0.5 * entry.profile.wall):
                        break
                    k = min(2 * k, GROUP_MAX)
                if 1 / DRIFT <= wall / max(entry.profile.wall, 1e-9) <= DRIFT:
                    self.remembered = True
                    self.profile = entry.profile
                else:
                    drop(key)  # the work changed: measure it afresh
            if self.profile is None:
                exhausted = False
                if not self.consumed and _nbytes(first[0]) >= BIG_ITEM:
                    # an item of megabytes takes milliseconds whatever is done with it: the
                    # sampler watches the first one rather than wait for a second
                    sampler, load = GilSampler().start(), SystemLoad()
                while True:
                    _group, out = self._head(it, k)
                    if not out:
                        exhausted = True
                        break
                    yield out
                    wall, cpu, elapsed = self._rates()
                    if self._groups[-1][1] < GROUP_WALL:
                        k = min(2 * k, GROUP_MAX)
                    if self.mode == "run" and self._short(wall):
                        continue  # the loop will be done before anything else could start
                    if sampler is None or load is None:
                        if elapsed < SAMPLE_AFTER:
                            continue
                        # started once the job proves longer than a glance: a job that ends
                        # in the loop never pays for the helper thread
                        sampler, load = GilSampler().start(), SystemLoad()
                    load.sample()
                    if self._ready(wall, cpu, elapsed, sampler, load):
                        break
                if sampler is not None:
                    sampler.stop()
                if exhausted and self.mode == "run":
                    return
                self.profile = self._profile(self._rates(), sampler, load)
                sampler = None
            self.advice = self._decide(it)
            trial_on = self._trial_threads(self.advice)
            if 0 < trial_on < 3 and len(self._baseline) < 2:
                # one more item in the loop first: a single re-run must itself be interrupted
                # and interrupting, which on 2 threads depends on which job ends first (16 MB
                # hashes: half the trials proved nothing, and the job went serial); on more
                # threads the middle of the first round has jobs starting on both sides, and
                # an item more in the loop cost short jobs of slow items their gain
                _group, out = self._head(it, 1)
                if out:
                    yield out
            if trial_on:
                it = yield from self._trial(it, trial_on)
                # (a trial that ran the whole job: the advice is for the job it ran)
                self.advice = self._decide(it, whole=self._left() == 0)
            remember(key, self.fn, first[0], self.profile, _label(self.advice))
            if self.mode == "run" and self.advice.backend == "serial":
                yield from self._finish_serially(it, k)
        finally:
            if sampler is not None:
                sampler.stop()
            self.rest = it

    def _trial_threads(self, advice: Advice) -> int:
        """How many threads a trial runs on (0: none). When threads are chosen, the trial
        checks their safety. When processes are, and the GIL was not sampled (the loop stopped
        at one slow item that mostly waits), the model took the GIL to be held for all of the
        item's CPU time, the worst case for threads: the best thread count is measured rather
        than left out on a guess (a first item that paid for a connection's set-up sent a
        socket client to 8 processes, 4x slower than 32 threads)."""
        assert self.profile is not None
        if self.profile.safety != UNCHECKED:
            return 0
        if advice.backend == "thread":
            return advice.workers
        if advice.backend == "serial" or self.profile.gil is not None or self._unproven:
            return 0
        if not _waits(self.profile):
            # work that computes: a trial's time would be read against a GIL it holds (a
            # trial of 1 ms pure-Python items read 0.3-0.5 ms per item on 8 threads)
            return 0
        from poolwise.advisor._advise import fewest  # (loaded with the decision)

        return fewest(advice.predictions, "thread")

    def _ready(
        self, wall: float, cpu: float, elapsed: float, sampler: GilSampler, load: SystemLoad
    ) -> bool:
        if elapsed < MIN_HEAD and self.consumed < 2 * GROUP_MAX:
            return False
        if elapsed >= self.max_head:
            return True
        # the CPU a thread that only computes would get beside the other programs' busy ones
        busy = load.so_far() or 0.0
        fair = min(1.0, usable_cpus() / (1.0 + busy))
        if cpu < 0.3 * fair * wall:
            return True  # it waits: the GIL hardly matters, threads or processes overlap it
        # the sampler has covered whole items (the pilot only asks between groups) once it has
        # three samples: a GIL held costs it a switch interval per sample, a free one half a
        # millisecond; a profile of items too varied to trust waits for GIL_HEAD
        if sampler.share() is None:
            return False
        return elapsed >= GIL_HEAD or self._spread() < 0.5

    def _profile(
        self,
        rates: tuple[float, float, float],
        sampler: GilSampler | None,
        load: SystemLoad | None,
    ) -> Profile:
        from poolwise.advisor._profile import Profile  # (see the imports)

        wall, cpu, _ = rates
        busy = None if load is None else load.busy_others()
        profile = Profile(
            wall=max(wall, 1e-9),
            cpu=min(cpu, wall * usable_cpus()),
            gil=None if sampler is None else sampler.share(),
            spread=self._spread(),
            samples=len(self._groups),
            busy_others=busy if busy is not None else 0.0,
        )
        return self._with_pickling(profile)

    def _with_pickling(self, p: Profile) -> Profile:
        """What processes would cost: does the function pickle, and what do an item and its
        result cost to pickle and move (timed on the last item that succeeded)."""
        try:
            _transport.dumps_function(self.fn)
            if self._last is None:
                raise ValueError("no item succeeded")
            item, value = self._last
            shared = self._shared_from()
            sizes, pickling, piped, in_shm = [], 0.0, 0, 0.0
            for obj, rate in ((item, SHARED), (value, COPY)):
                n = _nbytes(obj)
                if n >= shared:  # it crosses in shared memory: one copy, no pipe
                    sizes.append(n)
                    in_shm += n / rate
                    continue
                if n >= BIG_ITEM:  # a buffer pickles at copying speed: no need to time it
                    sizes.append(n)
                    pickling += n / COPY
                    piped += n
                    continue
                t0 = time.perf_counter()
                size = len(_transport.dumps(obj))
                pickling += time.perf_counter() - t0
                sizes.append(size)
                piped += size
        except Exception:
            return dataclasses.replace(p, picklable=False)
        # unpickling costs about what pickling did; the worker does the same on its side
        return dataclasses.replace(
            p,
            picklable=True,
            arg_bytes=float(sizes[0]),
            result_bytes=float(sizes[1]),
            serialize=2 * pickling + piped / PIPE + in_shm,
            transport="shared memory" if in_shm else "pipe",
            serialize_copied=2 * pickling + sum(sizes) / COPY,
        )

    def _shared_from(self) -> float:
        """The size from which a buffer crosses in shared memory (infinite: never)."""
        if not self.shared_memory:
            return float("inf")
        # (light: pickle, mmap and socket; only when processes are priced)
        from poolwise.backends import _arena, _oob

        return float(_oob.THRESHOLD) if _arena.supported() else float("inf")

    def _decide(self, it: Iterator[Any], whole: bool = False) -> Advice:
        from poolwise.advisor._advise import decide  # (see the imports)
        from poolwise.backends._start import choose_start_method  # (see the imports)

        assert self.profile is not None
        threads = (self.reruns or self.profile.safety in (SAFE, VARIES)) and not self._unproven
        # advise answers for the whole input; a run decides for what is left of it
        n = {"probe": None, "advise": self.n}.get(self.mode, self.n if whole else self._left())
        return decide(self.profile, n, method=choose_start_method(None), threads=threads)

    # -- the thread trial -------------------------------------------------------------------

    def _trial(self, it: Iterator[Any], workers: int) -> Generator[list[Any], None, Iterator[Any]]:
        """Run loop items again beside new ones on ``workers`` threads; keep the new ones'
        results only if every re-run matched. Returns the iterator of items still to run."""
        from poolwise.advisor._model import held_share  # (see the imports)

        assert self.profile is not None
        wall = max(self.profile.wall, 1e-7)
        # re-runs of distinct loop items (as many as the loop ran, up to 8), spread over the
        # trial: the first job starts alone and the last finishes alone, and a race may favour
        # either, so re-runs go first, last and between; items that compute long overlap
        # whatever they run beside, and their re-runs are pure cost: a few suffice
        p = self.profile
        affordable = int(RERUN_CPU / max(p.cpu, 1e-9))
        copies = max(2, min(BASELINE, workers // 4, affordable))
        # never the same loop item twice: copies of one item can only read each other's
        # writes (a scratch object last written by another copy of item 0 gave every copy its
        # serial result while the new items beside them came out wrong)
        copies = min(copies, len(self._baseline))
        base = self._baseline[:copies]
        cpus = usable_cpus()
        per = max(held_share(p, cpus) * wall, p.cpu / min(workers, cpus), wall / workers)
        # work that computes runs three rounds: a thread's first item pays for its start (its
        # memory arena, page faults), which a trial of one or two rounds would read as the rate
        waits = _waits(p)
        rounds = 1 if waits else 3
        fresh_count = max(rounds * workers - copies, math.ceil(TRIAL_WALL / per) - copies)
        # whole rounds: a last round of fewer jobs than threads would idle some of them
        fresh_count = math.ceil((copies + fresh_count) / workers) * workers - copies
        left = self._left()
        if left is not None:
            # a rest that two trials' time would cover runs in this one (eight, for work that
            # waits: its trial's threads are started one by one, and a pool for the rest
            # would start as many again)
            whole = (8 if waits else 2) * TRIAL_WALL
            fresh_count = left if left * per <= whole else min(fresh_count, left)
        fresh = list(itertools.islice(it, min(fresh_count, GROUP_MAX)))
        total = copies + len(fresh)
        if len(fresh) <= workers:
            # one round of new items (the model wants a thread per item: they mostly wait):
            # the re-runs get threads of their own rather than a second round
            workers = total
        # the re-runs go into the first round, spread over it: the first job starts alone and
        # the last finishes alone, and a race may favour either
        first_round = min(total, workers)
        if copies == 1:  # one re-run: in the middle, where jobs run on both sides of it
            spots = [first_round // 2]
        else:
            spots = sorted({round(j * (first_round - 1) / (copies - 1)) for j in range(copies)})
        while len(spots) < copies:  # (a round narrower than the re-runs: fill the gaps)
            spots = sorted(set(spots) | {min(set(range(total)) - set(spots))})
        jobs: list[Any] = []
        fresh_iter = iter(fresh)
        base_iter = iter(base)
        for j in range(total):
            jobs.append(next(base_iter)[0] if j in spots else next(fresh_iter))
        # a trial that runs far slower than expected stops handing out jobs (those not run
        # go back to the input, in order)
        deadline = max(3 * TRIAL_WALL, 2 * per * math.ceil(total / workers), 1.5 * wall)
        if waits:
            # work that waits: its threads overlap whatever the GIL does, and a trial cut short
            # leaves its rest to a second pool of threads started afresh (64 socket clients of
            # 5 ms took 32 ms in the trial, started one by one, and the 35 left 20 ms more on
            # a new pool): it goes on while it runs at least 4x the loop's speed
            deadline = max(deadline, min(total * wall / 4, TRIAL_LONGEST))
        # threads start about THREAD_START apart: items longer than that stagger overlap anyway,
        # and a barrier's wake-up chain would cost more than the whole stagger
        together = wall < workers * THREAD_START
        cpu0 = _process_cpu()
        switch = max(TRIAL_SWITCH, p.cpu / SWITCHES_PER_ITEM)
        # (the short interval ends with the re-runs only for work that waits: items that
        # compute would then mostly run unswitched, and the trial read them faster than threads
        # run them)
        checks = frozenset(spots) if waits else frozenset()
        outcomes, spans, ran = _on_threads(
            self.fn, jobs, workers, deadline, together, switch, checks
        )
        cpu_per_job = (_process_cpu() - cpu0) / max(1, ran)
        # only a re-run that ran beside another job checks anything (on a busy machine, or for
        # items shorter than a thread's start, jobs can run one after another); and a race hits
        # the job that was running when another started (it read what the other wrote) or the
        # one that started while another ran (it saw the other's claim): a check that no re-run
        # was in both places proves nothing
        checked = [(i, j) for i, j in enumerate(spots) if j < ran and _overlapped(spans, j)]
        again = [outcomes[j] for _, j in checked]
        kept = [outcomes[j] for j in range(ran) if j not in spots]
        unrun = [jobs[j] for j in range(ran, total) if j not in spots]
        it = itertools.chain(unrun, it)
        verdict, note = UNCHECKED, f"no re-run on {workers} threads ran beside another job"
        if checked:
            verdict, note = self._judge([base[i] for i, _ in checked], again, workers)
            roles = {_role(spans, j) for _, j in checked}
            both = "both" in roles or {"interrupted", "interrupting"} <= roles
            if verdict == SAFE and not both:
                verdict = UNCHECKED
                note = f"the re-runs on {workers} threads ran beside other jobs on one side only"
        if verdict == UNCHECKED:
            self._unproven = True  # the rest is decided without threads
        # the time per item at the concurrency the trial ran at: the median job's duration
        # (contention included) over the jobs that shared the time with it; a median, as a
        # thread's first job pays for its start and a last round runs with threads idle
        concurrency = max(1, min(ran, workers))
        durations = [e - s for s, e in spans]
        per_item = _median(durations) / min(concurrency, _concurrency(spans))
        wall, cpu = p.wall, p.cpu
        if verdict in (SAFE, VARIES):
            # more items, and warm: sharing threads only lengthens a job, so the loop's time
            # per item is at most the trial jobs' mean (the loop may have run only a first item
            # that paid for set-up: 24 ms of a socket client whose items then took 6), and its
            # CPU time per item at most what the whole process spent per job. Not when threads
            # changed what the jobs did: a check-then-act's losers returned at once, and read
            # as 29 us items its 2 ms ones were advised serial
            wall = max(1e-9, min(p.wall, sum(durations) / len(durations)))
            cpu = min(p.cpu, cpu_per_job, wall * cpus)
        self.profile = dataclasses.replace(
            self.profile,
            safety=verdict,
            safety_note=note,
            trial=(concurrency, per_item),
            wall=wall,
            cpu=cpu,
        )
        if verdict in (UNSAFE, UNCHECKED):  # the new items' results are not kept: they run again
            return itertools.chain([jobs[j] for j in range(ran) if j not in spots], it)
        self.consumed += len(kept)
        self.raised += sum(isinstance(x, Raised) for x in kept)
        if kept:
            yield kept
        return it

    def _judge(
        self, base: list[tuple[Any, Any]], again: list[Any], workers: int
    ) -> tuple[str, str]:
        differed = []
        for (item, first), second in zip(base, again):
            a_raised, b_raised = isinstance(first, Raised), isinstance(second, Raised)
            if a_raised and b_raised:
                continue
            if a_raised != b_raised or not same(first, second):
                differed.append((item, first, second))
        checked = f"{len(base)} re-runs of loop items on {workers} threads"
        if not differed:
            return SAFE, f"{checked} beside new ones gave their serial results"
        # one more serial run of the items that differed tells a race from results that vary
        varies = 0
        for item, first, _ in differed[:2]:
            third = _run_group(self.fn, [item])[0][0]
            if isinstance(first, Raised) or isinstance(third, Raised):
                varies += isinstance(first, Raised) != isinstance(third, Raised)
            elif not same(first, third):
                varies += 1
        if varies == len(differed[:2]):
            return VARIES, f"{len(differed)} of {checked} differed, and so did a serial re-run"
        concurrent_only = [d for d in differed if isinstance(d[2], Raised)]
        what = (
            f"{len(concurrent_only)} raised only concurrently "
            f"({type(concurrent_only[0][2].exception).__name__})"
            if concurrent_only
            else "their results differed from serial ones"
        )
        return UNSAFE, f"{len(differed)} of {checked}: {what}"

    # -- finishing a short job --------------------------------------------------------------

    def _finish_serially(self, it: Iterator[Any], k: int) -> Iterator[list[Any]]:
        """The rest of a job decided serial: untimed groups (nothing is recorded per group,
        so an endless input runs in bounded memory)."""
        while True:
            group = list(itertools.islice(it, k))
            if not group:
                return
            t0 = time.perf_counter()
            out, raised = _run_group(self.fn, group)
            if time.perf_counter() - t0 < GROUP_WALL:  # (imap hands results on group by group)
                k = min(2 * k, GROUP_MAX)
            self.consumed += len(group)
            self.raised += raised
            yield out


def _waits(p: Profile) -> bool:
    """Whether the work mostly waits: a CPU busy under 30% of its wall time."""
    return p.cpu < 0.3 * p.wall


def _process_cpu() -> float:
    """CPU seconds of the whole process (all its threads) and of the children it waited for
    (``getrusage`` counts microseconds where ``os.times`` counts 10 ms ticks)."""
    try:
        import resource  # (Unix only; light)
    except ImportError:  # (Windows: no children's time)
        return time.process_time()
    me = resource.getrusage(resource.RUSAGE_SELF)
    kids = resource.getrusage(resource.RUSAGE_CHILDREN)
    return me.ru_utime + me.ru_stime + kids.ru_utime + kids.ru_stime


def _median(values: list[float]) -> float:
    """(Not ``statistics.median``: importing it costs the first call of every job ~5 ms.)"""
    ordered = sorted(values)
    mid = len(ordered) // 2
    return ordered[mid] if len(ordered) % 2 else (ordered[mid - 1] + ordered[mid]) / 2


def _nbytes(obj: Any) -> int:
    """The size of a buffer (bytes, bytearray, an array...), else 0."""
    try:
        return memoryview(obj).nbytes
    except Exception:  # (not a buffer, or one that cannot be viewed now)
        return 0


def _label(advice: Advice) -> str:
    return advice.backend if advice.backend == "serial" else f"{advice.backend} x{advice.workers}"


def _on_threads(
    fn: Callable[[Any], Any],
    jobs: list[Any],
    workers: int,
    deadline: float,
    together: bool,
    switch: float = TRIAL_SWITCH,
    checks: frozenset[int] = frozenset(),
) -> tuple[list[Any], list[tuple[float, float]], int]:
    """Run ``jobs`` on ``workers`` threads (released together by a barrier if ``together``,
    else each as it starts), each taking the next job, none taken ``deadline`` seconds after the
    release, with the GIL switch interval at most ``switch`` until the jobs numbered in
    ``checks`` (the re-runs) are done (all the way, if none); returns the outcomes in order,
    each job's (start, end), and how many jobs ran (a prefix)."""
    outcomes: list[Any] = [None] * len(jobs)
    spans: list[tuple[float, float]] = [(0.0, 0.0)] * len(jobs)
    lock = threading.Lock()
    nxt = [0]
    began: list[float] = []
    barrier = threading.Barrier(workers, action=lambda: began.append(time.perf_counter()))
    if not together:
        began.append(time.perf_counter())
    perf = time.perf_counter

    def work() -> None:
        if together:
            barrier.wait()
        while True:
            with lock:
                j = nxt[0]
                if j >= len(jobs) or (j >= workers and perf() - began[0] > deadline):
                    return
                nxt[0] = j + 1
            t0 = perf()
            try:
                outcomes[j] = fn(jobs[j])
            except BaseException as exc:  # SystemExit too: it must not end a trial thread
                outcomes[j] = Raised(exc, jobs[j])
            spans[j] = (t0, perf())
            if j in checks:
                with lock:
                    pending.discard(j)
                    if not pending:
                        # the re-runs are done: the rest runs at the program's own interval
                        # (64 socket clients handing the GIL over every 0.1 ms on a busy
                        # machine took twice as long as a pool of threads)
                        sys.setswitchinterval(interval)

    interval = sys.getswitchinterval()
    pending = set(checks)
    sys.setswitchinterval(min(interval, switch))
    try:
        threads = [threading.Thread(target=work, name="poolwise-trial") for _ in range(workers)]
        for t in threads:
            t.start()
        for t in threads:
            t.join()
    finally:
        sys.setswitchinterval(interval)
    return outcomes, spans[: nxt[0]], nxt[0]


def _overlapped(spans: list[tuple[float, float]], j: int) -> bool:
    """Whether job ``j`` ran while another job did: a re-run alone proves nothing."""
    start, end = spans[j]
    return any(i != j and s < end and e > start for i, (s, e) in enumerate(spans))


def _role(spans: list[tuple[float, float]], j: int) -> str:
    """Whether another job started while job ``j`` ran ("interrupted"), job ``j`` started while
    another ran ("interrupting"), or "both"."""
    start, end = spans[j]
    others = [(s, e) for i, (s, e) in enumerate(spans) if i != j]
    interrupted = any(start < s < end for s, _ in others)
    interrupting = any(s < start < e for s, e in others)
    if interrupted and interrupting:
        return "both"
    return "interrupted" if interrupted else "interrupting"


def _concurrency(spans: list[tuple[float, float]]) -> float:
    """How many jobs ran at once on average over the trial: their summed durations over the
    time from the first start to the last end (on a busy machine threads can take turns)."""
    span = max(e for _, e in spans) - min(s for s, _ in spans)
    return max(1.0, sum(e - s for s, e in spans) / span) if span > 0 else 1.0
